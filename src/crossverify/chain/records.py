"""What the registry and the consortium store and return: member and issuer states, roles, revocation reasons,
proposal kinds, revocation records and the status of one document."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    """Governance actions that need a quorum of operators: the first ten act on the registry, the next four on
    the consortium itself, ``SET_REGULATOR_KEYS`` on the circulation contract, and ``RECOVER_OPERATOR`` on the
    consortium after its public time lock."""

    ADMIT_ISSUER = 0
    SUSPEND_ISSUER = 1
    REINSTATE_ISSUER = 2
    SET_DOC_TYPES = 3
    ADMIT_MEMBER = 4
    SUSPEND_MEMBER = 5
    REINSTATE_MEMBER = 6
    COMPROMISE_KEY = 7
    REPLACE_ISSUER_ADMIN = 8
    RECORD_PREDECESSOR = 9
    ADD_OPERATOR = 10
    REMOVE_OPERATOR = 11
    REPLACE_OPERATOR = 12
    SET_THRESHOLD = 13
    SET_REGULATOR_KEYS = 14
    RECOVER_OPERATOR = 15


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    """A revocation as the registry records it. ``signing_key`` signed it (``None``: the issuer's admin sent it);
    ``void`` when that key, or the admin that sent it, is reported compromised at or before ``revoked_at``: the
    revocation does not count."""

    reason: RevocationReason
    revoked_at: int
    signing_key: str | None
    void: bool

    @property
    def counts(self) -> bool:
        """Whether this is a revocation that holds."""
        return self.reason is not RevocationReason.NONE and not self.void

    @classmethod
    def from_abi(cls, raw: tuple) -> RevocationRecord:  # type: ignore[type-arg]
        reason, revoked_at, key, void = raw
        return cls(RevocationReason(reason), revoked_at, None if int(key, 16) == 0 else key, void)


#: The record of a document or batch nobody revoked, as the registry returns it.
NOT_REVOKED = RevocationRecord(RevocationReason.NONE, 0, None, False)


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
    batch_revocation: RevocationRecord
    document_revocation: RevocationRecord
    issuer_status: Status
    issuer_active_at_anchor: bool
    issuer_may_issue: bool
    key_added_at: int
    key_retired_at: int
    key_compromised_from: int

    @property
    def anchored(self) -> bool:
        return self.anchored_at != 0

    @classmethod
    def from_abi(cls, raw: tuple) -> DocumentStatus:  # type: ignore[type-arg]
        (issuer_id, key, anchored_at, not_after, doc_type, hash_alg, leaf_count, batch_rev, doc_rev,
         issuer_status, active_at_anchor, may_issue, key_added, key_retired, key_compromised) = raw
        return cls(
            issuer_id=bytes(issuer_id), signing_key=key, anchored_at=anchored_at, not_after=not_after,
            doc_type=bytes(doc_type), hash_alg=hash_alg, leaf_count=leaf_count,
            batch_revocation=RevocationRecord.from_abi(batch_rev),
            document_revocation=RevocationRecord.from_abi(doc_rev), issuer_status=Status(issuer_status),
            issuer_active_at_anchor=active_at_anchor, issuer_may_issue=may_issue,
            key_added_at=key_added, key_retired_at=key_retired, key_compromised_from=key_compromised,
        )

    def with_document_revocation(self, record: RevocationRecord) -> DocumentStatus:
        """This batch-level status completed with one document's revocation record."""
        return replace(self, document_revocation=record)
