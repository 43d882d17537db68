// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title crossverify document registry: types, events and errors
/// @notice What the registry stores and says, shared by its two halves ({IDocumentRegistry} has the functions).
/// @dev Times are unix seconds in `uint40`. Issuer ids are up to 11 ASCII bytes (e.g. the issuer's BIC) and
///      document types up to 8 (e.g. "DEPCERT"), both left-aligned and zero-padded. Every boundary is inclusive
///      on the side of the write that happened first: a key retired, or an issuer suspended, at time T still
///      counts at T, because an anchor accepted earlier in the same block was accepted while it counted.
interface IRegistryTypes {
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

    /// @notice Actions the consortium carries out on the registry once a proposal reaches its quorum.
    /// @dev Payloads, ABI-encoded: AdmitIssuer `(bytes11 issuerId, bytes32 jurisdiction, address admin,
    ///      bytes8[] docTypes, bytes32 issuerMetadata, bytes32[] typeMetadata)` (the admin then adds the signing keys,
    ///      each with its proof of possession); SuspendIssuer and ReinstateIssuer `(bytes11 issuerId)`; SetDocTypes
    ///      `(bytes11 issuerId, bytes8[] docTypes, bool allowed, bytes32[] typeMetadata)`; AdmitMember
    ///      `(address account, Role role, bytes32 jurisdiction)` (a regulator's is required; a verifier's may be
    ///      zero); SuspendMember and ReinstateMember `(address account)`; CompromiseKey
    ///      `(address key, uint40 compromisedFrom)`; ReplaceIssuerAdmin `(bytes11 issuerId, address newAdmin, uint40
    ///      compromisedFrom)` (zero: the old admin was not compromised); RecordPredecessor `(uint64 chainId, address
    ///      registry)`.
    enum GovernanceAction {
        AdmitIssuer,
        SuspendIssuer,
        ReinstateIssuer,
        SetDocTypes,
        AdmitMember,
        SuspendMember,
        ReinstateMember,
        CompromiseKey,
        ReplaceIssuerAdmin,
        RecordPredecessor
    }

    /// @notice What an issuer's signing key signs to anchor a batch (EIP-712 struct `Anchor`).
    /// @param batchRoot Merkle root over the batch's document digests.
    /// @param docType Document type code shared by every document in the batch.
    /// @param hashAlg Hash algorithm id of the batch tree: 1 keccak256, 2 sha256, 3 SM3.
    /// @param leafCount Number of documents in the batch (bounds proof length and index).
    /// @param notAfter Expiry of every document in the batch.
    /// @param deadline Last moment at which this signed request may be submitted; at most {MAX_DEADLINE_HORIZON}
    ///        ahead of the block that submits it.
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

    /// @notice An SM2 signature (GM suite), with the address of the key that made it: the last 20 bytes of
    ///         SM3(x || y) of its public key, as FISCO BCOS names SM2 accounts. SM2 signatures recover no key.
    struct SM2Signature {
        bytes32 r;
        bytes32 s;
        address key;
    }

    /// @notice What an issuer's signing key signs to revoke a batch or one document (EIP-712 struct `Revocation`).
    /// @dev Exactly one of `batchRoot` (revoke the batch) and `documentDigest` (revoke one document) is non-zero.
    struct RevocationRequest {
        bytes32 batchRoot;
        bytes32 documentDigest;
        RevocationReason reason;
        uint40 deadline;
    }

    /// @notice Issuer record. `jurisdiction` is a short code such as "MO". Signed requests whose deadline is at
    ///         or before `cancelledUpTo` are void.
    struct IssuerInfo {
        bytes11 issuerId;
        bytes32 jurisdiction;
        address admin;
        Status status;
        uint40 admittedAt;
        uint40 cancelledUpTo;
    }

    /// @notice A period during which an issuer was active, both ends included; `until == 0` while it still is.
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

    /// @notice A revocation as recorded. `signingKey` is the key that signed it (zero: the issuer's admin sent
    ///         it). `void` is true when that key, or the admin account that sent it, is reported compromised at or
    ///         before `revokedAt`: such a revocation does not count, and the issuer may revoke again.
    struct RevocationRecord {
        RevocationReason reason;
        uint40 revokedAt;
        address signingKey;
        bool void;
    }

