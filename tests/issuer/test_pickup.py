"""The pickup desk: a one-time code, a holder key enrolled into the certificate, the bundle collected once
anchored; and every way a code can be misused, refused by name with nothing changed."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from crossverify import RevocationReason, load_bundle
from crossverify.errors import (
    CertificateInputError,
    HolderKeyError,
    InvalidClaim,
    JournalError,
    PickupCodeInvalid,
    PickupCodeUsed,
    PickupError,
    PickupExpired,
    PickupLocked,
    PickupNotReady,
    PickupStoreFull,
    StoreError,
)
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import public_jwk
from crossverify.format.presentation import present
from crossverify.format.suite import Suite
from crossverify.issuer import pickup
from crossverify.issuer.client import SEND_MARGIN, IssuerClient
from crossverify.issuer.inputs import certificate_entry
from crossverify.issuer.journal import Journal
from crossverify.issuer.pickup import COLLECT_TTL, HANDLE_TRIES, KEEP_AFTER, MAX_ATTEMPTS, PickupDesk
from crossverify.keys.holder import generate_holder_key
from crossverify.store import _Session
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import VerifierClient

from ..conftest import Consortium
from ..postgres import Locate, empty
from ..sqlite_steps import counted

NOW = 1_790_000_000
ITEM = {"reference": "DEP-P1", "docType": "DEPCERT", "notAfter": NOW + 86400 * 365,
        "claims": {"holder_name": "陳大文 CHAN Tai Man", "balance_mop": 125000}}


def desk(tmp_path: Path, location: Locate, journal: Journal | None = None) -> PickupDesk:
    return PickupDesk(location("pickups.sqlite"), journal or Journal(location("j.sqlite")), "BNUMMOMX",
                      HashAlgorithm.KECCAK256, tmp_path / "bundles")


def jwk() -> dict[str, str]:
    return public_jwk(generate_holder_key().public_key())


def test_a_resident_enrols_their_key_and_collects_the_bound_bundle(consortium: Consortium, tmp_path: Path,
                                                                   location: Locate) -> None:
    journal = Journal(location("j.sqlite"))
    pickups = desk(tmp_path, location, journal)
    now = consortium.now()
    offer = pickups.offer({**ITEM, "notAfter": now + 86400}, now)
    assert len(offer.code) == 19 and offer.code.count("-") == 3 and pickups.state("DEP-P1") == "offered"
    assert journal.find("BNUMMOMX", reference="DEP-P1") is None  # nothing is issued before the key exists
    holder = generate_holder_key()
    enrolment = pickups.enrol(offer.code.lower(), public_jwk(holder.public_key()), now + 5)
    assert enrolment.reference == "DEP-P1" and pickups.state("DEP-P1") == "journalled"
    with pytest.raises(PickupNotReady):
        pickups.collect(enrolment.collect_token, now + 6)
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.macao_operator, journal,
                          tmp_path / "bundles")
    issuer.run()
    assert pickups.state("DEP-P1") == "delivered"
    bundle = load_bundle(pickups.collect(enrolment.collect_token, now + 7))
    assert bundle.disclosed()["cnf"] == {"jwk": public_jwk(holder.public_key())} and bundle.header.holder_bound
    assert [c.name for c in VerifierClient(consortium.registry).verify(bundle).failed] == ["holder_bound"]
    bank = VerifierClient(consortium.registry, audience="ICBKCNBJGDG", wall_clock=consortium.now,
                          challenges=ChallengeStore(tmp_path / "challenges.sqlite", "ICBKCNBJGDG"))
    assert bank.verify(present(bundle, bank.issue_challenge("ACCTOPEN"), holder, consortium.now())).valid
    with pytest.raises(PickupCodeInvalid):
        pickups.collect("a guessed token", now + 8)
    issuer.revoke(RevocationReason.WITHDRAWN, reference="DEP-P1")
    assert pickups.state("DEP-P1") == "revoked"  # what the issuer's status says too, not "delivered"
    with pytest.raises(PickupError, match="revoked"):  # not handed over as if it stood
        pickups.collect(enrolment.collect_token, now + 8)
    with pytest.raises(PickupExpired):
        pickups.collect(enrolment.collect_token, now + 5 + 7 * 86400)
    assert pickups.store.db.execute("SELECT entry FROM pickups").fetchall() == [(None,)]  # claims leave once
    if pickups.store.path is not None:  # journalled, and no file page keeps them
        stored = pickups.store.path.read_bytes()
        assert b"CHAN Tai Man" not in stored and offer.code.encode() not in stored
    journal.close()


def test_a_code_works_once_and_only_before_it_expires(tmp_path: Path, location: Locate) -> None:
    pickups = desk(tmp_path, location)
    offer = pickups.offer(ITEM, NOW, ttl=600)
    with pytest.raises(PickupExpired):
        pickups.enrol(offer.code, jwk(), NOW + 600)
    assert pickups.state("DEP-P1") == "offered"
    pickups.enrol(offer.code, jwk(), NOW + 599)
    with pytest.raises(PickupCodeUsed):
        pickups.enrol(offer.code, jwk(), NOW + 599)  # a second enrolment, with another key
    with pytest.raises(PickupCodeUsed):
        pickups.offer(ITEM, NOW + 700)  # collected: it cannot be offered again
    [document] = pickups.journal.documents([pickups.journal.find("BNUMMOMX", reference="DEP-P1").id])  # type: ignore[union-attr]
    assert "cnf" in {c.name for c in document.claims}


def test_a_pickup_whose_certificate_was_withdrawn_says_so(tmp_path: Path, location: Locate) -> None:
    """The issuer withdrew the certificate a resident enrolled before it was anchored: the resident is told so, not
    that it is on its way until the collection window closes."""
    pickups = desk(tmp_path, location)
    enrolment = pickups.enrol(pickups.offer(ITEM, NOW).code, jwk(), NOW)
    assert pickups.state("DEP-P1") == "journalled"
    pickups.journal.withdraw("BNUMMOMX", "DEP-P1")
    assert pickups.state("DEP-P1") == "withdrawn"
    with pytest.raises(PickupError, match="withdrew this certificate before it was anchored"):
        pickups.collect(enrolment.collect_token, NOW + 1)


def test_one_code_enrolled_twice_at_once_binds_one_key(tmp_path: Path, location: Locate,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Two enrolments with one code at once (a resident's two tries, or someone who read the letter; a service's
    threads, on PostgreSQL each on a connection of its own): the first binds its key, the other is told the code
    was used. On PostgreSQL both read it unused and both were told they enrolled: the journal took the other's
    key, the pickup the first's token, so the first resident collected a certificate bound to another's key."""
    pickups = desk(tmp_path, location)
    offer = pickups.offer(ITEM, NOW)
    other: list[object] = []
    threads: list[threading.Thread] = []

    def enrol_too() -> None:
        try:
            other.append(pickups.enrol(offer.code, jwk(), NOW + 2))
        except PickupError as exc:
            other.append(exc)

    hashed = pickup._hash

    def read_then(code: str) -> bytes:  # the other enrolment comes between this one's read and its write
        if not threads:
            threads.append(threading.Thread(target=enrol_too))
            threads[0].start()
            threads[0].join(1)  # done, or waiting for this one
        return hashed(code)

    monkeypatch.setattr(pickup, "_hash", read_then)
    first = pickups.enrol(offer.code, jwk(), NOW + 1)
    threads[0].join()
    assert len(other) == 1 and isinstance(other[0], PickupCodeUsed), other
    assert pickups.store.db.execute("SELECT collect_hash FROM pickups").fetchall() == [
        (pickup._token_hash(first.collect_token),)]


