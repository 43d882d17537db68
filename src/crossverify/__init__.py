"""crossverify: cross-border document verification on a permissioned EVM chain.

The Macao issuer salts and hashes certificates into batches and anchors signed batch roots; the resident
carries a bundle and may redact it; the Guangdong bank checks the bundle against the registry; regulators
read the registry's events. By role: :class:`OperatorClient`, :class:`IssuerClient` (with its
:class:`Journal`), :class:`VerifierClient` and :class:`RegulatorReader`; the verifier and the regulator hold no
signing methods. Errors live in :mod:`crossverify.errors`.
"""

from ._auditor import AuditReport, RegulatorReader
from ._batch import SaltedDocument, SealedBatch, salt_document, seal_batch
from ._bundle import Bundle, InclusionProof, load_bundle
from ._certificate import Certificate, Claim, DocumentHeader, RedactedClaim, attachment_claim
from ._config import Config
from ._connection import connect, embedded_chain
from ._eip712 import AnchorRequest, Domain, RevocationRequest, sign
from ._hashing import HashAlgorithm
from ._issuer import IssuerClient, RunReport
from ._journal import Journal
from ._operator import OperatorClient, Proposal
from ._registry import Event, Registry
from ._types import DocumentStatus, ProposalKind, RevocationReason, Role, Status
from ._verifier import Check, Outcome, Policy, VerificationReport, VerifierClient
from .errors import BundleError, ContractRevert, CrossverifyError, RegistryError, TransactionFailed

__all__ = [
    "AnchorRequest",
    "AuditReport",
    "Bundle",
    "BundleError",
    "Certificate",
    "Check",
    "Claim",
    "Config",
    "ContractRevert",
    "CrossverifyError",
    "DocumentHeader",
    "DocumentStatus",
    "Domain",
    "Event",
    "HashAlgorithm",
    "InclusionProof",
    "IssuerClient",
    "Journal",
    "OperatorClient",
    "Outcome",
    "Policy",
    "Proposal",
    "ProposalKind",
    "RedactedClaim",
    "Registry",
    "RegistryError",
    "RegulatorReader",
    "RevocationReason",
    "RevocationRequest",
    "Role",
    "RunReport",
    "SaltedDocument",
    "SealedBatch",
    "Status",
    "TransactionFailed",
    "VerificationReport",
    "VerifierClient",
    "attachment_claim",
    "connect",
    "embedded_chain",
    "load_bundle",
    "salt_document",
    "seal_batch",
    "sign",
]
