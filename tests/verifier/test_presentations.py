"""Presentations at the bank: a genuine one passes every check once; each way of abusing a resident's
certificate without their consent fails by its own name."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crossverify import Bundle, Certificate, load_bundle
from crossverify.errors import ConfigError, StoreLocked
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import holder_claim, sign_p1363
from crossverify.format.presentation import Binding, Challenge, Presentation, disclosed_names, present
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.keys.holder import generate_holder_key
from crossverify.sealing import RegulatorKey, open_receipts
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import CHECKS, Outcome, Policy, VerifierClient
from crossverify.verifier.outbox import ReceiptOutbox

from ..conftest import Consortium, deposit_certificates

BANK = "ICBKCNBJGDG"
OTHER_BANK = "BKCHCNBJ45A"


@pytest.fixture
def holder() -> ec.EllipticCurvePrivateKey:
    return generate_holder_key()


@pytest.fixture
def bound(consortium: Consortium, holder: ec.EllipticCurvePrivateKey, tmp_path: Path) -> list[Bundle]:
    """Three deposit certificates anchored on chain, each naming the resident's key in its ``cnf`` claim."""
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")
    certificates = [(ref, Certificate(c.header, {**c.claims, "cnf": holder_claim(holder.public_key())}))
                    for ref, c in deposit_certificates(consortium, 3)]
    issuer.issue(certificates)
    delivered = sorted(issuer.run().delivered)
    issuer.journal.close()
    return [load_bundle(p.read_bytes()) for p in delivered]


@pytest.fixture
def plain(consortium: Consortium, tmp_path: Path) -> list[Bundle]:
    """Two deposit certificates anchored on chain, bound to nobody."""
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "plain.sqlite"), tmp_path / "plain")
    issuer.issue(deposit_certificates(consortium, 2))
    delivered = sorted(issuer.run().delivered)
    issuer.journal.close()
    return [load_bundle(p.read_bytes()) for p in delivered]


class Bank:
    """One bank: its verifier id, its challenge store and its verifier client."""

    def __init__(self, c: Consortium, aud: str, folder: Path, policy: Policy | None = None) -> None:
        self.c = c
        self.challenges = ChallengeStore(folder / f"{aud}.sqlite", aud)
        self.verifier = VerifierClient(c.registry, policy, audience=aud, challenges=self.challenges,
                                       wall_clock=c.now)

    def challenge(self, purpose: str = "ACCTOPEN", ttl: int = 600) -> Challenge:
        return self.verifier.issue_challenge(purpose, ttl)

    def failures(self, item: object) -> list[str]:
        return [x.name for x in self.verifier.verify(item).failed]  # type: ignore[arg-type]


@pytest.fixture
def bank(consortium: Consortium, tmp_path: Path) -> Bank:
    return Bank(consortium, BANK, tmp_path)


def test_a_genuine_presentation_passes_every_check_once(consortium: Consortium, bound: list[Bundle],
                                                        holder: ec.EllipticCurvePrivateKey, bank: Bank) -> None:
    carried = bound[0].redact(["account_no"])
    p = present(carried, bank.challenge(), holder, consortium.now())
    report = bank.verifier.verify(p.dumps())
    assert report.valid, report.failed
    assert [c.name for c in report.checks] == list(CHECKS)
    for name in ("holder_bound", "holder_signed", "disclosure_matches_signature", "audience_matches",
                 "presentation_not_expired", "challenge_fresh", "presentation_within_challenge"):
        assert report.check(name).outcome is Outcome.PASSED
    assert report.as_json()["purpose"] == "ACCTOPEN"
    assert report.as_json()["presentationHash"] == "0x" + p.hash().hex()
    assert bank.failures(p) == ["challenge_fresh"]  # the same presentation again: a replay
    assert "already answered" in bank.verifier.verify(p).check("challenge_fresh").detail


