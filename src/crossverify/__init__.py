"""crossverify: cross-border document verification on a permissioned EVM chain.

The Macao issuer salts and hashes certificates into batches and anchors signed batch roots; the resident
carries a bundle, may redact it and :func:`present` it, signed with their own key, to one bank's
:class:`Challenge`; the Guangdong bank checks the bundle or presentation against the registry and seals its
receipts to the regulators, a transaction's as one envelope (:func:`seal_receipts`), who read the registry's
events and open them (:func:`open_receipts`). By role: :class:`OperatorClient`, :class:`IssuerClient` (with its
:class:`Journal`), :class:`VerifierClient` and :class:`RegulatorReader`; the verifier and the regulator hold no
signing methods.
Errors live in :mod:`crossverify.errors`.
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
    from .format.holder import holder_claim
    from .format.presentation import Challenge, Presentation, load_challenge, load_presentation, present
    from .issuer.client import IssuerClient, RunReport
    from .issuer.journal import Journal
    from .regulator.index import RegulatorReader
    from .regulator.queries import AuditReport, Supervision
    from .sealing import (
        Receipt,
        RegulatorKey,
        RegulatorPublicKey,
        SealedReceipt,
        SealedReceipts,
        open_receipts,
        open_sealed,
        seal,
        seal_receipts,
    )
    from .verifier.challenges import ChallengeStore
    from .verifier.client import Check, Outcome, Policy, VerificationReport, VerifierClient

__all__ = [
    "AnchorRequest",
    "AuditReport",
    "Bundle",
    "BundleError",
    "Certificate",
    "Challenge",
    "ChallengeStore",
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
    "Presentation",
    "Proposal",
    "ProposalKind",
    "Receipt",
    "RedactedClaim",
    "Registry",
    "RegistryError",
    "RegulatorKey",
    "RegulatorPublicKey",
    "RegulatorReader",
    "RevocationReason",
    "RevocationRequest",
    "Role",
    "RunReport",
    "SaltedDocument",
    "SealedBatch",
    "SealedReceipt",
    "SealedReceipts",
    "Status",
    "Supervision",
    "TransactionFailed",
    "VerificationReport",
    "VerifierClient",
    "attachment_claim",
    "connect",
    "embedded_chain",
    "holder_claim",
    "load_bundle",
    "load_challenge",
    "load_presentation",
    "open_receipts",
    "open_sealed",
    "present",
    "salt_document",
    "seal",
    "seal_batch",
    "seal_receipts",
    "sign",
]

#: Where each public name lives. Imported on first use, so that a program using only the certificate format
#: (a resident's device, a second implementation) never loads web3 or the chain layer.
_HOMES = {
    "AnchorRequest": ".chain.typed_data",
    "AuditReport": ".regulator.queries",
    "Bundle": ".format.bundle",
    "BundleError": ".errors",
    "Certificate": ".format.certificate",
    "Challenge": ".format.presentation",
    "ChallengeStore": ".verifier.challenges",
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
    "Presentation": ".format.presentation",
    "Proposal": ".consortium.operator",
    "ProposalKind": ".chain.records",
    "Receipt": ".sealing",
    "RedactedClaim": ".format.certificate",
    "Registry": ".chain.registry",
    "RegistryError": ".errors",
    "RegulatorKey": ".sealing",
    "RegulatorPublicKey": ".sealing",
    "RegulatorReader": ".regulator.index",
    "Supervision": ".regulator.queries",
    "RevocationReason": ".chain.records",
    "RevocationRequest": ".chain.typed_data",
    "Role": ".chain.records",
    "RunReport": ".issuer.client",
    "SaltedDocument": ".format.batch",
    "SealedBatch": ".format.batch",
    "SealedReceipt": ".sealing",
    "SealedReceipts": ".sealing",
    "Status": ".chain.records",
    "TransactionFailed": ".errors",
    "VerificationReport": ".verifier.client",
    "VerifierClient": ".verifier.client",
    "attachment_claim": ".format.certificate",
    "connect": ".chain.connection",
    "embedded_chain": ".chain.connection",
    "holder_claim": ".format.holder",
    "load_bundle": ".format.bundle",
    "load_challenge": ".format.presentation",
    "load_presentation": ".format.presentation",
    "open_receipts": ".sealing",
    "open_sealed": ".sealing",
    "present": ".format.presentation",
    "salt_document": ".format.batch",
    "seal": ".sealing",
    "seal_receipts": ".sealing",
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
