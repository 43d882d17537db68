"""``crossverify verify`` exit codes and output, and ``crossverify audit`` sync and reports."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crossverify import Bundle, RevocationReason, load_bundle
from crossverify.format.encoding import to_hex
from crossverify.format.presentation import present
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import CHECKS

from ..conftest import EXAMPLES, Consortium, deposit_certificates
from ..verifier.test_presentations import BANK, bound, holder, plain  # noqa: F401  (fixtures)
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
circulation = "{consortium.circulation.address}"

[keys]
sender_address = "{consortium.verifier}"

[verifier.max_age_days]
DEPCERT = 30

[audit]
index = "audit.sqlite"
chunk = 50

[display]
metadata = ["{EXAMPLES / "metadata"}"]
""")
    return path


def test_all_valid_exits_0_and_records(consortium: Consortium, config: Path, files: list[Path]) -> None:
    result = run(config, "--json", "verify", *map(str, files), "--record", "--purpose", "MORTGAGE", "--case",
                 "MTG-2027-7", "--in-person")
    reports = as_json(result)
    assert [r["valid"] for r in reports] == [True, True, True]
    assert reports[0]["checks"][-1] == {"name": "fresh_enough", "outcome": "passed",
                                        "detail": reports[0]["checks"][-1]["detail"]}
    mine = [r for r in consortium.opened_receipts() if r.purpose == "MORTGAGE"]
    assert {r.document_digest for r in mine} == {load_bundle(f.read_bytes()).document_digest() for f in files}
    assert {(r.consent.name, r.case_reference) for r in mine} == {("IN_PERSON", "MTG-2027-7")}
    assert {r["receipt"] for r in reports} == {to_hex(r.commitment()) for r in mine}  # in the one JSON document


def test_any_invalid_exits_1_with_the_failed_check(consortium: Consortium, config: Path, files: list[Path]) -> None:
    digest = load_bundle(files[1].read_bytes()).document_digest()
    consortium.registry.transact(lambda f: f.revokeDocument(digest, RevocationReason.SUPERSEDED),
                                 consortium.issuer_admin)
    result = run(config, "verify", *map(str, files))
    assert result.exit_code == 1
    invalid = result.output.split(files[1].name)[1].splitlines()
    assert invalid[0] == ": INVALID: 1 check failed" and invalid[1].startswith("  ✗ not_revoked: ")
    assert "superseded" in invalid[1]


def test_unusable_input_exits_2(config: Path, files: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert run(config, "verify", str(files[0]), str(broken)).exit_code == 2
    assert run(config, "verify", str(tmp_path / "missing.json")).exit_code == 2
    assert run(config, "verify", str(files[0]), "--record").exit_code == 2
    in_person = run(config, "verify", str(files[0]), "--record", "--purpose", "LOAN", "--in-person")
    assert in_person.exit_code == 2 and "--in-person needs --case" in in_person.output
    too_long = run(config, "verify", str(files[0]), "--record", "--purpose", "LOAN", "--in-person", "--case", "x" * 40)
    assert too_long.exit_code == 2 and "case reference" in too_long.output
    assert run(config, "verify", str(files[0]), "--attachment", f"x={tmp_path / 'missing.pdf'}").exit_code == 2


READING = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "v1.1-reading.json").read_text())


@pytest.mark.parametrize("name", ["invalid UTF-8", "too large", "nested 100,000 deep", "member twice", "NaN",
                                  "more digits than a double holds", "registry with a wrong EIP-55 checksum",
                                  "index written 1.0", "claim name not NFC", "salt reused",
                                  "attachment with a numeric hash name"])
def test_must_reject_vectors_exit_2_with_the_named_error(config: Path, files: list[Path], tmp_path: Path,
                                                         name: str) -> None:
    case = next(c for c in READING["mustReject"] if c["name"] == name)
    bad = tmp_path / "bad.json"
    if "hex" in case:
        bad.write_bytes(bytes.fromhex(case["hex"]))
    elif "text" in case:
        bad.write_bytes(case["text"].encode())
    elif "base" in case["generate"]:
        bad.write_bytes(case["generate"]["base"].encode().ljust(case["generate"]["padWithSpacesTo"]))
    else:
        bad.write_bytes((case["generate"]["repeat"] * case["generate"]["count"]).encode())
    result = run(config, "--json", "verify", str(files[0]), str(bad))
    assert result.exit_code == 2
    good, rejected = json.loads(result.stdout)
    assert good["valid"]
    assert rejected["checks"][0]["name"] == "bundle_well_formed"
    assert rejected["checks"][0]["detail"].startswith(case["error"] + ":")


def test_bundle_size_cap_is_configurable(config: Path, files: list[Path]) -> None:
    size = files[0].stat().st_size
    small = {"CROSSVERIFY_VERIFIER_MAX_BUNDLE_BYTES": str(size - 1)}
    result = run(config, "--json", "verify", str(files[0]), env=small)
    assert result.exit_code == 2 and "BundleTooLarge" in result.stdout
    assert run(config, "verify", str(files[0]), env={"CROSSVERIFY_VERIFIER_MAX_BUNDLE_BYTES": str(size)}).exit_code == 0
    assert run(config, "verify", str(files[0]), env={"CROSSVERIFY_VERIFIER_MAX_BUNDLE_BYTES": "0"}).exit_code == 2


