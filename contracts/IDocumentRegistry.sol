// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title crossverify document registry
/// @notice The public story of the registry: what a Macao issuer anchors, what a Guangdong verifier reads, and
///         what a regulator audits. Only digests and non-personal metadata ever reach this contract.
/// @dev Times are unix seconds in `uint40`. Issuer ids are up to 11 ASCII bytes (e.g. the issuer's BIC) and
///      document types up to 8 (e.g. "DEPCERT"), both left-aligned and zero-padded.
interface IDocumentRegistry {
    // ------------------------------------------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------------------------------------------

    /// @notice Lifecycle of an issuer or a member account.
    enum Status {
        None,
        Active,
        Suspended
    }

    /// @notice Consortium roles held by plain accounts (issuers are records with their own admin and keys).
    enum Role {
        None,
        Verifier,
        Regulator
    }

    /// @notice Why an anchor or a document was revoked. `Superseded` means a re-issued document replaces it.
    enum RevocationReason {
        None,
        Withdrawn,
        Superseded,
        Fraud,
        IssuedInError
    }

    /// @notice Governance actions that need a quorum of operators.
    enum ProposalKind {
        AdmitIssuer,
        SuspendIssuer,
        ReinstateIssuer,
        SetDocTypes,
        AdmitMember,
        SuspendMember,
        ReinstateMember,
        CompromiseKey
    }

    /// @notice What an issuer's signing key signs to anchor a batch (EIP-712 struct `Anchor`).
    /// @param batchRoot Merkle root over the batch's document digests.
    /// @param docType Document type code shared by every document in the batch.
    /// @param hashAlg Hash algorithm id of the batch tree: 1 keccak256, 2 sha256, 3 SM3.
    /// @param leafCount Number of documents in the batch (bounds proof length and index).
    /// @param notAfter Expiry of every document in the batch.
    /// @param deadline Last moment at which this signed request may be submitted.
    struct AnchorRequest {
        bytes32 batchRoot;
        bytes8 docType;
        uint8 hashAlg;
        uint24 leafCount;
        uint40 notAfter;
        uint40 deadline;
    }

    /// @notice An ECDSA signature in EIP-2098 compact form: `vs` holds `s` and, in its top bit, `v - 27`.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice What an issuer's signing key signs to revoke a batch or one document (EIP-712 struct `Revocation`).
    /// @dev Exactly one of `batchRoot` (revoke the batch) and `documentDigest` (revoke one document) is non-zero.
    struct RevocationRequest {
        bytes32 batchRoot;
        bytes32 documentDigest;
        RevocationReason reason;
        uint40 deadline;
    }

    /// @notice Issuer record. `jurisdiction` is a short code such as "MO".
    struct IssuerInfo {
        bytes11 issuerId;
        bytes32 jurisdiction;
        address admin;
        Status status;
        uint40 admittedAt;
    }

    /// @notice A period during which an issuer was active; `until == 0` while it still is.
    struct ActivePeriod {
        uint40 from;
        uint40 until;
    }

    /// @notice Signing key record. A key belongs to exactly one issuer, for ever.
    struct KeyInfo {
        bytes11 issuerId;
        uint40 addedAt;
        uint40 retiredAt;
        uint40 compromisedFrom;
    }

    /// @notice Account holding a consortium role.
    struct MemberInfo {
        Role role;
        Status status;
        uint40 since;
    }

    /// @notice A governance proposal. It executes in the approval that reaches the quorum.
    struct ProposalInfo {
        ProposalKind kind;
        address proposer;
        uint40 createdAt;
        uint40 expiresAt;
        uint16 approvals;
        bool executed;
        bytes payload;
    }

    /// @notice Everything a verifier needs to judge one document of one batch, read in one call.
    /// @dev `anchoredAt == 0` means the batch root is unknown; the other fields are then zero.
    struct DocumentStatus {
        bytes11 issuerId;
        address signingKey;
        uint40 anchoredAt;
        uint40 notAfter;
        bytes8 docType;
        uint8 hashAlg;
        uint24 leafCount;
        RevocationReason batchRevocation;
        uint40 batchRevokedAt;
        RevocationReason documentRevocation;
        uint40 documentRevokedAt;
        Status issuerStatus;
        bool issuerMayIssue;
        uint40 keyAddedAt;
        uint40 keyRetiredAt;
        uint40 keyCompromisedFrom;
    }