    /// @notice Everything a verifier needs to judge one document of one batch, read in one call.
    /// @dev `anchoredAt == 0` means the issuer never anchored this root; the other fields are then zero.
    struct DocumentStatus {
        bytes11 issuerId;
        address signingKey;
        uint40 anchoredAt;
        uint40 notAfter;
        bytes8 docType;
        uint8 hashAlg;
        uint24 leafCount;
        RevocationRecord batchRevocation;
        RevocationRecord documentRevocation;
        Status issuerStatus;
        bool issuerActiveAtAnchor;
        bool issuerMayIssue;
        uint40 keyAddedAt;
        uint40 keyRetiredAt;
        uint40 keyCompromisedFrom;
    }

    /// @notice A registry this one succeeds (a rebuilt network, or an earlier version), recorded by quorum: bundles
    ///         that name it verify here once their root is anchored here.
    struct Predecessor {
        uint56 chainId;
        address registry;
        uint40 recordedAt;
    }

    /// @notice One (issuer, batch root, document digest) triple for {documentStatuses}.
    struct DocumentQuery {
        bytes11 issuerId;
        bytes32 batchRoot;
        bytes32 documentDigest;
    }

    // ------------------------------------------------------------------------------------------------------
    // Events: the regulator's API
    // ------------------------------------------------------------------------------------------------------

    /// @notice The registry was deployed under `consortium`, which alone carries out governance on it.
    event RegistryDeployed(address indexed consortium);

    /// @notice An issuer was admitted by the consortium's proposal `proposalId`.
    event IssuerAdmitted(bytes11 indexed issuerId, address indexed admin, uint256 indexed proposalId, bytes32 jurisdiction);
    /// @notice An issuer was suspended: its keys can no longer sign.
    event IssuerSuspended(bytes11 indexed issuerId, uint256 indexed proposalId);
    /// @notice A suspended issuer was reinstated.
    event IssuerReinstated(bytes11 indexed issuerId, uint256 indexed proposalId);
    /// @notice An issuer's admin account was replaced (e.g. after the old one was lost or stolen). A non-zero
    ///         `compromisedFrom` declares the old admin compromised from then: its revocations, compromise marks,
    ///         key additions and cancellations from that moment on no longer count.
    event IssuerAdminReplaced(
        bytes11 indexed issuerId,
        address indexed oldAdmin,
        address indexed newAdmin,
        uint256 proposalId,
        uint40 compromisedFrom
    );
    /// @notice An issuer may (or may no longer) issue `docType`.
    event DocTypePermissionChanged(bytes11 indexed issuerId, bytes8 indexed docType, uint256 indexed proposalId, bool allowed);

    /// @notice This registry succeeds the registry `registry` on chain `chainId`, by the consortium's proposal.
    event PredecessorRecorded(uint256 chainId, address indexed registry, uint256 indexed proposalId);
    /// @notice The digest of `issuerId`'s display metadata for `docType` (zero: the issuer's own name) is now
    ///         `digest`, set by the consortium's proposal `proposalId` or by the issuer's admin (`proposalId` 0).
    event MetadataDigestSet(bytes11 indexed issuerId, bytes8 indexed docType, uint256 indexed proposalId, bytes32 digest);

    /// @notice An account was admitted as a verifier or a regulator.
    event MemberAdmitted(address indexed account, Role indexed role, uint256 indexed proposalId);
    /// @notice A verifier or regulator was suspended.
    event MemberSuspended(address indexed account, Role indexed role, uint256 indexed proposalId);
    /// @notice A suspended verifier or regulator was reinstated.
    event MemberReinstated(address indexed account, Role indexed role, uint256 indexed proposalId);

    /// @notice A signing key was added to an issuer, with its proof of possession; `actor` sent it.
    event SigningKeyAdded(bytes11 indexed issuerId, address indexed key, address indexed actor);
    /// @notice A signing key was retired by the issuer's admin.
    event SigningKeyRetired(bytes11 indexed issuerId, address indexed key, address indexed actor);
    /// @notice A signing key was marked compromised from `compromisedFrom`, by the issuer's admin
    ///         (`proposalId` 0) or by the consortium's proposal `proposalId` (`actor` is then the consortium).
    event SigningKeyCompromised(
        bytes11 indexed issuerId, address indexed key, address indexed actor, uint40 compromisedFrom, uint256 proposalId
    );
    /// @notice Every signed request of `issuerId` whose deadline is at or before `deadlineUpTo` is void.
    event SignedRequestsCancelled(bytes11 indexed issuerId, address indexed actor, uint40 deadlineUpTo);