def test_audit_sync_and_reports(consortium: Consortium, config: Path, files: list[Path], tmp_path: Path) -> None:
    never = run(config, "regulator", "report", "--out", str(tmp_path / "empty.html"))
    assert never.exit_code == 2 and "IndexNotSynced: " in never.output and (  # nothing to wait for: a command to run
        "never synced: run crossverify regulator sync first" in " ".join(never.output.split()))
    assert not (tmp_path / "empty.html").exists()
    first = as_json(run(config, "--json", "audit", "sync"))
    assert first["freshness"]["behind"] == 0
    assert first["events"] > 0
    again = as_json(run(config, "--json", "audit", "sync"))
    assert again["events"] == 0 and again["fromBlock"] == first["toBlock"] + 1
    for fmt in ("html", "csv", "json"):
        out = tmp_path / f"report.{fmt}"
        assert run(config, "audit", "report", "--format", fmt, "--out", str(out)).exit_code == 0
        assert out.stat().st_size > 200
    assert json.loads((tmp_path / "report.json").read_text())["totals"]["documents"] >= 3
    # with --json, stdout is one JSON document: where the report went, or the JSON report itself
    written = as_json(run(config, "--json", "regulator", "report", "--format", "csv", "--out", str(out)))
    assert written == {"format": "csv", "out": str(out), "freshness": written["freshness"]}
    assert written["freshness"]["behind"] == 0
    assert as_json(run(config, "--json", "regulator", "report", "--format", "json"))["totals"]["documents"] >= 3
    html = run(config, "--json", "regulator", "report")
    assert html.exit_code == 2 and html.stdout == "" and "give --format json, or --out" in html.output
    synced_first = run(config, "regulator", "report", "--sync", "--out", str(tmp_path / "synced.html"))
    assert synced_first.exit_code == 0 and "indexed 0 events" in synced_first.output


def test_purpose_without_record_is_refused(config: Path, files: list[Path]) -> None:
    """A purpose is only ever sealed into a receipt: given alone it would silently do nothing."""
    result = run(config, "verify", str(files[0]), "--purpose", "ACCTOPEN")
    assert result.exit_code == 2 and "--purpose is sealed into the receipts that --record records" in result.output


def test_a_record_refused_as_bad_input_leaves_the_residents_presentation_unused(
        config: Path, bound: list[Bundle], plain: list[Bundle], holder: ec.EllipticCurvePrivateKey,  # noqa: F811
        tmp_path: Path) -> None:
    """``verify --record`` refused as bad input (a valid bare bundle without ``--purpose``, an ``--in-person`` case
    that no receipt can carry) records nothing: the presentation beside it must not have used up its challenge,
    or the resident's consent could never be recorded (sent again, it reads as a replay)."""
    store = tmp_path / "challenges.sqlite"
    bank = {"CROSSVERIFY_VERIFIER_AUDIENCE": BANK, "CROSSVERIFY_VERIFIER_CHALLENGES": str(store)}
    now = int(time.time())
    challenges = ChallengeStore(store, BANK)
    presentation = tmp_path / "alice.presentation.json"
    presentation.write_text(present(bound[0], challenges.issue("ACCTOPEN", now), holder, now).dumps())
    challenges.close()
    bare = tmp_path / "bare.bundle.json"
    bare.write_text(plain[0].dumps())
    no_purpose = run(config, "verify", str(presentation), str(bare), "--record", env=bank)
    assert no_purpose.exit_code == 2 and "--record needs --purpose" in no_purpose.output
    too_long = run(config, "verify", str(presentation), "--record", "--in-person", "--case", "x" * 40, env=bank)
    assert too_long.exit_code == 2 and "case reference" in too_long.output
    recorded = run(config, "verify", str(presentation), "--record", env=bank)
    assert recorded.exit_code == 0 and "1 receipt recorded" in recorded.output, recorded.output


def test_the_verdict_comes_first_then_the_claims_by_their_labels(config: Path, files: list[Path]) -> None:
    result = run(config, "verify", files[0].as_posix(), env={"COLUMNS": "100"})
    lines = result.output.splitlines()
    assert result.exit_code == 0 and lines[0] == f"{files[0].name}: VALID"
    assert lines[1] == "  Deposit certificate · Banco Nacional Ultramarino (DEPCERT, BNUMMOMX)"
    assert lines[2].startswith("  issued ") and " · figures as of " in lines[2]
    claims = "\n".join(lines[3:])
    assert "Holder's name" in claims and "CHAN Tai Man 0" in claims and "MOP$1,000.00" in claims
    assert "9-101-000000-8" not in claims and "•-•••-•••000-8" in claims  # masked until asked for
    assert "anchored" not in result.output  # the checks that passed: with --verbose
    verbose = run(config, "verify", files[0].as_posix(), "--verbose", "--reveal", "--language", "zh-Hant",
                  env={"COLUMNS": "80"})
    assert "9-101-000000-8" in verbose.output and "存款結餘" in verbose.output and "MOP$1,000.00" in verbose.output
    assert "大西洋銀行" in verbose.output and all(name in verbose.output for name in CHECKS)  # whole, at 80 columns
    assert "  簽發日期 " in verbose.output and "issued" not in verbose.output  # the description in one language


