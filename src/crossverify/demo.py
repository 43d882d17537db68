"""The end-to-end demo on the embedded chain, through the same public clients a bank or an issuer uses.

Two operators admit three Macao issuers, two Guangdong banks and a regulator, and set the regulators' sealing
keys; the issuers anchor about a thousand certificates; residents redact; the banks verify and record receipts
sealed to the regulators; then each kind of bad certificate is shown failing its named check; a resident presents
a certificate bound to their own key to one bank, a copy is refused elsewhere, the regulators alone trace its
sealed receipt, and the bank opens a dispute the issuer answers; the regulator syncs and writes its report.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.base import BaseAccount
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from web3 import Web3
from web3.types import RPCEndpoint

from .chain.circulation import CirculationContract
from .chain.connection import chain_time, embedded_chain
from .chain.metadata import MetadataReader
from .chain.records import RevocationReason, Role
from .chain.registry import Registry
from .chain.typed_data import AnchorRequest, Domain, SM2Signer, sign, sign_gm
from .config import (
    AuditSettings,
    Config,
    DisplaySettings,
    KeySettings,
    NetworkSettings,
    RegulatorSettings,
    ServiceSettings,
    VerifierSettings,
)
from .consortium.operator import OperatorClient, Signed
from .errors import ContractRevert
from .format.batch import SaltedDocument, salt_document, seal_batch
from .format.bundle import Bundle, load_bundle
from .format.certificate import Certificate, DocumentHeader
from .format.codes import doc_type_code
from .format.display import claim_value, counted
from .format.encoding import to_hex, utc_minute
from .format.hashing import HashAlgorithm
from .format.holder import holder_claim
from .format.metadata import ISSUER_FORMAT, LANGUAGES, Catalogue, IssuerDisplay, from_json, standard_types
from .format.presentation import Presentation, present
from .format.suite import Suite
from .issuer.client import IssuerClient
from .issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from .issuer.journal import BatchState, Journal
from .keys.holder import generate_holder_key
from .keys.pkcs11 import TokenAccount, TokenKeyRef, generate_token_key
from .keys.sm2 import LocalSM2Key
from .keys.softhsm import init_softhsm
from .regulator.circulation import CirculationTrail, purpose_words
from .regulator.export import to_html, to_json
from .regulator.index import RegulatorReader
from .regulator.queries import AuditReport, Supervision
from .regulator.words import Names
from .sealing import (
    DEFAULT_KEM,
    DisputeReason,
    DisputeStatus,
    Kem,
    Receipt,
    RegulatorKey,
    SealedReceipts,
    open_receipts,
    seal_receipts,
)
from .service.auth import new_key
from .verifier.challenges import ChallengeStore
from .verifier.client import Policy, VerificationReport, VerifierClient
from .verifier.disputes import open_dispute, read_answer
from .verifier.outbox import regulator_keys

DAY = 86400
#: The demo bank's name, as its resident page shows it (zh-Hant, zh-Hans, pt, en).
DEMO_BANK = ("廣東示例銀行", "广东示例银行", "Banco Exemplo de Guangdong", "Guangdong Example Bank")
DEMO_TOKEN = "crossverify-demo"
SURNAMES = ["CHAN", "LEI", "WONG", "HO", "LAO", "CHEONG", "SOUSA", "LEONG", "IEONG", "KUOK"]
GIVEN = ["Tai Man", "Ka Ian", "Sio Mei", "Chi Hou", "Wai Kei", "Ana", "Mei Leng", "Hoi Ian"]


@dataclass(frozen=True)
class IssuerPlan:
    issuer_id: str
    name: str
    doc_types: tuple[str, ...]
    share: float
    names: tuple[str, str, str, str] = ("", "", "", "")  # zh-Hant, zh-Hans, pt, en: the name it publishes

    def published(self) -> IssuerDisplay:
        """The issuer's display metadata, whose digest the consortium registers when it admits it."""
        display = from_json({"format": ISSUER_FORMAT, "issuer": self.issuer_id,
                             "name": dict(zip(LANGUAGES, self.names, strict=True))})
        assert isinstance(display, IssuerDisplay)
        return display


ISSUERS = (
    IssuerPlan("BNUMMOMX", "Banco Nacional Ultramarino", ("DEPCERT", "ACCTSTMT"), 0.4,
               ("大西洋銀行", "大西洋银行", "Banco Nacional Ultramarino", "Banco Nacional Ultramarino")),
    IssuerPlan("ICBKMOMX", "ICBC (Macau)", ("ACCTSTMT", "CREDREC"), 0.35,
               ("中國工商銀行（澳門）", "中国工商银行（澳门）", "ICBC (Macau)", "ICBC (Macau)")),
    IssuerPlan("LUSOMOMX", "Luso Insurance (example)", ("INSPOL",), 0.25,
               ("盧索保險（示例）", "卢索保险（示例）", "Luso Seguros (exemplo)", "Luso Insurance (example)")),
)


