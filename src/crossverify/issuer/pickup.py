"""The pickup desk: a resident collects their certificate with a one-time code and binds it to their own key.

The holder's key is a claim covered by the document digest (``cnf``, :mod:`crossverify.format.holder`), so a
certificate that names it can be issued only once the resident has made the key. The issuer therefore *offers*
a certificate (:meth:`PickupDesk.offer`, idempotent by reference) and hands the resident the code it returns,
out of band (on paper at the counter, by registered letter). The resident's browser sends the code with the
public half of a key it has just made (:meth:`PickupDesk.enrol`); the certificate is journalled with that key
in ``cnf`` and goes through the issuer's pipeline (seal, sign, anchor, write the bundle); the browser then
collects the bundle with the collection token enrolment gave it (:meth:`PickupDesk.collect`).

A code reads ``HHHH-SSSS-SSSS-SSSS``: a public handle that finds the pickup and a 60-bit secret. Only the
code's SHA-256 is stored. A wrong secret counts against the pickup, which is locked after
:data:`MAX_ATTEMPTS` of them (the issuer offers it again for a new code); a code works once and expires. The
certificate's claims stay in this store only until it is journalled, and a pickup only until :data:`KEEP_AFTER`
after its code expired unused or its collection window closed (:meth:`PickupDesk.prune`). Nothing here logs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from .. import idempotency
from ..errors import (
    UNAVAILABLE,
    CrossverifyError,
    PickupCodeInvalid,
    PickupCodeUsed,
    PickupError,
    PickupExpired,
    PickupLocked,
    PickupNotReady,
    PickupStoreFull,
)
from ..format.certificate import Certificate
from ..format.hashing import HashAlgorithm
from ..format.holder import HOLDER_CLAIM, holder_claim, key_from_jwk, public_jwk
from ..store import Connection, Location, Store
from .client import SEND_MARGIN, journal_certificates, require_suite_holder_key
from .inputs import certificate_entry
from .journal import BatchState, DocumentRecord, Journal, check_reference

MIGRATIONS = ["""
CREATE TABLE pickups (
    handle        TEXT    PRIMARY KEY,
    issuer_id     TEXT    NOT NULL,
    reference     TEXT    NOT NULL,
    content_hash  BLOB    NOT NULL,
    code_hash     BLOB    NOT NULL,
    entry         TEXT,
    offered_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    jwk           TEXT,
    enrolled_at   INTEGER,
    collect_hash  BLOB UNIQUE,
    journalled    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (issuer_id, reference)
);
""", idempotency.MIGRATION, """
-- A round finds the enrolled pickups still to journal, and those past keeping, without walking every pickup.
CREATE INDEX pickups_unjournalled ON pickups (issuer_id) WHERE enrolled_at IS NOT NULL AND journalled = 0;
CREATE INDEX pickups_unenrolled ON pickups (issuer_id, expires_at) WHERE enrolled_at IS NULL;
CREATE INDEX pickups_journalled ON pickups (issuer_id, enrolled_at) WHERE journalled = 1;
"""]
#: Crockford's base-32 alphabet: no I, L, O or U to misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HANDLE_LENGTH, SECRET_LENGTH = 4, 12
#: Wrong secrets a pickup takes before it is locked.
MAX_ATTEMPTS = 5
#: How long a code stays usable by default (seconds), and at most.
DEFAULT_CODE_TTL = 14 * 86400
MAX_CODE_TTL = 90 * 86400
#: How long after enrolment the browser may collect the bundle.
COLLECT_TTL = 7 * 86400
#: How long a pickup is kept once its code expired unused or its collection window closed (a late resident is
#: still told so), before :meth:`PickupDesk.prune` deletes it and its handle may serve a new offer.
KEEP_AFTER = 30 * 86400
#: Why no pickup is found for a reference, as the issuer's API and command tell it.
NOT_KEPT = (f"none was offered, or it was deleted {KEEP_AFTER // 86400} days after its code expired unused or its "
            "collection window closed")
#: Pickups :meth:`PickupDesk.prune` deletes at most per call.
PRUNE_BATCH = 500
#: Handles :meth:`PickupDesk.offer` draws before it gives up (one is free unless nearly all are taken).
HANDLE_TRIES = 20


@dataclass(frozen=True, slots=True)
class Offer:
    """A certificate waiting for its resident: the code to hand them, once, and until when it works."""

    reference: str
    code: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A holder key bound to a pickup: the certificate's reference and the token its bundle is collected with."""

    reference: str
    collect_token: str