    /// @notice A batch root was anchored for `issuerId`; the signing key is the actor, the relaying operator or
    ///         admin is the transaction's sender.
    event BatchAnchored(
        bytes32 indexed batchRoot,
        bytes11 indexed issuerId,
        address indexed signingKey,
        bytes8 docType,
        uint8 hashAlg,
        uint24 leafCount,
        uint40 notAfter
    );
    /// @notice A batch was revoked. `signingKey` signed the revocation (zero: the admin `actor` sent it).
    event BatchRevoked(
        bytes32 indexed batchRoot, bytes11 indexed issuerId, address indexed actor, RevocationReason reason, address signingKey
    );
    /// @notice A document was revoked. `signingKey` signed the revocation (zero: the admin `actor` sent it).
    event DocumentRevoked(
        bytes32 indexed documentDigest,
        bytes11 indexed issuerId,
        address indexed actor,
        RevocationReason reason,
        address signingKey
    );

    // ------------------------------------------------------------------------------------------------------
    // Errors: each carries the values at fault
    // ------------------------------------------------------------------------------------------------------

    /// @notice An address argument is zero.
    error RegistryZeroAddress();
    /// @notice Only the consortium contract may do this.
    error RegistryNotConsortium(address account);
    /// @notice The consortium given at deployment names another registry.
    error RegistryConsortiumMismatch(address consortium, address registryOfConsortium);
    /// @notice The governance half given at deployment serves another consortium.
    error RegistryGovernanceMismatch(address governance, address consortiumOfGovernance);

    /// @notice An issuer id must not be zero.
    error RegistryZeroIssuerId();
    /// @notice An issuer with this id was already admitted.
    error RegistryIssuerExists(bytes11 issuerId);
    /// @notice No issuer has this id.
    error RegistryUnknownIssuer(bytes11 issuerId);
    /// @notice The issuer is not admitted, or is suspended.
    error RegistryIssuerNotActive(bytes11 issuerId, Status status);
    /// @notice Only a suspended issuer can be reinstated.
    error RegistryIssuerNotSuspended(bytes11 issuerId, Status status);
    /// @notice Only the issuer's admin account may do this.
    error RegistryNotIssuerAdmin(bytes11 issuerId, address account);
    /// @notice The account already administers an issuer.
    error RegistryAdminInUse(address admin, bytes11 issuerId);
    /// @notice An admin compromise time must be non-zero, not in the future, not before the admin took office,
    ///         and at most {MAX_ADMIN_LOOKBACK} before the replacement was proposed: `earliest` is the earliest
    ///         accepted.
    error RegistryInvalidAdminCompromiseTime(bytes11 issuerId, uint40 compromisedFrom, uint40 earliest);
    /// @notice A predecessor is a registry (chain id 1 to 2^53 - 1, non-zero address), recorded once.
    error RegistryInvalidPredecessor(uint256 chainId, address registry);
    /// @notice Display metadata digests must pair one to one with the document types they describe.
    error RegistryMetadataLength(uint256 docTypes, uint256 digests);
    /// @notice The issuer is not allowed to issue this document type.
    error RegistryDocTypeNotAllowed(bytes11 issuerId, bytes8 docType);
    /// @notice A document type must not be zero.
    error RegistryZeroDocType();

    /// @notice Members are admitted as verifiers or regulators only.
    error RegistryInvalidRole(Role role);
    /// @notice A regulator is admitted with the jurisdiction it supervises, never zero.
    error RegistryZeroJurisdiction(address account);
    /// @notice The account already holds a consortium role.
    error RegistryMemberExists(address account, Role role);
    /// @notice The account holds no consortium role.
    error RegistryUnknownMember(address account);
    /// @notice The member is not active.
    error RegistryMemberNotActive(address account, Status status);
    /// @notice Only a suspended member can be reinstated.
    error RegistryMemberNotSuspended(address account, Status status);