@dataclass
class DemoResult:
    """What the demo did, for the caller and for the test that checks no personal data reached the chain."""

    w3: Web3
    registry_address: str
    out_dir: Path
    issued: int = 0
    genuine_valid: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    consent: list[tuple[str, str]] = field(default_factory=list)
    traced: list[Receipt] = field(default_factory=list)
    dispute: tuple[str, bool] | None = None  # the answer's status and whether the issuer's key signed it
    receipted: list[bytes] = field(default_factory=list)  # digests of documents with a receipt or a dispute
    purposes: list[str] = field(default_factory=list)
    planted: list[str] = field(default_factory=list)  # the anomaly kinds the demo's incidents should raise
    report: AuditReport | None = None
    circulation_address: str = ""
    regulator_key: RegulatorKey | None = None  # AMCM's sealing key, for a regulator's service over this chain
    banks: dict[str, str] = field(default_factory=dict)  # account -> name
    bundle: Path | None = None  # the resident's own certificate file, traced by the regulators
    claim_values: list[Any] = field(default_factory=list)
    salts: list[bytes] = field(default_factory=list)
    seconds: float = 0.0


def claims_for(doc_type: str, i: int, rng: random.Random) -> dict[str, Any]:
    holder = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
    base: dict[str, Any] = {"holder_name": holder, "id_number": f"1{rng.randrange(10**6):06d}({rng.randrange(10)})",
                            "address": f"Rua {rng.choice(['do Campo', 'Central', 'da Praia Grande'])} {i}, Macau"}
    if doc_type == "DEPCERT":
        base.update(account_no=f"9-101-{i:06d}-{rng.randrange(10)}",
                    balance={"MOP": round(rng.uniform(1e3, 2e6), 2)}, term_months=rng.choice([3, 6, 12]))
    elif doc_type == "ACCTSTMT":
        base.update(account_no=f"2-20{i:06d}", average_balance_mop=rng.randrange(10**3, 10**6),
                    months=6, overdrawn=rng.random() < 0.05)
    elif doc_type == "CREDREC":
        base.update(score=rng.randrange(450, 850), open_loans=rng.randrange(0, 4), defaults=0)
    else:
        base.update(policy_no=f"LP-{i:07d}", sum_insured_mop=rng.randrange(10**5, 5 * 10**6), in_force=True)
    return base