class PickupDesk:
    """One issuer's pickups, over a store of their own beside the issuer's journal (``read_only``: for
    :meth:`state` alone, with the journal opened read-only too)."""

    def __init__(self, location: Location, journal: Journal, issuer_id: str, hash_alg: HashAlgorithm,
                 bundles: Path, *, read_only: bool = False) -> None:
        self.store = Store(location, MIGRATIONS, kind="pickup store", read_only=read_only)
        self.journal, self.issuer_id, self.hash_alg, self.bundles = journal, issuer_id, hash_alg, Path(bundles)

    def close(self) -> None:
        self.store.close()

    def offer(self, item: Mapping[str, Any], now: int, ttl: int = DEFAULT_CODE_TTL) -> Offer:
        """Offer one certificate (an issuer input entry: reference, docType, notAfter, claims, ...) for pickup
        and return a new code, which works ``ttl`` seconds but expires :data:`~.client.SEND_MARGIN` before the
        certificate does at the latest. Offering a reference again with the same content, before it was
        enrolled, gives a new code and retires the earlier one (the resident lost it, or it was locked or expired);
        changed content, or a reference already enrolled, is refused. :class:`PickupStoreFull` if the handles drawn were
        all taken."""
        return self.offer_many([item], now, ttl)[0]

    def offer_many(self, items: Sequence[Mapping[str, Any]], now: int, ttl: int = DEFAULT_CODE_TTL) -> list[Offer]:
        """:meth:`offer` each of ``items``, all or none: one refused (or a reference given twice) leaves every
        pickup as it was, so no earlier code is retired for a new one nobody was shown."""
        if not 0 < ttl <= MAX_CODE_TTL:
            raise PickupError(f"a pickup code lives 1 to {MAX_CODE_TTL} seconds, got {ttl}")
        checked = [self._checked(item, now, ttl) for item in items]
        references = [reference for reference, *_ in checked]
        if twice := sorted({r for r in references if references.count(r) > 1}):
            raise PickupError(f"reference {twice[0]} is offered twice: one code would retire the other; nothing was "
                              "changed")
        with self.store.transaction() as db:
            return [self._offered(db, *entry, now) for entry in checked]

    def _checked(self, item: Mapping[str, Any], now: int, ttl: int) -> tuple[str, dict[str, Any], bytes, int]:
        """An entry to offer, refused by name unless it can be issued and collected: its reference, the entry with
        its times, its content's hash, and when its code expires."""
        if not isinstance(item, Mapping):
            raise PickupError(f"an entry is {type(item).__name__}, not an object")
        claims = item.get("claims")
        if (isinstance(claims, Mapping) and HOLDER_CLAIM in claims) or "holderKey" in item:
            raise PickupError(f"the resident's key (a {HOLDER_CLAIM!r} claim or holderKey) comes from them at pickup: "
                              "offer the certificate without it")
        fixed = {"issuedAt": now, "asOf": now, **item}
        reference, cert = certificate_entry(fixed, self.issuer_id, now)  # refuses a bad entry by name
        check_reference(reference)  # (refused once the code is spent, it would never be issued)
        content = hashlib.sha256(rfc8785.dumps(dict(item))).digest()
        # a certificate enrolled too late to be anchored before its not-after would lapse, never to be collected
        expires_at = min(now + ttl, cert.header.not_after - SEND_MARGIN)
        if expires_at <= now:
            raise PickupError(f"reference {reference} expires at {cert.header.not_after}, before a resident could "
                              "collect it; nothing was changed")
        return reference, fixed, content, expires_at

    def _offered(self, db: Connection, reference: str, fixed: dict[str, Any], content: bytes, expires_at: int,
                 now: int) -> Offer:
        """One checked entry offered in the transaction ``db``, with a new code."""
        for _ in range(HANDLE_TRIES):
            handle, code = _new_code()
            if not db.execute("SELECT 1 FROM pickups WHERE handle = ?", (handle,)).fetchone():
                break
        else:
            raise PickupStoreFull(f"{HANDLE_TRIES} pickup handles drawn were all taken; nothing was changed")
        offered = 0
        while not offered:  # (PostgreSQL: read again when another offer of the reference committed meanwhile)
            row = db.execute("SELECT content_hash, enrolled_at FROM pickups WHERE issuer_id = ? AND reference = "
                             f"?{self.store.for_update}", (self.issuer_id, reference)).fetchone()  # (as enrol)
            if row is not None and row[1] is not None:
                raise PickupCodeUsed(f"reference {reference} was collected already; nothing was changed")
            if row is not None and bytes(row[0]) != content:
                raise PickupError(f"reference {reference} was offered before with other content; nothing was "
                                  "changed")
            if row is None and self.journal.find(self.issuer_id, reference=reference) is not None:
                raise PickupError(f"reference {reference} is in the journal already: it cannot be offered for "
                                  "pickup")
            db.execute("DELETE FROM pickups WHERE issuer_id = ? AND reference = ?", (self.issuer_id, reference))
            offered = db.execute(
                "INSERT INTO pickups (handle, issuer_id, reference, content_hash, code_hash, entry, offered_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issuer_id, reference) DO NOTHING",
                (handle, self.issuer_id, reference, content, _hash(code), json.dumps(fixed), now, expires_at),
            ).rowcount
        return Offer(reference, code, expires_at)

    def enrol(self, code: str, jwk: Any, now: int) -> Enrolment:
        """Bind the pickup ``code`` names to the holder key ``jwk`` (a P-256 public JWK) and journal the
        certificate with it (or, with the journal unavailable, leave that to :meth:`resume`); the code is spent.
        Every refusal is a named :class:`PickupError` (or :class:`~crossverify.errors.HolderKeyError` for the key);
        a refused attempt changes nothing but the attempt count."""
        key = key_from_jwk(jwk)
        require_suite_holder_key(key, self.hash_alg, "this pickup")
        handle = _normal(code)[:HANDLE_LENGTH]
        token = secrets.token_urlsafe(32)
        wrong: PickupCodeInvalid | None = None
        with self.store.transaction() as db:
            row = db.execute("SELECT reference, code_hash, expires_at, attempts, enrolled_at FROM pickups "
                             f"WHERE handle = ? AND issuer_id = ?{self.store.for_update}",  # (replicas: one at a time)
                             (handle, self.issuer_id)).fetchone()
            if row is None:
                raise PickupCodeInvalid("no pickup has this code: check it against the issuer's letter")
            reference, code_hash, expires_at, attempts, enrolled_at = row
            if attempts >= MAX_ATTEMPTS:
                raise PickupLocked(f"{MAX_ATTEMPTS} wrong codes were tried for this pickup: ask the issuer for a "
                                   "new code")
            if not secrets.compare_digest(bytes(code_hash), _hash(code)):
                db.execute("UPDATE pickups SET attempts = attempts + 1 WHERE handle = ?", (handle,))
                wrong = PickupCodeInvalid(f"this code is wrong ({MAX_ATTEMPTS - attempts - 1} tries left for this "
                                          "pickup)")
            elif enrolled_at is not None:
                raise PickupCodeUsed("this code was used already: a pickup code works once")
            elif expires_at <= now:
                raise PickupExpired("this code has expired: ask the issuer for a new one")
            else:
                db.execute("UPDATE pickups SET jwk = ?, enrolled_at = ?, collect_hash = ? WHERE handle = ?",
                           (json.dumps(public_jwk(key)), now, _token_hash(token), handle))
        if wrong is not None:  # raised after the transaction, so that the attempt is counted
            raise wrong
        # the code is spent and the token is the resident's only way to the bundle: a journal away now, or a pickup
        # it refuses (this one's or another's), leaves the certificate to the issuer's next round (pickup recovery,
        # which logs why), not the resident without their token
        with suppress(CrossverifyError):
            self.resume()
        return Enrolment(reference, token)

    def resume(self) -> list[str]:
        """Journal every enrolled certificate not journalled yet (after a crash between the two steps), and
        drop its claims from this store; the references journalled. One the journal refuses (its reference was
        journalled otherwise meanwhile) stays enrolled, and the others are journalled: the first refusal is raised
        after them."""
        with self.store.lock:
            rows = self.store.db.execute("SELECT handle, entry, jwk FROM pickups WHERE issuer_id = ? AND "
                                         "enrolled_at IS NOT NULL AND journalled = 0", (self.issuer_id,)).fetchall()
        done, refused = [], None
        for handle, entry, jwk in rows:
            item = json.loads(entry)
            reference, cert = certificate_entry(item, self.issuer_id, item["issuedAt"])
            bound = Certificate(cert.header, {**cert.claims, HOLDER_CLAIM: _holder(jwk)})
            try:
                journal_certificates(self.journal, self.issuer_id, [(reference, bound)], self.hash_alg)  # idempotent
            except UNAVAILABLE:
                raise
            except CrossverifyError as exc:
                refused = refused or exc
                continue
            with self.store.transaction() as db:
                db.execute("UPDATE pickups SET journalled = 1, entry = NULL WHERE handle = ?", (handle,))
            done.append(reference)
        if refused is not None:
            raise refused
        return done

    def prune(self, now: int) -> int:
        """Delete up to :data:`PRUNE_BATCH` pickups nothing can use any more, :data:`KEEP_AFTER` after their code
        expired unused (locked or not) or their collection window closed (journalled ones only: an enrolled one
        waits for :meth:`resume`); how many."""
        cutoff = now - KEEP_AFTER
        with self.store.transaction() as db:
            pruned = 0
            for where, until in (("enrolled_at IS NULL AND expires_at", cutoff),
                                 ("journalled = 1 AND enrolled_at", cutoff - COLLECT_TTL)):
                pruned += db.execute(
                    f"DELETE FROM pickups WHERE handle IN (SELECT handle FROM pickups WHERE issuer_id = ? AND {where} "
                    "<= ? LIMIT ?)", (self.issuer_id, until, PRUNE_BATCH - pruned)).rowcount
        return pruned

    def collect(self, token: str, now: int) -> bytes:
        """The bundle enrolment's ``token`` collects: :class:`PickupNotReady` until it is anchored and written;
        :class:`PickupExpired` if it expired before it could be (its batch lapsed); :class:`PickupError` if the
        certificate journalled under its reference is not bound to the key enrolled, or was revoked (it, or its
        batch)."""
        with self.store.lock:
            row = self.store.db.execute("SELECT reference, enrolled_at, jwk, journalled FROM pickups WHERE "
                                        "collect_hash = ? AND issuer_id = ?", (_token_hash(token),
                                                                               self.issuer_id)).fetchone()
        if row is None:
            raise PickupCodeInvalid("no pickup has this collection token")
        reference, enrolled_at, jwk, journalled = row
        if enrolled_at + COLLECT_TTL <= now:
            raise PickupExpired("the collection window has closed: ask the issuer for the certificate")
        standing, found = self._standing(reference, jwk, bool(journalled))
        if standing == "other":
            raise PickupError(f"the certificate the issuer journalled as {reference} is not the one enrolled with "
                              "this key: ask the issuer")
        if standing == "lapsed":
            raise PickupExpired("the certificate expired before it could be anchored: ask the issuer")
        if standing == "revoked":
            raise PickupError("the issuer has revoked this certificate: ask the issuer")
        if standing == "withdrawn":
            raise PickupError("the issuer withdrew this certificate before it was anchored: ask the issuer")
        if found is None or standing != BatchState.DELIVERED:
            raise PickupNotReady("the certificate is on its way to the registry: collect it again in a moment")
        return (self.bundles / self.issuer_id / f"{found.file_stem}.bundle.json").read_bytes()

    def _standing(self, reference: str, jwk: str, journalled: bool) -> tuple[str, DocumentRecord | None]:
        """What the journal holds under an enrolled pickup's ``reference``, as collecting it meets it: ``other``
        (a certificate not bound to the key enrolled, ``jwk``), ``lapsed`` (its batch expired before it could be
        anchored), ``revoked`` (it, or its batch), ``withdrawn`` (``journalled``, and withdrawn from the journal
        since), else its batch's state (``journalled`` before one), and the document."""
        found = self.journal.find(self.issuer_id, reference=reference)
        if found is None:
            return "withdrawn" if journalled else "journalled", None
        if not self._bound(found.id, jwk):
            return "other", found
        if found.batch_state is BatchState.SEALED and any(
                b.lapsed_at is not None for b in self.journal.batches(self.issuer_id, BatchState.SEALED,
                                                                      root=found.batch_root)):
            return "lapsed", found
        if found.batch_root is not None and self.journal.revoked(self.issuer_id, found.digest, found.batch_root):
            return "revoked", found
        return str(found.batch_state or "journalled"), found

    def _bound(self, document_id: int, jwk: str) -> bool:
        """Whether the journalled document is bound to the holder key ``jwk`` (as stored at enrolment)."""
        [document] = self.journal.documents([document_id])
        return any(c.name == HOLDER_CLAIM and c.value == _holder(jwk) for c in document.claims)

    def state(self, reference: str) -> str | None:
        """Where a pickup stands: ``offered``, ``locked``, ``enrolled``, then, once journalled, what collecting it
        meets (:meth:`_standing`): ``journalled``, the certificate's batch state (``sealed`` … ``delivered``), or
        ``lapsed``, ``revoked``, ``withdrawn`` or ``other`` (``other`` too for one enrolled that the journal refused,
        holding another certificate under its reference); None if never offered."""
        with self.store.lock:
            row = self.store.db.execute("SELECT attempts, enrolled_at, journalled, jwk FROM pickups WHERE issuer_id = "
                                        "? AND reference = ?", (self.issuer_id, reference)).fetchone()
        if row is None:
            return None
        attempts, enrolled_at, journalled, jwk = row
        if enrolled_at is None:
            return "locked" if attempts >= MAX_ATTEMPTS else "offered"
        standing = self._standing(reference, jwk, bool(journalled))[0]
        return standing if journalled or standing == "other" else "enrolled"


def _holder(jwk: str) -> dict[str, Any]:
    """The ``cnf`` claim of a holder key as the pickup store keeps it."""
    return holder_claim(key_from_jwk(json.loads(jwk)))


def _new_code() -> tuple[str, str]:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(HANDLE_LENGTH + SECRET_LENGTH))
    return raw[:HANDLE_LENGTH], "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _normal(code: str) -> str:
    """A code as typed (any case, spaces or dashes, O for 0, I or L for 1) in its canonical characters."""
    return code.upper().replace("-", "").replace(" ", "").translate(str.maketrans("OIL", "011"))


def _hash(code: str) -> bytes:
    return hashlib.sha256(_normal(code).encode()).digest()


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()

