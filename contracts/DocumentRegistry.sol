// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IConsortium} from "./IConsortium.sol";
import {IDocumentRegistry} from "./IDocumentRegistry.sol";

/// @title crossverify document registry
/// @notice Issuer-signed batch anchors, revocations and key history, governed by a separate consortium contract.
///         Verification receipts and disputes live, sealed, on the circulation contract beside it. Not upgradeable: a new version is a new deployment the consortium adopts.
/// @dev State is private; each transition has one internal choke point that checks, writes, then emits.
contract DocumentRegistry is IDocumentRegistry, EIP712 {
    /// @dev keccak256("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)")
    bytes32 public constant ANCHOR_TYPEHASH =
        keccak256("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)");

    /// @dev keccak256("Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)")
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)");

    /// @dev keccak256("SigningKey(bytes11 issuerId,address key)"): a key's proof of possession.
    bytes32 public constant SIGNING_KEY_TYPEHASH = keccak256("SigningKey(bytes11 issuerId,address key)");

    /// @inheritdoc IDocumentRegistry
    uint40 public constant MAX_DEADLINE_HORIZON = 7 days;

    /// @dev Highest hash algorithm id: 1 keccak256, 2 sha256, 3 SM3.
    uint8 private constant MAX_HASH_ALG = 3;

    /// @dev One storage slot, read on every anchor: admin, status and the cancellation watermark at once.
    struct Issuer {
        address admin;
        Status status;
        uint40 admittedAt;
        uint40 cancelledUpTo;
    }

    /// @dev One storage slot, so anchoring reads a key's issuer and lifecycle at once.
    struct Key {
        bytes11 issuerId;
        uint32 keyNo;
        uint40 addedAt;
        uint40 retiredAt;
        uint40 compromisedFrom;
    }

    /// @dev One storage slot: the anchor record. Keyed by issuer and root, so no issuer can squat another's root.
    struct Anchor {
        uint32 keyNo;
        uint40 anchoredAt;
        uint40 notAfter;
        uint24 leafCount;
        uint8 hashAlg;
        bytes8 docType;
    }

    /// @dev One storage slot. `keyNo` 0: sent by the issuer's admin.
    struct Revocation {
        RevocationReason reason;
        uint40 revokedAt;
        uint32 keyNo;
    }

    address private immutable _consortium;

    mapping(bytes11 issuerId => Issuer) private _issuers;
    mapping(bytes11 issuerId => bytes32) private _jurisdictions;
    mapping(bytes11 issuerId => ActivePeriod[]) private _history;
    mapping(bytes11 issuerId => address[]) private _issuerKeys;
    mapping(bytes11 issuerId => mapping(bytes8 docType => bool)) private _mayIssue;
    mapping(address admin => bytes11 issuerId) private _adminOf;

    mapping(address key => Key) private _keys;
    mapping(uint32 keyNo => address) private _keyByNo;
    uint32 private _keyCount;

    mapping(address account => MemberInfo) private _members;

    mapping(bytes11 issuerId => mapping(bytes32 batchRoot => Anchor)) private _anchors;
    mapping(bytes11 issuerId => mapping(bytes32 batchRoot => Revocation)) private _batchRevocations;
    mapping(bytes11 issuerId => mapping(bytes32 documentDigest => Revocation)) private _documentRevocations;
    mapping(bytes11 issuerId => mapping(bytes8 docType => bytes32 digest)) private _metadataDigests;

    /// @param consortium_ The consortium contract, deployed first with this registry's address.
    constructor(address consortium_) EIP712("crossverify DocumentRegistry", "2") {
        if (consortium_ == address(0)) revert RegistryZeroAddress();
        address named = IConsortium(consortium_).registry();
        if (named != address(this)) revert RegistryConsortiumMismatch(consortium_, named);
        _consortium = consortium_;
        emit RegistryDeployed(consortium_);
    }

    modifier onlyConsortium() {
        if (msg.sender != _consortium) revert RegistryNotConsortium(msg.sender);
        _;
    }

    // ------------------------------------------------------------------------------------------------------
    // Governance (from the consortium)
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function execute(GovernanceAction action, bytes calldata payload, uint256 proposalId) external onlyConsortium {
        _check(action, payload);
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
            (address account, Role role) = abi.decode(payload, (address, Role));
            _setMember(account, role, Status.Active, proposalId);
        } else if (action == GovernanceAction.SuspendMember) {
            address account = abi.decode(payload, (address));
            _setMember(account, _members[account].role, Status.Suspended, proposalId);
        } else if (action == GovernanceAction.ReinstateMember) {
            address account = abi.decode(payload, (address));
            _setMember(account, _members[account].role, Status.Active, proposalId);
        } else if (action == GovernanceAction.CompromiseKey) {
            (address key, uint40 compromisedFrom) = abi.decode(payload, (address, uint40));
            _compromiseKey(key, compromisedFrom, proposalId);
        } else {
            (bytes11 issuerId, address newAdmin) = abi.decode(payload, (bytes11, address));
            _replaceAdmin(issuerId, newAdmin, proposalId);
        }
    }

    /// @inheritdoc IDocumentRegistry
    function checkAction(GovernanceAction action, bytes calldata payload) external view {
        _check(action, payload);
    }

    function _check(GovernanceAction action, bytes calldata payload) private view {
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
            (address account, Role role) = abi.decode(payload, (address, Role));
            if (account == address(0)) revert RegistryZeroAddress();
            if (role == Role.None) revert RegistryInvalidRole(role);
            Role held = _members[account].role;
            if (held != Role.None) revert RegistryMemberExists(account, held);
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
            _requireCompromisable(key, compromisedFrom);
        } else {
            (bytes11 issuerId, address newAdmin) = abi.decode(payload, (bytes11, address));
            _requireIssuer(issuerId);
            _requireFreeAdmin(newAdmin);
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
        _issuers[issuerId] = Issuer({admin: admin, status: Status.Active, admittedAt: now_, cancelledUpTo: 0});
        _jurisdictions[issuerId] = jurisdiction;
        _adminOf[admin] = issuerId;
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

    function _replaceAdmin(bytes11 issuerId, address newAdmin, uint256 proposalId) private {
        Issuer storage i = _issuers[issuerId];
        address oldAdmin = i.admin;
        delete _adminOf[oldAdmin];
        _adminOf[newAdmin] = issuerId;
        i.admin = newAdmin;
        emit IssuerAdminReplaced(issuerId, oldAdmin, newAdmin, proposalId);
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
        bytes11 held = _adminOf[admin];
        if (held != bytes11(0)) revert RegistryAdminInUse(admin, held);
    }

    // ------------------------------------------------------------------------------------------------------
    // Issuer keys and requests
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function addSigningKey(bytes11 issuerId, address key, Signature calldata keyProof) external {
        _requireIssuerAdmin(issuerId);
        _addKey(issuerId, key, keyProof);
    }

    /// @inheritdoc IDocumentRegistry
    function retireSigningKey(address key) external {
        Key storage k = _keys[key];
        if (k.addedAt == 0) revert RegistryUnknownKey(key);
        _requireIssuerAdmin(k.issuerId);
        if (k.retiredAt != 0) revert RegistryKeyRetired(key, k.retiredAt);
        k.retiredAt = _time();
        emit SigningKeyRetired(k.issuerId, key, msg.sender);
    }

    /// @inheritdoc IDocumentRegistry
    function markKeyCompromised(address key, uint40 compromisedFrom) external {
        _requireCompromisable(key, compromisedFrom);
        _requireIssuerAdmin(_keys[key].issuerId);
        _compromiseKey(key, compromisedFrom, 0);
    }

    /// @inheritdoc IDocumentRegistry
    function cancelSignedRequests(bytes11 issuerId, uint40 deadlineUpTo) external {
        _requireIssuerAdmin(issuerId);
        Issuer storage i = _issuers[issuerId];
        if (deadlineUpTo <= i.cancelledUpTo) {
            revert RegistryInvalidCancellation(issuerId, deadlineUpTo, i.cancelledUpTo);
        }
        i.cancelledUpTo = deadlineUpTo;
        emit SignedRequestsCancelled(issuerId, msg.sender, deadlineUpTo);
    }

    /// @dev A new key needs its proof of possession: its signature over (this registry, the issuer, itself).
    function _requireNewKey(bytes11 issuerId, address key, Signature calldata proof) private view {
        if (key == address(0)) revert RegistryZeroAddress();
        Key storage k = _keys[key];
        if (k.addedAt != 0) revert RegistryKeyExists(key, k.issuerId);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SIGNING_KEY_TYPEHASH, issuerId, key)));
        (address recovered,,) = ECDSA.tryRecover(digest, proof.r, proof.vs);
        if (recovered != key) revert RegistryInvalidKeyProof(key, recovered);
    }

    function _addKey(bytes11 issuerId, address key, Signature calldata proof) private {
        _requireNewKey(issuerId, key, proof);
        uint32 keyNo = ++_keyCount;
        _keyByNo[keyNo] = key;
        _keys[key] = Key({issuerId: issuerId, keyNo: keyNo, addedAt: _time(), retiredAt: 0, compromisedFrom: 0});
        _issuerKeys[issuerId].push(key);
        emit SigningKeyAdded(issuerId, key, msg.sender);
    }

    function _requireCompromisable(address key, uint40 compromisedFrom) private view {
        Key storage k = _keys[key];
        if (k.addedAt == 0) revert RegistryUnknownKey(key);
        bool movesLater = k.compromisedFrom != 0 && compromisedFrom >= k.compromisedFrom;
        if (compromisedFrom == 0 || compromisedFrom > _time() || movesLater) {
            revert RegistryInvalidCompromiseTime(key, compromisedFrom);
        }
    }

    function _compromiseKey(address key, uint40 compromisedFrom, uint256 proposalId) private {
        Key storage k = _keys[key];
        k.compromisedFrom = compromisedFrom;
        emit SigningKeyCompromised(k.issuerId, key, msg.sender, compromisedFrom, proposalId);
    }

    function _requireIssuerAdmin(bytes11 issuerId) private view {
        if (_issuers[issuerId].admin != msg.sender || msg.sender == address(0)) {
            revert RegistryNotIssuerAdmin(issuerId, msg.sender);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Anchors
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function anchor(AnchorRequest calldata request, Signature calldata signature) external {
        _anchor(request, signature, false);
    }

    /// @inheritdoc IDocumentRegistry
    function anchorMany(AnchorRequest[] calldata requests, Signature[] calldata signatures) external {
        if (requests.length != signatures.length) revert RegistryLengthMismatch(requests.length, signatures.length);
        uint256 freeMemory;
        assembly ("memory-safe") {
            freeMemory := mload(0x40)
        }
        for (uint256 i = 0; i < requests.length; ++i) {
            _anchor(requests[i], signatures[i], true);
            // Nothing an anchor allocates outlives it: reusing its memory keeps expansion from growing with N².
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
    }

    function _anchor(AnchorRequest calldata r, Signature calldata signature, bool skipIdentical) private {
        uint40 now_ = _time();
        _requireDeadline(r.deadline, now_);
        if (r.batchRoot == bytes32(0)) revert RegistryZeroRoot();
        if (r.hashAlg == 0 || r.hashAlg > MAX_HASH_ALG) revert RegistryUnknownHashAlgorithm(r.hashAlg);
        if (r.leafCount == 0) revert RegistryZeroLeafCount();
        if (r.notAfter <= now_) revert RegistryNotAfterPassed(r.notAfter, now_);

        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ANCHOR_TYPEHASH, r)));
        (address signer, Key memory k) = _signedRequest(digest, signature, now_, r.deadline);
        bytes11 issuerId = k.issuerId;
        if (!_mayIssue[issuerId][r.docType]) revert RegistryDocTypeNotAllowed(issuerId, r.docType);

        Anchor storage a = _anchors[issuerId][r.batchRoot];
        if (a.anchoredAt != 0) {
            bool identical = a.keyNo == k.keyNo && a.notAfter == r.notAfter && a.leafCount == r.leafCount
                && a.hashAlg == r.hashAlg && a.docType == r.docType;
            if (skipIdentical && identical) return;
            revert RegistryRootAlreadyAnchored(r.batchRoot, issuerId);
        }
        _anchors[issuerId][r.batchRoot] = Anchor({
            keyNo: k.keyNo,
            anchoredAt: now_,
            notAfter: r.notAfter,
            leafCount: r.leafCount,
            hashAlg: r.hashAlg,
            docType: r.docType
        });
        emit BatchAnchored(r.batchRoot, issuerId, signer, r.docType, r.hashAlg, r.leafCount, r.notAfter);
    }

    function _requireDeadline(uint40 deadline, uint40 now_) private pure {
        if (deadline < now_) revert RegistrySignatureExpired(deadline, now_);
        if (deadline > now_ + MAX_DEADLINE_HORIZON) revert RegistryDeadlineTooFar(deadline, now_ + MAX_DEADLINE_HORIZON);
    }

    /// @dev Recovers the signer of a request and requires an active key of an active issuer, a deadline the issuer
    ///      has not cancelled. High-s signatures are refused.
    function _signedRequest(bytes32 digest, Signature calldata signature, uint40 now_, uint40 deadline)
        private
        view
        returns (address signer, Key memory k)
    {
        (address recovered, ECDSA.RecoverError err, bytes32 errArg) =
            ECDSA.tryRecover(digest, signature.r, signature.vs);
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert RegistryMalleableSignature(errArg);
        if (err != ECDSA.RecoverError.NoError) revert RegistryInvalidSignature(signature.r, signature.vs);
        k = _keys[recovered];
        if (k.addedAt == 0) revert RegistryUnknownKey(recovered);
        if (k.retiredAt != 0) revert RegistryKeyRetired(recovered, k.retiredAt);
        if (k.compromisedFrom != 0 && k.compromisedFrom <= now_) revert RegistryKeyCompromised(recovered, k.compromisedFrom);
        Issuer memory i = _issuers[k.issuerId];
        if (i.status != Status.Active) revert RegistryIssuerNotActive(k.issuerId, i.status);
        if (deadline <= i.cancelledUpTo) revert RegistrySignatureCancelled(k.issuerId, deadline, i.cancelledUpTo);
        signer = recovered;
    }

    // ------------------------------------------------------------------------------------------------------
    // Revocation
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function revokeBatch(bytes32 batchRoot, RevocationReason reason) external {
        _revokeBatch(batchRoot, reason, _adminIssuer(), 0, address(0));
    }

    /// @inheritdoc IDocumentRegistry
    function revokeDocument(bytes32 documentDigest, RevocationReason reason) external {
        _revokeDocument(documentDigest, reason, _adminIssuer(), 0, address(0));
    }

    /// @inheritdoc IDocumentRegistry
    function revokeBySignature(RevocationRequest calldata r, Signature calldata signature) external {
        uint40 now_ = _time();
        _requireDeadline(r.deadline, now_);
        if ((r.batchRoot == bytes32(0)) == (r.documentDigest == bytes32(0))) {
            revert RegistryInvalidRevocationTarget(r.batchRoot, r.documentDigest);
        }
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REVOCATION_TYPEHASH, r)));
        (address signer, Key memory k) = _signedRequest(digest, signature, now_, r.deadline);
        if (r.documentDigest != bytes32(0)) {
            _revokeDocument(r.documentDigest, r.reason, k.issuerId, k.keyNo, signer);
        } else {
            _revokeBatch(r.batchRoot, r.reason, k.issuerId, k.keyNo, signer);
        }
    }

    function _adminIssuer() private view returns (bytes11 issuerId) {
        issuerId = _adminOf[msg.sender];
        if (issuerId == bytes11(0)) revert RegistryNotIssuerAdmin(issuerId, msg.sender);
    }

    function _revokeBatch(bytes32 batchRoot, RevocationReason reason, bytes11 issuerId, uint32 keyNo, address signer)
        private
    {
        if (reason == RevocationReason.None) revert RegistryInvalidRevocationReason(reason);
        if (_anchors[issuerId][batchRoot].anchoredAt == 0) revert RegistryUnknownBatch(issuerId, batchRoot);
        Revocation storage b = _batchRevocations[issuerId][batchRoot];
        if (_counts(b)) revert RegistryBatchAlreadyRevoked(batchRoot, b.reason);
        (b.reason, b.revokedAt, b.keyNo) = (reason, _time(), keyNo);
        emit BatchRevoked(batchRoot, issuerId, msg.sender, reason, signer);
    }

    function _revokeDocument(
        bytes32 documentDigest,
        RevocationReason reason,
        bytes11 issuerId,
        uint32 keyNo,
        address signer
    ) private {
        if (reason == RevocationReason.None) revert RegistryInvalidRevocationReason(reason);
        Revocation storage d = _documentRevocations[issuerId][documentDigest];
        if (_counts(d)) revert RegistryDocumentAlreadyRevoked(documentDigest, issuerId, d.reason);
        (d.reason, d.revokedAt, d.keyNo) = (reason, _time(), keyNo);
        emit DocumentRevoked(documentDigest, issuerId, msg.sender, reason, signer);
    }

    /// @dev Whether a recorded revocation counts: it exists and no key compromise reaches back to it.
    function _counts(Revocation storage v) private view returns (bool) {
        return v.reason != RevocationReason.None && !_void(v.revokedAt, v.keyNo);
    }

    function _void(uint40 revokedAt, uint32 keyNo) private view returns (bool) {
        if (keyNo == 0) return false;
        uint40 compromisedFrom = _keys[_keyByNo[keyNo]].compromisedFrom;
        return compromisedFrom != 0 && compromisedFrom <= revokedAt;
    }

    // ------------------------------------------------------------------------------------------------------
    // Display metadata
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function setMetadataDigest(bytes8 docType, bytes32 digest) external {
        bytes11 issuerId = _adminIssuer();
        if (docType != bytes8(0) && !_mayIssue[issuerId][docType]) revert RegistryDocTypeNotAllowed(issuerId, docType);
        _setMetadata(issuerId, docType, digest, 0);
    }

    /// @inheritdoc IDocumentRegistry
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

    /// @inheritdoc IDocumentRegistry
    function consortium() external view returns (address) {
        return _consortium;
    }

    function _documentStatus(bytes11 issuerId, bytes32 batchRoot, bytes32 documentDigest)
        private
        view
        returns (DocumentStatus memory s)
    {
        Anchor memory a = _anchors[issuerId][batchRoot];
        if (a.anchoredAt == 0) return s;
        address key = _keyByNo[a.keyNo];
        Key memory k = _keys[key];
        s.issuerId = issuerId;
        s.signingKey = key;
        s.anchoredAt = a.anchoredAt;
        s.notAfter = a.notAfter;
        s.docType = a.docType;
        s.hashAlg = a.hashAlg;
        s.leafCount = a.leafCount;
        s.batchRevocation = _record(_batchRevocations[issuerId][batchRoot]);
        s.documentRevocation = _record(_documentRevocations[issuerId][documentDigest]);
        s.issuerStatus = _issuers[issuerId].status;
        s.issuerActiveAtAnchor = issuerActiveAt(issuerId, a.anchoredAt);
        s.issuerMayIssue = _mayIssue[issuerId][a.docType];
        s.keyAddedAt = k.addedAt;
        s.keyRetiredAt = k.retiredAt;
        s.keyCompromisedFrom = k.compromisedFrom;
    }

    /// @inheritdoc IDocumentRegistry
    function documentStatuses(DocumentQuery[] calldata queries) external view returns (DocumentStatus[] memory out) {
        out = new DocumentStatus[](queries.length);
        for (uint256 i = 0; i < queries.length; ++i) {
            DocumentQuery calldata q = queries[i];
            out[i] = _documentStatus(q.issuerId, q.batchRoot, q.documentDigest);
        }
    }

    /// @inheritdoc IDocumentRegistry
    function revokedDocuments(bytes11 issuerId, bytes32[] calldata documentDigests)
        external
        view
        returns (uint256[] memory indices)
    {
        mapping(bytes32 => Revocation) storage revocations = _documentRevocations[issuerId];
        indices = new uint256[](documentDigests.length);
        uint256 found;
        for (uint256 i = 0; i < documentDigests.length; ++i) {
            if (revocations[documentDigests[i]].reason != RevocationReason.None) indices[found++] = i;
        }
        assembly ("memory-safe") {
            mstore(indices, found)
        }
    }

    function _record(Revocation storage v) private view returns (RevocationRecord memory r) {
        Revocation memory m = v;
        (r.reason, r.revokedAt) = (m.reason, m.revokedAt);
        if (m.keyNo != 0) (r.signingKey, r.void) = (_keyByNo[m.keyNo], _void(m.revokedAt, m.keyNo));
    }

    /// @inheritdoc IDocumentRegistry
    function keyValidAt(bytes11 issuerId, address key, uint40 time) external view returns (bool) {
        Key storage k = _keys[key];
        return k.addedAt != 0 && k.issuerId == issuerId && k.addedAt <= time
            && (k.retiredAt == 0 || time <= k.retiredAt) && (k.compromisedFrom == 0 || time < k.compromisedFrom);
    }

    /// @inheritdoc IDocumentRegistry
    function issuerActiveAt(bytes11 issuerId, uint40 time) public view returns (bool) {
        ActivePeriod[] storage history = _history[issuerId];
        for (uint256 i = history.length; i > 0; --i) {
            ActivePeriod storage p = history[i - 1];
            if (p.from <= time) return p.until == 0 || time <= p.until;
        }
        return false;
    }

    /// @inheritdoc IDocumentRegistry
    function issuer(bytes11 issuerId) external view returns (IssuerInfo memory) {
        Issuer storage i = _issuers[issuerId];
        return IssuerInfo({
            issuerId: i.status == Status.None ? bytes11(0) : issuerId,
            jurisdiction: _jurisdictions[issuerId],
            admin: i.admin,
            status: i.status,
            admittedAt: i.admittedAt,
            cancelledUpTo: i.cancelledUpTo
        });
    }

    /// @inheritdoc IDocumentRegistry
    function issuerHistory(bytes11 issuerId) external view returns (ActivePeriod[] memory) {
        return _history[issuerId];
    }

    /// @inheritdoc IDocumentRegistry
    function issuerKeys(bytes11 issuerId) external view returns (address[] memory) {
        return _issuerKeys[issuerId];
    }

    /// @inheritdoc IDocumentRegistry
    function mayIssue(bytes11 issuerId, bytes8 docType) external view returns (bool) {
        return _mayIssue[issuerId][docType];
    }

    /// @inheritdoc IDocumentRegistry
    function signingKey(address key) external view returns (KeyInfo memory) {
        Key storage k = _keys[key];
        return KeyInfo({issuerId: k.issuerId, addedAt: k.addedAt, retiredAt: k.retiredAt, compromisedFrom: k.compromisedFrom});
    }

    /// @inheritdoc IDocumentRegistry
    function member(address account) external view returns (MemberInfo memory) {
        return _members[account];
    }

    /// @dev The registry's clock, in the width every record uses. Tests move it with the chain's timestamp.
    function _time() private view returns (uint40) {
        return uint40(block.timestamp);
    }
}