    /// @notice One (batch root, document digest) pair for {documentStatuses}.
    struct DocumentQuery {
        bytes32 batchRoot;
        bytes32 documentDigest;
    }

    // ------------------------------------------------------------------------------------------------------
    // Events: the regulator's API
    // ------------------------------------------------------------------------------------------------------

    event ProposalCreated(
        uint256 indexed proposalId, ProposalKind indexed kind, address indexed proposer, bytes payload, uint40 expiresAt
    );
    event ProposalApproved(uint256 indexed proposalId, address indexed operator, uint16 approvals);
    event ProposalExecuted(uint256 indexed proposalId, ProposalKind indexed kind, address indexed operator);

    event IssuerAdmitted(bytes11 indexed issuerId, address indexed admin, uint256 indexed proposalId, bytes32 jurisdiction);
    event IssuerSuspended(bytes11 indexed issuerId, uint256 indexed proposalId);
    event IssuerReinstated(bytes11 indexed issuerId, uint256 indexed proposalId);
    event DocTypePermissionChanged(bytes11 indexed issuerId, bytes8 indexed docType, uint256 indexed proposalId, bool allowed);

    event MemberAdmitted(address indexed account, Role indexed role, uint256 indexed proposalId);
    event MemberSuspended(address indexed account, Role indexed role, uint256 indexed proposalId);
    event MemberReinstated(address indexed account, Role indexed role, uint256 indexed proposalId);

    event SigningKeyAdded(bytes11 indexed issuerId, address indexed key, address indexed actor);
    event SigningKeyRetired(bytes11 indexed issuerId, address indexed key, address indexed actor);
    event SigningKeyCompromised(bytes11 indexed issuerId, address indexed key, address indexed actor, uint40 compromisedFrom);

    /// @dev The actor is the issuer's signing key; the relaying operator or admin is the transaction's sender.
    event BatchAnchored(
        bytes32 indexed batchRoot,
        bytes11 indexed issuerId,
        address indexed signingKey,
        bytes8 docType,
        uint8 hashAlg,
        uint24 leafCount,
        uint40 notAfter
    );
    event BatchRevoked(bytes32 indexed batchRoot, bytes11 indexed issuerId, address indexed actor, RevocationReason reason);
    event DocumentRevoked(bytes32 indexed documentDigest, bytes11 indexed issuerId, address indexed actor, RevocationReason reason);
    event VerificationRecorded(
        bytes32 indexed documentDigest, bytes32 indexed batchRoot, address indexed verifier, bytes32 purposeHash
    );

    // ------------------------------------------------------------------------------------------------------
    // Errors: each carries the values at fault
    // ------------------------------------------------------------------------------------------------------

    error RegistryZeroAddress();
    error RegistryInvalidQuorum(uint256 operators, uint256 quorum);
    error RegistryDuplicateOperator(address operator);
    error RegistryNotOperator(address account);
    error RegistryUnknownProposal(uint256 proposalId);
    error RegistryProposalExpired(uint256 proposalId, uint40 expiresAt);
    error RegistryProposalAlreadyExecuted(uint256 proposalId);
    error RegistryAlreadyApproved(uint256 proposalId, address operator);

    error RegistryZeroIssuerId();
    error RegistryIssuerExists(bytes11 issuerId);
    error RegistryUnknownIssuer(bytes11 issuerId);
    error RegistryIssuerNotActive(bytes11 issuerId, Status status);
    error RegistryIssuerNotSuspended(bytes11 issuerId, Status status);
    error RegistryNotIssuerAdmin(bytes11 issuerId, address account);
    error RegistryAdminInUse(address admin, bytes11 issuerId);
    error RegistryDocTypeNotAllowed(bytes11 issuerId, bytes8 docType);
    error RegistryZeroDocType();

    error RegistryInvalidRole(Role role);
    error RegistryMemberExists(address account, Role role);
    error RegistryUnknownMember(address account);
    error RegistryMemberNotActive(address account, Status status);
    error RegistryMemberNotSuspended(address account, Status status);
    error RegistryNotVerifier(address account);