def run_demo(out_dir: Path, certificates: int = 1000, console: Console | None = None, seed: int = 7,
             signing_key: Callable[[str], BaseAccount] | None = None, suite: Suite = Suite.STANDARD) -> DemoResult:
    """Run the story in crypto ``suite``; ``signing_key(issuer_id)`` makes each issuer's signing key (default: a
    fresh local key; in the GM suite a fresh SM2 key, held in process memory)."""
    if suite is Suite.GM and signing_key is not None:
        raise ValueError("the GM suite's demo keeps its SM2 signing keys in process memory (SoftHSM2 has no SM2)")
    gm_suite = suite is Suite.GM
    console = console or Console()
    started = time.perf_counter()
    rng = random.Random(seed)
    w3 = embedded_chain()
    a = list(w3.eth.accounts)
    macao_op, guangdong_op, regulator, hong_kong_op = a[0], a[1], a[7], a[8]
    admins = {plan.issuer_id: a[2 + i] for i, plan in enumerate(ISSUERS)}
    banks = {"Guangdong Bank A": a[5], "Guangdong Bank B": a[6]}
    keys: dict[str, BaseAccount | SM2Signer] = {
        p.issuer_id: LocalSM2Key.generate() if gm_suite else (signing_key or _local_key)(p.issuer_id) for p in ISSUERS}
    kem = Kem.SM2 if gm_suite else DEFAULT_KEM
    out_dir.mkdir(parents=True, exist_ok=True)

    console.rule("[bold]1. The consortium")
    macao = OperatorClient.deploy(w3, macao_op, [(macao_op, "MO"), (guangdong_op, "GD")], suite=suite)
    registry = macao.registry
    guangdong = OperatorClient(registry, guangdong_op, macao.consortium)
    console.print(f"Consortium [cyan]{macao.consortium.address}[/] and registry [cyan]{registry.address}[/] deployed "
                  "by the Macao operator; every proposal needs both jurisdictions.")
    if gm_suite:
        console.print(f"  the GM suite, for ever: SM3 digests, SM2 signatures verified on chain by the SM2Verifier "
                      f"contract [cyan]{registry.call(lambda f: f.sm2Verifier())}[/], SM2 + SM4-GCM sealing")
    journal = Journal(out_dir / "journal.sqlite")  # one journal serves every issuer of this process
    hash_alg = HashAlgorithm.SM3 if gm_suite else HashAlgorithm.KECCAK256
    issuers = {p.issuer_id: IssuerClient(registry, p.issuer_id, keys[p.issuer_id], admins[p.issuer_id], journal,
                                         out_dir / "bundles", hash_alg=hash_alg)
               for p in ISSUERS}
    for plan in ISSUERS:
        guangdong.approve(macao.propose_admit_issuer(plan.issuer_id, "MO", admins[plan.issuer_id], plan.doc_types,
                                                     [plan.published()]))
        issuers[plan.issuer_id].add_key(keys[plan.issuer_id])
        issuers[plan.issuer_id].sender = macao_op  # from now on the Macao operator relays its signed anchors
        console.print(f"  issuer {plan.issuer_id} ({plan.name}) admitted for {', '.join(plan.doc_types)}, with its "
                      f"name in four languages and the types' labels; its admin "
                      "registered its signing key with a proof of possession")
        console.print(f"    its signing key lives {_where(keys[plan.issuer_id])}")
    for label, account in [*banks.items(), ("regulator", regulator)]:
        role = Role.REGULATOR if label == "regulator" else Role.VERIFIER
        guangdong.approve(macao.propose_admit_member(account, role, "MO" if role is Role.REGULATOR else None))
        console.print(f"  {label} admitted as {role.name.lower()}")
    circulation = macao.circulation
    assert circulation is not None
    regulators = {"AMCM (Macao)": RegulatorKey.generate(kem), "PBoC Guangdong": RegulatorKey.generate(kem)}
    guangdong.approve(macao.propose_regulator_keys([(k.public_key.raw, j) for k, j in zip(
        regulators.values(), ("MO", "GD"), strict=True)]))
    console.print(f"  circulation contract [cyan]{circulation.address}[/]: the regulators' sealing keys (AMCM, PBoC "
                  f"Guangdong) set by quorum, key epoch {circulation.regulator_keys().epoch}")
    bnu_sealing = RegulatorKey.generate(kem)
    register_sealing_key(circulation, "BNUMMOMX", bnu_sealing, admins["BNUMMOMX"])
    console.print("  BNU's admin registered the key disputes about its documents are sealed to")
    joining = macao.propose_add_operator(hong_kong_op, "HK")
    console.print(f"  proposal {joining}: {macao.show(joining).action} ({macao.show(joining).progress})")
    guangdong.approve(joining)
    console.print(f"  Hong Kong joins: {len(macao.consortium.operators())} operators; every proposal now needs "
                  "Macao, Guangdong and Hong Kong")

    console.rule("[bold]2. Macao issuers anchor certificates")
    result = DemoResult(w3, registry.address, out_dir, circulation_address=circulation.address,
                        regulator_key=regulators["AMCM (Macao)"], banks={a: n for n, a in banks.items()})
    now = chain_time(w3)
    references: dict[str, list[str]] = {}
    with Progress(console=console) as progress:
        task = progress.add_task("issuing", total=certificates)
        for plan in ISSUERS:
            count = round(certificates * plan.share)
            batch = []
            for i in range(count):
                doc_type = plan.doc_types[i % len(plan.doc_types)]
                header = DocumentHeader(doc_type, plan.issuer_id, now, now - rng.randrange(0, 20) * DAY,
                                        now + 365 * DAY)
                batch.append((f"{plan.issuer_id}-{i:05d}", Certificate(header, claims_for(doc_type, i, rng))))
            issuers[plan.issuer_id].issue(batch)
            references[plan.issuer_id] = [ref for ref, _ in batch]
            progress.advance(task, count)
        for plan in ISSUERS:
            report = issuers[plan.issuer_id].run(max_batch=250)
            result.issued += len(report.delivered)
            console.print(f"  {plan.issuer_id}: {counted(len(report.delivered), 'certificate')} in "
                          f"{counted(report.anchored, 'batch')}, "
                          f"{report.gas_used:,} gas ({report.gas_used // max(len(report.delivered), 1)} per document)")

    console.rule("[bold]3. Residents redact, Guangdong banks verify")
    carried: list[Bundle] = []
    for plan in ISSUERS:
        for ref in references[plan.issuer_id]:
            bundle = load_bundle(issuers[plan.issuer_id].bundle_path(ref).read_bytes())
            carried.append(bundle.redact(["id_number", "address"]))
    policy = Policy({"ACCTSTMT": 30 * DAY, "DEPCERT": 30 * DAY, "CREDREC": 90 * DAY})
    verifiers = {label: VerifierClient(registry, policy, sender=account, circulation=circulation)
                 for label, account in banks.items()}
    half = len(carried) // 2
    for (label, verifier), share in zip(verifiers.items(), (carried[:half], carried[half:]), strict=True):
        reports = verifier.verify_many(share)
        valid = [r for r in reports if r.valid]
        result.genuine_valid += len(valid)
        purpose = "ACCTOPEN" if label.endswith("A") else "LOAN"
        # Each resident signed the bank's consent form at the counter, filed under the day's case.
        flushed = verifier.record(valid, purpose, f"{purpose}-BRANCH-0001", in_person=True)
        result.receipted += [r.document_digest for r in valid if r.document_digest]
        result.purposes.append(purpose)
        console.print(f"  {label}: {len(valid)} of {len(reports)} genuine certificates valid; "
                      f"{counted(flushed.recorded, 'receipt')} recorded sealed to the regulators in "
                      f"{counted(flushed.transactions, 'transaction')}, each attesting that the resident consented "
                      "in person")

    console.rule("[bold]4. What does not pass")
    bank_a = verifiers["Guangdong Bank A"]
    show: list[tuple[str, Callable[[], VerificationReport]]] = []
    sample = carried[0]
    tampered = sample.to_json()
    tampered["claims"][[c.get("name") for c in tampered["claims"]].index("balance")]["value"] = {"MOP": 9_999_999}
    show.append(("a tampered field (balance raised)", lambda: bank_a.verify(json.dumps(tampered))))
    show.append(("a proof taken from another document", lambda: bank_a.verify(replace(carried[1],
                                                                                      proof=carried[2].proof))))
    forged = _forged_bundle(registry.address, w3, macao, console, suite)
    show.append(("a certificate signed by an unadmitted key", lambda: bank_a.verify(forged)))
    bnu = issuers["BNUMMOMX"]
    withdrawn, superseded = carried[3], carried[4]
    bnu.sender = admins["BNUMMOMX"]
    bnu.revoke_document(withdrawn.document_digest(), RevocationReason.WITHDRAWN)
    bnu.revoke_document(superseded.document_digest(), RevocationReason.SUPERSEDED)
    show.append(("a withdrawn certificate", lambda: bank_a.verify(withdrawn)))
    show.append(("a superseded statement", lambda: bank_a.verify(superseded)))
    expiring = _short_lived(issuers["ICBKMOMX"], now)
    _advance_clock(w3, 600)
    show.append(("an expired credit record", lambda: bank_a.verify(expiring)))
    compromised = _under_compromised_key(issuers["LUSOMOMX"], admins["LUSOMOMX"], now, w3)
    show.append(("one anchored under a compromised key", lambda: bank_a.verify(compromised)))
    table = Table("presented", "verdict", "failed check", "why")
    for label, check in show:
        verdict = check()
        failed = verdict.failed[0] if verdict.failed else None
        result.failures.append((label, failed.name if failed else "", failed.detail if failed else ""))
        table.add_row(label, "[green]valid[/]" if verdict.valid else "[red]invalid[/]",
                      failed.name if failed else "", failed.detail if failed else "")
    console.print(table)

    hong_kong = OperatorClient(registry, hong_kong_op, macao.consortium)
    leaving = hong_kong.propose_remove_operator(hong_kong_op)
    console.print(f"\n  proposal {leaving}: {hong_kong.show(leaving).action} ({hong_kong.show(leaving).progress})")
    macao.approve(leaving)
    console.print(f"  proposal {leaving}: {macao.show(leaving).progress}")
    guangdong.approve(leaving)
    console.print(f"  Hong Kong leaves again: {len(macao.consortium.operators())} operators, Macao and Guangdong")

    presented = _consent(result, Story(issuers["BNUMMOMX"], registry, circulation, regulators, bnu_sealing,
                                       banks["Guangdong Bank A"], macao_op, suite), now, policy, out_dir, console)
    result.planted = _incidents(Incidents(registry, circulation, verifiers, banks, carried[5], withdrawn, expiring,
                                          presented), console)

    for plan in ISSUERS:
        for doc in _journal_documents(issuers[plan.issuer_id]):
            result.claim_values.extend(c.value for c in doc.claims)
            result.salts.extend(c.salt for c in doc.claims)
    journal.close()

    console.rule("[bold]7. The regulator")
    # The banks verified every certificate in one sitting: an hour of that many receipts is their normal.
    reader = RegulatorReader(registry, out_dir / "audit.sqlite", circulation=circulation,
                             burst_per_hour=max(1000, certificates))
    amcm = CirculationTrail(reader, [regulators["AMCM (Macao)"]])
    sync, opened = amcm.sync()
    supervision = Supervision(reader, amcm)
    audit = supervision.report()
    metadata = MetadataReader(registry, Catalogue([*standard_types(), *(plan.published() for plan in ISSUERS)]))
    named = Names.registered(metadata, supervision.issued_types(), {a: n for n, a in banks.items()})
    result.report = audit
    summary = Table("figure", "value")
    for k, v in audit.totals.items():
        summary.add_row(k, f"{v:,}")
    for reason, count in audit.revocation_reasons.items():
        summary.add_row(f"revoked: {reason}", str(count))
    console.print(f"  indexed {sync.events} events from blocks {sync.from_block}-{sync.to_block}; AMCM opened "
                  f"{opened.receipts} sealed receipts and {opened.disputes} dispute events with its own key")
    console.print(summary)
    if result.traced:
        _trace(amcm, result.traced[0].document_digest, {a: n for n, a in banks.items()}, console)
    names = {a: n for n, a in banks.items()}
    console.print(f"  {len(audit.anomalies)} kinds of anomaly, each explained:" if audit.anomalies else
                  "  no anomaly")
    for group in audit.anomalies:
        first = group["examples"][0] if group["examples"] else {}
        who = names.get(first.get("bank", ""), first.get("issuer", ""))
        console.print(f"  [red]{group['severity']}[/] {group['title']} ×{group['count']} ({who}): {group['meaning']}"
                      f"\n      next: {group['nextStep']}")
    reader.close()
    (out_dir / "audit-report.html").write_text(to_html(audit, "en", named), encoding="utf-8")
    (out_dir / "audit-report.json").write_text(to_json(audit))
    result.seconds = time.perf_counter() - started
    console.print(f"\nReport written to [cyan]{out_dir / 'audit-report.html'}[/]; demo took {result.seconds:.1f} s.")
    return result


