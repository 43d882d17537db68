"""What the registry stores and returns: member and issuer states, roles, revocation reasons, proposal kinds,
and the status of one document."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Status(IntEnum):
    """Lifecycle of an issuer or a member account."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class Role(IntEnum):
    """Consortium roles held by accounts; issuers are records of their own."""

    NONE = 0
    VERIFIER = 1
    REGULATOR = 2


class RevocationReason(IntEnum):
    """Why a batch or a document was revoked. ``SUPERSEDED``: a re-issued document replaces it."""

    NONE = 0
    WITHDRAWN = 1
    SUPERSEDED = 2
    FRAUD = 3
    ISSUED_IN_ERROR = 4


class ProposalKind(IntEnum):
    """Governance actions that need a quorum of operators."""

    ADMIT_ISSUER = 0
    SUSPEND_ISSUER = 1
    REINSTATE_ISSUER = 2
    SET_DOC_TYPES = 3
    ADMIT_MEMBER = 4
    SUSPEND_MEMBER = 5
    REINSTATE_MEMBER = 6
    COMPROMISE_KEY = 7


@dataclass(frozen=True, slots=True)
class DocumentStatus:
    """Everything the registry knows about one document of one batch (see ``IDocumentRegistry.DocumentStatus``)."""

    issuer_id: bytes
    signing_key: str
    anchored_at: int
    not_after: int
    doc_type: bytes
    hash_alg: int
    leaf_count: int
    batch_revocation: RevocationReason
    batch_revoked_at: int
    document_revocation: RevocationReason
    document_revoked_at: int
    issuer_status: Status
    issuer_may_issue: bool
    key_added_at: int
    key_retired_at: int
    key_compromised_from: int

    @property
    def anchored(self) -> bool:
        return self.anchored_at != 0

    @classmethod
    def from_abi(cls, raw: tuple) -> DocumentStatus:  # type: ignore[type-arg]
        (issuer_id, key, anchored_at, not_after, doc_type, hash_alg, leaf_count, batch_rev, batch_at, doc_rev,
         doc_at, issuer_status, may_issue, key_added, key_retired, key_compromised) = raw
        return cls(
            issuer_id=bytes(issuer_id), signing_key=key, anchored_at=anchored_at, not_after=not_after,
            doc_type=bytes(doc_type), hash_alg=hash_alg, leaf_count=leaf_count,
            batch_revocation=RevocationReason(batch_rev), batch_revoked_at=batch_at,
            document_revocation=RevocationReason(doc_rev), document_revoked_at=doc_at,
            issuer_status=Status(issuer_status), issuer_may_issue=may_issue, key_added_at=key_added,
            key_retired_at=key_retired, key_compromised_from=key_compromised,
        )