    error RegistryKeyExists(address key, bytes11 issuerId);
    error RegistryUnknownKey(address key);
    error RegistryKeyRetired(address key, uint40 retiredAt);
    error RegistryKeyCompromised(address key, uint40 compromisedFrom);
    error RegistryInvalidCompromiseTime(address key, uint40 compromisedFrom);

    error RegistryZeroRoot();
    error RegistryRootAlreadyAnchored(bytes32 batchRoot, bytes11 issuerId);
    error RegistryUnknownHashAlgorithm(uint8 hashAlg);
    error RegistryZeroLeafCount();
    error RegistryNotAfterPassed(uint40 notAfter, uint40 now_);
    error RegistrySignatureExpired(uint40 deadline, uint40 now_);
    error RegistryInvalidSignature(bytes32 r, bytes32 vs);
    error RegistryMalleableSignature(bytes32 s);
    error RegistryNotSubmitter(bytes11 issuerId, address account);
    error RegistryLengthMismatch(uint256 requests, uint256 signatures);

    error RegistryUnknownBatch(bytes32 batchRoot);
    error RegistryNotBatchIssuer(bytes32 batchRoot, bytes11 issuerId);
    error RegistryInvalidRevocationReason(RevocationReason reason);
    error RegistryInvalidRevocationTarget(bytes32 batchRoot, bytes32 documentDigest);
    error RegistryBatchAlreadyRevoked(bytes32 batchRoot, RevocationReason reason);
    error RegistryDocumentAlreadyRevoked(bytes32 documentDigest, bytes11 issuerId, RevocationReason reason);

    // ------------------------------------------------------------------------------------------------------
    // Governance (operators)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Propose admitting an issuer with its admin, allowed document types and first signing keys.
    /// @dev The proposer's approval counts. Reverts with the error the execution would raise if it is already invalid.
    function proposeAdmitIssuer(
        bytes11 issuerId,
        bytes32 jurisdiction,
        address admin,
        bytes8[] calldata docTypes,
        address[] calldata signingKeys
    ) external returns (uint256 proposalId);

    /// @notice Propose suspending an active issuer: its keys can no longer anchor and verifiers see it suspended.
    function proposeSuspendIssuer(bytes11 issuerId) external returns (uint256 proposalId);

    /// @notice Propose reinstating a suspended issuer.
    function proposeReinstateIssuer(bytes11 issuerId) external returns (uint256 proposalId);

    /// @notice Propose allowing (or disallowing) an issuer to issue the given document types.
    function proposeSetDocTypes(bytes11 issuerId, bytes8[] calldata docTypes, bool allowed)
        external
        returns (uint256 proposalId);

    /// @notice Propose admitting an account as a verifier or a regulator.
    function proposeAdmitMember(address account, Role role) external returns (uint256 proposalId);

    /// @notice Propose suspending an active verifier or regulator.
    function proposeSuspendMember(address account) external returns (uint256 proposalId);

    /// @notice Propose reinstating a suspended verifier or regulator.
    function proposeReinstateMember(address account) external returns (uint256 proposalId);

    /// @notice Propose marking a signing key compromised from `compromisedFrom` (at most now) on.
    function proposeCompromiseKey(address key, uint40 compromisedFrom) external returns (uint256 proposalId);

    /// @notice Approve a pending proposal; the approval that reaches the quorum executes it.
    function approve(uint256 proposalId) external;

    // ------------------------------------------------------------------------------------------------------
    // Issuer keys (the issuer's admin)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Add a signing key to the caller's issuer. A key can belong to one issuer only, once.
    function addSigningKey(bytes11 issuerId, address key) external;

    /// @notice Retire a signing key: it can no longer sign; what it anchored before stays valid.
    function retireSigningKey(address key) external;

    /// @notice Mark a key compromised from `compromisedFrom` (at most now): anchors it made from then on are invalid.
    /// @dev The time can only move earlier, never later.
    function markKeyCompromised(address key, uint40 compromisedFrom) external;

