// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IConsortium} from "./IConsortium.sol";
import {ISM2Verifier} from "./ISM2Verifier.sol";
import {RegistryStorage} from "./RegistryStorage.sol";

/// @title crossverify document registry: governance, issuer keys and the remaining views
/// @notice The half of the registry that `DocumentRegistry` delegates to: what the consortium carries out by quorum
///         (admitting, suspending, key compromise, replacing an issuer's admin and declaring it compromised,
///         recording a predecessor), what an issuer's admin does to its keys and requests, and every view the
///         verifier's hot path does not need. See {IDocumentRegistry} for each function's story.
/// @dev Runs only by delegatecall from the registry, on the registry's storage: called directly, it acts on an
///      empty storage of its own that nothing reads.
contract RegistryGovernance is RegistryStorage {
    /// @param consortium_ The consortium contract of the registry this contract serves.
    /// @param suite The registry's crypto suite: 1 standard, 2 GM.
    /// @param sm2Verifier_ The SM2 verifier of a GM registry ({SM2Verifier}, or {SM2PrecompileVerifier} on a chain
    ///        with SM2 built in); zero for a standard one.
    constructor(address consortium_, uint8 suite, ISM2Verifier sm2Verifier_)
        RegistryStorage(consortium_, suite, sm2Verifier_)
    {}

    modifier onlyConsortium() {
        if (msg.sender != _consortium) revert RegistryNotConsortium(msg.sender);
        _;
    }

    // ------------------------------------------------------------------------------------------------------
    // Governance (from the consortium)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Carry out `action` with its ABI-encoded `payload`, for the consortium's proposal `proposalId`.
    function execute(GovernanceAction action, bytes calldata payload, uint256 proposalId) external onlyConsortium {
        // An admin's compromise time is bounded from when it was proposed: a slow approval does not shorten it.
        _check(action, payload, action == GovernanceAction.ReplaceIssuerAdmin
            ? IConsortium(_consortium).proposal(proposalId).createdAt : _time());
        if (action == GovernanceAction.AdmitIssuer) {
            (bytes11 issuerId, bytes32 jurisdiction, address admin, bytes8[] memory docTypes, bytes32 issuerMetadata,
                bytes32[] memory typeMetadata) =
                abi.decode(payload, (bytes11, bytes32, address, bytes8[], bytes32, bytes32[]));
            _admitIssuer(issuerId, jurisdiction, admin, docTypes, proposalId);
            if (issuerMetadata != bytes32(0)) _setMetadata(issuerId, bytes8(0), issuerMetadata, proposalId);
            _registerMetadata(issuerId, docTypes, typeMetadata, proposalId);
        } else if (action == GovernanceAction.SuspendIssuer) {
            _setIssuerStatus(abi.decode(payload, (bytes11)), Status.Suspended, proposalId);
        } else if (action == GovernanceAction.ReinstateIssuer) {
            _setIssuerStatus(abi.decode(payload, (bytes11)), Status.Active, proposalId);
        } else if (action == GovernanceAction.SetDocTypes) {
            (bytes11 issuerId, bytes8[] memory docTypes, bool allowed, bytes32[] memory typeMetadata) =
                abi.decode(payload, (bytes11, bytes8[], bool, bytes32[]));
            for (uint256 i = 0; i < docTypes.length; ++i) {
                _setDocType(issuerId, docTypes[i], allowed, proposalId);
            }
            _registerMetadata(issuerId, docTypes, typeMetadata, proposalId);
        } else if (action == GovernanceAction.AdmitMember) {
            (address account, Role role, bytes32 jurisdiction) = abi.decode(payload, (address, Role, bytes32));
            _memberJurisdictions[account] = jurisdiction;
            _setMember(account, role, Status.Active, proposalId);
        } else if (action == GovernanceAction.SuspendMember) {
            address account = abi.decode(payload, (address));
            _setMember(account, _members[account].role, Status.Suspended, proposalId);
        } else if (action == GovernanceAction.ReinstateMember) {
            address account = abi.decode(payload, (address));
            _setMember(account, _members[account].role, Status.Active, proposalId);
        } else if (action == GovernanceAction.CompromiseKey) {
            (address key, uint40 compromisedFrom) = abi.decode(payload, (address, uint40));
            KeyMarks storage m = _marks[key];
            m.byConsortium = compromisedFrom;
            _markCompromised(key, compromisedFrom, proposalId);
        } else if (action == GovernanceAction.ReplaceIssuerAdmin) {
            (bytes11 issuerId, address newAdmin, uint40 compromisedFrom) =
                abi.decode(payload, (bytes11, address, uint40));
            _replaceAdmin(issuerId, newAdmin, compromisedFrom, proposalId);
        } else {
            (uint64 chainId, address registry) = abi.decode(payload, (uint64, address));
            _predecessors.push(Predecessor({chainId: uint56(chainId), registry: registry, recordedAt: _time()}));
            emit PredecessorRecorded(chainId, registry, proposalId);
        }
    }

    /// @notice Revert with the error {execute} would raise if `action` with `payload` were carried out now.
    function checkAction(GovernanceAction action, bytes calldata payload) external view {
        _check(action, payload, _time());
    }

    /// @dev `proposedAt`: when the action was proposed (now, for a proposal being made).
    function _check(GovernanceAction action, bytes calldata payload, uint40 proposedAt) private view {
        if (action == GovernanceAction.AdmitIssuer) {
            (bytes11 issuerId,, address admin, bytes8[] memory docTypes,, bytes32[] memory typeMetadata) =
                abi.decode(payload, (bytes11, bytes32, address, bytes8[], bytes32, bytes32[]));
            if (issuerId == bytes11(0)) revert RegistryZeroIssuerId();
            if (_issuers[issuerId].status != Status.None) revert RegistryIssuerExists(issuerId);
            _requireFreeAdmin(admin);
            _requireDocTypes(docTypes, typeMetadata.length);
        } else if (action == GovernanceAction.SuspendIssuer) {
            bytes11 issuerId = abi.decode(payload, (bytes11));
            Status status = _issuers[issuerId].status;
            if (status != Status.Active) revert RegistryIssuerNotActive(issuerId, status);
        } else if (action == GovernanceAction.ReinstateIssuer) {
            bytes11 issuerId = abi.decode(payload, (bytes11));
            Status status = _issuers[issuerId].status;
            if (status != Status.Suspended) revert RegistryIssuerNotSuspended(issuerId, status);
        } else if (action == GovernanceAction.SetDocTypes) {
            (bytes11 issuerId, bytes8[] memory docTypes,, bytes32[] memory typeMetadata) =
                abi.decode(payload, (bytes11, bytes8[], bool, bytes32[]));
            _requireIssuer(issuerId);
            _requireDocTypes(docTypes, typeMetadata.length);
        } else if (action == GovernanceAction.AdmitMember) {
            (address account, Role role, bytes32 jurisdiction) = abi.decode(payload, (address, Role, bytes32));
            if (account == address(0)) revert RegistryZeroAddress();
            if (role == Role.None) revert RegistryInvalidRole(role);
            Role held = _members[account].role;
            if (held != Role.None) revert RegistryMemberExists(account, held);
            if (role == Role.Regulator && jurisdiction == bytes32(0)) revert RegistryZeroJurisdiction(account);
        } else if (action == GovernanceAction.SuspendMember || action == GovernanceAction.ReinstateMember) {
            address account = abi.decode(payload, (address));
            MemberInfo storage m = _members[account];
            if (m.role == Role.None) revert RegistryUnknownMember(account);
            if (action == GovernanceAction.SuspendMember) {
                if (m.status != Status.Active) revert RegistryMemberNotActive(account, m.status);
            } else if (m.status != Status.Suspended) {
                revert RegistryMemberNotSuspended(account, m.status);
            }
        } else if (action == GovernanceAction.CompromiseKey) {
            (address key, uint40 compromisedFrom) = abi.decode(payload, (address, uint40));
            _requireKey(key);
            uint40 marked = _marks[key].byConsortium;
            if (compromisedFrom == 0 || compromisedFrom > _time() || (marked != 0 && compromisedFrom >= marked)) {
                revert RegistryInvalidCompromiseTime(key, compromisedFrom);
            }
        } else if (action == GovernanceAction.ReplaceIssuerAdmin) {
            (bytes11 issuerId, address newAdmin, uint40 compromisedFrom) =
                abi.decode(payload, (bytes11, address, uint40));
            _requireIssuer(issuerId);
            _requireFreeAdmin(newAdmin);
            if (compromisedFrom != 0) {
                uint40 since = _admins[issuerId][_issuers[issuerId].adminNo].since;
                uint40 earliest = proposedAt > ADMIN_LOOKBACK && proposedAt - ADMIN_LOOKBACK > since
                    ? proposedAt - ADMIN_LOOKBACK : since;
                if (compromisedFrom < earliest || compromisedFrom > _time()) {
                    revert RegistryInvalidAdminCompromiseTime(issuerId, compromisedFrom, earliest);
                }
            }
        } else {
            (uint64 chainId, address registry) = abi.decode(payload, (uint64, address));
            // Its own chain id and address too: a network rebuilt with a new genesis may give both again, and the
            // record is then the operators' consent for the issuers' journals to move.
            bool invalid = chainId == 0 || chainId >= 2 ** 53 || registry == address(0);
            for (uint256 i = 0; !invalid && i < _predecessors.length; ++i) {
                invalid = _predecessors[i].chainId == chainId && _predecessors[i].registry == registry;
            }
            if (invalid) revert RegistryInvalidPredecessor(chainId, registry);
        }
    }

    function _admitIssuer(
        bytes11 issuerId,
        bytes32 jurisdiction,
        address admin,
        bytes8[] memory docTypes,
        uint256 proposalId
    ) private {
        uint40 now_ = _time();
        _issuers[issuerId] = Issuer({admin: admin, status: Status.Active, cancelledUpTo: 0, adminNo: 0});
        _admins[issuerId][0] = Admin({account: admin, since: now_, compromisedFrom: 0});
        _jurisdictions[issuerId] = jurisdiction;
        _adminOf[admin] = AdminOf({issuerId: issuerId, adminNo: 0});
        _history[issuerId].push(ActivePeriod({from: now_, until: 0}));
        emit IssuerAdmitted(issuerId, admin, proposalId, jurisdiction);
        for (uint256 i = 0; i < docTypes.length; ++i) {
            _setDocType(issuerId, docTypes[i], true, proposalId);
        }
    }

    function _setIssuerStatus(bytes11 issuerId, Status status, uint256 proposalId) private {
        _issuers[issuerId].status = status;
        ActivePeriod[] storage history = _history[issuerId];
        if (status == Status.Suspended) {
            history[history.length - 1].until = _time();
            emit IssuerSuspended(issuerId, proposalId);
        } else {
            history.push(ActivePeriod({from: _time(), until: 0}));
            emit IssuerReinstated(issuerId, proposalId);
        }
    }

    /// @dev A new admin takes office. With `compromisedFrom`, the old admin's acts from then on stop counting:
    ///      its revocations, marks and keys by the rules of {RegistryStorage}, its cancellations here, by cutting
    ///      the issuer's log back to the last cancellation made before then.
    function _replaceAdmin(bytes11 issuerId, address newAdmin, uint40 compromisedFrom, uint256 proposalId) private {
        Issuer storage i = _issuers[issuerId];
        address oldAdmin = i.admin;
        uint16 old = i.adminNo;
        if (compromisedFrom != 0) {
            _admins[issuerId][old].compromisedFrom = compromisedFrom;
            _undoCancellations(issuerId, old, compromisedFrom);
        }
        uint16 next = old + 1;
        delete _adminOf[oldAdmin];
        _adminOf[newAdmin] = AdminOf({issuerId: issuerId, adminNo: next});
        _admins[issuerId][next] = Admin({account: newAdmin, since: _time(), compromisedFrom: 0});
        (i.admin, i.adminNo) = (newAdmin, next);
        emit IssuerAdminReplaced(issuerId, oldAdmin, newAdmin, proposalId, compromisedFrom);
    }

    /// @dev The log is in time order; the compromised admin's cancellations from `from` on are its tail.
    function _undoCancellations(bytes11 issuerId, uint16 adminNo, uint40 from) private {
        mapping(uint256 => Cancellation) storage log = _cancellations[issuerId];
        uint256 count = _cancellationCount[issuerId];
        (uint256 low, uint256 high) = (0, count);
        while (low < high) {
            uint256 middle = (low + high) / 2;
            if (log[middle].at < from) low = middle + 1;
            else high = middle;
        }
        while (low < count && log[low].adminNo != adminNo) ++low;  // an earlier admin's, in the same second
        if (low == count) return;
        _cancellationCount[issuerId] = low;
        _issuers[issuerId].cancelledUpTo = low == 0 ? 0 : log[low - 1].upTo;
    }

    function _setDocType(bytes11 issuerId, bytes8 docType, bool allowed, uint256 proposalId) private {
        if (_mayIssue[issuerId][docType] == allowed) return;
        _mayIssue[issuerId][docType] = allowed;
        emit DocTypePermissionChanged(issuerId, docType, proposalId, allowed);
    }

    function _setMember(address account, Role role, Status status, uint256 proposalId) private {
        MemberInfo storage m = _members[account];
        Status previous = m.status;
        m.role = role;
        m.status = status;
        m.since = _time();
        if (previous == Status.None) emit MemberAdmitted(account, role, proposalId);
        else if (status == Status.Suspended) emit MemberSuspended(account, role, proposalId);
        else emit MemberReinstated(account, role, proposalId);
    }

    function _requireDocTypes(bytes8[] memory docTypes, uint256 digests) private pure {
        for (uint256 i = 0; i < docTypes.length; ++i) {
            if (docTypes[i] == bytes8(0)) revert RegistryZeroDocType();
        }
        if (digests != docTypes.length) revert RegistryMetadataLength(docTypes.length, digests);
    }

    function _requireIssuer(bytes11 issuerId) private view {
        if (_issuers[issuerId].status == Status.None) revert RegistryUnknownIssuer(issuerId);
    }

    function _requireFreeAdmin(address admin) private view {
        if (admin == address(0)) revert RegistryZeroAddress();
        bytes11 held = _adminOf[admin].issuerId;
        if (held != bytes11(0)) revert RegistryAdminInUse(admin, held);
    }

    // ------------------------------------------------------------------------------------------------------
    // Issuer keys and requests (the issuer's admin)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Add a signing key to the caller's issuer, with the key's proof of possession.
    function addSigningKey(bytes11 issuerId, address key, Signature calldata keyProof) external {
        _requireSuite(STANDARD_SUITE);
        uint16 adminNo = _requireNewKey(issuerId, key);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SIGNING_KEY_TYPEHASH, issuerId, key)));
        (address recovered,,) = ECDSA.tryRecover(digest, keyProof.r, keyProof.vs);
        if (recovered != key) revert RegistryInvalidKeyProof(key, recovered);
        _addKey(issuerId, key, adminNo);
    }

    /// @notice Add an SM2 signing key (GM suite) to the caller's issuer, with the key's proof of possession.
    function addSM2SigningKey(bytes11 issuerId, bytes32 x, bytes32 y, SM2Signature calldata keyProof) external {
        _requireSuite(GM_SUITE);
        address key = address(uint160(uint256(_sm2Verifier.sm3(abi.encodePacked(x, y)))));
        uint16 adminNo = _requireNewKey(issuerId, key);
        if (keyProof.key != key) revert RegistryInvalidKeyProof(key, keyProof.key);
        bytes32 z = _sm2Verifier.identityDigest(x, y);
        bytes32 message = _sm2Message(_sm2KeyProofPrefix, abi.encodePacked(issuerId, key));
        if (!_sm2Verifier.verify(z, message, keyProof.r, keyProof.s, x, y)) {
            revert RegistryInvalidKeyProof(key, address(0));
        }
        _sm2Keys[key] = SM2Key({x: x, y: y, z: z});
        _addKey(issuerId, key, adminNo);
    }

    /// @dev Requires the caller to be the issuer's admin and `key` to be new; returns the admin's number.
    function _requireNewKey(bytes11 issuerId, address key) private view returns (uint16 adminNo) {
        adminNo = _requireIssuerAdmin(issuerId);
        if (key == address(0)) revert RegistryZeroAddress();
        Key storage k = _keys[key];
        if (k.addedAt != 0) revert RegistryKeyExists(key, k.issuerId);
    }

    function _addKey(bytes11 issuerId, address key, uint16 adminNo) private {
        uint32 keyNo = ++_keyCount;
        _keyByNo[keyNo] = key;
        _keys[key] = Key({
            issuerId: issuerId, keyNo: keyNo, addedAt: _time(), retiredAt: 0, compromisedFrom: 0, adminNo: adminNo
        });
        _issuerKeys[issuerId].push(key);
        emit SigningKeyAdded(issuerId, key, msg.sender);
    }

    /// @notice Retire a signing key: it can no longer sign; what it anchored until then stays valid.
    function retireSigningKey(address key) external {
        Key storage k = _requireKey(key);
        _requireIssuerAdmin(k.issuerId);
        if (k.retiredAt != 0) revert RegistryKeyRetired(key, k.retiredAt);
        k.retiredAt = _time();
        emit SigningKeyRetired(k.issuerId, key, msg.sender);
    }

    /// @notice Mark a key compromised from `compromisedFrom` (at most now), as its issuer's admin, once.
    function markKeyCompromised(address key, uint40 compromisedFrom) external {
        Key storage k = _requireKey(key);
        bytes11 issuerId = k.issuerId;
        uint16 adminNo = _requireIssuerAdmin(issuerId);
        KeyMarks storage m = _marks[key];
        bool marked = m.byAdmin != 0 && !_adminVoid(issuerId, m.adminNo, m.adminMarkedAt);
        if (compromisedFrom == 0 || compromisedFrom > _time() || marked) {
            revert RegistryInvalidCompromiseTime(key, compromisedFrom);
        }
        (m.byAdmin, m.adminMarkedAt, m.adminNo) = (compromisedFrom, _time(), adminNo);
        _markCompromised(key, compromisedFrom, 0);
    }

    /// @notice Void the issuer's signed requests with a deadline up to `deadlineUpTo`, at most the horizon ahead.
    function cancelSignedRequests(bytes11 issuerId, uint40 deadlineUpTo) external {
        uint16 adminNo = _requireIssuerAdmin(issuerId);
        Issuer storage i = _issuers[issuerId];
        uint40 now_ = _time();
        if (deadlineUpTo <= i.cancelledUpTo || deadlineUpTo > now_ + DEADLINE_HORIZON) {
            revert RegistryInvalidCancellation(issuerId, deadlineUpTo, i.cancelledUpTo);
        }
        i.cancelledUpTo = deadlineUpTo;
        _cancellations[issuerId][_cancellationCount[issuerId]++] =
            Cancellation({upTo: deadlineUpTo, at: now_, adminNo: adminNo});
        emit SignedRequestsCancelled(issuerId, msg.sender, deadlineUpTo);
    }

    /// @dev Keeps the key record's hint at the earliest mark ever set, and says who marked it.
    function _markCompromised(address key, uint40 compromisedFrom, uint256 proposalId) private {
        Key storage k = _keys[key];
        k.compromisedFrom = _earlier(k.compromisedFrom, compromisedFrom);
        emit SigningKeyCompromised(k.issuerId, key, msg.sender, compromisedFrom, proposalId);
    }

    function _requireKey(address key) private view returns (Key storage k) {
        k = _keys[key];
        if (k.addedAt == 0) revert RegistryUnknownKey(key);
    }

    /// @dev Requires the caller to be the issuer's current admin; returns its number.
    function _requireIssuerAdmin(bytes11 issuerId) private view returns (uint16) {
        Issuer storage i = _issuers[issuerId];
        if (i.admin != msg.sender || msg.sender == address(0)) revert RegistryNotIssuerAdmin(issuerId, msg.sender);
        return i.adminNo;
    }

    // ------------------------------------------------------------------------------------------------------
    // Display metadata
    // ------------------------------------------------------------------------------------------------------

    /// @notice Register the digest of the display metadata of the caller's issuer for `docType` (zero: its name).
    function setMetadataDigest(bytes8 docType, bytes32 digest) external {
        bytes11 issuerId = _adminOf[msg.sender].issuerId;
        if (issuerId == bytes11(0)) revert RegistryNotIssuerAdmin(issuerId, msg.sender);
        if (docType != bytes8(0) && !_mayIssue[issuerId][docType]) revert RegistryDocTypeNotAllowed(issuerId, docType);
        _setMetadata(issuerId, docType, digest, 0);
    }

    /// @notice The digest of `issuerId`'s display metadata for `docType` (zero: of its own name).
    function metadataDigest(bytes11 issuerId, bytes8 docType) external view returns (bytes32) {
        return _metadataDigests[issuerId][docType];
    }

    /// @dev A proposal's digests, one per document type; a zero digest leaves the registered one as it is.
    function _registerMetadata(bytes11 issuerId, bytes8[] memory docTypes, bytes32[] memory digests, uint256 proposalId)
        private
    {
        for (uint256 i = 0; i < docTypes.length; ++i) {
            if (digests[i] != bytes32(0)) _setMetadata(issuerId, docTypes[i], digests[i], proposalId);
        }
    }

    function _setMetadata(bytes11 issuerId, bytes8 docType, bytes32 digest, uint256 proposalId) private {
        _metadataDigests[issuerId][docType] = digest;
        emit MetadataDigestSet(issuerId, docType, proposalId, digest);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @notice The consortium contract that governs this registry.
    function consortium() external view returns (address) {
        return _consortium;
    }

    /// @notice The jurisdiction `account` was admitted for as a member (zero: none stated, or not a member).
    function memberJurisdiction(address account) external view returns (bytes32) {
        return _memberJurisdictions[account];
    }

    /// @notice The deployment's crypto suite: 1 standard, 2 GM.
    function cryptoSuite() external view returns (uint8) {
        return _suite;
    }

    /// @notice The SM2 verifier of a GM deployment (zero in a standard one).
    function sm2Verifier() external view returns (address) {
        return address(_sm2Verifier);
    }

    /// @notice The public key (x, y) of an SM2 signing key (zero when there is none).
    function sm2PublicKey(address key) external view returns (bytes32 x, bytes32 y) {
        SM2Key storage k = _sm2Keys[key];
        return (k.x, k.y);
    }

    /// @notice How far ahead of the submitting block a signed request's deadline may lie, in seconds.
    function MAX_DEADLINE_HORIZON() external pure returns (uint40) {
        return DEADLINE_HORIZON;
    }

    /// @notice How far back the consortium may declare an issuer's admin compromised, in seconds.
    function MAX_ADMIN_LOOKBACK() external pure returns (uint40) {
        return ADMIN_LOOKBACK;
    }

    /// @notice Whether `key` was a valid signing key of `issuerId` at `time`.
    function keyValidAt(bytes11 issuerId, address key, uint40 time) external view returns (bool) {
        Key memory k = _keys[key];
        uint40 compromisedFrom = _compromisedFrom(key, k);
        return k.addedAt != 0 && k.issuerId == issuerId && k.addedAt <= time
            && (k.retiredAt == 0 || time <= k.retiredAt) && (compromisedFrom == 0 || time < compromisedFrom);
    }

    /// @notice Whether `issuerId` was admitted and not suspended at `time`.
    function issuerActiveAt(bytes11 issuerId, uint40 time) external view returns (bool) {
        return _issuerActiveAt(issuerId, time);
    }

    /// @notice The issuer record.
    function issuer(bytes11 issuerId) external view returns (IssuerInfo memory) {
        Issuer storage i = _issuers[issuerId];
        return IssuerInfo({
            issuerId: i.status == Status.None ? bytes11(0) : issuerId,
            jurisdiction: _jurisdictions[issuerId],
            admin: i.admin,
            status: i.status,
            admittedAt: _admins[issuerId][0].since,
            cancelledUpTo: i.cancelledUpTo
        });
    }

    /// @notice The issuer's active periods, oldest first.
    function issuerHistory(bytes11 issuerId) external view returns (ActivePeriod[] memory) {
        return _history[issuerId];
    }

    /// @notice Every signing key the issuer ever had, oldest first.
    function issuerKeys(bytes11 issuerId) external view returns (address[] memory) {
        return _issuerKeys[issuerId];
    }

    /// @notice Whether the issuer may issue `docType`.
    function mayIssue(bytes11 issuerId, bytes8 docType) external view returns (bool) {
        return _mayIssue[issuerId][docType];
    }

    /// @notice The signing key record, with the time from which it counts as compromised.
    function signingKey(address key) external view returns (KeyInfo memory) {
        Key memory k = _keys[key];
        return KeyInfo({
            issuerId: k.issuerId, addedAt: k.addedAt, retiredAt: k.retiredAt, compromisedFrom: _compromisedFrom(key, k)
        });
    }

    /// @notice The registries this one succeeds, oldest first.
    function predecessors() external view returns (Predecessor[] memory) {
        return _predecessors;
    }
}