    /// @notice The signing key is already registered (keys belong to one issuer, once).
    error RegistryKeyExists(address key, bytes11 issuerId);
    /// @notice The key did not sign the proof of possession naming this registry, the issuer and itself.
    error RegistryInvalidKeyProof(address key, address recovered);
    /// @notice The signature recovers to a key no issuer holds (wrong key, chain, registry or message).
    error RegistryUnknownKey(address key);
    /// @notice The signing key was retired and can no longer sign.
    error RegistryKeyRetired(address key, uint40 retiredAt);
    /// @notice The signing key is marked compromised.
    error RegistryKeyCompromised(address key, uint40 compromisedFrom);
    /// @notice A compromise time must be non-zero and not in the future; the consortium's must be earlier than its
    ///         own earlier mark, and an issuer's admin marks a key once (while its mark counts).
    error RegistryInvalidCompromiseTime(address key, uint40 compromisedFrom);

    /// @notice A batch root must not be zero.
    error RegistryZeroRoot();
    /// @notice The issuer already anchored this batch root with another record.
    error RegistryRootAlreadyAnchored(bytes32 batchRoot, bytes11 issuerId);
    /// @notice The hash algorithm id is not 1 (keccak256), 2 (sha256) or 3 (SM3), or not 3 in a GM deployment.
    error RegistryUnknownHashAlgorithm(uint8 hashAlg);
    /// @notice A batch must hold at least one document.
    error RegistryZeroLeafCount();
    /// @notice The batch's not-after time has already passed.
    error RegistryNotAfterPassed(uint40 notAfter, uint40 now_);
    /// @notice The signed request's deadline has passed; sign it again.
    error RegistrySignatureExpired(uint40 deadline, uint40 now_);
    /// @notice The signed request's deadline lies further ahead than the registry accepts.
    error RegistryDeadlineTooFar(uint40 deadline, uint40 latest);
    /// @notice The issuer cancelled every signed request with a deadline up to `cancelledUpTo`.
    error RegistrySignatureCancelled(bytes11 issuerId, uint40 deadline, uint40 cancelledUpTo);
    /// @notice A cancellation must move later than the one already set, and reach at most
    ///         {MAX_DEADLINE_HORIZON} ahead: no request with a later deadline can be submitted yet.
    error RegistryInvalidCancellation(bytes11 issuerId, uint40 deadlineUpTo, uint40 cancelledUpTo);
    /// @notice The signature does not recover to any address.
    error RegistryInvalidSignature(bytes32 r, bytes32 vs);
    /// @notice The signature's s value is in the upper half of the curve order (malleable form).
    error RegistryMalleableSignature(bytes32 s);
    /// @notice Requests and signatures differ in number.
    error RegistryLengthMismatch(uint256 requests, uint256 signatures);
    /// @notice The function or the structure belongs to the other crypto suite than this registry's, `suite`
    ///         (1 standard, 2 GM).
    error RegistrySuiteMismatch(uint8 suite);
    /// @notice The SM2 signature is not the named key's over this request, chain and registry.
    error RegistryInvalidSM2Signature(address key);
    /// @notice The chain's id is no longer `deployedOn`, the one the GM suite's signed requests were fixed for (a
    ///         fork): they are refused here; the consortium deploys a successor on this chain.
    error RegistryChainIdChanged(uint256 deployedOn, uint256 chainId);
    /// @notice A registry's suite is 1 (standard, no SM2 verifier) or 2 (GM, with an SM2 verifier).
    error RegistryInvalidSuite(uint8 suite, address sm2Verifier);

    /// @notice The issuer anchored no batch under this root.
    error RegistryUnknownBatch(bytes11 issuerId, bytes32 batchRoot);
    /// @notice A revocation needs a reason other than None.
    error RegistryInvalidRevocationReason(RevocationReason reason);
    /// @notice A signed revocation names exactly one of a batch root and a document digest.
    error RegistryInvalidRevocationTarget(bytes32 batchRoot, bytes32 documentDigest);
    /// @notice The batch is already revoked; a revocation that counts is final.
    error RegistryBatchAlreadyRevoked(bytes32 batchRoot, RevocationReason reason);
    /// @notice The document is already revoked by its issuer; a revocation that counts is final.
    error RegistryDocumentAlreadyRevoked(bytes32 documentDigest, bytes11 issuerId, RevocationReason reason);

}