def test_text_from_the_file_cannot_rewrite_the_clerks_screen(config: Path, files: list[Path], tmp_path: Path) -> None:
    """A forger's claim value, or member name in a check's detail or an error, may hold terminal control sequences
    (here: up to the verdict, erase it, write VALID): they are shown written out, never sent to the terminal."""
    rewrite = f"\x1b[4A\r\x1b[2K{files[0].name}: VALID\x1b[K\x9b3B"
    bundle = json.loads(files[0].read_text())
    next(c for c in bundle["claims"] if c["name"] == "holder_name")["value"] = "CHAN Tai Man" + rewrite
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(bundle))
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps({**bundle, rewrite: 1}))
    result = run(config, "verify", str(forged), str(malformed), env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "forged.json: INVALID" in result.output
    assert "malformed.json: INVALID" in result.output
    assert "\x1b" not in result.output and "\x9b" not in result.output
    shown = f"\\x1b[4A\\x0d\\x1b[2K{files[0].name}: VALID\\x1b[K\\x9b3B"
    assert "CHAN Tai Man" + shown.replace("\\x0d", " ") in result.output  # (a value's white space: one space)
    assert f"(at /{shown})" in result.output
    refused = run(config, "holder", "show", str(malformed))  # an error that quotes the file says it so too
    assert refused.exit_code == 2 and "\x1b" not in refused.output and f"(at /{shown})" in refused.output


def test_a_value_cannot_add_a_row_to_the_clerks_screen(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    """An address the resident gave the issuer may hold, after a line feed or enough spaces to fill the line, what
    reads as another claim's row: the issuer signs it, the resident withholds the real balance. White space in a
    value reads as one space, as on the page."""
    fakes = {"address": "Rua X, Macau\n Deposit balance  MOP$9,999,999.00",
             "address_2": "Rua X, Macau" + " " * 400 + "Deposit balance  MOP$9,999,999.00"}
    [(reference, certificate)] = deposit_certificates(consortium, 1)
    issuer = IssuerClient(consortium.registry, "BNUMMOMX", consortium.signing_key, consortium.issuer_admin,
                          Journal(tmp_path / "j.sqlite"), tmp_path / "bundles")
    issuer.issue([(reference, replace(certificate, claims={**certificate.claims, **fakes}))])
    [path] = issuer.run().delivered
    shown = tmp_path / "shown.json"
    shown.write_text(load_bundle(path.read_bytes()).redact(["balance_mop"]).dumps())
    for width in ("80", "200"):
        result = run(config, "verify", str(shown), env={"COLUMNS": width})
        assert result.exit_code == 0 and "shown.json: VALID" in result.output
        assert not [line for line in result.output.splitlines() if line.strip().startswith("Deposit balance")]
    assert result.output.count("Rua X, Macau Deposit balance MOP$9,999,999.00") == 2


def test_a_certificate_valid_until_the_registrys_last_second_is_read(config: Path, files: list[Path],
                                                                       tmp_path: Path) -> None:
    """Times run to 2^40 - 1 (the registry's uint40), far beyond Python's year 9999: a forged bundle saying so must
    not stop the clerk's run before the other residents' verdicts."""
    bundle = json.loads(files[0].read_text())
    bundle["document"]["notAfter"] = 2**40 - 1
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(bundle))
    result = run(config, "verify", str(forged), str(files[1]))
    assert result.exit_code == 1 and "forged.json: INVALID" in result.output, result.output
    assert "valid until 20 February 36812" in result.output and f"{files[1].name}: VALID" in result.output


def test_the_verdicts_come_before_what_was_recorded(config: Path, files: list[Path]) -> None:
    result = run(config, "verify", files[0].as_posix(), "--record", "--purpose", "KYC", "--case", "K-1")
    assert result.exit_code == 0 and result.output.startswith(f"{files[0].name}: VALID\n"), result.output
    assert result.output.index("VALID") < result.output.index("1 receipt recorded in 1 transaction")


def test_json_keeps_its_shape_and_adds_the_claims_and_names(config: Path, files: list[Path]) -> None:
    [report] = as_json(run(config, "--json", "verify", str(files[0]), "--language", "pt"))
    assert {"valid", "docType", "issuer", "documentDigest", "batchRoot", "purpose", "presentationHash",
            "checks"} <= set(report)
    assert report["disclosed"] == {"holder_name": "CHAN Tai Man 0", "account_no": "9-101-000000-8",
                                   "balance_mop": 1000}
    assert report["display"]["docTypeName"] == "Certificado de depósito"
    assert report["display"]["labels"]["balance_mop"]["pt"] == "Saldo do depósito"
    assert report["display"]["metadataRefused"] is None
