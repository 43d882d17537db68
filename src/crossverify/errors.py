"""Every error crossverify raises, under one root.

::

    CrossverifyError
    ├── InvalidDocType                       (also ValueError)
    ├── InvalidIssuerId                      (also ValueError)
    ├── UnsupportedHashAlgorithm             this Python cannot compute an agreed algorithm (SM3 without OpenSSL)
    ├── InvalidClaim                         a certificate claim cannot be issued (also ValueError)
    ├── InvalidProposal                      a proposal cannot be made or approved as asked (also ValueError)
    ├── ConfigError                          the configuration is missing or has a bad value
    │   └── NoRegulatorKey                   a regulator's command needs its sealing key(s), and none is configured
    ├── KeyLoadError                         a key could not be loaded (file, password, dev mode)
    │   └── TokenError                       a PKCS#11 token (HSM) refused or lacks what was asked for
    │       ├── TokenModuleUnavailable       the PKCS#11 module cannot be loaded
    │       ├── TokenNotFound                no token with that label
    │       ├── TokenPinIncorrect            the token refused the PIN (or the PIN source is empty)
    │       ├── TokenKeyNotFound             no private key with that label in the token
    │       ├── TokenKeyWrongCurve           the key is not a secp256k1 EC key
    │       └── TokenKeyMismatch             the private and public keys of the label are not one pair
    ├── SigningFailed                        a signer could not produce a signature (token removed, ...)
    ├── CertificateInputError                a file of certificates to issue is unusable (also ValueError)
    ├── JournalError                         the issuer's journal refused an entry (bad or changed reference)
    ├── StoreError                           a local store (journal, index, outbox) cannot be used; exit 3
    │   ├── StoreLocked                      another process holds the store
    │   ├── StoreUnavailable                 disk full, read-only, or an I/O error
    │   ├── StoreCorrupt                     not a crossverify store, or its integrity check failed
    │   ├── StoreTooNew                      written by a newer crossverify
    │   ├── StoreChainMismatch               bound to another chain (genesis), network reset or registry
    │   ├── ReceiptsUnsettled                receipts on the circulation contract an outbox leaves are not final yet
    │   ├── IndexNotSynced                   never synced: the message names the command to run (exit 2)
    │   └── PickupStoreFull                  every pickup handle drawn was taken: too many pickups are open
    ├── HolderKeyError                       a holder key is not a P-256 key in the agreed form (also ValueError)
    ├── InvalidSM2Key                        an SM2 key is malformed or off the curve (also ValueError)
    ├── SuiteMismatch                        a structure of one crypto suite at a deployment of the other
    ├── ChallengeError                       a challenge cannot be issued or read (also ValueError)
    ├── PickupError                          a resident's pickup is refused (also ValueError)
    │   ├── PickupCodeInvalid                no open pickup has this code (a wrong guess counts against the cap)
    │   ├── PickupCodeUsed                   the code enrolled a holder key already: it works once
    │   ├── PickupExpired                    the code, or the pickup, expired before it was used
    │   ├── PickupLocked                     too many wrong codes for this pickup: the issuer must make a new one
    │   └── PickupNotReady                   the certificate is not anchored yet: ask again later
    ├── MetadataError                        display metadata (labels and names) cannot be used
    │   ├── MalformedMetadata                not display metadata in the agreed form (also ValueError)
    │   ├── MetadataMismatch                 not what the registry holds a digest of: altered, or another's
    │   └── MetadataUnavailable              the registry holds a digest of metadata nobody here has
    ├── SealingError                         a sealed receipt or regulator key is unusable
    │   └── NotSealedToThisKey               no part of the sealed receipt opens with this regulator's key
    ├── BundleError                          a bundle cannot be used; ``path`` is the JSON pointer of the fault
    │   ├── MalformedBundle                  not JSON, or not a JSON object
    │   │   ├── BundleTooLarge               more bytes than the reader accepts
    │   │   ├── InvalidEncoding              not UTF-8, or a byte order mark
    │   │   └── NestingTooDeep               arrays and objects nested too deep
    │   ├── DuplicateKey                     a JSON object names a member twice
    │   ├── InvalidNumber                    not an I-JSON number: NaN, infinite, or not exactly what it reads as
    │   ├── InvalidString                    a lone surrogate escape
    │   ├── UnsupportedVersion
    │   ├── MissingMember / UnexpectedMember
    │   ├── InvalidHex / InvalidLength / InvalidValue / InvalidChecksum
    │   ├── UnknownHashAlgorithm
    │   ├── ProofError                       ProofTooLong, ProofTooShort, ProofIndexOutOfRange
    │   ├── InvalidClaimName / DuplicateClaim / ClaimsOutOfOrder / ReusedSalt / ClaimDisclosedAndRedacted
    │   ├── AttachmentError                  InvalidAttachment, AttachmentMismatch, MissingAttachment
    │   └── PresentationError                a presentation breaks a rule its schema cannot state
    └── RegistryError
        ├── TransactionFailed                a transaction failed with no registry error (gas, node, panic)
        ├── NodeUnavailable                  the node refused the connection or did not answer
        │   └── NodeBehind                   the node's latest block is older than [verifier] max_head_age
        ├── LogNotDecodable                  a read contract's log that its ABI does not describe exactly
        ├── RegistryNotFound                 no contract code at the configured registry address
        ├── DomainMismatch                   a contract's EIP-712 domain names another chain or contract (exit 2)
        ├── ReceiptTimeout                   a sent transaction got no receipt in time (it may still be mined)
        ├── TransactionReplaced              another transaction took a sent transaction's nonce
        ├── TransactionDropped               the node forgot a sent transaction before mining it
        ├── AnchorMismatch                   the issuer's root is anchored with a record its journal did not sign
        ├── SuccessionNotRecorded            a registry does not record that it succeeds the one a store belongs to
        └── ContractRevert                   a crossverify contract reverted with a custom error
            ├── ConsortiumAlreadyApproved
            ├── RegistryRootAlreadyAnchored
            └── ...                          one class per ``error`` in any ABI, same name; the docstring
                                             is the error's NatSpec notice (a test keeps them equal)

Contract errors are decoded from the revert data's selector (see :func:`decode_revert`), so a caller
catches ``RegistryRootAlreadyAnchored`` and reads ``err.args_by_name["batchRoot"]``.
"""