def _trace(trail: CirculationTrail, digest: bytes, names: dict[str, str], console: Console) -> None:
    """The regulator's answer to "who verified this document, for what, with whose consent", and its disputes."""
    found = trail.circulation(digest)
    table = Table("recorded", "block", "bank", "purpose", "consent", title_justify="left",
                  title=f"  circulation of the resident's document {to_hex(digest)[:18]}…")
    for r in found.receipts:
        consent = {"presentation": "a presentation they signed", "in_person": "in person, as the bank attests",
                   "none": "[red]none stated[/]"}[r.consent.name.lower()]
        table.add_row(utc_minute(r.recorded_at), str(r.block_number), names.get(r.verifier, r.verifier),
                      purpose_words(r.purpose), consent)
    console.print(table)
    for d in found.disputes:
        signed = {True: f"a signing key of {d['issuer']}", False: "a key that is not the issuer's"}
        answers = ", then ".join(f"{a['answer'].replace('_', ' ')} after {(a['at'] - d['openedAt']) / 60:.0f} min, "
                                 f"signed by {signed[a['signedByIssuer']]}" for a in d["answers"]) or "not answered yet"
        console.print(f"  dispute by {names.get(d['verifier'], d['verifier'])}: {d['reason'].replace('_', ' ')} "
                      f"about {d['issuer']}'s document; {answers}")


