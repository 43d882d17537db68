"""crossverify: cross-border document verification on a permissioned EVM chain.

The Macao issuer salts and hashes certificates into batches and anchors signed batch roots; the resident
carries a bundle and may redact it; the Guangdong bank checks the bundle against the registry; regulators
read the registry's events. By role: :class:`OperatorClient`, :class:`IssuerClient` (with its
:class:`Journal`), :class:`VerifierClient` and :class:`RegulatorReader`; the verifier and the regulator hold no
signing methods. Errors live in :mod:`crossverify.errors`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chain.connection import connect, embedded_chain
    from .chain.records import DocumentStatus, ProposalKind, RevocationReason, Role, Status
    from .chain.registry import Event, Registry
    from .chain.typed_data import AnchorRequest, Domain, RevocationRequest, sign
    from .config import Config
    from .consortium.operator import OperatorClient, Proposal
    from .errors import BundleError, ContractRevert, CrossverifyError, RegistryError, TransactionFailed
    from .format.batch import SaltedDocument, SealedBatch, salt_document, seal_batch
    from .format.bundle import Bundle, InclusionProof, load_bundle
    from .format.certificate import Certificate, Claim, DocumentHeader, RedactedClaim, attachment_claim
    from .format.hashing import HashAlgorithm
    from .issuer.client import IssuerClient, RunReport
    from .issuer.journal import Journal
    from .regulator.index import AuditReport, RegulatorReader
    from .verifier.client import Check, Outcome, Policy, VerificationReport, VerifierClient

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

#: Where each public name lives. Imported on first use, so that a program using only the certificate format
#: (a resident's device, a second implementation) never loads web3 or the chain layer.
_HOMES = {
    "AnchorRequest": ".chain.typed_data",
    "AuditReport": ".regulator.index",
    "Bundle": ".format.bundle",
    "BundleError": ".errors",
    "Certificate": ".format.certificate",
    "Check": ".verifier.client",
    "Claim": ".format.certificate",
    "Config": ".config",
    "ContractRevert": ".errors",
    "CrossverifyError": ".errors",
    "DocumentHeader": ".format.certificate",
    "DocumentStatus": ".chain.records",
    "Domain": ".chain.typed_data",
    "Event": ".chain.registry",
    "HashAlgorithm": ".format.hashing",
    "InclusionProof": ".format.bundle",
    "IssuerClient": ".issuer.client",
    "Journal": ".issuer.journal",
    "OperatorClient": ".consortium.operator",
    "Outcome": ".verifier.client",
    "Policy": ".verifier.client",
    "Proposal": ".consortium.operator",
    "ProposalKind": ".chain.records",
    "RedactedClaim": ".format.certificate",
    "Registry": ".chain.registry",
    "RegistryError": ".errors",
    "RegulatorReader": ".regulator.index",
    "RevocationReason": ".chain.records",
    "RevocationRequest": ".chain.typed_data",
    "Role": ".chain.records",
    "RunReport": ".issuer.client",
    "SaltedDocument": ".format.batch",
    "SealedBatch": ".format.batch",
    "Status": ".chain.records",
    "TransactionFailed": ".errors",
    "VerificationReport": ".verifier.client",
    "VerifierClient": ".verifier.client",
    "attachment_claim": ".format.certificate",
    "connect": ".chain.connection",
    "embedded_chain": ".chain.connection",
    "load_bundle": ".format.bundle",
    "salt_document": ".format.batch",
    "seal_batch": ".format.batch",
    "sign": ".chain.typed_data",
}


def __getattr__(name: str) -> Any:
    if name == "errors":
        return import_module(".errors", __name__)
    if name not in _HOMES:
        raise AttributeError(f"module 'crossverify' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "errors"]