from __future__ import annotations

from typing import Any


class CrossverifyError(Exception):
    """Root of every crossverify error."""


class InvalidDocType(CrossverifyError, ValueError):
    """A document type name is not 1-8 characters of ``A-Z 0-9 . _ -``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"document type must be 1-8 characters of A-Z 0-9 . _ -, got {name!r}")
        self.name = name


class InvalidIssuerId(CrossverifyError, ValueError):
    """An issuer id is not 1-11 characters of ``A-Z 0-9 . _ -`` (a BIC fits)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"issuer id must be 1-11 characters of A-Z 0-9 . _ -, got {name!r}")
        self.name = name


class UnsupportedHashAlgorithm(CrossverifyError):
    """The agreed hash algorithm cannot be computed here."""

    def __init__(self, label: str, why: str) -> None:
        super().__init__(f"cannot compute {label}: {why}")
        self.label = label


class InvalidClaim(CrossverifyError, ValueError):
    """A claim cannot be issued: bad name, or a value that is not canonical JSON (RFC 8785 / I-JSON)."""


class InvalidProposal(CrossverifyError, ValueError):
    """A consortium proposal cannot be made or approved as asked: a value out of its type's range, or an approval
    given with others that it would void."""


class ConfigError(CrossverifyError):
    """The configuration is missing, unreadable, or has a bad or missing value."""


class NoRegulatorKey(ConfigError):
    """The regulator's sealing keys are needed (to open receipts and disputes) and ``[regulator] key_files`` names
    none."""


class KeyLoadError(CrossverifyError):
    """A key could not be loaded: missing file, wrong password, or a plain key outside development mode."""


class TokenError(KeyLoadError):
    """A PKCS#11 token (an HSM, or SoftHSM2) could not give the key that was asked for."""


class TokenModuleUnavailable(TokenError):
    """The PKCS#11 module (the vendor's shared library) cannot be loaded or initialised."""


class TokenNotFound(TokenError):
    """No slot holds a token with the configured label."""


class TokenPinIncorrect(TokenError):
    """The token refused the user PIN, the PIN is locked, or the PIN source gave nothing."""


class TokenKeyNotFound(TokenError):
    """The token holds no private key with the configured label (or more than one)."""


class TokenKeyWrongCurve(TokenError):
    """The key is not an EC key on secp256k1, the only curve an Ethereum signature can use."""