def _local_key(_issuer_id: str) -> BaseAccount:
    key: BaseAccount = Account.create()
    return key


def _where(key: BaseAccount | SM2Signer) -> str:
    if isinstance(key, LocalSM2Key):
        return "in process memory (an SM2 key)"
    if isinstance(key, TokenAccount):
        return f"in token {key.ref.token!r} as {key.ref.label!r}"
    return "in process memory"


def softhsm_signing_keys(directory: Path) -> Callable[[str], BaseAccount]:
    """Issuers' signing keys generated inside a fresh SoftHSM2 token under ``directory`` (``demo --hsm``)."""
    pin = secrets.token_hex(8)
    module = init_softhsm(directory, [DEMO_TOKEN], pin, secrets.token_hex(8))
    return lambda issuer_id: generate_token_key(TokenKeyRef(module, DEMO_TOKEN, f"{issuer_id} anchor key"), pin)


@dataclass(frozen=True)
class Story:
    """The parties of the consent and dispute part of the demo."""

    bnu: IssuerClient
    registry: Registry
    circulation: CirculationContract
    regulators: dict[str, RegulatorKey]
    bnu_sealing: RegulatorKey
    bank_a: str
    relay: str
    suite: Suite = Suite.STANDARD


def _consent(result: DemoResult, story: Story, now: int, policy: Policy, out_dir: Path,
             console: Console) -> Presentation:
    """A resident's certificate bound to their own key: presented once to Bank A, refused as a copy elsewhere;
    the receipt recorded sealed, traced by the regulators alone; a dispute opened and answered. Returns the
    resident's presentation."""
    console.rule("[bold]5. The resident's consent")
    bnu, registry, circulation = story.bnu, story.registry, story.circulation
    holder = generate_holder_key(story.suite)
    header = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - DAY, now + 365 * DAY)
    bnu.issue([("DEPCERT-bound", Certificate(header, {
        "holder_name": "LEONG Mei Leng", "account_no": "9-101-777001-3", "balance": {"MOP": 385000.0},
        "cnf": holder_claim(holder.public_key())}))])
    bnu.run()
    result.bundle = bnu.bundle_path("DEPCERT-bound")
    bundle = load_bundle(result.bundle.read_bytes())
    console.print("  the resident made a key of their own; BNU put its public half in the certificate (claim cnf), "
                  "which marks it holder-bound: no bank accepts it bare, whatever its policy")

    def wall() -> int:  # the embedded chain's clock stands in for the banks' own
        return chain_time(registry.w3)

    banks = {aud: VerifierClient(registry, policy, audience=aud, wall_clock=wall, sender=story.bank_a,
                                 circulation=circulation,
                                 challenges=ChallengeStore(out_dir / f"challenges-{aud}.sqlite", aud))
             for aud in ("GDBANKA", "GDBANKB")}
    asked = banks["GDBANKA"].issue_challenge("ACCTOPEN")
    presented = present(bundle.redact(["account_no"]), asked, holder, wall())
    table = Table("presented", "verdict", "failed check", "why")
    cases: list[tuple[str, str, Bundle | Presentation]] = [
        ("the resident's presentation at Bank A", "GDBANKA", presented),
        ("a bare copy of the bundle at Bank A", "GDBANKA", bundle),
        ("the presentation replayed at Bank B", "GDBANKB", presented),
        ("the presentation replayed at Bank A", "GDBANKA", presented)]
    accepted = []
    for label, bank, item in cases:
        verdict = banks[bank].verify(item)
        failed = verdict.failed[0] if verdict.failed else None
        result.consent.append((label, failed.name if failed else ""))
        table.add_row(label, "[green]valid[/]" if verdict.valid else "[red]refused[/]",
                      failed.name if failed else "", failed.detail if failed else "")
        accepted += [verdict] if verdict.valid else []
    console.print(table)
    reader = MetadataReader(registry, Catalogue([*standard_types(), *(plan.published() for plan in ISSUERS)]))
    labels = reader.doc_type("BNUMMOMX", "DEPCERT")
    assert labels is not None and accepted[0].bundle is not None
    labelled = [(claim.label["zh-Hant"], claim_value(value, claim, "zh-Hant"))
            for name, value in accepted[0].bundle.disclosed().items() if (claim := labels.claim(name)) is not None]
    console.print(f"  Bank A's page reads it to the resident by the labels the registry vouches for: "
                  f"{reader.issuer_name('BNUMMOMX', 'zh-Hant')} {labels.name['zh-Hant']}: "
                  + "，".join(f"{label} {value}" for label, value in labelled))
    start = registry.w3.eth.block_number + 1
    [commitment] = banks["GDBANKA"].record(accepted).commitments
    digest = bundle.document_digest()
    result.receipted.append(digest)
    result.purposes.append("ACCTOPEN")
    on_chain = [bytes(e.args["ciphertext"]) for e in circulation.events(start) if e.name == "ReceiptsSealed"]
    console.print(f"  Bank A records its receipt: on chain a 32-byte commitment {to_hex(commitment)[:18]}… and "
                  f"{len(on_chain[0])} sealed bytes, the size of every batch of one; nothing names the document")
    batches = [SealedReceipts(tuple(bytes(c) for c in e.args["commitments"]), bytes(e.args["ciphertext"]))
               for e in circulation.events() if e.name == "ReceiptsSealed"]
    for name, key in story.regulators.items():
        everything = [r for batch in batches for r in open_receipts(batch, key) if r is not None]
        result.traced = [r for r in everything if r.document_digest == digest]
        console.print(f"  {name} opens all {len(everything)} receipts on chain and traces the document: " + ", ".join(
            f"{r.purpose} with the resident's consent" if r.consented else r.purpose for r in result.traced))

    console.print("  Bank A doubts the statement the customer gave with it and opens a dispute:")
    opened = open_dispute(circulation, story.bank_a, accepted[0], DisputeReason.STATEMENT_MISMATCH, wall(),
                          commitment)
    console.print(f"    on chain: dispute {to_hex(opened.dispute_id)[:18]}…, Bank A's account and sealed bytes; "
                  "nothing names the document, BNU or the reason")
    [received] = [d for d in received_disputes(circulation, story.bnu_sealing) if d.dispute_id == opened.dispute_id]
    console.print(f"    BNU opens it with its sealing key: {received.dispute.reason.name.lower()} about one of its "
                  "documents")
    answer_dispute(circulation, received, DisputeStatus.CONFIRMED_GENUINE, bnu.signer, story.relay, wall(),
                   story.bnu_sealing)
    console.print("    BNU answers 'confirmed genuine', signed by its signing key, relayed by the Macao operator")
    read = read_answer(circulation, registry, opened)
    assert read is not None
    result.dispute = (read.answer.status.name.lower(), read.signed_by_issuer)
    console.print(f"    Bank A reads the answer with its one-time reply key: {result.dispute[0]}, signed by "
                  f"{'a signing key of BNU' if read.signed_by_issuer else 'a key that is not BNU`s'}")
    return presented