    // ------------------------------------------------------------------------------------------------------
    // Anchors and revocation
    // ------------------------------------------------------------------------------------------------------

    /// @notice Anchor a batch root signed by an active key of an active issuer. Caller: an operator or the issuer's admin.
    function anchor(AnchorRequest calldata request, Signature calldata signature) external;

    /// @notice Anchor many signed batch roots in one transaction, all or nothing.
    function anchorMany(AnchorRequest[] calldata requests, Signature[] calldata signatures) external;

    /// @notice Revoke a whole batch, as the admin of the issuer that anchored it. Final.
    function revokeBatch(bytes32 batchRoot, RevocationReason reason) external;

    /// @notice Revoke one document of the caller's issuer, wherever it was anchored, as that issuer's admin. Final.
    /// @dev Other documents of the same batch stay valid.
    function revokeDocument(bytes32 documentDigest, RevocationReason reason) external;

    /// @notice Revoke with a request signed by an active key of the issuer. Caller: an operator or the issuer's admin.
    function revokeBySignature(RevocationRequest calldata request, Signature calldata signature) external;

    /// @notice Record, as an admitted verifier, that a document was verified for a purpose. Event only.
    function recordVerification(bytes32 batchRoot, bytes32 documentDigest, bytes32 purposeHash) external;

    /// @notice {recordVerification} for many documents verified for one purpose, in one transaction.
    function recordVerifications(DocumentQuery[] calldata documents, bytes32 purposeHash) external;

    // ------------------------------------------------------------------------------------------------------
    // Views (no role needed)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Everything a verifier needs about one document of one batch.
    function documentStatus(bytes32 batchRoot, bytes32 documentDigest) external view returns (DocumentStatus memory);

    /// @notice {documentStatus} for many pairs in one call.
    function documentStatuses(DocumentQuery[] calldata queries) external view returns (DocumentStatus[] memory);

    /// @notice How `issuerId` revoked the document `documentDigest`, if it did.
    function documentRevocation(bytes11 issuerId, bytes32 documentDigest)
        external
        view
        returns (RevocationReason reason, uint40 revokedAt);

    /// @notice {documentRevocation} for many documents of one issuer in one call: the per-document part of a
    ///         verification, once the batch's record has been read with {documentStatus}.
    function documentRevocations(bytes11 issuerId, bytes32[] calldata documentDigests)
        external
        view
        returns (RevocationReason[] memory reasons, uint40[] memory revokedAt);

    /// @notice Whether `key` was a valid signing key of `issuerId` at `time`: added, not retired, not compromised.
    function keyValidAt(bytes11 issuerId, address key, uint40 time) external view returns (bool);

    /// @notice Whether `issuerId` was admitted and not suspended at `time`.
    function issuerActiveAt(bytes11 issuerId, uint40 time) external view returns (bool);

    /// @notice The issuer record.
    function issuer(bytes11 issuerId) external view returns (IssuerInfo memory);

    /// @notice The issuer's active periods, oldest first.
    function issuerHistory(bytes11 issuerId) external view returns (ActivePeriod[] memory);

    /// @notice Every signing key the issuer ever had, oldest first.
    function issuerKeys(bytes11 issuerId) external view returns (address[] memory);

    /// @notice Whether the issuer may issue `docType`.
    function mayIssue(bytes11 issuerId, bytes8 docType) external view returns (bool);

    /// @notice The signing key record.
    function signingKey(address key) external view returns (KeyInfo memory);

    /// @notice The verifier or regulator record of `account`.
    function member(address account) external view returns (MemberInfo memory);

    /// @notice The consortium operators (two to six), fixed at deployment.
    function operators() external view returns (address[] memory);

    /// @notice Approvals a proposal needs.
    function quorum() external view returns (uint256);

    /// @notice How long a proposal stays open, in seconds.
    function proposalLifetime() external view returns (uint40);

    /// @notice A proposal.
    function proposal(uint256 proposalId) external view returns (ProposalInfo memory);

    /// @notice Whether `operator` approved `proposalId`.
    function hasApproved(uint256 proposalId, address operator) external view returns (bool);

    /// @notice Number of proposals made so far (ids run from 1).
    function proposalCount() external view returns (uint256);
}