def test_a_new_offer_racing_an_enrolment_on_postgresql_does_not_drop_it(tmp_path: Path, postgres_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The issuer offers a reference again (a new code) while the resident enrols with the old one, the enrolment
    committing between the offer's read and its write: the offer read the pickup unenrolled and dropped it, so the
    resident was told they enrolled and their token then collected nothing, their certificate journalled under a
    pickup that no longer existed. The two now take turns: here the offer first, the old code then refused."""
    pickups = desk(tmp_path, lambda _: postgres_url)
    offer = pickups.offer(ITEM, NOW)
    other: list[object] = []
    threads: list[threading.Thread] = []

    def enrol_meanwhile() -> None:
        try:
            other.append(pickups.enrol(offer.code, jwk(), NOW + 2))
        except PickupError as exc:
            other.append(exc)

    execute = _Session.execute

    def read_then(session: _Session, sql: str, parameters: Sequence[Any] = ()) -> Any:
        if sql.startswith("DELETE FROM pickups WHERE issuer_id") and not threads:
            threads.append(threading.Thread(target=enrol_meanwhile))
            threads[0].start()
            threads[0].join(1)  # done, or waiting for the offer
        return execute(session, sql, parameters)

    monkeypatch.setattr(_Session, "execute", read_then)
    pickups.offer(ITEM, NOW + 1)
    threads[0].join()
    assert len(other) == 1 and isinstance(other[0], PickupCodeInvalid), other
    assert pickups.state("DEP-P1") == "offered" and pickups.journal.find("BNUMMOMX", reference="DEP-P1") is None
    pickups.close()
    pickups.journal.close()
    empty(postgres_url)


def test_two_offers_of_one_reference_at_once_on_postgresql(tmp_path: Path, postgres_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The issuer's system sends one offer twice at once (a retry to another replica): both read no pickup, and the
    second to write failed as a damaged store ('not the crossverify store this version expects', a unique key). It
    now reads again what the first wrote and retires its code, as an offer made after it does."""
    pickups = desk(tmp_path, lambda _: postgres_url)
    first: list[object] = []
    execute = _Session.execute

    def read_then(session: _Session, sql: str, parameters: Sequence[Any] = ()) -> Any:
        if sql.startswith("INSERT INTO pickups") and not first:
            first.append(None)
            other = threading.Thread(target=lambda: first.append(pickups.offer(ITEM, NOW)))
            other.start()
            other.join()
        return execute(session, sql, parameters)

    monkeypatch.setattr(_Session, "execute", read_then)
    second = pickups.offer(ITEM, NOW + 1)
    monkeypatch.undo()
    earlier = first[1]
    assert isinstance(earlier, pickup.Offer) and pickups.state("DEP-P1") == "offered"
    with pytest.raises(PickupCodeInvalid):
        pickups.enrol(earlier.code, jwk(), NOW + 2)
    assert pickups.enrol(second.code, jwk(), NOW + 2).reference == "DEP-P1"
    pickups.close()
    pickups.journal.close()
    empty(postgres_url)


def test_wrong_codes_are_capped_and_a_new_offer_retires_the_old_code(tmp_path: Path, location: Locate) -> None:
    pickups = desk(tmp_path, location)
    offer = pickups.offer(ITEM, NOW)
    handle = offer.code[:4]
    with pytest.raises(PickupCodeInvalid):
        pickups.enrol("ZZZZ-ZZZZ-ZZZZ-ZZZZ", jwk(), NOW)  # no such pickup: nothing to count against
    for tries_left in range(MAX_ATTEMPTS - 1, -1, -1):
        with pytest.raises(PickupCodeInvalid, match=f"{tries_left} tries left"):
            pickups.enrol(f"{handle}-0000-0000-0000", jwk(), NOW)
    with pytest.raises(PickupLocked):
        pickups.enrol(offer.code, jwk(), NOW)  # even the right code, once locked
    assert pickups.state("DEP-P1") == "locked" and pickups.journal.find("BNUMMOMX", reference="DEP-P1") is None
    again = pickups.offer(ITEM, NOW + 10)  # the issuer hands the resident a new code
    with pytest.raises(PickupCodeInvalid):
        pickups.enrol(offer.code, jwk(), NOW + 11)
    assert pickups.enrol(again.code, jwk(), NOW + 11).reference == "DEP-P1"


def test_bad_offers_and_keys_are_refused_by_name(tmp_path: Path, location: Locate) -> None:
    pickups = desk(tmp_path, location)
    with pytest.raises(PickupError, match="resident's key"):
        pickups.offer({**ITEM, "claims": {**ITEM["claims"], "cnf": {"jwk": jwk()}}}, NOW)  # type: ignore[dict-item]
    with pytest.raises(CertificateInputError):
        pickups.offer({"reference": "DEP-P2"}, NOW)
    with pytest.raises(PickupError, match="not an object"):
        pickups.offer([ITEM], NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidClaim, match="safe"):
        pickups.offer({**ITEM, "claims": {"balance_mop": 2**60}}, NOW)
    for reference in ("DEP P2", "../DEP-P2", 7):  # the journal would refuse it once the code was spent
        with pytest.raises(JournalError, match="reference must be"):
            pickups.offer({**ITEM, "reference": reference}, NOW)
    assert pickups.store.db.execute("SELECT COUNT(*) FROM pickups").fetchone() == (0,)
    with pytest.raises(PickupError, match="lives"):
        pickups.offer(ITEM, NOW, ttl=0)
    offer = pickups.offer(ITEM, NOW)
    with pytest.raises(PickupError, match="other content"):
        pickups.offer({**ITEM, "claims": {"holder_name": "someone else"}}, NOW)
    for bad in [{}, {**jwk(), "d": "x"}, {**jwk(), "crv": "P-384"}, {**jwk(), "x": "A" * 43}]:
        with pytest.raises(HolderKeyError):
            pickups.enrol(offer.code, bad, NOW)
    with pytest.raises(HolderKeyError, match="P-256 holder keys only"):  # no bank of a keccak-256 issuer takes it
        pickups.enrol(offer.code, public_jwk(generate_holder_key(Suite.GM).public_key()), NOW)
    assert pickups.state("DEP-P1") == "offered"  # a bad key is not a wrong code
    pickups.enrol(offer.code, jwk(), NOW)
    assert json.loads(pickups.store.db.execute("SELECT jwk FROM pickups").fetchone()[0]).keys() == {
        "kty", "crv", "x", "y"}


def test_pruning_forgets_only_the_pickups_nothing_can_use(tmp_path: Path, location: Locate,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruned: a code expired unused (locked or not), a collection window closed, KEEP_AFTER before. Kept: the rest,
    an enrolled certificate not journalled yet however old, and other issuers' pickups."""
    pickups = desk(tmp_path, location)
    expired, locked = pickups.offer({**ITEM, "reference": "DEP-A"}, NOW, 600), pickups.offer(
        {**ITEM, "reference": "DEP-B"}, NOW, 600)
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(PickupCodeInvalid):
            pickups.enrol(f"{locked.code[:4]}-0000-0000-0000", jwk(), NOW)
    pickups.offer({**ITEM, "reference": "DEP-C"}, NOW + COLLECT_TTL, 600)  # expired, kept a while yet
    for reference, at in (("DEP-D", NOW + 1), ("DEP-E", NOW + 2)):
        pickups.enrol(pickups.offer({**ITEM, "reference": reference}, NOW).code, jwk(), at)
    pickups.offer({**ITEM, "reference": "DEP-F"}, NOW)
    with pickups.store.transaction() as db:  # DEP-F enrolled just before a crash; another issuer's, expired
        db.execute("UPDATE pickups SET jwk = ?, enrolled_at = ? WHERE reference = 'DEP-F'", (json.dumps(jwk()), NOW))
        db.execute("INSERT INTO pickups (handle, issuer_id, reference, content_hash, code_hash, offered_at, "
                   "expires_at) VALUES ('OTHR', 'ICBKMOMX', 'DEP-A', ?, ?, ?, ?)", (b"c", b"h", NOW, NOW + 600))
    monkeypatch.setattr(pickup, "PRUNE_BATCH", 2)  # a batch at a time
    later = NOW + 1 + COLLECT_TTL + KEEP_AFTER
    assert [pickups.prune(later), pickups.prune(later), pickups.prune(later)] == [2, 1, 0]
    states = {r: pickups.state(r) for r in ("DEP-A", "DEP-B", "DEP-C", "DEP-D", "DEP-E", "DEP-F")}
    assert states == {"DEP-A": None, "DEP-B": None, "DEP-C": "offered", "DEP-D": None, "DEP-E": "journalled",
                      "DEP-F": "enrolled"}
    assert pickups.store.db.execute("SELECT reference FROM pickups WHERE issuer_id = 'ICBKMOMX'").fetchall() == [
        ("DEP-A",)]
    with pytest.raises(PickupCodeInvalid, match="no pickup has this code"):
        pickups.enrol(expired.code, jwk(), later)
    with pytest.raises(PickupError, match="in the journal already"):
        pickups.offer({**ITEM, "reference": "DEP-D"}, later)  # its certificate is journalled: it stays refused
    assert pickups.offer({**ITEM, "reference": "DEP-A"}, later).expires_at > later
    assert pickups.resume() == ["DEP-F"]


def test_a_round_reads_only_the_pickups_it_acts_on(tmp_path: Path) -> None:
    """resume() and prune() find their pickups through partial indexes: beside 20,000 pickups journalled or open
    and not due for pruning, SQLite takes as many steps as beside 10 (resume used to walk every pickup offered)."""
    def round_steps(history: int) -> int:
        pickups = PickupDesk(tmp_path / f"pickups-{history}.sqlite", Journal(tmp_path / f"j-{history}.sqlite"),
                             "BNUMMOMX", HashAlgorithm.KECCAK256, tmp_path / "bundles")
        with pickups.store.transaction() as db:
            db.executemany("INSERT INTO pickups (handle, issuer_id, reference, content_hash, code_hash, offered_at, "
                           "expires_at, enrolled_at, collect_hash, journalled) "
                           "VALUES (?, 'BNUMMOMX', ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(f"H{i}", f"OLD-{i}", b"c", b"h", NOW - 86400, NOW + 86400, None if i % 2 else NOW - 3600,
                             None if i % 2 else os.urandom(32), 1 - i % 2) for i in range(history)])
        found, steps_taken = counted(pickups.store.db, lambda: (pickups.resume(), pickups.prune(NOW)))
        assert found == ([], 0)
        return steps_taken

    small, large = round_steps(10), round_steps(20_000)
    assert large < small * 1.2, (small, large)


