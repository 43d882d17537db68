"""``crossverify verify`` exit codes and output, and ``crossverify audit`` sync and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossverify import RevocationReason, load_bundle
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal

from ..conftest import Consortium, deposit_certificates
from .test_cli_issuer import as_json, run


@pytest.fixture
def files(consortium: Consortium, tmp_path: Path) -> list[Path]:
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")
    issuer.issue(deposit_certificates(consortium, 3))
    return sorted(issuer.run().delivered)


@pytest.fixture
def config(consortium: Consortium, tmp_path: Path) -> Path:
    path = tmp_path / "bank.toml"
    path.write_text(f"""
[network]
rpc = "embedded"
registry = "{consortium.registry.address}"

[keys]
sender_address = "{consortium.verifier}"

[verifier.max_age_days]
DEPCERT = 30

[audit]
index = "audit.sqlite"
chunk = 50
""")
    return path


def test_all_valid_exits_0_and_records(consortium: Consortium, config: Path, files: list[Path]) -> None:
    result = run(config, "--json", "verify", *map(str, files), "--record", "--purpose", "mortgage")
    reports = as_json(result)
    assert [r["valid"] for r in reports] == [True, True, True]
    assert reports[0]["checks"][-1] == {"name": "fresh_enough", "outcome": "passed",
                                        "detail": reports[0]["checks"][-1]["detail"]}
    logs = consortium.registry.contract.events.VerificationRecorded().get_logs(from_block=0)
    assert len([log for log in logs if log["args"]["verifier"] == consortium.verifier]) >= 3


def test_any_invalid_exits_1_with_the_failed_check(consortium: Consortium, config: Path, files: list[Path]) -> None:
    digest = load_bundle(files[1].read_bytes()).document_digest()
    consortium.registry.transact(lambda f: f.revokeDocument(digest, RevocationReason.SUPERSEDED),
                                 consortium.issuer_admin)
    result = run(config, "verify", *map(str, files))
    assert result.exit_code == 1
    assert "INVALID" in result.output and "superseded" in result.output


def test_unusable_input_exits_2(config: Path, files: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert run(config, "verify", str(files[0]), str(broken)).exit_code == 2
    assert run(config, "verify", str(tmp_path / "missing.json")).exit_code == 2
    assert run(config, "verify", str(files[0]), "--record").exit_code == 2


def test_audit_sync_and_reports(consortium: Consortium, config: Path, files: list[Path], tmp_path: Path) -> None:
    first = as_json(run(config, "--json", "audit", "sync"))
    assert first["events"] > 0
    again = as_json(run(config, "--json", "audit", "sync"))
    assert again["events"] == 0 and again["fromBlock"] == first["toBlock"] + 1
    for fmt in ("html", "csv", "json"):
        out = tmp_path / f"report.{fmt}"
        assert run(config, "audit", "report", "--format", fmt, "--out", str(out)).exit_code == 0
        assert out.stat().st_size > 200
    assert json.loads((tmp_path / "report.json").read_text())["totals"]["documents"] >= 3