@dataclass(frozen=True)
class Incidents:
    """What the careless or dishonest banks of the demo have at hand."""

    registry: Registry
    circulation: CirculationContract
    verifiers: dict[str, VerifierClient]
    banks: Mapping[str, str]
    bare: Bundle
    withdrawn: Bundle
    expired: Bundle
    presented: Presentation


def _incidents(x: Incidents, console: Console) -> list[str]:
    """Four things banks must not do, each done once, for the regulator to find among the lawful receipts (the
    insurer's leaked key, in part 4, is a fifth). Returns the anomaly kinds they should raise."""
    console.rule("[bold]6. What a supervisor must find")
    keys = regulator_keys(x.circulation)
    now = chain_time(x.registry.w3)

    def record(bank: str, receipt: Receipt) -> None:  # a bank's own software, bypassing the client's checks
        sealed = seal_receipts([receipt], keys)
        x.circulation.record(sealed.commitments, sealed.sealed, x.banks[bank])

    def about(bundle: Bundle, purpose: str, **consent: Any) -> Receipt:
        return Receipt.new(bundle.document_digest(), bundle.header.issuer_id, bundle.header.doc_type,
                           bundle.proof.batch_root, purpose, now, **consent)

    bank_b = x.verifiers["Guangdong Bank B"]
    bank_b.record([bank_b.verify(x.bare)], "LOAN")
    console.print("  Bank B verifies a bare bundle and records it stating no consent at all")
    record("Guangdong Bank A", about(x.withdrawn, "ACCTOPEN", case="ACCTOPEN-0417"))
    console.print("  Bank A records a receipt for the withdrawn certificate its verification refused")
    record("Guangdong Bank B", about(x.presented.bundle, "LOAN", presentation_hash=x.presented.hash(
        x.presented.bundle.document_digest())))
    console.print("  Bank B cites the resident's presentation to Bank A as the consent for a loan of its own")
    record("Guangdong Bank B", about(x.expired, "LOAN", case="LOAN-0932"))
    console.print("  Bank B records the expired credit record as verified")
    return ["anchor_in_compromised_window", "circulation_without_consent", "circulation_of_revoked",
            "consent_reused", "circulation_of_expired"]


