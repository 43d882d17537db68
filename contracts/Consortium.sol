// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ICirculation} from "./ICirculation.sol";
import {IConsortium} from "./IConsortium.sol";
import {IDocumentRegistry} from "./IDocumentRegistry.sol";

/// @title crossverify consortium
/// @notice Operators of several jurisdictions jointly govern one document registry. No jurisdiction acts alone:
///         a proposal needs an approval from every jurisdiction that has an operator, and a threshold of them.
/// @dev The operators, their jurisdictions' approval masks, the threshold and the epoch sit in one slot, and a
///      proposal keeps its approvals as a bitmap of operator positions, so approving costs few storage writes.
contract Consortium is IConsortium {
    /// @dev Approval bitmaps are 16 bits wide.
    uint256 private constant MAX_OPERATORS = 16;
    /// @dev Eight 16-bit jurisdiction masks fill 128 bits of the rules slot.
    uint256 private constant MAX_JURISDICTIONS = 8;
    uint40 private constant MIN_LIFETIME = 1 hours;
    uint40 private constant MAX_LIFETIME = 90 days;

    /// @dev Everything the quorum rule needs, in one slot. Mask `j` (16 bits at `16 * j`) has the bits of the
    ///      operators of the `j`-th jurisdiction.
    struct Rules {
        uint8 threshold;
        uint32 epoch;
        uint128 jurisdictionMasks;
    }

    address private immutable _registry;
    uint40 private immutable _proposalLifetime;

    Rules private _rules;
    OperatorInfo[] private _operators;
    /// @dev Position in `_operators` plus one; zero for accounts that are not operators.
    mapping(address account => uint256) private _position;

    uint256 private _proposalCount;
    mapping(uint256 proposalId => ProposalInfo) private _proposals;

    /// @param registry_ The registry this consortium governs: its address is known before it is deployed.
    /// @param operators_ The founding operators with their jurisdictions, at least two jurisdictions.
    /// @param threshold_ Approvals a proposal needs besides every jurisdiction's; 0 means all the operators.
    /// @param proposalLifetime_ Seconds a proposal stays open: an hour to ninety days.
    constructor(address registry_, OperatorInfo[] memory operators_, uint8 threshold_, uint40 proposalLifetime_) {
        if (registry_ == address(0)) revert ConsortiumZeroAddress();
        if (proposalLifetime_ < MIN_LIFETIME || proposalLifetime_ > MAX_LIFETIME) {
            revert ConsortiumInvalidLifetime(proposalLifetime_);
        }
        uint256 count = operators_.length;
        if (count > MAX_OPERATORS) revert ConsortiumInvalidQuorum(count, 0, threshold_);
        for (uint256 i = 0; i < count; ++i) {
            _requireNewOperator(operators_[i].account);
            if (operators_[i].jurisdiction == bytes32(0)) revert ConsortiumZeroJurisdiction(operators_[i].account);
            _operators.push(operators_[i]);
            _position[operators_[i].account] = i + 1;
        }
        _registry = registry_;
        _proposalLifetime = proposalLifetime_;
        uint8 threshold_or_all = threshold_ == 0 ? uint8(count) : threshold_;
        _rules.threshold = threshold_or_all;
        _regroup(0);
        emit ConsortiumFounded(registry_, operators_, threshold_or_all, proposalLifetime_);
    }

    // ------------------------------------------------------------------------------------------------------
    // Proposals
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IConsortium
    function propose(ProposalKind kind, bytes calldata payload) external returns (uint256 proposalId) {
        uint16 bit = _operatorBit(msg.sender);
        _check(kind, payload);
        proposalId = ++_proposalCount;
        uint40 now_ = _time();
        uint40 expiresAt = now_ + _proposalLifetime;
        ProposalInfo storage p = _proposals[proposalId];
        (p.kind, p.proposer, p.createdAt, p.expiresAt) = (kind, msg.sender, now_, expiresAt);
        Rules memory rules = _rules;
        p.epoch = rules.epoch;
        p.payload = payload;
        emit ProposalCreated(proposalId, kind, msg.sender, payload, expiresAt);
        _approve(proposalId, p, bit, rules);
    }

    /// @inheritdoc IConsortium
    function approve(uint256 proposalId) external {
        uint16 bit = _operatorBit(msg.sender);
        ProposalInfo storage p = _proposals[proposalId];
        if (p.createdAt == 0) revert ConsortiumUnknownProposal(proposalId);
        if (p.executed) revert ConsortiumProposalAlreadyExecuted(proposalId);
        if (_time() > p.expiresAt) revert ConsortiumProposalExpired(proposalId, p.expiresAt);
        Rules memory rules = _rules;
        if (p.epoch != rules.epoch) revert ConsortiumProposalStale(proposalId, p.epoch, rules.epoch);
        if (p.approvedBy & bit != 0) revert ConsortiumAlreadyApproved(proposalId, msg.sender);
        _approve(proposalId, p, bit, rules);
    }

    function _approve(uint256 proposalId, ProposalInfo storage p, uint16 bit, Rules memory rules) private {
        uint16 approvedBy = p.approvedBy | bit;
        p.approvedBy = approvedBy;
        uint16 approvals = _popcount(approvedBy);
        emit ProposalApproved(proposalId, msg.sender, approvals);
        if (!_passes(approvedBy, approvals, rules)) return;
        p.executed = true;
        ProposalKind kind = p.kind;
        _execute(kind, p.payload, proposalId);
        emit ProposalExecuted(proposalId, kind, msg.sender);
    }

    /// @dev The quorum rule: the threshold, and at least one approval from every jurisdiction with an operator.
    function _passes(uint16 approvedBy, uint16 approvals, Rules memory rules) private pure returns (bool) {
        if (approvals < rules.threshold) return false;
        uint128 masks = rules.jurisdictionMasks;
        while (masks != 0) {
            uint16 mask = uint16(masks);
            if (mask != 0 && approvedBy & mask == 0) return false;
            masks >>= 16;
        }
        return true;
    }

    function _popcount(uint16 bits) private pure returns (uint16 count) {
        while (bits != 0) {
            bits &= bits - 1;
            ++count;
        }
    }

    function _operatorBit(address account) private view returns (uint16) {
        uint256 position = _position[account];
        if (position == 0) revert ConsortiumNotOperator(account);
        return uint16(1 << (position - 1));
    }

    // ------------------------------------------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------------------------------------------

    /// @dev Reverts with the error carrying out the action would raise now.
    function _check(ProposalKind kind, bytes memory payload) private view {
        if (kind < ProposalKind.AddOperator) {
            IDocumentRegistry(_registry).checkAction(IDocumentRegistry.GovernanceAction(uint8(kind)), payload);
        } else if (kind == ProposalKind.AddOperator) {
            (address account, bytes32 jurisdiction) = abi.decode(payload, (address, bytes32));
            _requireNewOperator(account);
            if (jurisdiction == bytes32(0)) revert ConsortiumZeroJurisdiction(account);
            _requireShape(address(0), jurisdiction, _rules.threshold);
        } else if (kind == ProposalKind.RemoveOperator) {
            address account = abi.decode(payload, (address));
            _operatorBit(account);
            _requireShape(account, bytes32(0), _rules.threshold);
        } else if (kind == ProposalKind.ReplaceOperator) {
            (address oldAccount, address newAccount) = abi.decode(payload, (address, address));
            _operatorBit(oldAccount);
            _requireNewOperator(newAccount);
        } else if (kind == ProposalKind.SetRegulatorKeys) {
            (address circulation, bytes[] memory keys, bytes32[] memory jurisdictions) =
                abi.decode(payload, (address, bytes[], bytes32[]));
            if (circulation == address(0)) revert ConsortiumZeroAddress();
            ICirculation(circulation).checkRegulatorKeys(keys, jurisdictions);
        } else {
            uint8 threshold_ = abi.decode(payload, (uint8));
            _requireShape(address(0), bytes32(0), threshold_);
        }
    }

    function _execute(ProposalKind kind, bytes memory payload, uint256 proposalId) private {
        if (kind < ProposalKind.AddOperator) {
            IDocumentRegistry(_registry).execute(IDocumentRegistry.GovernanceAction(uint8(kind)), payload, proposalId);
            return;
        }
        if (kind == ProposalKind.SetRegulatorKeys) {
            (address circulation, bytes[] memory keys, bytes32[] memory jurisdictions) =
                abi.decode(payload, (address, bytes[], bytes32[]));
            ICirculation(circulation).setRegulatorKeys(keys, jurisdictions, proposalId);
            return;
        }
        // The consortium's own kinds were checked when proposed; check again, as the state may have moved on.
        _check(kind, payload);
        if (kind == ProposalKind.AddOperator) {
            (address account, bytes32 jurisdiction) = abi.decode(payload, (address, bytes32));
            _operators.push(OperatorInfo(account, jurisdiction));
            _position[account] = _operators.length;
            emit OperatorAdded(account, jurisdiction, proposalId);
        } else if (kind == ProposalKind.RemoveOperator) {
            address account = abi.decode(payload, (address));
            uint256 index = _position[account] - 1;
            bytes32 jurisdiction = _operators[index].jurisdiction;
            OperatorInfo memory last = _operators[_operators.length - 1];
            _operators[index] = last;
            _position[last.account] = index + 1;
            _operators.pop();
            delete _position[account];
            emit OperatorRemoved(account, jurisdiction, proposalId);
        } else if (kind == ProposalKind.ReplaceOperator) {
            (address oldAccount, address newAccount) = abi.decode(payload, (address, address));
            uint256 position = _position[oldAccount];
            _operators[position - 1].account = newAccount;
            _position[newAccount] = position;
            delete _position[oldAccount];
            emit OperatorReplaced(oldAccount, newAccount, proposalId);
        } else {
            uint8 threshold_ = abi.decode(payload, (uint8));
            _rules.threshold = threshold_;
            emit ThresholdChanged(threshold_, proposalId);
        }
        _regroup(_rules.epoch + 1);
    }

    function _requireNewOperator(address account) private view {
        if (account == address(0)) revert ConsortiumZeroAddress();
        if (_position[account] != 0) revert ConsortiumDuplicateOperator(account);
    }

    /// @dev Requires the operator set, without `removed` and with one more operator in `added` (if non-zero), to
    ///      span two to eight jurisdictions with at most sixteen operators and `threshold_` within two and their number.
    function _requireShape(address removed, bytes32 added, uint8 threshold_) private view {
        bytes32[] memory seen = new bytes32[](_operators.length + 1);
        uint256 jurisdictions = 0;
        uint256 count = 0;
        for (uint256 i = 0; i <= _operators.length; ++i) {
            bytes32 jurisdiction;
            if (i < _operators.length) {
                if (_operators[i].account == removed) continue;
                jurisdiction = _operators[i].jurisdiction;
            } else {
                if (added == bytes32(0)) break;
                jurisdiction = added;
            }
            ++count;
            uint256 j = 0;
            while (j < jurisdictions && seen[j] != jurisdiction) ++j;
            if (j == jurisdictions) seen[jurisdictions++] = jurisdiction;
        }
        if (
            count > MAX_OPERATORS || jurisdictions < 2 || jurisdictions > MAX_JURISDICTIONS || threshold_ < 2
                || threshold_ > count
        ) revert ConsortiumInvalidQuorum(count, jurisdictions, threshold_);
    }

    /// @dev Checks the operator set and recomputes the jurisdiction masks, in a new epoch.
    function _regroup(uint32 newEpoch) private {
        uint8 threshold_ = _rules.threshold;
        _requireShape(address(0), bytes32(0), threshold_);
        bytes32[MAX_JURISDICTIONS] memory seen = [bytes32(0), 0, 0, 0, 0, 0, 0, 0];
        uint256 jurisdictions = 0;
        uint128 masks = 0;
        for (uint256 i = 0; i < _operators.length; ++i) {
            bytes32 jurisdiction = _operators[i].jurisdiction;
            uint256 j = 0;
            while (j < jurisdictions && seen[j] != jurisdiction) ++j;
            if (j == jurisdictions) seen[jurisdictions++] = jurisdiction;
            masks |= uint128(1 << i) << uint128(16 * j);
        }
        _rules = Rules({threshold: threshold_, epoch: newEpoch, jurisdictionMasks: masks});
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IConsortium
    function registry() external view returns (address) {
        return _registry;
    }

    /// @inheritdoc IConsortium
    function operators() external view returns (OperatorInfo[] memory) {
        return _operators;
    }

    /// @inheritdoc IConsortium
    function isOperator(address account) external view returns (bool) {
        return _position[account] != 0;
    }

    /// @inheritdoc IConsortium
    function threshold() external view returns (uint8) {
        return _rules.threshold;
    }

    /// @inheritdoc IConsortium
    function proposalLifetime() external view returns (uint40) {
        return _proposalLifetime;
    }

    /// @inheritdoc IConsortium
    function epoch() external view returns (uint32) {
        return _rules.epoch;
    }

    /// @inheritdoc IConsortium
    function proposal(uint256 proposalId) external view returns (ProposalInfo memory) {
        return _proposals[proposalId];
    }

    /// @inheritdoc IConsortium
    function hasApproved(uint256 proposalId, address operator) external view returns (bool) {
        uint256 position = _position[operator];
        return position != 0 && _proposals[proposalId].approvedBy & (1 << (position - 1)) != 0;
    }

    /// @inheritdoc IConsortium
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortium
    function openProposals() external view returns (uint256[] memory ids) {
        uint40 now_ = _time();
        uint32 epoch_ = _rules.epoch;
        uint256 id = _proposalCount;
        uint256 walked;
        while (walked < id && _proposals[id - walked].expiresAt >= now_) ++walked;
        ids = new uint256[](walked);
        uint256 open;
        for (uint256 i = 0; i < walked; ++i) {
            ProposalInfo storage p = _proposals[id - i];
            if (!p.executed && p.epoch == epoch_) ids[open++] = id - i;
        }
        assembly ("memory-safe") {
            mstore(ids, open)
        }
    }

    /// @dev The consortium's clock: proposals expire by the chain's timestamp.
    function _time() private view returns (uint40) {
        return uint40(block.timestamp);
    }
}