def test_a_presentation_outliving_its_challenge_is_refused_by_name(consortium: Consortium, bound: list[Bundle],
                                                                   holder: ec.EllipticCurvePrivateKey,
                                                                   bank: Bank) -> None:
    """A presentation's exp may not lie beyond its challenge's expiresAt (the bank's stored one, whatever the
    holder was shown); it is refused without using the challenge, which an honest presentation then answers."""
    challenge = bank.challenge(ttl=60)
    stretched = present(bound[0], replace(challenge, expires_at=challenge.expires_at + 600), holder,
                        consortium.now())
    assert stretched.binding.exp > challenge.expires_at
    report = bank.verifier.verify(stretched)
    assert [c.name for c in report.failed] == ["presentation_within_challenge"]
    assert report.check("challenge_fresh").outcome is Outcome.PASSED
    assert "after its challenge does" in report.check("presentation_within_challenge").detail
    honest = bank.verifier.verify(present(bound[0], challenge, holder, consortium.now()))
    assert honest.valid and honest.check("presentation_within_challenge").outcome is Outcome.PASSED
    assert bank.failures(stretched) == ["challenge_fresh"]  # now answered


def test_replayed_at_another_bank(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                                  bank: Bank, tmp_path: Path) -> None:
    other = Bank(consortium, OTHER_BANK, tmp_path)
    p = present(bound[0], bank.challenge(), holder, consortium.now())
    assert other.failures(p) == ["audience_matches"]
    assert bank.failures(p) == []  # refused elsewhere, the challenge was not spent


def test_unknown_challenge(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                           bank: Bank) -> None:
    made_up = Challenge.fresh(BANK, "ACCTOPEN", consortium.now() + 600)
    assert bank.failures(present(bound[0], made_up, holder, consortium.now())) == ["challenge_fresh"]


def test_old_challenge(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                       bank: Bank) -> None:
    """A challenge that expired unanswered stays refused, even under a presentation claiming a later expiry."""
    challenge = bank.challenge(ttl=60)
    consortium.travel(120)
    now = consortium.now()
    binding = Binding(BANK, challenge.nonce, "ACCTOPEN", disclosed_names(bound[0]), now, now + 300)
    p = Presentation(bound[0], binding, sign_p1363(holder, binding.signing_input(bound[0].document_digest())))
    report = bank.verifier.verify(p)
    assert [c.name for c in report.failed] == ["challenge_fresh"]
    assert "expired" in report.check("challenge_fresh").detail


def test_challenge_for_another_purpose(consortium: Consortium, bound: list[Bundle],
                                       holder: ec.EllipticCurvePrivateKey, bank: Bank) -> None:
    challenge = bank.challenge("ACCTOPEN")
    p = present(bound[0], replace(challenge, purpose="LOAN"), holder, consortium.now())
    assert bank.failures(p) == ["challenge_fresh"]
    assert bank.failures(present(bound[0], challenge, holder, consortium.now())) == []


def test_presented_after_expiry(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                                bank: Bank) -> None:
    p = present(bound[0], bank.challenge(), holder, consortium.now(), lifetime=60)
    consortium.travel(61)
    assert bank.failures(p) == ["presentation_not_expired"]


def test_signed_in_the_future(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                              bank: Bank) -> None:
    challenge = bank.challenge()
    p = present(bound[0], challenge, holder, consortium.now() + 300, lifetime=200)
    assert bank.failures(p) == ["presentation_not_expired"]


def test_re_redacted_after_signing(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                                   bank: Bank) -> None:
    p = present(bound[0], bank.challenge(), holder, consortium.now())
    hidden = replace(p, bundle=p.bundle.redact(["balance_mop"]))
    report = bank.verifier.verify(hidden.dumps())
    assert [c.name for c in report.failed] == ["disclosure_matches_signature"]
    assert "re-redacted" in report.check("disclosure_matches_signature").detail


def test_signed_by_another_key(consortium: Consortium, bound: list[Bundle], bank: Bank) -> None:
    thief = generate_holder_key()
    binding = Binding(BANK, bank.challenge().nonce, "ACCTOPEN", disclosed_names(bound[0]), consortium.now(),
                      consortium.now() + 300)
    forged = Presentation(bound[0], binding, sign_p1363(thief, binding.signing_input(bound[0].document_digest())))
    assert bank.failures(forged) == ["holder_signed"]


def test_binding_altered_after_signing(consortium: Consortium, bound: list[Bundle],
                                       holder: ec.EllipticCurvePrivateKey, bank: Bank, tmp_path: Path) -> None:
    """Readdressing a presentation meant for another bank breaks the holder's signature."""
    other = Bank(consortium, OTHER_BANK, tmp_path)
    p = present(bound[0], other.challenge(), holder, consortium.now())
    stolen = replace(p, binding=replace(p.binding, aud=BANK, nonce=bank.challenge().nonce))
    assert bank.failures(stolen) == ["holder_signed"]
    assert bank.failures(replace(p, bundle=bound[1])) == ["holder_signed"]  # the signature, moved to another document