class TokenKeyMismatch(TokenError):
    """The token's private key of the label does not sign for its public key of the label (two pairs' halves
    under one label): its address is not the key that signs, so nothing is signed with it."""


class SigningFailed(CrossverifyError):
    """A signer that holds its key elsewhere (an HSM) could not sign: the token was removed or refused."""


class CertificateInputError(CrossverifyError, ValueError):
    """A file of certificates to issue cannot be read, or an entry lacks a member or has a bad value."""


class JournalError(CrossverifyError):
    """The journal refused an entry or is not a crossverify journal."""


class StoreError(CrossverifyError):
    """A local store (the issuer's journal, the regulator's index, a receipt outbox) cannot be used now.

    Nothing was written: fix the cause the message names and run the command again.
    """


class StoreLocked(StoreError):
    """Another process is using the store; one writer at a time keeps it consistent."""


class StoreUnavailable(StoreError):
    """The store's disk is full, read-only or failing, or its database server cannot be reached."""


class StoreMisconfigured(StoreError, ConfigError):
    """The database server refuses the store's URL: no such database, role or password. Fix the setting."""


class StoreCorrupt(StoreError):
    """The file is not a crossverify store, or its integrity check failed: restore it from a backup."""


class StoreTooNew(StoreError):
    """The store was written by a newer crossverify, whose format this version cannot read."""


class StoreChainMismatch(StoreError):
    """The store belongs to another chain, network reset or registry: use another file for this one."""


class ReceiptsUnsettled(StoreError):
    """Receipts sent to the circulation contract of the registry the outbox is leaving (for the successor its
    consortium recorded) are not final there yet: nothing goes to the successor until they are; flush again later."""


class IndexNotSynced(StoreError):
    """The regulator's index was never synced, so it cannot answer yet: run ``crossverify regulator sync`` (or give
    the command ``--sync``)."""


class PickupStoreFull(StoreError):
    """The pickup store has no free handle for a new pickup: too many pickups are open. Try again once older ones
    have been collected or have expired, and been pruned."""


class HolderKeyError(CrossverifyError, ValueError):
    """A holder key (the ``cnf`` claim, a JWK, a key file) is not an ECDSA P-256 key in the agreed form."""


class InvalidSM2Key(CrossverifyError, ValueError):
    """An SM2 key is malformed: a private key that is not 32 bytes of a scalar in [1, n - 2], or a public key
    that is not the 64 bytes x || y of a point of the curve."""


class SuiteMismatch(CrossverifyError, ValueError):
    """A structure of one crypto suite (a bundle, presentation, anchor, revocation, key proof or sealed envelope)
    met a deployment of the other: the standard suite and the GM suite never mix."""


class ChallengeError(CrossverifyError, ValueError):
    """A verifier's challenge cannot be issued or read (bad purpose code, lifetime, or text)."""


class PickupError(CrossverifyError, ValueError):
    """A resident's pickup of a certificate is refused (see :mod:`crossverify.issuer.pickup`)."""


class PickupCodeInvalid(PickupError):
    """No open pickup has this code; a wrong secret counts against the pickup's cap of attempts."""


class PickupCodeUsed(PickupError):
    """The code has enrolled a holder key already: a pickup code works once."""


class PickupExpired(PickupError):
    """The pickup code expired before it was used (or its collection window closed)."""


class PickupLocked(PickupError):
    """Too many wrong codes were tried for this pickup: the issuer must hand the resident a new one."""


class PickupNotReady(PickupError):
    """The certificate is enrolled but not anchored yet: collect it again in a moment."""


class MetadataError(CrossverifyError):
    """Display metadata (a document type's labels, an issuer's name) cannot be used
    (see :mod:`crossverify.format.metadata`)."""


class MalformedMetadata(MetadataError, ValueError):
    """Not display metadata in the agreed form; ``path`` is the JSON pointer of the fault."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{message} (at {path or 'the top level'})")
        self.path = path


class MetadataMismatch(MetadataError):
    """The metadata's digest is not the one the registry holds for that issuer and document type: it was
    altered, or it describes another issuer's or type's documents."""


class MetadataUnavailable(MetadataError):
    """The registry holds a digest for that issuer and type, and no metadata known here has it."""


class SealingError(CrossverifyError):
    """A sealed receipt, or a regulator key, cannot be used: wrong version, size or KEM, or altered bytes."""


class NotSealedToThisKey(SealingError):
    """No part of the sealed receipt is addressed to this regulator key, or the part does not open with it."""


class BundleError(CrossverifyError):
    """A certificate bundle cannot be used. ``path`` is the JSON pointer of the fault (``""``: the whole file)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{message} (at {path or 'the top level'})")
        self.path = path


