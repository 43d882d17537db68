// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ICirculation} from "./ICirculation.sol";
import {IConsortium} from "./IConsortium.sol";
import {IDocumentRegistry, IRegistryTypes} from "./IDocumentRegistry.sol";

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
    /// @inheritdoc IConsortium
    uint40 public constant RECOVERY_DELAY = 30 days;

    /// @dev Everything the quorum rule needs, in one slot. Mask `j` (16 bits at `16 * j`) has the bits of the
    ///      operators of the `j`-th jurisdiction.
    struct Rules {
        uint8 threshold;
        uint32 epoch;
        uint128 jurisdictionMasks;
    }

    address private immutable _registry;
    address private immutable _circulation;
    uint40 private immutable _proposalLifetime;

    Rules private _rules;
    OperatorInfo[] private _operators;
    /// @dev Position in `_operators` plus one; zero for accounts that are not operators.
    mapping(address account => uint256) private _position;

    uint256 private _proposalCount;
    mapping(uint256 proposalId => ProposalInfo) private _proposals;
    /// @dev Who approved each proposal, by account: bit positions move when an operator leaves.
    mapping(uint256 proposalId => mapping(address operator => bool)) private _approvers;

    /// @param registry_ The registry this consortium governs: its address is known before it is deployed.
    /// @param circulation_ The circulation contract beside the registry, deployed after it (its address too is
    ///        known in advance); the only contract whose regulator keys this consortium sets.
    /// @param operators_ The founding operators with their jurisdictions, at least two jurisdictions.
    /// @param threshold_ Approvals a proposal needs besides every jurisdiction's; 0 means all the operators.
    /// @param proposalLifetime_ Seconds a proposal stays open: an hour to ninety days.
    constructor(
        address registry_,
        address circulation_,
        OperatorInfo[] memory operators_,
        uint8 threshold_,
        uint40 proposalLifetime_
    ) {
        if (registry_ == address(0) || circulation_ == address(0)) revert ConsortiumZeroAddress();
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
        _circulation = circulation_;
        _proposalLifetime = proposalLifetime_;
        uint8 threshold_or_all = threshold_ == 0 ? uint8(count) : threshold_;
        _rules.threshold = threshold_or_all;
        _regroup(0);
        emit ConsortiumFounded(registry_, circulation_, operators_, threshold_or_all, proposalLifetime_);
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
        if (kind == ProposalKind.RecoverOperator) {
            (address lost,) = abi.decode(payload, (address, address));
            if (lost == msg.sender) revert ConsortiumInvalidRecovery(lost, msg.sender);
            p.approvedBy = _operatorBit(lost);  // the seat that cannot approve counts as approving
        }
        emit ProposalCreated(proposalId, kind, msg.sender, payload, expiresAt);
        _approve(proposalId, p, bit, rules);
    }

    /// @inheritdoc IConsortium
    function approve(uint256 proposalId) external {
        uint16 bit = _operatorBit(msg.sender);
        ProposalInfo storage p = _proposals[proposalId];
        if (p.createdAt == 0) revert ConsortiumUnknownProposal(proposalId);
        if (p.executed) revert ConsortiumProposalAlreadyExecuted(proposalId);
        if (p.vetoed) revert ConsortiumRecoveryVetoed(proposalId);
        if (_time() > p.expiresAt) revert ConsortiumProposalExpired(proposalId, p.expiresAt);
        Rules memory rules = _rules;
        if (p.epoch != rules.epoch) revert ConsortiumProposalStale(proposalId, p.epoch, rules.epoch);
        if (p.unlockAt != 0) revert ConsortiumRecoveryPending(proposalId, p.unlockAt);
        if (p.approvedBy & bit != 0) revert ConsortiumAlreadyApproved(proposalId, msg.sender);
        _approve(proposalId, p, bit, rules);
    }

    function _approve(uint256 proposalId, ProposalInfo storage p, uint16 bit, Rules memory rules) private {
        uint16 approvedBy = p.approvedBy | bit;
        p.approvedBy = approvedBy;
        _approvers[proposalId][msg.sender] = true;
        uint16 approvals = _popcount(approvedBy);
        emit ProposalApproved(proposalId, msg.sender, approvals);
        if (!_passes(approvedBy, approvals, rules)) return;
        ProposalKind kind = p.kind;
        if (kind == ProposalKind.RecoverOperator) {
            uint40 unlockAt = _time() + RECOVERY_DELAY;
            p.unlockAt = unlockAt;
            (address lost, address replacement) = abi.decode(p.payload, (address, address));
            emit RecoveryScheduled(proposalId, lost, replacement, unlockAt);
            return;
        }
        p.executed = true;
        _execute(kind, p.payload, proposalId);
        emit ProposalExecuted(proposalId, kind, msg.sender);
    }

    /// @inheritdoc IConsortium
    function veto(uint256 proposalId) external {
        ProposalInfo storage p = _recovery(proposalId);
        (address lost,) = abi.decode(p.payload, (address, address));
        uint256 position = _position[lost];
        if (position == 0) revert ConsortiumNotVetoer(proposalId, msg.sender);
        bytes32 jurisdiction = _operators[position - 1].jurisdiction;
        uint256 vetoer = _position[msg.sender];
        if (vetoer == 0 || _operators[vetoer - 1].jurisdiction != jurisdiction) {
            IDocumentRegistry registry_ = IDocumentRegistry(_registry);
            IRegistryTypes.MemberInfo memory m = registry_.member(msg.sender);
            if (m.role != IRegistryTypes.Role.Regulator || m.status != IRegistryTypes.Status.Active
                || registry_.memberJurisdiction(msg.sender) != jurisdiction) {
                revert ConsortiumNotVetoer(proposalId, msg.sender);
            }
        }
        p.vetoed = true;
        emit RecoveryVetoed(proposalId, msg.sender);
    }

    /// @inheritdoc IConsortium
    function executeRecovery(uint256 proposalId) external {
        _operatorBit(msg.sender);
        ProposalInfo storage p = _recovery(proposalId);
        uint40 unlockAt = p.unlockAt;
        uint40 now_ = _time();
        if (unlockAt == 0 || now_ < unlockAt) revert ConsortiumRecoveryPending(proposalId, unlockAt);
        if (now_ > unlockAt + _proposalLifetime) revert ConsortiumProposalExpired(proposalId, unlockAt + _proposalLifetime);
        uint32 epoch_ = _rules.epoch;
        if (p.epoch != epoch_) revert ConsortiumProposalStale(proposalId, p.epoch, epoch_);
        p.executed = true;
        _execute(ProposalKind.RecoverOperator, p.payload, proposalId);
        emit ProposalExecuted(proposalId, ProposalKind.RecoverOperator, msg.sender);
    }

    /// @dev A recovery still to be carried out and not vetoed.
    function _recovery(uint256 proposalId) private view returns (ProposalInfo storage p) {
        p = _proposals[proposalId];
        if (p.createdAt == 0) revert ConsortiumUnknownProposal(proposalId);
        if (p.kind != ProposalKind.RecoverOperator) revert ConsortiumNotRecovery(proposalId);
        if (p.executed) revert ConsortiumProposalAlreadyExecuted(proposalId);
        if (p.vetoed) revert ConsortiumRecoveryVetoed(proposalId);
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
            IDocumentRegistry(_registry).checkAction(IRegistryTypes.GovernanceAction(uint8(kind)), payload);
        } else if (kind == ProposalKind.AddOperator) {
            (address account, bytes32 jurisdiction) = abi.decode(payload, (address, bytes32));
            _requireNewOperator(account);
            if (jurisdiction == bytes32(0)) revert ConsortiumZeroJurisdiction(account);
            _requireShape(address(0), jurisdiction, _rules.threshold);
        } else if (kind == ProposalKind.RemoveOperator) {
            address account = abi.decode(payload, (address));
            _operatorBit(account);
            _requireShape(account, bytes32(0), _rules.threshold);
        } else if (kind == ProposalKind.ReplaceOperator || kind == ProposalKind.RecoverOperator) {
            (address oldAccount, address newAccount) = abi.decode(payload, (address, address));
            _operatorBit(oldAccount);
            _requireNewOperator(newAccount);
        } else if (kind == ProposalKind.SetRegulatorKeys) {
            (bytes[] memory keys, bytes32[] memory jurisdictions) = abi.decode(payload, (bytes[], bytes32[]));
            ICirculation(_circulation).checkRegulatorKeys(keys, jurisdictions);
        } else {
            uint8 threshold_ = abi.decode(payload, (uint8));
            _requireShape(address(0), bytes32(0), threshold_);
        }
    }

    function _execute(ProposalKind kind, bytes memory payload, uint256 proposalId) private {
        if (kind < ProposalKind.AddOperator) {
            IDocumentRegistry(_registry).execute(IRegistryTypes.GovernanceAction(uint8(kind)), payload, proposalId);
            return;
        }
        if (kind == ProposalKind.SetRegulatorKeys) {
            (bytes[] memory keys, bytes32[] memory jurisdictions) = abi.decode(payload, (bytes[], bytes32[]));
            ICirculation(_circulation).setRegulatorKeys(keys, jurisdictions, proposalId);
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
        } else if (kind == ProposalKind.ReplaceOperator || kind == ProposalKind.RecoverOperator) {
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
    function circulation() external view returns (address) {
        return _circulation;
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
        return _approvers[proposalId][operator];
    }

    /// @inheritdoc IConsortium
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortium
    function openProposals() external view returns (uint256[] memory ids) {
        uint40 now_ = _time();
        uint40 lifetime = _proposalLifetime;
        uint32 epoch_ = _rules.epoch;
        uint256 id = _proposalCount;
        uint256 walked;
        // A recovery scheduled as its proposal expires is carried out at the latest a delay and a lifetime later.
        while (walked < id && _proposals[id - walked].expiresAt + RECOVERY_DELAY + lifetime >= now_) ++walked;
        ids = new uint256[](walked);
        uint256 open;
        for (uint256 i = 0; i < walked; ++i) {
            ProposalInfo storage p = _proposals[id - i];
            if (p.executed || p.vetoed || p.epoch != epoch_) continue;
            uint40 unlockAt = p.unlockAt;
            if (unlockAt == 0 ? p.expiresAt >= now_ : now_ <= unlockAt + lifetime) ids[open++] = id - i;
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
