"""crossverify: cross-border document verification on a permissioned EVM chain.

The Macao issuer salts and hashes certificates into batches and anchors signed batch roots; the resident
carries a bundle and may redact it; the Guangdong bank checks the bundle against the registry; regulators
read the registry's events. Errors live in :mod:`crossverify.errors`.
"""

from ._batch import SaltedDocument, SealedBatch, salt_document, seal_batch
from ._bundle import Bundle, InclusionProof, load_bundle
from ._certificate import Certificate, Claim, DocumentHeader, RedactedClaim, attachment_claim
from ._eip712 import AnchorRequest, Domain, RevocationRequest, sign
from ._hashing import HashAlgorithm
from ._registry import Event, Registry
from ._types import DocumentStatus, ProposalKind, RevocationReason, Role, Status
from .errors import BundleError, ContractRevert, CrossverifyError, RegistryError, TransactionFailed

__all__ = [
    "AnchorRequest",
    "Bundle",
    "BundleError",
    "Certificate",
    "Claim",
    "ContractRevert",
    "CrossverifyError",
    "DocumentHeader",
    "DocumentStatus",
    "Domain",
    "Event",
    "HashAlgorithm",
    "InclusionProof",
    "ProposalKind",
    "RedactedClaim",
    "Registry",
    "RegistryError",
    "RevocationReason",
    "RevocationRequest",
    "Role",
    "SaltedDocument",
    "SealedBatch",
    "Status",
    "TransactionFailed",
    "attachment_claim",
    "load_bundle",
    "salt_document",
    "seal_batch",
    "sign",
]