class MalformedBundle(BundleError):
    """The file is not JSON, or not a JSON object."""


class BundleTooLarge(MalformedBundle):
    """The file is larger than the reader accepts (``load_bundle``'s ``max_bytes``)."""


class InvalidEncoding(MalformedBundle):
    """The file is not UTF-8 (UTF-16 or UTF-32, invalid sequences) or starts with a byte order mark."""


class NestingTooDeep(MalformedBundle):
    """Arrays and objects are nested deeper than the format allows."""


class DuplicateKey(BundleError):
    """A JSON object names the same member twice, so its meaning is ambiguous; ``path`` names the member."""


class InvalidNumber(BundleError):
    """A number is not I-JSON: NaN or infinite, or a literal whose value a double does not hold exactly."""


class InvalidString(BundleError):
    """A string or member name holds a lone surrogate (an unpaired ``\\uD800``-``\\uDFFF`` escape)."""


class UnsupportedVersion(BundleError):
    """The bundle's format version is not one this software reads."""


class MissingMember(BundleError):
    """A required member is absent."""


class UnexpectedMember(BundleError):
    """A member this format version does not define is present."""


class InvalidHex(BundleError):
    """A value that must be 0x-prefixed lowercase hexadecimal is not."""


class InvalidLength(BundleError):
    """A hexadecimal value has the wrong number of bytes."""


class InvalidValue(BundleError):
    """A value has the wrong type or is out of range."""


class InvalidChecksum(BundleError):
    """An address is not in its EIP-55 mixed-case form: a mistyped address is refused, never corrected."""


class UnknownHashAlgorithm(BundleError):
    """The hash algorithm is not keccak256, sha256 or sm3."""

    def __init__(self, label: str, path: str = "/proof/hashAlg") -> None:
        super().__init__(f"unknown hash algorithm {repr(label)[:40]}; expected keccak256, sha256 or sm3", path)
        self.label = label


class ProofError(BundleError):
    """The Merkle proof does not fit the batch it claims to come from."""


class ProofTooLong(ProofError):
    """The proof has more steps than a batch of its size allows."""

    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"proof path has {got} steps, a batch of this size needs {expected}", "/proof/path")


class ProofTooShort(ProofError):
    """The proof has fewer steps than a batch of its size needs."""

    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"proof path has {got} steps, a batch of this size needs {expected}", "/proof/path")


class ProofIndexOutOfRange(ProofError):
    """The document's position is not inside the batch."""

    def __init__(self, index: int, size: int) -> None:
        super().__init__(f"document index {index} is outside a batch of {size}", "/proof/index")


class InvalidClaimName(BundleError):
    """A claim name is outside the format's alphabet, too long, or not in Unicode NFC."""


class DuplicateClaim(BundleError):
    """Two disclosed claims have the same name."""


class ClaimsOutOfOrder(BundleError):
    """Disclosed claims are not in the order of their names' UTF-8 bytes."""


class ReusedSalt(BundleError):
    """Two claims share a salt: every claim of every document gets its own."""


class ClaimDisclosedAndRedacted(BundleError):
    """The same claim appears both disclosed and as a redacted leaf hash."""


class AttachmentError(BundleError):
    """An attachment named by a claim is missing or does not match."""


class InvalidAttachment(AttachmentError):
    """A claim names an attachment with a malformed descriptor."""


class MissingAttachment(AttachmentError):
    """A claim names an attachment whose bytes were not handed over."""


class AttachmentMismatch(AttachmentError):
    """The attachment's bytes do not match the digest its claim holds: it is not the issued file."""


class PresentationError(BundleError):
    """A presentation breaks a rule of its format that the schema cannot state (times, order of names)."""


class RegistryError(CrossverifyError):
    """Something went wrong talking to the registry contract."""


class TransactionFailed(RegistryError):
    """A transaction or call failed without a registry custom error (out of gas, panic, node refusal)."""


class InvalidQuery(RegistryError, ValueError):
    """A registry read was asked about a malformed key: an issuer id, batch root or digest of the wrong length."""