def test_holder_key_redacted(consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                             bank: Bank) -> None:
    p = present(bound[0], bank.challenge(), holder, consortium.now())
    hidden = replace(p, bundle=p.bundle.redact(["cnf"]))
    assert bank.failures(hidden) == ["holder_bound"]


def test_a_bound_certificate_passes_only_as_its_holders_presentation(consortium: Consortium, bound: list[Bundle],
                                                                    tmp_path: Path) -> None:
    """Binding is the certificate's, not the bank's: a bank with no binding policy at all refuses it bare, with the
    ``cnf`` claim shown or redacted; hiding the header's flag as well breaks the digest."""
    lax = Bank(consortium, OTHER_BANK, tmp_path)
    report = lax.verifier.verify(bound[0].dumps())
    assert [c.name for c in report.failed] == ["holder_bound"]
    assert "at any bank" in report.check("holder_bound").detail
    assert lax.failures(bound[0].redact(["cnf"])) == ["holder_bound"]
    unflagged = replace(bound[0], header=replace(bound[0].header, holder_bound=False)).redact(["cnf"])
    assert lax.failures(unflagged) == ["proof_leads_to_root"]
    strict = Bank(consortium, BANK, tmp_path, Policy(holder_binding=frozenset({"DEPCERT"})))
    assert strict.failures(bound[0]) == ["holder_bound"]


def test_bare_bundle_where_policy_requires_binding(consortium: Consortium, plain: list[Bundle],
                                                   tmp_path: Path) -> None:
    strict = Bank(consortium, BANK, tmp_path, Policy(holder_binding=frozenset({"DEPCERT"})))
    report = strict.verifier.verify(plain[0].dumps())
    assert [c.name for c in report.failed] == ["holder_bound"]
    assert "only as a presentation" in report.check("holder_bound").detail
    lenient = Bank(consortium, OTHER_BANK, tmp_path, Policy(holder_binding=frozenset({"ACCTSTMT"})))
    report = lenient.verifier.verify(plain[0])
    assert report.valid and report.check("holder_signed").outcome is Outcome.NOT_APPLICABLE


def test_a_refused_presentation_spends_no_challenge(consortium: Consortium, bound: list[Bundle],
                                                    holder: ec.EllipticCurvePrivateKey, bank: Bank) -> None:
    challenge = bank.challenge()
    p = present(bound[0], challenge, holder, consortium.now())
    assert bank.failures(replace(p, signature=bytes(64))) == ["holder_signed"]
    assert bank.failures(p) == []


def test_without_audience_or_store_nothing_passes(consortium: Consortium, bound: list[Bundle],
                                                  holder: ec.EllipticCurvePrivateKey, bank: Bank) -> None:
    p = present(bound[0], bank.challenge(), holder, consortium.now())
    blind = VerifierClient(consortium.registry, wall_clock=consortium.now)
    assert [c.name for c in blind.verify(p).failed] == ["audience_matches"]
    with pytest.raises(ConfigError):
        blind.issue_challenge("ACCTOPEN")
    forgetful = VerifierClient(consortium.registry, audience=BANK, wall_clock=consortium.now)
    assert [c.name for c in forgetful.verify(p).failed] == ["challenge_fresh"]


def test_malformed_presentation_is_a_verdict(bank: Bank, consortium: Consortium, bound: list[Bundle],
                                             holder: ec.EllipticCurvePrivateKey) -> None:
    doc = present(bound[0], bank.challenge(), holder, consortium.now()).to_json()
    doc["binding"]["scope"] = "everything"
    report = bank.verifier.verify(json.dumps(doc))
    assert [c.name for c in report.failed] == ["bundle_well_formed"]
    assert "UnexpectedMember" in report.check("bundle_well_formed").detail


