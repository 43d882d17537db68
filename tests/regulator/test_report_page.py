"""The static HTML report in the regulator's language: issuers and document types by the display metadata the
registry vouches for, banks by the regulator's own names, every heading, anomaly explanation, purpose, reason and
governance event in that language, grouped as in every language (anomalies by kind, the first few of each)."""

from __future__ import annotations

import re
import secrets
from html import escape

import pytest
from web3 import Web3

from crossverify.chain.metadata import MetadataReader
from crossverify.chain.records import ProposalKind, RevocationReason, Role
from crossverify.format.metadata import LANGUAGES, Catalogue, read_metadata
from crossverify.regulator.circulation import CirculationTrail
from crossverify.regulator.export import _fitted, to_html
from crossverify.regulator.index import RegulatorReader
from crossverify.regulator.queries import AuditReport, Supervision
from crossverify.regulator.words import WORDS, Names
from crossverify.sealing import Receipt, seal_receipts

from ..conftest import EXAMPLES, Consortium
from ..postgres import Locate

BNU = read_metadata((EXAMPLES / "metadata" / "BNUMMOMX.json").read_bytes())
ROOT = Web3.keccak(text="a batch of deposit certificates")
#: What every page shows, by key: it must appear in the page's language and in no other.
HEADINGS = ("report.title", "anomalies.title", "report.issuers", "report.banks", "report.governance",
            "report.circulation", "kind.circulation_without_consent.title", "kind.circulation_without_consent.next",
            "governance.IssuerAdmitted", "purpose.ACCTOPEN", "purpose.LOAN", "report.chart.revocationsByReason",
            "reason.fraud")


@pytest.fixture
def supervised(consortium: Consortium, location: Locate) -> tuple[AuditReport, Names, str]:
    """A report over a batch, a document revoked for fraud, and receipts from two banks, five without consent
    (more than the examples shown); the first bank named by the regulator, the second not."""
    c = consortium
    c.anchor(ROOT)
    c.registry.transact(lambda f: f.revokeDocument(Web3.keccak(text="a forged one"), RevocationReason.FRAUD),
                        c.issuer_admin)
    other = str(c.w3.eth.accounts[7])
    c.govern(ProposalKind.ADMIT_MEMBER, other, Role.VERIFIER, bytes(32))
    for bank, purpose, consented in ((c.verifier, "ACCTOPEN", True), (other, "LOAN", False)):
        receipts = [Receipt.new(secrets.token_bytes(32), "BNUMMOMX", "DEPCERT", ROOT, purpose, c.now(),
                                presentation_hash=secrets.token_bytes(32) if consented else None) for _ in range(5)]
        sealed = seal_receipts(receipts, [k.public_key for k in c.regulator_keys])
        c.circulation.record(sealed.commitments, sealed.sealed, bank)
    reader = RegulatorReader(c.registry, location("audit.sqlite"), circulation=c.circulation)
    trail = CirculationTrail(reader, [c.regulator_keys[0]], now=lambda: c.now())
    trail.sync()
    supervision = Supervision(reader, trail)
    report = supervision.report()
    catalogue = Catalogue.standard()
    catalogue.add(BNU)
    names = Names.registered(MetadataReader(c.registry, catalogue), supervision.issued_types(),
                             {c.verifier.lower(): "Guangdong Bank A"})
    return report, names, other


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_report_speaks_the_regulators_language_and_names_what_it_can(
        supervised: tuple[AuditReport, Names, str], language: str) -> None:
    report, names, unnamed = supervised
    page = to_html(report, language, names)
    assert f'<html lang="{language}">' in page and "<script" not in page
    for key in HEADINGS:
        assert escape(WORDS[language][key]) in page, key
        for other in LANGUAGES:
            if WORDS[other][key] not in WORDS[language][key]:
                assert escape(WORDS[other][key]) not in page, (key, other)
    assert BNU.name[language] in page  # the issuer, by its registered name, in charts and tables
    deposit = names.doc_type("DEPCERT", language)
    assert deposit != "DEPCERT" and deposit in page  # the document type by the standard type's registered name
    assert "Guangdong Bank A" in page  # the bank the regulator named; the other by its address
    assert f'<td class="code">{unnamed}</td>' in page and f"{unnamed[:8]}…{unnamed[-4:]}" in page
    # Governance changes: each argument under its name in this language, roles and issuers by their names.
    member = f"{WORDS[language]['field.account']}: {unnamed}; {WORDS[language]['field.role']}: " \
             f"{WORDS[language]['role.verifier']}"
    assert escape(member) in page and "issuerId=" not in page and "account=" not in page
    assert escape(f"{WORDS[language]['field.issuerId']}: {BNU.name[language]}") in page
    assert f"{WORDS[language]['field.account']}: Guangdong Bank A (" in page  # a named bank's admission, by name

    # The same grouping in every language: one block per anomaly kind, its count and the first three rows.
    assert [g["kind"] for g in report.anomalies] == ["circulation_without_consent"]
    assert page.count('<div class="kind ') == 1 and "×5" in page
    block = page[page.index('<div class="kind '):]
    assert block[:block.index("</div>")].count("<tr>") == 1 + 3
    # each example's details under their names in this language, the purpose in words
    said = f"{WORDS[language]['detail.purpose']}: {WORDS[language]['purpose.LOAN']}"
    assert escape(said) in block and "purpose=" not in block and "commitment=" not in block
    assert escape(WORDS[language]["report.anomalies.more"].format(more="2")) in page


def test_english_is_the_default_and_codes_stand_where_nothing_is_registered(
        supervised: tuple[AuditReport, Names, str]) -> None:
    report, _, unnamed = supervised
    page = to_html(report)
    assert '<html lang="en">' in page and "Anomalies by kind" in page
    assert "BNUMMOMX" in page and "DEPCERT" in page and unnamed[:8] in page  # no names: codes and addresses
    with pytest.raises(ValueError, match="language must be one of"):
        to_html(report, "fr")


def test_a_long_name_is_cut_to_its_bars_room() -> None:
    assert _fitted("Banco Nacional Ultramarino, S.A.") == "Banco Nacional Ultramarino, S.A."
    assert _fitted("Banco Nacional Ultramarino, Sociedade Anónima") == "Banco Nacional Ultramarino, Socie…"
    assert _fitted("中國工商銀行（澳門）股份有限公司總行") == "中國工商銀行（澳門）股份有限公司…"
    for name in ("a" * 40, "澳" * 30, "a澳" * 20):
        assert len(re.sub(r"[\u3000-\u9fff\uff00-\uffef]", "xx", _fitted(name))) <= 34, name