def _journal_documents(issuer: IssuerClient) -> list[SaltedDocument]:
    docs: list[SaltedDocument] = []
    for b in issuer.journal.batches(issuer.issuer_id, *BatchState):
        docs.extend(doc for _, doc in issuer.journal.batch_documents(b.id))
    return docs


def _advance_clock(w3: Web3, seconds: int) -> int:
    """Move the embedded chain's clock forward and mine a block there; returns the new time."""
    target = chain_time(w3) + seconds
    w3.manager.request_blocking(RPCEndpoint("testing_timeTravel"), [target])
    w3.manager.request_blocking(RPCEndpoint("evm_mine"), [1])
    return target


def _forged_bundle(registry: str, w3: Web3, operator: OperatorClient, console: Console, suite: Suite) -> Bundle:
    """A forger builds a perfect-looking batch and signs it with a key the consortium never admitted."""
    now = chain_time(w3)
    header = DocumentHeader("DEPCERT", "BNUMMOMX", now, now, now + 365 * DAY)
    cert = Certificate(header, {"holder_name": "FORGED Person", "balance": {"MOP": 5_000_000}})
    hash_alg = HashAlgorithm.SM3 if suite is Suite.GM else HashAlgorithm.KECCAK256
    batch = seal_batch([salt_document(cert, hash_alg)], hash_alg)
    request = AnchorRequest(batch.root, doc_type_code("DEPCERT"), int(hash_alg), 1, now + 365 * DAY, now + 3600)
    domain = Domain.of(operator.registry)
    signature: Signed = sign(request, domain, Account.create())
    if suite is Suite.GM:
        forger = LocalSM2Key.generate()
        signed = sign_gm(request, domain, forger)
        signature = (signed[:32], signed[32:], forger.address)
    try:
        operator.relay_anchors([(request, signature)])
    except ContractRevert as exc:
        console.print(f"  the registry refused the forger's anchor: [red]{exc.error_name}[/]")
    return batch.bundle(0, w3.eth.chain_id, registry)


def _short_lived(issuer: IssuerClient, now: int) -> Bundle:
    header = DocumentHeader("CREDREC", issuer.issuer_id, now, now, now + 300)
    issuer.issue([("CREDREC-short", Certificate(header, {"holder_name": "HO Wai Kei", "score": 712}))])
    issuer.run()
    return load_bundle(issuer.bundle_path("CREDREC-short").read_bytes())