def test_an_offer_gives_up_by_name_when_every_handle_drawn_is_taken(tmp_path: Path, location: Locate,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pickups = desk(tmp_path, location)
    taken = pickups.offer(ITEM, NOW).code[:4]
    drawn = [0]

    def same_handle() -> tuple[str, str]:
        drawn[0] += 1
        if drawn[0] > 10 * HANDLE_TRIES:
            raise RuntimeError("offer() kept drawing")  # rather than loop forever
        return taken, f"{taken}-0000-0000-0000"

    monkeypatch.setattr(pickup, "_new_code", same_handle)
    with pytest.raises(PickupStoreFull, match=f"{HANDLE_TRIES} pickup handles drawn were all taken"):
        pickups.offer({**ITEM, "reference": "DEP-P2"}, NOW)
    assert drawn[0] == HANDLE_TRIES and pickups.state("DEP-P2") is None and pickups.state("DEP-P1") == "offered"


def test_an_enrolment_whose_journalling_fails_still_gives_its_token(tmp_path: Path, location: Locate,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal is busy right after the enrolment is committed (the pipeline's write, a database failover): the
    code is spent, so the resident still gets the collection token, and the round's recovery journals it."""
    pickups = desk(tmp_path, location)
    offer = pickups.offer(ITEM, NOW)

    def busy(*args: object, **kwargs: object) -> None:
        raise StoreError("the journal is locked by another process")

    with monkeypatch.context() as patched:
        patched.setattr(pickup, "journal_certificates", busy)
        enrolment = pickups.enrol(offer.code, jwk(), NOW + 5)
    assert enrolment.reference == "DEP-P1" and pickups.state("DEP-P1") == "enrolled"
    assert pickups.resume() == ["DEP-P1"] and pickups.state("DEP-P1") == "journalled"
    with pytest.raises(PickupNotReady):
        pickups.collect(enrolment.collect_token, NOW + 6)


def test_a_reference_issued_otherwise_is_not_handed_to_the_resident_who_enrolled(
        consortium: Consortium, tmp_path: Path, location: Locate) -> None:
    """The back office also journalled the offered reference, with other content and no holder key, before the
    resident enrolled: that certificate is not theirs to collect, and no other resident's pickup waits on it."""
    journal = Journal(location("j.sqlite"))
    pickups = desk(tmp_path, location, journal)
    now = consortium.now()
    taken, other = (pickups.offer({**ITEM, "reference": r, "notAfter": now + 86400}, now) for r in ("DEP-P1", "DEP-P2"))
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.macao_operator, journal,
                          tmp_path / "bundles")
    issuer.issue([certificate_entry({**ITEM, "claims": {"holder_name": "someone else"}}, "BNUMMOMX", now)])
    enrolment = pickups.enrol(taken.code, jwk(), now + 5)  # the code is spent: the token is still given
    assert pickups.enrol(other.code, jwk(), now + 6).reference == "DEP-P2" and pickups.state("DEP-P2") == "journalled"
    with pytest.raises(JournalError, match="DEP-P1 was issued before with other content"):
        pickups.resume()
    assert pickups.state("DEP-P1") == "other"  # the issuer's status says what collecting meets
    issuer.run()
    with pytest.raises(PickupError, match="not the one enrolled"):
        pickups.collect(enrolment.collect_token, now + 7)
    journal.close()


def test_a_code_never_outlives_its_certificate(consortium: Consortium, tmp_path: Path, location: Locate) -> None:
    """A certificate valid for an hour, offered with the default 14-day code: a code used after its not-after would
    journal a certificate that lapses unanchored, the resident told "not ready" until the window closed. One that
    lapses all the same (the node out of reach until it expired) is said so."""
    pickups = desk(tmp_path, location)
    offer = pickups.offer({**ITEM, "notAfter": NOW + 3600}, NOW)
    assert offer.expires_at == NOW + 3600 - SEND_MARGIN
    with pytest.raises(PickupExpired):
        pickups.enrol(offer.code, jwk(), NOW + 3600 - SEND_MARGIN)
    assert pickups.state("DEP-P1") == "offered" and pickups.journal.find("BNUMMOMX", reference="DEP-P1") is None
    with pytest.raises(PickupError, match="expires"):
        pickups.offer({**ITEM, "reference": "DEP-P2", "notAfter": NOW + SEND_MARGIN}, NOW)
    assert pickups.state("DEP-P2") is None
    enrolled = pickups.enrol(offer.code, jwk(), NOW + 5)  # in time, but the node stays out of reach: it lapses
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.macao_operator,
                          pickups.journal, tmp_path / "bundles")
    issuer.seal()
    pickups.journal.record_lapsed("BNUMMOMX", NOW + 3600, NOW + 3600)
    with pytest.raises(PickupExpired, match="before it could be anchored"):  # not "on its way" for a week
        pickups.collect(enrolled.collect_token, NOW + 3600)
    assert pickups.state("DEP-P1") == "lapsed"


def test_two_replicas_enrolling_one_code_at_once_bind_one_key(tmp_path: Path, postgres_url: str) -> None:
    """A replica enrolling a code while another's enrolment of it is not committed yet waits for it and is refused:
    it used to read the pickup unenrolled, then overwrite the other's key and token. (On SQLite one process writes
    the pickup store, one transaction at a time.)"""
    journal = Journal(tmp_path / "j.sqlite")
    first, second = (PickupDesk(postgres_url, journal, "BNUMMOMX", HashAlgorithm.KECCAK256, tmp_path / "bundles")
                     for _ in range(2))
    offer = first.offer(ITEM, NOW)
    answers: list[object] = []

    def enrol_at_second() -> None:
        try:
            answers.append(second.enrol(offer.code, jwk(), NOW + 2))
        except PickupError as exc:
            answers.append(exc)

    with first.store.transaction() as db:  # the first replica's enrolment, midway
        db.execute("SELECT handle FROM pickups WHERE handle = ? FOR UPDATE", (offer.code[:4],))
        racing = threading.Thread(target=enrol_at_second)
        racing.start()
        racing.join(0.5)
        db.execute("UPDATE pickups SET jwk = ?, enrolled_at = ?, collect_hash = ? WHERE handle = ?",
                   (json.dumps(jwk()), NOW + 1, b"first token's hash", offer.code[:4]))
    racing.join(10)
    [collect_hash] = first.store.db.execute("SELECT collect_hash FROM pickups").fetchone()
    for store in (first, second, journal):
        store.close()
    empty(postgres_url)
    assert [type(a) for a in answers] == [PickupCodeUsed] and bytes(collect_hash) == b"first token's hash"