def test_receipts_sealed_to_regulators_carry_the_consent(consortium: Consortium, bound: list[Bundle],
                                                         plain: list[Bundle], holder: ec.EllipticCurvePrivateKey,
                                                         bank: Bank) -> None:
    amcm, pboc = RegulatorKey.generate(), RegulatorKey.generate()
    p = present(bound[0], bank.challenge(), holder, consortium.now())
    reports = bank.verifier.verify_many([p, plain[0], bound[2].dumps()[:-1]])
    sealed = bank.verifier.seal_receipts(reports, [amcm.public_key, pboc.public_key], purpose="KYC")
    assert len(sealed.commitments) == 2  # the unreadable third earns no receipt
    for key in (amcm, pboc):
        consented, bare = open_receipts(sealed, key)
        assert consented is not None and bare is not None
        assert (consented.document_digest, consented.purpose, consented.presentation_hash, consented.consented) == (
            reports[0].document_digest, "ACCTOPEN", p.hash(), True)
        assert (bare.document_digest, bare.purpose, bare.consented, bare.issuer_id) == (
            reports[1].document_digest, "KYC", False, "BNUMMOMX")
        assert (consented.doc_type, consented.batch_root) == (bound[0].header.doc_type, bound[0].proof.batch_root)
    # A bare bundle whose resident consented at the counter: the bank attests it under its case reference; a
    # presentation keeps its own, signed consent.
    attested = bank.verifier.receipts(reports, purpose="KYC", in_person_case="KYC-2027-0042")
    assert [(r.consent.name, r.case_reference) for r in attested] == [("PRESENTATION", None),
                                                                      ("IN_PERSON", "KYC-2027-0042")]


def test_a_presentation_whose_receipt_could_not_be_queued_may_be_sent_again(
        consortium: Consortium, bound: list[Bundle], holder: ec.EllipticCurvePrivateKey, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``record`` that cannot queue a presentation's receipt (another process holds the outbox, its disk is full)
    leaves no trace of the resident's consent: the challenge is open again, so the same presentation sent again
    once the outbox is back is checked and recorded, not refused as a replay."""
    c = consortium
    client = VerifierClient(c.registry, audience=BANK, challenges=ChallengeStore(tmp_path / "ch.sqlite", BANK),
                            sender=c.verifier, outbox=ReceiptOutbox(tmp_path / "outbox.sqlite"),
                            circulation=c.circulation, wall_clock=c.now)
    p = present(bound[0], client.issue_challenge("ACCTOPEN"), holder, c.now())

    def locked(*args: object, **kwargs: object) -> list[bytes]:
        raise StoreLocked("another process holds the outbox")

    monkeypatch.setattr(ReceiptOutbox, "enqueue", locked)
    with pytest.raises(StoreLocked):
        client.record(client.verify_many([p]))
    monkeypatch.undo()
    assert client.record(client.verify_many([p])).recorded == 1


def test_one_challenge_twice_in_one_batch(consortium: Consortium, bound: list[Bundle], plain: list[Bundle],
                                          holder: ec.EllipticCurvePrivateKey, bank: Bank) -> None:
    challenge = bank.challenge()
    first = present(bound[0], challenge, holder, consortium.now())
    second = present(bound[1], challenge, holder, consortium.now())
    reports = bank.verifier.verify_many([first, second, plain[0]])
    assert [[c.name for c in r.failed] for r in reports] == [[], ["challenge_fresh"], []]
    assert reports[1].check("anchored").outcome is Outcome.NOT_APPLICABLE  # refused before reading the chain


def test_an_sm2_holders_presentation_is_of_the_other_suite_here(consortium: Consortium, bank: Bank,
                                                               tmp_path: Path) -> None:
    """A certificate bound to an SM2 key (the GM suite's holder keys) presented at a deployment of the standard
    suite fails suite_matches by name, before its signature is even looked at. (crossverify's issuer binds SM2 keys
    to SM3 batches only, which the standard suite anchors too.)"""
    from crossverify.format.holder import SM2HolderPrivateKey

    sm2 = SM2HolderPrivateKey.generate()
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "gm.sqlite"), tmp_path / "gm", hash_alg=HashAlgorithm.SM3)
    issuer.issue([(ref, Certificate(c.header, {**c.claims, "cnf": holder_claim(sm2.public_key())}))
                  for ref, c in deposit_certificates(consortium, 1)])
    [path] = issuer.run().delivered
    issuer.journal.close()
    challenge = bank.challenge()
    p = present(load_bundle(path.read_bytes()), challenge, sm2, consortium.now())
    report = bank.verifier.verify(p)
    assert [c.name for c in report.failed] == ["suite_matches"]
    assert report.check("suite_matches").detail.startswith("SuiteMismatch: the holder key is SM2")