class NodeUnavailable(RegistryError):
    """The node refused the connection or did not answer; nothing was lost, try again when it is back."""


class NodeBehind(NodeUnavailable):
    """The node's latest block is older than the bank allows (`[verifier] max_head_age`): the node has stopped
    following the chain, or is catching up, so what it says of revocations and expiry may be out of date; nothing
    was decided, try again when it has caught up."""


class NodeTooSlow(NodeUnavailable):
    """The node did not answer within the shorter time a read was given (a batch checked on the service's event
    loop); the read can be made again with the connection's own timeout."""


class LogNotDecodable(RegistryError):
    """A log from a contract being read has an unknown event, the wrong topics, or a value out of its type; or the
    node answered logs or block headers with something else."""


class RegistryNotFound(RegistryError):
    """No contract code is deployed at the registry address on the node's chain: check ``[network] registry``."""


class DomainMismatch(RegistryError):
    """The contract at the configured address answers with an EIP-712 domain of another chain or contract: what is
    signed under it would count at that other registry, so nothing is signed."""


class ReceiptTimeout(RegistryError):
    """A sent transaction got no receipt in time; it may still be mined, so reconcile before resending."""


class TransactionReplaced(RegistryError):
    """Another transaction from the same account was mined with a sent transaction's nonce."""


class TransactionDropped(RegistryError):
    """The node no longer knows a sent, unmined transaction (evicted, or the node restarted); send it again."""
class AnchorMismatch(RegistryError):
    """The registry holds one of this issuer's batch roots with a record the issuer's journal did not sign."""


class SuccessionNotRecorded(RegistryError):
    """The registry a journal is asked to move to does not record (by the consortium's quorum) that it succeeds the
    registry the journal belongs to."""


class ContractRevert(RegistryError):
    """The registry reverted with a custom error; ``args_by_name`` holds the values it reported."""

    def __init__(self, **args_by_name: Any) -> None:
        self.args_by_name = args_by_name
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args_by_name.items())
        hint = (type(self).__doc__ or "").strip().splitlines()[0]
        super().__init__(f"{self.error_name}({shown}): {hint}")

    @property
    def error_name(self) -> str:
        """The contract's name for this error: the class is named after it."""
        return type(self).__name__


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


class InvalidShortString(ContractRevert):
    """EIP-712 domain name or version could not be stored (deployment only)."""


class StringTooLong(ContractRevert):
    """EIP-712 domain name or version too long (deployment only)."""


class CirculationAnswerNotAuthorised(ContractRevert):
    """The answer is not signed by the dispute's answer key."""


class CirculationBatchShape(ContractRevert):
    """A batch of receipts needs at least one commitment and a sealed payload."""


class CirculationChainIdChanged(ContractRevert):
    """The chain's id is no longer `deployedOn`, the one SM2-signed answers were fixed for (a fork): they are
    refused here."""


class CirculationConsortiumMismatch(ContractRevert):
    """The registry's consortium names another circulation contract."""


class CirculationDisputeAnswered(ContractRevert):
    """The dispute was already answered."""


class CirculationDisputeExists(ContractRevert):
    """This verifier already opened a dispute with this answer key."""


class CirculationEmptyDispute(ContractRevert):
    """A dispute needs a non-zero answer key and a sealed payload."""


class CirculationEmptyReceipt(ContractRevert):
    """A commitment must not be zero."""


class CirculationInvalidKey(ContractRevert):
    """A sealing key must be 32 bytes (X25519) or 1,216 (ML-KEM-768 + X25519), regulator keys all alike; an
    answer key (index 1 of an issuer's keys) 64 bytes, a point of secp256k1. In the GM suite both are SM2 public
    keys (64 bytes, a point of the SM2 curve)."""


class CirculationSuiteMismatch(ContractRevert):
    """The function belongs to the other crypto suite than this deployment's, `suite` (1 standard, 2 GM)."""


class CirculationInvalidRegulatorKeys(ContractRevert):
    """Each regulator key comes with the code of its jurisdiction (non-zero; a jurisdiction may have several
    regulators), each key once, 1 to 16 of them."""


class CirculationNoRegulatorKeys(ContractRevert):
    """No regulator keys were set yet: nothing can be sealed."""


class CirculationNotConsortium(ContractRevert):
    """Only the registry's consortium may do this."""


class CirculationNotIssuerAdmin(ContractRevert):
    """Only the issuer's admin may do this, while the issuer is active."""


