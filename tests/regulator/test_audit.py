"""The regulator's index: resumable sync without gaps or duplicates, anomalies, and exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import Web3

from crossverify import Registry, RevocationReason
from crossverify.chain.consortium import deploy_consortium
from crossverify.errors import NodeUnavailable, StoreChainMismatch
from crossverify.regulator.export import to_csv, to_html, to_json
from crossverify.regulator.index import RegulatorReader

from ..conftest import Consortium


def activity(c: Consortium, n: int, tag: str) -> list[bytes]:
    roots = [Web3.keccak(text=f"{tag} {i}") for i in range(n)]
    for root in roots:
        c.anchor(root)
    return roots


def all_events(c: Consortium) -> int:
    """Every event of the registry and of its consortium: the regulator reads both."""
    logs = c.w3.eth.get_logs({"address": [c.registry.contract.address, c.consortium.contract.address],
                              "fromBlock": 0, "toBlock": "latest"})
    return len(c.registry.decode_logs(logs)) + len(c.consortium.decode_logs(logs))


def test_sync_resumes_after_a_crash_without_gaps_or_duplicates(consortium: Consortium, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    activity(c, 12, "before")
    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite", chunk=3)
    calls = {"n": 0}
    original = Registry.decode_logs

    def crash_on_fourth_chunk(self: Registry, logs: list) -> list:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] == 4:
            raise ConnectionError("node went away mid-sync")
        return original(self, logs)

    monkeypatch.setattr(Registry, "decode_logs", crash_on_fourth_chunk)
    with pytest.raises(NodeUnavailable):
        reader.sync()
    assert reader.next_block == 9  # three chunks of three blocks committed, with their cursor
    monkeypatch.undo()
    reader.close()

    resumed = RegulatorReader(c.registry, tmp_path / "audit.sqlite", chunk=3)
    report = resumed.sync()
    assert report.from_block == 9
    assert len(list(resumed.events())) == all_events(c)

    activity(c, 4, "after")
    head = c.w3.eth.block_number
    incremental = resumed.sync()
    assert incremental.from_block == report.to_block + 1 and incremental.to_block == head
    assert incremental.events == 4
    assert len(list(resumed.events())) == all_events(c)


def test_anomalies_and_figures(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    reg = c.registry
    roots = activity(c, 3, "batch")
    doc = Web3.keccak(text="doc")
    reg.transact(lambda f: f.revokeDocument(doc, RevocationReason.FRAUD), c.issuer_admin)
    leaked_at = reg.document_status(c.issuer_id, roots[2], doc).anchored_at  # the third anchor falls in the window
    reg.transact(lambda f: f.markKeyCompromised(c.signing_key.address, leaked_at), c.issuer_admin)

    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite")
    reader.sync()
    report = reader.report()
    kinds = [a["kind"] for a in report.anomalies]
    assert kinds.count("anchor_in_compromised_window") == 1
    assert report.by_issuer["BNUMMOMX"]["documents_revoked"] == 1
    assert report.revocation_reasons == {"fraud": 1}
    assert {g["event"] for g in report.governance} >= {"IssuerAdmitted", "MemberAdmitted", "SigningKeyCompromised"}

    assert json.loads(to_json(report))["totals"]["receipts"] == 0  # receipts are sealed, on the circulation contract
    csv_text = to_csv(report)
    assert "anomaly,anchor_in_compromised_window" in csv_text and csv_text.startswith("section,key,metric,value")
    page = to_html(report)
    assert page.count("<svg") >= 4 and "anchor in compromised window" in page and "<script" not in page


def test_index_is_bound_to_one_registry(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    RegulatorReader(c.registry, tmp_path / "audit.sqlite").close()
    _, other = deploy_consortium(c.w3, c.macao_operator, [(c.macao_operator, "MO"), (c.guangdong_operator, "GD")])
    with pytest.raises(StoreChainMismatch):
        RegulatorReader(other, tmp_path / "audit.sqlite")


def test_a_reorganisation_is_rewound_and_the_totals_match_the_chain(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    activity(c, 5, "shared")
    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite", chunk=4)
    reader.sync()
    fork = c.w3.testing.snapshot()
    activity(c, 6, "abandoned")
    assert reader.sync().events > 0
    indexed_before = len(list(reader.events()))

    c.w3.testing.revert(fork)  # the abandoned branch leaves the chain; another one grows in its place
    activity(c, 3, "winning")
    report = reader.sync()
    assert report.rewound > 0
    assert len(list(reader.events())) == all_events(c) < indexed_before + 1
    assert reader.sync() == type(report)(report.to_block + 1, c.w3.eth.block_number, 0, 0)


def test_events_wait_for_confirmations(consortium: Consortium, tmp_path: Path) -> None:
    c = consortium
    activity(c, 3, "deep")
    reader = RegulatorReader(c.registry, tmp_path / "audit.sqlite", confirmations=2)
    report = reader.sync()
    assert report.to_block == c.w3.eth.block_number - 2
    c.w3.testing.mine(2)
    reader.sync()
    assert len(list(reader.events())) == all_events(c)