/// @title crossverify document registry
/// @notice The public story of the registry: what a Macao issuer anchors, what a Guangdong verifier reads, and
///         what a regulator audits. Only digests and non-personal metadata ever reach this contract. Governance
///         (admitting, suspending, key compromise, admin recovery and succession by quorum) arrives from the
///         consortium contract, the only account allowed to call {execute}.
/// @dev One address, two deployed halves sharing one storage layout: `DocumentRegistry` (anchors, revocations and
///      the verifier's reads) delegates every other function to `RegistryGovernance` from its fallback.
interface IDocumentRegistry is IRegistryTypes {
    // ------------------------------------------------------------------------------------------------------
    // Governance (the consortium contract only)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Carry out `action` with its ABI-encoded `payload`, for the consortium's proposal `proposalId`.
    /// @dev Checks exactly what {checkAction} checks first, so an action that became invalid reverts.
    function execute(GovernanceAction action, bytes calldata payload, uint256 proposalId) external;

    /// @notice Revert with the error {execute} would raise if `action` with `payload` were carried out now.
    /// @dev The consortium calls it when an action is proposed, so an invalid proposal is refused at once.
    function checkAction(GovernanceAction action, bytes calldata payload) external view;

    // ------------------------------------------------------------------------------------------------------
    // Issuer keys and requests (the issuer's admin)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Add a signing key to the caller's issuer. A key can belong to one issuer only, once, and only with
    ///         its proof of possession, so nobody can register another institution's key first.
    /// @param keyProof The key's signature over the EIP-712 struct `SigningKey(bytes11 issuerId,address key)`
    ///        under this registry's domain: proof that the issuer holds the key.
    function addSigningKey(bytes11 issuerId, address key, Signature calldata keyProof) external;

    /// @notice {addSigningKey} in the GM suite: add the SM2 key with public key (x, y), whose address is the last
    ///         20 bytes of SM3(x || y), to the caller's issuer. The registry keeps the public key (SM2 signatures
    ///         recover none) and its identity digest Z.
    /// @param keyProof The key's SM2 signature over the GM message of `SigningKey(bytes11 issuerId,address key)`
    ///        under this registry's domain (docs/format.md), naming the key's address.
    function addSM2SigningKey(bytes11 issuerId, bytes32 x, bytes32 y, SM2Signature calldata keyProof) external;

    /// @notice Retire a signing key: it can no longer sign; what it anchored until then, this block included,
    ///         stays valid.
    function retireSigningKey(address key) external;

    /// @notice Mark a key compromised from `compromisedFrom` (at most now): anchors it made, and revocations it
    ///         signed, from then on do not count, and an anchor it made no longer holds its root.
    /// @dev An admin marks a key once; to move a mark earlier, the consortium marks it (CompromiseKey).
    function markKeyCompromised(address key, uint40 compromisedFrom) external;

    /// @notice Void every signed request of the issuer (anchor or revocation) whose deadline is at or before
    ///         `deadlineUpTo`, at most {MAX_DEADLINE_HORIZON} ahead. Requests signed afterwards must carry a later
    ///         deadline. A cancellation by an admin later declared compromised is undone from that moment on.
    function cancelSignedRequests(bytes11 issuerId, uint40 deadlineUpTo) external;

    // ------------------------------------------------------------------------------------------------------
    // Anchors and revocation
    // ------------------------------------------------------------------------------------------------------

    /// @notice Anchor a batch root signed by an active key of an active issuer, under that issuer. Anyone may
    ///         submit a signed request (usually an operator relays it, or the issuer's admin sends it); the
    ///         signature, its deadline and the issuer's cancellations decide. Another issuer may anchor the same
    ///         root under its own id. An anchor whose key was compromised at or before it does not hold the
    ///         root: a valid request replaces it.
    function anchor(AnchorRequest calldata request, Signature calldata signature) external;

    /// @notice Anchor many signed batch roots in one transaction. A root its issuer already anchored with an
    ///         identical record is skipped (another relayer got there first); any other failure reverts all.
    function anchorMany(AnchorRequest[] calldata requests, Signature[] calldata signatures) external;

    /// @notice {anchor} in the GM suite: the request signed with SM2 over its GM message (docs/format.md); the
    ///         batch tree's hash must be SM3 (`hashAlg` 3).
    function anchorSM2(AnchorRequest calldata request, SM2Signature calldata signature) external;

    /// @notice {anchorMany} in the GM suite.
    function anchorManySM2(AnchorRequest[] calldata requests, SM2Signature[] calldata signatures) external;