class CirculationNotVerifier(ContractRevert):
    """Only an active verifier may do this."""


class CirculationUnknownDispute(ContractRevert):
    """No dispute has this id."""


class CirculationZeroAddress(ContractRevert):
    """The registry address is zero."""


class ConsortiumAlreadyApproved(ContractRevert):
    """This operator already approved the proposal."""


class ConsortiumDuplicateOperator(ContractRevert):
    """The account is already an operator."""


class ConsortiumInvalidLifetime(ContractRevert):
    """A proposal lifetime must lie between an hour and ninety days."""


class ConsortiumInvalidQuorum(ContractRevert):
    """The operators would not span two jurisdictions, or the threshold would be below two or above the number
    of operators, or there would be more operators or jurisdictions than the consortium holds."""


class ConsortiumInvalidRecovery(ContractRevert):
    """A recovery replaces another operator than its proposer."""


class ConsortiumNotOperator(ContractRevert):
    """Only a consortium operator may do this."""


class ConsortiumNotRecovery(ContractRevert):
    """The proposal is not a recovery."""


class ConsortiumNotVetoer(ContractRevert):
    """Only an operator of the lost operator's jurisdiction, or an active regulator admitted for that jurisdiction,
    may veto a recovery."""


class ConsortiumProposalAlreadyExecuted(ContractRevert):
    """The proposal already passed and was carried out."""


class ConsortiumProposalExpired(ContractRevert):
    """The proposal expired before reaching its quorum; propose again."""


class ConsortiumProposalStale(ContractRevert):
    """The operators or threshold changed since the proposal was made; propose again."""


class ConsortiumRecoveryPending(ContractRevert):
    """The recovery has reached its quorum and waits for its time lock (or has not reached it yet)."""


class ConsortiumRecoveryVetoed(ContractRevert):
    """The recovery was vetoed."""


class ConsortiumUnknownProposal(ContractRevert):
    """No proposal has this id."""


class ConsortiumZeroAddress(ContractRevert):
    """An address argument is zero."""


class ConsortiumZeroJurisdiction(ContractRevert):
    """A jurisdiction code must not be zero."""


class SM2PrecompileFailed(ContractRevert):
    """The precompile answered a call with an error or with data of the wrong shape."""


class RegistryAdminInUse(ContractRevert):
    """The account already administers an issuer."""


class RegistryBatchAlreadyRevoked(ContractRevert):
    """The batch is already revoked; a revocation that counts is final."""


class RegistryChainIdChanged(ContractRevert):
    """The chain's id is no longer `deployedOn`, the one the GM suite's signed requests were fixed for (a fork): they
    are refused here; the consortium deploys a successor on this chain."""


class RegistryConsortiumMismatch(ContractRevert):
    """The consortium given at deployment names another registry."""


class RegistryDeadlineTooFar(ContractRevert):
    """The signed request's deadline lies further ahead than the registry accepts."""


class RegistryDocTypeNotAllowed(ContractRevert):
    """The issuer is not allowed to issue this document type."""


class RegistryDocumentAlreadyRevoked(ContractRevert):
    """The document is already revoked by its issuer; a revocation that counts is final."""


class RegistryGovernanceMismatch(ContractRevert):
    """The governance half given at deployment serves another consortium."""


class RegistryInvalidAdminCompromiseTime(ContractRevert):
    """An admin compromise time must be non-zero, not in the future, not before the admin took office, and at
    most {MAX_ADMIN_LOOKBACK} before the replacement was proposed: `earliest` is the earliest accepted."""


class RegistryMetadataLength(ContractRevert):
    """Display metadata digests must pair one to one with the document types they describe."""


class RegistryInvalidCancellation(ContractRevert):
    """A cancellation must move later than the one already set, and reach at most {MAX_DEADLINE_HORIZON} ahead:
    no request with a later deadline can be submitted yet."""


class RegistryInvalidCompromiseTime(ContractRevert):
    """A compromise time must be non-zero and not in the future; the consortium's must be earlier than its own
    earlier mark, and an issuer's admin marks a key once (while its mark counts)."""


class RegistryInvalidKeyProof(ContractRevert):
    """The key did not sign the proof of possession naming this registry, the issuer and itself."""


class RegistryInvalidPredecessor(ContractRevert):
    """A predecessor is a registry (chain id 1 to 2^53 - 1, non-zero address), recorded once."""