def _under_compromised_key(issuer: IssuerClient, admin: str, now: int, w3: Web3) -> Bundle:
    """The insurer's key leaks; a batch anchored after the leak fails, the ones before still pass."""
    leak = _advance_clock(w3, 5)
    _advance_clock(w3, 5)
    header = DocumentHeader("INSPOL", issuer.issuer_id, now, now, now + 365 * DAY)
    issuer.issue([("INSPOL-after-leak", Certificate(header, {"holder_name": "SOUSA Ana", "policy_no": "LP-9"}))])
    issuer.run()
    issuer.sender = admin
    issuer.report_compromised(issuer.signer.address, leak)
    return load_bundle(issuer.bundle_path("INSPOL-after-leak").read_bytes())


def resident_demo(out_dir: Path, certificates: int = 3, host: str = "127.0.0.1", port: int = 8080
                  ) -> tuple[Config, str, list[Path]]:
    """A consortium on the embedded chain with one Macao issuer and one Guangdong bank, ``certificates``
    deposit certificates issued into ``out_dir``, and the bank's service configuration: ``(config, the bank's
    new API key, the bundle files)``."""
    w3 = embedded_chain()
    macao_op, guangdong_op, admin, bank = (w3.eth.accounts[i] for i in range(4))
    signer = Account.create()
    macao = OperatorClient.deploy(w3, macao_op, [(macao_op, "MO"), (guangdong_op, "GD")])
    guangdong = OperatorClient(macao.registry, guangdong_op, macao.consortium)
    guangdong.approve(macao.propose_admit_issuer("BNUMMOMX", "MO", admin, ["DEPCERT"], [ISSUERS[0].published()]))
    guangdong.approve(macao.propose_admit_member(bank, Role.VERIFIER))
    guangdong.approve(macao.propose_regulator_keys([(RegulatorKey.generate().public_key.raw, j) for j in ("MO", "GD")]))

    out_dir.mkdir(parents=True, exist_ok=True)
    issuer = IssuerClient(macao.registry, "BNUMMOMX", signer, admin, Journal(out_dir / "journal.sqlite"),
                          out_dir / "bundles")
    issuer.add_key(signer)
    issuer.sender = macao_op  # the Macao operator relays the signed anchors
    now, rng = chain_time(w3), random.Random(13)
    header = DocumentHeader("DEPCERT", "BNUMMOMX", now, now - DAY, now + 365 * DAY)
    references = [f"DEPCERT-{i + 1:03d}" for i in range(certificates)]
    issuer.issue([(ref, Certificate(header, claims_for("DEPCERT", i, rng))) for i, ref in enumerate(references)])
    issuer.run()
    published = out_dir / "metadata"  # the issuer's name as it published it, kept by the bank for its page
    published.mkdir(exist_ok=True)
    (published / "BNUMMOMX.json").write_text(json.dumps(ISSUERS[0].published().as_json(), ensure_ascii=False,
                                                        indent=1))
    key, digest = new_key()
    config = Config(
        network=NetworkSettings(registry=macao.registry.address,
                                circulation=macao.circulation.address if macao.circulation else None),
        keys=KeySettings(sender_address=bank),
        verifier=VerifierSettings(outbox=out_dir / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=out_dir / "challenges.sqlite"),
        service=ServiceSettings(host=host, port=port, api_keys={"demo-bank": f"bank {digest}"}),
        display=DisplaySettings(name=dict(zip(LANGUAGES, DEMO_BANK, strict=True)), metadata=[published]),
        source="crossverify serve --demo")
    return config, key, [issuer.bundle_path(ref) for ref in references]


def regulator_demo(out_dir: Path, certificates: int = 200, host: str = "127.0.0.1", port: int = 8080,
                   console: Console | None = None) -> tuple[Config, str, DemoResult]:
    """The demo's story on the embedded chain, then a regulator's service over it (AMCM's key, the banks by
    name, the issuers' published names): ``(config, the regulator's new API key, what the story did)``."""
    result = run_demo(out_dir, certificates, console)
    assert result.regulator_key is not None
    key_file = out_dir / "amcm.key"
    key_file.unlink(missing_ok=True)
    result.regulator_key.write(key_file)
    key, digest = new_key()
    published = out_dir / "metadata"  # the issuers' names as they publish them, beside the standard types
    published.mkdir(exist_ok=True)
    for plan in ISSUERS:
        (published / f"{plan.issuer_id}.json").write_text(json.dumps(plan.published().as_json(), ensure_ascii=False),
                                                          encoding="utf-8")
    config = Config(
        network=NetworkSettings(registry=result.registry_address, circulation=result.circulation_address),
        audit=AuditSettings(index=out_dir / "console-index.sqlite", burst_per_hour=max(1000, certificates)),
        regulator=RegulatorSettings(key_files=[key_file], bank_names=result.banks),
        service=ServiceSettings(host=host, port=port, api_keys={"AMCM": f"regulator {digest}"}),
        display=DisplaySettings(metadata=[published]),
        source="crossverify serve --demo-console")
    return config, key, result

