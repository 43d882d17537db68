// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IDocumentRegistry} from "./IDocumentRegistry.sol";

/// @title crossverify document registry
/// @notice Consortium-governed registry of issuer-signed batch anchors, revocations, key history and
///         verification receipts. Not upgradeable: a new version is a new deployment the consortium adopts.
/// @dev State is private; each transition has one internal choke point that checks, writes, then emits.
contract DocumentRegistry is IDocumentRegistry, EIP712 {
    /// @dev keccak256("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)")
    bytes32 public constant ANCHOR_TYPEHASH =
        keccak256("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)");

    /// @dev keccak256("Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)")
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)");

    /// @dev Highest hash algorithm id: 1 keccak256, 2 sha256, 3 SM3.
    uint8 private constant MAX_HASH_ALG = 3;

    struct Issuer {
        address admin;
        Status status;
        uint40 admittedAt;
        bytes32 jurisdiction;
    }

    /// @dev One storage slot, so anchoring reads a key's issuer and lifecycle at once.
    struct Key {
        bytes11 issuerId;
        uint32 keyNo;
        uint40 addedAt;
        uint40 retiredAt;
        uint40 compromisedFrom;
    }

    /// @dev One storage slot: the whole anchor record, including a batch revocation.
    struct Anchor {
        uint32 keyNo;
        uint40 anchoredAt;
        uint40 notAfter;
        uint40 revokedAt;
        uint24 leafCount;
        uint8 hashAlg;
        RevocationReason revocation;
        bytes8 docType;
    }

    struct Revocation {
        RevocationReason reason;
        uint40 revokedAt;
    }

    /// @dev Operators are fixed at deployment, so they live in immutables (unused ones are zero): recognising
    ///      a relaying operator then costs no storage read on the anchoring path.
    uint256 private constant MAX_OPERATORS = 6;
    uint256 private immutable _operatorCount;
    address private immutable _operator0;
    address private immutable _operator1;
    address private immutable _operator2;
    address private immutable _operator3;
    address private immutable _operator4;
    address private immutable _operator5;
    uint16 private immutable _quorum;
    uint40 private immutable _proposalLifetime;

    uint256 private _proposalCount;
    mapping(uint256 proposalId => ProposalInfo) private _proposals;
    mapping(uint256 proposalId => mapping(address operator => bool)) private _approved;

    mapping(bytes11 issuerId => Issuer) private _issuers;
    mapping(bytes11 issuerId => ActivePeriod[]) private _history;
    mapping(bytes11 issuerId => address[]) private _issuerKeys;
    mapping(bytes11 issuerId => mapping(bytes8 docType => bool)) private _mayIssue;

    mapping(address key => Key) private _keys;
    mapping(uint32 keyNo => address) private _keyByNo;
    uint32 private _keyCount;
    mapping(address admin => bytes11 issuerId) private _adminOf;

    mapping(address account => MemberInfo) private _members;

    mapping(bytes32 batchRoot => Anchor) private _anchors;
    mapping(bytes11 issuerId => mapping(bytes32 documentDigest => Revocation)) private _documentRevocations;

    /// @param operators_ The consortium operators: two to six, at least the Macao side and the Guangdong side.
    /// @param quorum_ Approvals a proposal needs; 0 means all operators. At least two, so no operator acts alone.
    /// @param proposalLifetime_ Seconds a proposal stays open.
    constructor(address[] memory operators_, uint16 quorum_, uint40 proposalLifetime_)
        EIP712("crossverify DocumentRegistry", "1")
    {
        uint256 count = operators_.length;
        uint16 needed = quorum_ == 0 ? uint16(count) : quorum_;
        if (count < 2 || count > MAX_OPERATORS || needed < 2 || needed > count) {
            revert RegistryInvalidQuorum(count, needed);
        }
        address[MAX_OPERATORS] memory ops;
        for (uint256 i = 0; i < count; ++i) {
            address operator = operators_[i];
            if (operator == address(0)) revert RegistryZeroAddress();
            for (uint256 j = 0; j < i; ++j) {
                if (ops[j] == operator) revert RegistryDuplicateOperator(operator);
            }
            ops[i] = operator;
        }
        (_operator0, _operator1, _operator2, _operator3, _operator4, _operator5) =
            (ops[0], ops[1], ops[2], ops[3], ops[4], ops[5]);
        _operatorCount = count;
        _quorum = needed;
        _proposalLifetime = proposalLifetime_;
    }

    modifier onlyOperator() {
        if (!_isOperator(msg.sender)) revert RegistryNotOperator(msg.sender);
        _;
    }

    // ------------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function proposeAdmitIssuer(
        bytes11 issuerId,
        bytes32 jurisdiction,
        address admin,
        bytes8[] calldata docTypes,
        address[] calldata signingKeys
    ) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.AdmitIssuer, abi.encode(issuerId, jurisdiction, admin, docTypes, signingKeys));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeSuspendIssuer(bytes11 issuerId) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.SuspendIssuer, abi.encode(issuerId));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeReinstateIssuer(bytes11 issuerId) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.ReinstateIssuer, abi.encode(issuerId));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeSetDocTypes(bytes11 issuerId, bytes8[] calldata docTypes, bool allowed)
        external
        onlyOperator
        returns (uint256)
    {
        return _propose(ProposalKind.SetDocTypes, abi.encode(issuerId, docTypes, allowed));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeAdmitMember(address account, Role role) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.AdmitMember, abi.encode(account, role));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeSuspendMember(address account) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.SuspendMember, abi.encode(account));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeReinstateMember(address account) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.ReinstateMember, abi.encode(account));
    }

    /// @inheritdoc IDocumentRegistry
    function proposeCompromiseKey(address key, uint40 compromisedFrom) external onlyOperator returns (uint256) {
        return _propose(ProposalKind.CompromiseKey, abi.encode(key, compromisedFrom));
    }

    /// @inheritdoc IDocumentRegistry
    function approve(uint256 proposalId) external onlyOperator {
        ProposalInfo storage p = _proposals[proposalId];
        if (p.createdAt == 0) revert RegistryUnknownProposal(proposalId);
        if (p.executed) revert RegistryProposalAlreadyExecuted(proposalId);
        if (_time() > p.expiresAt) revert RegistryProposalExpired(proposalId, p.expiresAt);
        _approve(proposalId, p);
    }

    function _propose(ProposalKind kind, bytes memory payload) private returns (uint256 proposalId) {
        _dispatch(kind, payload, 0, false);
        proposalId = ++_proposalCount;
        uint40 expiresAt = _time() + _proposalLifetime;
        ProposalInfo storage p = _proposals[proposalId];
        p.kind = kind;
        p.proposer = msg.sender;
        p.createdAt = _time();
        p.expiresAt = expiresAt;
        p.payload = payload;
        emit ProposalCreated(proposalId, kind, msg.sender, payload, expiresAt);
        _approve(proposalId, p);
    }

    function _approve(uint256 proposalId, ProposalInfo storage p) private {
        if (_approved[proposalId][msg.sender]) revert RegistryAlreadyApproved(proposalId, msg.sender);
        _approved[proposalId][msg.sender] = true;
        uint16 approvals = ++p.approvals;
        emit ProposalApproved(proposalId, msg.sender, approvals);
        if (approvals >= _quorum) {
            p.executed = true;
            _dispatch(p.kind, p.payload, proposalId, true);
            emit ProposalExecuted(proposalId, p.kind, msg.sender);
        }
    }

    /// @dev Checks a proposal's action against the current state and, when `execute`, carries it out.
    ///      Proposing runs the checks alone, so an action that is already invalid is refused at once.
    function _dispatch(ProposalKind kind, bytes memory payload, uint256 proposalId, bool execute) private {
        if (kind == ProposalKind.AdmitIssuer) {
            (bytes11 issuerId, bytes32 jurisdiction, address admin, bytes8[] memory docTypes, address[] memory keys) =
                abi.decode(payload, (bytes11, bytes32, address, bytes8[], address[]));
            if (issuerId == bytes11(0)) revert RegistryZeroIssuerId();
            if (admin == address(0)) revert RegistryZeroAddress();
            if (_issuers[issuerId].status != Status.None) revert RegistryIssuerExists(issuerId);
            if (_adminOf[admin] != bytes11(0)) revert RegistryAdminInUse(admin, _adminOf[admin]);
            for (uint256 i = 0; i < docTypes.length; ++i) {
                if (docTypes[i] == bytes8(0)) revert RegistryZeroDocType();
            }
            for (uint256 i = 0; i < keys.length; ++i) {
                _requireNewKey(keys[i]);
            }
            if (execute) _admitIssuer(issuerId, jurisdiction, admin, docTypes, keys, proposalId);
        } else if (kind == ProposalKind.SuspendIssuer) {
            bytes11 issuerId = abi.decode(payload, (bytes11));
            Status status = _issuers[issuerId].status;
            if (status != Status.Active) revert RegistryIssuerNotActive(issuerId, status);
            if (execute) _setIssuerStatus(issuerId, Status.Suspended, proposalId);
        } else if (kind == ProposalKind.ReinstateIssuer) {
            bytes11 issuerId = abi.decode(payload, (bytes11));
            Status status = _issuers[issuerId].status;
            if (status != Status.Suspended) revert RegistryIssuerNotSuspended(issuerId, status);
            if (execute) _setIssuerStatus(issuerId, Status.Active, proposalId);
        } else if (kind == ProposalKind.SetDocTypes) {
            (bytes11 issuerId, bytes8[] memory docTypes, bool allowed) = abi.decode(payload, (bytes11, bytes8[], bool));
            if (_issuers[issuerId].status == Status.None) revert RegistryUnknownIssuer(issuerId);
            for (uint256 i = 0; i < docTypes.length; ++i) {
                if (docTypes[i] == bytes8(0)) revert RegistryZeroDocType();
                if (execute) _setDocType(issuerId, docTypes[i], allowed, proposalId);
            }
        } else if (kind == ProposalKind.AdmitMember) {
            (address account, Role role) = abi.decode(payload, (address, Role));
            if (account == address(0)) revert RegistryZeroAddress();
            if (role == Role.None) revert RegistryInvalidRole(role);
            MemberInfo storage m = _members[account];
            if (m.role != Role.None) revert RegistryMemberExists(account, m.role);
            if (execute) _setMember(account, role, Status.Active, proposalId);
        } else if (kind == ProposalKind.SuspendMember) {
            address account = abi.decode(payload, (address));
            MemberInfo storage m = _members[account];
            if (m.role == Role.None) revert RegistryUnknownMember(account);
            if (m.status != Status.Active) revert RegistryMemberNotActive(account, m.status);
            if (execute) _setMember(account, m.role, Status.Suspended, proposalId);
        } else if (kind == ProposalKind.ReinstateMember) {
            address account = abi.decode(payload, (address));
            MemberInfo storage m = _members[account];
            if (m.role == Role.None) revert RegistryUnknownMember(account);
            if (m.status != Status.Suspended) revert RegistryMemberNotSuspended(account, m.status);
            if (execute) _setMember(account, m.role, Status.Active, proposalId);
        } else {
            (address key, uint40 compromisedFrom) = abi.decode(payload, (address, uint40));
            _requireCompromisable(key, compromisedFrom);
            if (execute) _compromiseKey(key, compromisedFrom);
        }
    }

    function _admitIssuer(
        bytes11 issuerId,
        bytes32 jurisdiction,
        address admin,
        bytes8[] memory docTypes,
        address[] memory keys,
        uint256 proposalId
    ) private {
        uint40 now_ = _time();
        _issuers[issuerId] = Issuer({admin: admin, status: Status.Active, admittedAt: now_, jurisdiction: jurisdiction});
        _adminOf[admin] = issuerId;
        _history[issuerId].push(ActivePeriod({from: now_, until: 0}));
        emit IssuerAdmitted(issuerId, admin, proposalId, jurisdiction);
        for (uint256 i = 0; i < docTypes.length; ++i) {
            _setDocType(issuerId, docTypes[i], true, proposalId);
        }
        for (uint256 i = 0; i < keys.length; ++i) {
            _addKey(issuerId, keys[i]);
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

    // ------------------------------------------------------------------------------------------------------
    // Issuer keys
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function addSigningKey(bytes11 issuerId, address key) external {
        _requireIssuerAdmin(issuerId);
        _addKey(issuerId, key);
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
        _compromiseKey(key, compromisedFrom);
    }

    function _requireNewKey(address key) private view {
        if (key == address(0)) revert RegistryZeroAddress();
        Key storage k = _keys[key];
        if (k.addedAt != 0) revert RegistryKeyExists(key, k.issuerId);
    }

    function _addKey(bytes11 issuerId, address key) private {
        _requireNewKey(key);
        uint32 keyNo = ++_keyCount;
        _keyByNo[keyNo] = key;
        _keys[key] = Key({
            issuerId: issuerId,
            keyNo: keyNo,
            addedAt: _time(),
            retiredAt: 0,
            compromisedFrom: 0
        });
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

    function _compromiseKey(address key, uint40 compromisedFrom) private {
        Key storage k = _keys[key];
        k.compromisedFrom = compromisedFrom;
        emit SigningKeyCompromised(k.issuerId, key, msg.sender, compromisedFrom);
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
        _anchor(request, signature, _isOperator(msg.sender));
    }

    /// @inheritdoc IDocumentRegistry
    function anchorMany(AnchorRequest[] calldata requests, Signature[] calldata signatures) external {
        if (requests.length != signatures.length) revert RegistryLengthMismatch(requests.length, signatures.length);
        bool callerIsOperator = _isOperator(msg.sender);
        for (uint256 i = 0; i < requests.length; ++i) {
            _anchor(requests[i], signatures[i], callerIsOperator);
        }
    }

    function _anchor(AnchorRequest calldata r, Signature calldata signature, bool callerIsOperator) private {
        uint40 now_ = _time();
        if (r.deadline < now_) revert RegistrySignatureExpired(r.deadline, now_);
        if (r.batchRoot == bytes32(0)) revert RegistryZeroRoot();
        if (r.hashAlg == 0 || r.hashAlg > MAX_HASH_ALG) revert RegistryUnknownHashAlgorithm(r.hashAlg);
        if (r.leafCount == 0) revert RegistryZeroLeafCount();
        if (r.notAfter <= now_) revert RegistryNotAfterPassed(r.notAfter, now_);

        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ANCHOR_TYPEHASH, r)));
        (address signer, Key storage k) = _activeSigner(digest, signature, now_);
        bytes11 issuerId = k.issuerId;
        _requireSubmitter(issuerId, callerIsOperator);
        if (!_mayIssue[issuerId][r.docType]) revert RegistryDocTypeNotAllowed(issuerId, r.docType);

        Anchor storage a = _anchors[r.batchRoot];
        if (a.anchoredAt != 0) revert RegistryRootAlreadyAnchored(r.batchRoot, _keys[_keyByNo[a.keyNo]].issuerId);
        _anchors[r.batchRoot] = Anchor({
            keyNo: k.keyNo,
            anchoredAt: now_,
            notAfter: r.notAfter,
            revokedAt: 0,
            leafCount: r.leafCount,
            hashAlg: r.hashAlg,
            revocation: RevocationReason.None,
            docType: r.docType
        });
        emit BatchAnchored(r.batchRoot, issuerId, signer, r.docType, r.hashAlg, r.leafCount, r.notAfter);
    }

    /// @dev Recovers the signer and requires an active key of an active issuer. High-s signatures are refused.
    function _activeSigner(bytes32 digest, Signature calldata signature, uint40 now_)
        private
        view
        returns (address signer, Key storage k)
    {
        (address recovered, ECDSA.RecoverError err, bytes32 errArg) =
            ECDSA.tryRecover(digest, signature.r, signature.vs);
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert RegistryMalleableSignature(errArg);
        if (err != ECDSA.RecoverError.NoError) revert RegistryInvalidSignature(signature.r, signature.vs);
        k = _keys[recovered];
        if (k.addedAt == 0) revert RegistryUnknownKey(recovered);
        if (k.retiredAt != 0) revert RegistryKeyRetired(recovered, k.retiredAt);
        if (k.compromisedFrom != 0 && k.compromisedFrom <= now_) revert RegistryKeyCompromised(recovered, k.compromisedFrom);
        Status status = _issuers[k.issuerId].status;
        if (status != Status.Active) revert RegistryIssuerNotActive(k.issuerId, status);
        signer = recovered;
    }

    function _requireSubmitter(bytes11 issuerId, bool callerIsOperator) private view {
        if (!callerIsOperator && _issuers[issuerId].admin != msg.sender) revert RegistryNotSubmitter(issuerId, msg.sender);
    }

    // ------------------------------------------------------------------------------------------------------
    // Revocation
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function revokeBatch(bytes32 batchRoot, RevocationReason reason) external {
        bytes11 issuerId = _batchIssuer(batchRoot);
        _requireIssuerAdmin(issuerId);
        _revokeBatch(batchRoot, reason, issuerId);
    }

    /// @inheritdoc IDocumentRegistry
    function revokeDocument(bytes32 documentDigest, RevocationReason reason) external {
        bytes11 issuerId = _adminOf[msg.sender];
        if (issuerId == bytes11(0)) revert RegistryNotIssuerAdmin(issuerId, msg.sender);
        _revokeDocument(documentDigest, reason, issuerId);
    }

    /// @inheritdoc IDocumentRegistry
    function revokeBySignature(RevocationRequest calldata r, Signature calldata signature) external {
        uint40 now_ = _time();
        if (r.deadline < now_) revert RegistrySignatureExpired(r.deadline, now_);
        if ((r.batchRoot == bytes32(0)) == (r.documentDigest == bytes32(0))) {
            revert RegistryInvalidRevocationTarget(r.batchRoot, r.documentDigest);
        }
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REVOCATION_TYPEHASH, r)));
        (, Key storage k) = _activeSigner(digest, signature, now_);
        bytes11 issuerId = k.issuerId;
        _requireSubmitter(issuerId, _isOperator(msg.sender));
        if (r.documentDigest != bytes32(0)) {
            _revokeDocument(r.documentDigest, r.reason, issuerId);
        } else {
            if (_batchIssuer(r.batchRoot) != issuerId) revert RegistryNotBatchIssuer(r.batchRoot, issuerId);
            _revokeBatch(r.batchRoot, r.reason, issuerId);
        }
    }

    function _batchIssuer(bytes32 batchRoot) private view returns (bytes11) {
        uint32 keyNo = _anchors[batchRoot].keyNo;
        if (keyNo == 0) revert RegistryUnknownBatch(batchRoot);
        return _keys[_keyByNo[keyNo]].issuerId;
    }

    function _revokeBatch(bytes32 batchRoot, RevocationReason reason, bytes11 issuerId) private {
        if (reason == RevocationReason.None) revert RegistryInvalidRevocationReason(reason);
        Anchor storage a = _anchors[batchRoot];
        if (a.revocation != RevocationReason.None) revert RegistryBatchAlreadyRevoked(batchRoot, a.revocation);
        a.revocation = reason;
        a.revokedAt = _time();
        emit BatchRevoked(batchRoot, issuerId, msg.sender, reason);
    }

    function _revokeDocument(bytes32 documentDigest, RevocationReason reason, bytes11 issuerId) private {
        if (reason == RevocationReason.None) revert RegistryInvalidRevocationReason(reason);
        Revocation storage d = _documentRevocations[issuerId][documentDigest];
        if (d.reason != RevocationReason.None) revert RegistryDocumentAlreadyRevoked(documentDigest, issuerId, d.reason);
        d.reason = reason;
        d.revokedAt = _time();
        emit DocumentRevoked(documentDigest, issuerId, msg.sender, reason);
    }

    // ------------------------------------------------------------------------------------------------------
    // Verification receipts
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function recordVerification(bytes32 batchRoot, bytes32 documentDigest, bytes32 purposeHash) external {
        _requireVerifier();
        emit VerificationRecorded(documentDigest, batchRoot, msg.sender, purposeHash);
    }

    /// @inheritdoc IDocumentRegistry
    function recordVerifications(DocumentQuery[] calldata documents, bytes32 purposeHash) external {
        _requireVerifier();
        for (uint256 i = 0; i < documents.length; ++i) {
            emit VerificationRecorded(documents[i].documentDigest, documents[i].batchRoot, msg.sender, purposeHash);
        }
    }

    function _requireVerifier() private view {
        MemberInfo storage m = _members[msg.sender];
        if (m.role != Role.Verifier || m.status != Status.Active) revert RegistryNotVerifier(msg.sender);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc IDocumentRegistry
    function documentStatus(bytes32 batchRoot, bytes32 documentDigest) public view returns (DocumentStatus memory s) {
        Anchor memory a = _anchors[batchRoot];
        if (a.anchoredAt == 0) return s;
        address key = _keyByNo[a.keyNo];
        Key memory k = _keys[key];
        Revocation memory d = _documentRevocations[k.issuerId][documentDigest];
        s.issuerId = k.issuerId;
        s.signingKey = key;
        s.anchoredAt = a.anchoredAt;
        s.notAfter = a.notAfter;
        s.docType = a.docType;
        s.hashAlg = a.hashAlg;
        s.leafCount = a.leafCount;
        s.batchRevocation = a.revocation;
        s.batchRevokedAt = a.revokedAt;
        s.documentRevocation = d.reason;
        s.documentRevokedAt = d.revokedAt;
        s.issuerStatus = _issuers[k.issuerId].status;
        s.issuerMayIssue = _mayIssue[k.issuerId][a.docType];
        s.keyAddedAt = k.addedAt;
        s.keyRetiredAt = k.retiredAt;
        s.keyCompromisedFrom = k.compromisedFrom;
    }

    /// @inheritdoc IDocumentRegistry
    function documentStatuses(DocumentQuery[] calldata queries) external view returns (DocumentStatus[] memory out) {
        out = new DocumentStatus[](queries.length);
        for (uint256 i = 0; i < queries.length; ++i) {
            out[i] = documentStatus(queries[i].batchRoot, queries[i].documentDigest);
        }
    }

    /// @inheritdoc IDocumentRegistry
    function documentRevocation(bytes11 issuerId, bytes32 documentDigest)
        external
        view
        returns (RevocationReason reason, uint40 revokedAt)
    {
        Revocation storage d = _documentRevocations[issuerId][documentDigest];
        return (d.reason, d.revokedAt);
    }

    /// @inheritdoc IDocumentRegistry
    function documentRevocations(bytes11 issuerId, bytes32[] calldata documentDigests)
        external
        view
        returns (RevocationReason[] memory reasons, uint40[] memory revokedAt)
    {
        reasons = new RevocationReason[](documentDigests.length);
        revokedAt = new uint40[](documentDigests.length);
        mapping(bytes32 => Revocation) storage revocations = _documentRevocations[issuerId];
        for (uint256 i = 0; i < documentDigests.length; ++i) {
            Revocation storage d = revocations[documentDigests[i]];
            (reasons[i], revokedAt[i]) = (d.reason, d.revokedAt);
        }
    }

    /// @inheritdoc IDocumentRegistry
    function keyValidAt(bytes11 issuerId, address key, uint40 time) external view returns (bool) {
        Key storage k = _keys[key];
        return k.addedAt != 0 && k.issuerId == issuerId && k.addedAt <= time
            && (k.retiredAt == 0 || time < k.retiredAt) && (k.compromisedFrom == 0 || time < k.compromisedFrom);
    }

    /// @inheritdoc IDocumentRegistry
    function issuerActiveAt(bytes11 issuerId, uint40 time) external view returns (bool) {
        ActivePeriod[] storage history = _history[issuerId];
        for (uint256 i = history.length; i > 0; --i) {
            ActivePeriod storage p = history[i - 1];
            if (p.from <= time) return p.until == 0 || time < p.until;
        }
        return false;
    }

    /// @inheritdoc IDocumentRegistry
    function issuer(bytes11 issuerId) external view returns (IssuerInfo memory) {
        Issuer storage i = _issuers[issuerId];
        return IssuerInfo({
            issuerId: i.status == Status.None ? bytes11(0) : issuerId,
            jurisdiction: i.jurisdiction,
            admin: i.admin,
            status: i.status,
            admittedAt: i.admittedAt
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

    /// @inheritdoc IDocumentRegistry
    function operators() external view returns (address[] memory) {
        address[MAX_OPERATORS] memory all =
            [_operator0, _operator1, _operator2, _operator3, _operator4, _operator5];
        address[] memory ops = new address[](_operatorCount);
        for (uint256 i = 0; i < ops.length; ++i) {
            ops[i] = all[i];
        }
        return ops;
    }

    /// @inheritdoc IDocumentRegistry
    function quorum() external view returns (uint256) {
        return _quorum;
    }

    /// @inheritdoc IDocumentRegistry
    function proposalLifetime() external view returns (uint40) {
        return _proposalLifetime;
    }

    /// @inheritdoc IDocumentRegistry
    function proposal(uint256 proposalId) external view returns (ProposalInfo memory) {
        return _proposals[proposalId];
    }

    /// @inheritdoc IDocumentRegistry
    function hasApproved(uint256 proposalId, address operator) external view returns (bool) {
        return _approved[proposalId][operator];
    }

    /// @inheritdoc IDocumentRegistry
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    function _isOperator(address account) private view returns (bool) {
        return account != address(0)
            && (account == _operator0 || account == _operator1 || account == _operator2 || account == _operator3
                || account == _operator4 || account == _operator5);
    }

    /// @dev The registry's clock, in the width every record uses. Tests move it with the chain's timestamp.
    function _time() private view returns (uint40) {
        return uint40(block.timestamp);
    }
}