    /// @notice Revoke a whole batch of the caller's issuer, as its admin.
    function revokeBatch(bytes32 batchRoot, RevocationReason reason) external;

    /// @notice Revoke one document of the caller's issuer, wherever it was anchored, as that issuer's admin.
    /// @dev Other documents of the same batch stay valid.
    function revokeDocument(bytes32 documentDigest, RevocationReason reason) external;

    /// @notice Revoke with a request signed by an active key of the issuer, submitted by anyone (usually an
    ///         operator or the issuer's admin). The record names the key, so it stops counting if the key is later reported compromised
    ///         from a time at or before it.
    function revokeBySignature(RevocationRequest calldata request, Signature calldata signature) external;

    /// @notice {revokeBySignature} in the GM suite: the request signed with SM2 over its GM message.
    function revokeBySM2Signature(RevocationRequest calldata request, SM2Signature calldata signature) external;

    // ------------------------------------------------------------------------------------------------------
    // Display metadata: how people read an issuer's name and a document type's claims (docs/format.md)
    // ------------------------------------------------------------------------------------------------------

    /// @notice Register the digest (keccak256 of the RFC 8785 form; SM3 in a GM deployment) of the display metadata
    ///         of the caller's issuer for `docType`, one it may issue, or for its own name (`docType` zero), as its
    ///         admin. Zero withdraws it. Admission and {SetDocTypes} proposals register digests too.
    function setMetadataDigest(bytes8 docType, bytes32 digest) external;

    /// @notice The digest of `issuerId`'s display metadata for `docType` (zero: of its own name); zero when none
    ///         is registered. Readers use only metadata with exactly this digest.
    function metadataDigest(bytes11 issuerId, bytes8 docType) external view returns (bytes32);

    // ------------------------------------------------------------------------------------------------------
    // Views (no role needed)
    // ------------------------------------------------------------------------------------------------------

    /// @notice The consortium contract that governs this registry.
    function consortium() external view returns (address);

    /// @notice The deployment's crypto suite, fixed at deployment: 1 standard (keccak-256, secp256k1 EIP-712,
    ///         P-256 holders, X25519 + AES-GCM sealing), 2 GM (SM3, SM2, SM4). The other suite's entry points
    ///         revert {RegistrySuiteMismatch}.
    function cryptoSuite() external view returns (uint8);

    /// @notice The SM2 verifier contract of a GM deployment (zero in a standard one).
    function sm2Verifier() external view returns (address);

    /// @notice The public key (x, y) of an SM2 signing key (zero when the registry holds none at that address).
    function sm2PublicKey(address key) external view returns (bytes32 x, bytes32 y);

    /// @notice How far ahead of the submitting block a signed request's deadline may lie, in seconds.
    function MAX_DEADLINE_HORIZON() external view returns (uint40);

    /// @notice How far back (from the proposal) the consortium may declare an issuer's admin compromised, in
    ///         seconds: long enough to notice a stolen account by its public acts, short enough that a revocation
    ///         that has stood that long is final.
    function MAX_ADMIN_LOOKBACK() external view returns (uint40);

    /// @notice The registries this one succeeds, oldest first.
    function predecessors() external view returns (Predecessor[] memory);

    /// @notice Everything a verifier needs about each (issuer, batch, document) triple, in one call.
    function documentStatuses(DocumentQuery[] calldata queries) external view returns (DocumentStatus[] memory);

    /// @notice Which of `documentDigests` `issuerId` revoked: the per-document part of a verification, once
    ///         the batch's record has been read with {documentStatuses}, which then gives the few revoked
    ///         documents' records. A read where nothing was revoked returns an empty array.
    /// @return indices Positions in `documentDigests` with a recorded revocation (void ones included), ascending.
    function revokedDocuments(bytes11 issuerId, bytes32[] calldata documentDigests)
        external
        view
        returns (uint256[] memory indices);

    /// @notice Whether `key` was a valid signing key of `issuerId` at `time`: added at or before it, not retired
    ///         before it, not compromised at or before it.
    function keyValidAt(bytes11 issuerId, address key, uint40 time) external view returns (bool);

    /// @notice Whether `issuerId` was admitted and not suspended at `time` (both ends of a period included).
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

    /// @notice The jurisdiction `account` was admitted for as a member (zero: none stated, or not a member).
    function memberJurisdiction(address account) external view returns (bytes32);
}