class RegistryInvalidRevocationReason(ContractRevert):
    """A revocation needs a reason other than None."""


class RegistryInvalidRevocationTarget(ContractRevert):
    """A signed revocation names exactly one of a batch root and a document digest."""


class RegistryInvalidRole(ContractRevert):
    """Members are admitted as verifiers or regulators only."""


class RegistryInvalidSignature(ContractRevert):
    """The signature does not recover to any address."""


class RegistryInvalidSM2Signature(ContractRevert):
    """The SM2 signature is not the named key's over this request, chain and registry."""


class RegistryInvalidSuite(ContractRevert):
    """A registry's suite is 1 (standard, no SM2 verifier) or 2 (GM, with an SM2 verifier)."""


class RegistrySuiteMismatch(ContractRevert):
    """The function or the structure belongs to the other crypto suite than this registry's, `suite` (1 standard,
    2 GM)."""


class RegistryIssuerExists(ContractRevert):
    """An issuer with this id was already admitted."""


class RegistryIssuerNotActive(ContractRevert):
    """The issuer is not admitted, or is suspended."""


class RegistryIssuerNotSuspended(ContractRevert):
    """Only a suspended issuer can be reinstated."""


class RegistryKeyCompromised(ContractRevert):
    """The signing key is marked compromised."""


class RegistryKeyExists(ContractRevert):
    """The signing key is already registered (keys belong to one issuer, once)."""


class RegistryKeyRetired(ContractRevert):
    """The signing key was retired and can no longer sign."""


class RegistryLengthMismatch(ContractRevert):
    """Requests and signatures differ in number."""


class RegistryMalleableSignature(ContractRevert):
    """The signature's s value is in the upper half of the curve order (malleable form)."""


class RegistryMemberExists(ContractRevert):
    """The account already holds a consortium role."""


class RegistryMemberNotActive(ContractRevert):
    """The member is not active."""


class RegistryMemberNotSuspended(ContractRevert):
    """Only a suspended member can be reinstated."""


class RegistryNotAfterPassed(ContractRevert):
    """The batch's not-after time has already passed."""


class RegistryNotConsortium(ContractRevert):
    """Only the consortium contract may do this."""


class RegistryNotIssuerAdmin(ContractRevert):
    """Only the issuer's admin account may do this."""


class RegistryRootAlreadyAnchored(ContractRevert):
    """The issuer already anchored this batch root with another record."""


class RegistrySignatureCancelled(ContractRevert):
    """The issuer cancelled every signed request with a deadline up to `cancelledUpTo`."""


class RegistrySignatureExpired(ContractRevert):
    """The signed request's deadline has passed; sign it again."""


class RegistryUnknownBatch(ContractRevert):
    """The issuer anchored no batch under this root."""


class RegistryUnknownHashAlgorithm(ContractRevert):
    """The hash algorithm id is not 1 (keccak256), 2 (sha256) or 3 (SM3), or not 3 in a GM deployment."""


class RegistryUnknownIssuer(ContractRevert):
    """No issuer has this id."""


class RegistryUnknownKey(ContractRevert):
    """The signature recovers to a key no issuer holds (wrong key, chain, registry or message)."""


class RegistryUnknownMember(ContractRevert):
    """The account holds no consortium role."""


class RegistryZeroAddress(ContractRevert):
    """An address argument is zero."""


class RegistryZeroDocType(ContractRevert):
    """A document type must not be zero."""


class RegistryZeroIssuerId(ContractRevert):
    """An issuer id must not be zero."""


class RegistryZeroJurisdiction(ContractRevert):
    """A regulator is admitted with the jurisdiction it supervises, never zero."""


class RegistryZeroLeafCount(ContractRevert):
    """A batch must hold at least one document."""


class RegistryZeroRoot(ContractRevert):
    """A batch root must not be zero."""


CONTRACT_ERRORS: dict[str, type[ContractRevert]] = {cls.__name__: cls for cls in ContractRevert.__subclasses__()}

#: Errors that mean "try again later", not "this is wrong": the node, the registry, a local store or a signing
#: token is unavailable and nothing was lost. The command line exits 3 on them, the service answers 503.
UNAVAILABLE: tuple[type[CrossverifyError], ...] = (
    StoreError, NodeUnavailable, RegistryNotFound, ReceiptTimeout, TransactionDropped, SigningFailed,
)
