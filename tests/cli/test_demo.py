"""The main job end to end, and the promise behind it: nothing personal reaches the chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account.signers.base import BaseAccount
from rich.console import Console

from crossverify.chain.registry import Registry
from crossverify.cli import main
from crossverify.demo import run_demo
from crossverify.format.canonical import canonical_claim
from crossverify.format.codes import doc_type_code
from crossverify.format.suite import Suite
from crossverify.keys.pkcs11 import generate_token_key
from crossverify.sealing import Receipt

from ..conftest import Consortium
from ..softhsm import SoftHsm


def test_demo_story_and_no_personal_data_on_chain(consortium: Consortium, tmp_path: Path) -> None:
    w3 = consortium.w3
    first_block = w3.eth.block_number + 1
    result = run_demo(tmp_path, certificates=150, console=Console(file=(tmp_path / "out.txt").open("w")))

    assert result.issued == result.genuine_valid == 150
    assert [check for _, check, _ in result.failures] == [
        "proof_leads_to_root", "proof_leads_to_root", "anchored", "not_revoked", "not_revoked", "not_expired",
        "key_not_compromised"]
    assert "superseded" in result.failures[4][2] and "withdrawn" in result.failures[3][2]
    assert [check for _, check in result.consent] == ["", "holder_bound", "audience_matches", "challenge_fresh"]
    assert [(r.purpose, r.consented) for r in result.traced] == [("ACCTOPEN", True)]
    assert result.dispute == ("confirmed_genuine", True)
    assert result.report is not None
    # The lawful flow raises nothing; each planted incident shows exactly once, explained.
    assert sorted((g["kind"], g["count"]) for g in result.report.anomalies) == sorted(
        (kind, 1) for kind in result.planted) and len(result.planted) == 5
    assert all(g["meaning"] and g["nextStep"] and g["examples"] for g in result.report.anomalies)
    circulation = result.report.circulation
    assert circulation is not None and circulation["receipts"] == 150 + 1 + 4 and circulation["withoutConsent"] == 1
    [dispute] = circulation["disputes"]
    assert (dispute["reason"], dispute["state"]) == ("statement_mismatch", "confirmed_genuine")
    assert "<svg" in (tmp_path / "audit-report.html").read_text()
    story = " ".join((tmp_path / "out.txt").read_text().split())
    assert "add operator" in story and "for Hong Kong (HK) (1 of 2 approvals, needs Guangdong)" in story
    assert "Hong Kong joins: 3 operators" in story and "Hong Kong leaves again: 2 operators" in story
    assert "1 of 2 approvals, needs Macao and Guangdong" in story
    assert "circulation of the resident's document" in story and "Guangdong Bank A" in story
    assert "statement mismatch about BNUMMOMX's document; confirmed genuine after" in story

    chain = bytearray()
    for number in range(first_block, w3.eth.block_number + 1):
        for tx_hash in w3.eth.get_block(number)["transactions"]:
            chain += bytes(w3.eth.get_transaction(tx_hash)["input"])  # type: ignore[arg-type]
            for log in w3.eth.get_transaction_receipt(tx_hash)["logs"]:  # type: ignore[arg-type]
                chain += bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"])
    # at least every sealed receipt's commitment and body was scanned
    assert len(chain) > 150 * (32 + Receipt.body_bytes())
    assert len(result.salts) > 150 * 5
    leaked_salts = [s for s in result.salts if s in chain]
    assert leaked_salts == []
    needles = {canonical_claim("", v)[4:-1] for v in result.claim_values}  # each value's canonical JSON
    needles |= {v.encode() for v in result.claim_values if isinstance(v, str)}
    leaked = [n for n in needles if len(n) >= 6 and bytes(n) in chain]
    assert leaked == []
    # Receipts and the dispute name no document and no purpose: neither a receipted or disputed document's digest
    # (only a revocation puts a digest on chain, by design) nor a purpose code, as text or as bytes8.
    topic = w3.keccak(text="DocumentRevoked(bytes32,bytes11,address,uint8,address)")
    logs = w3.eth.get_logs({"fromBlock": first_block, "address": result.registry_address})
    revoked = {bytes(log["topics"][1]) for log in logs if log["topics"][0] == topic}
    digests = set(result.receipted) - revoked
    assert len(digests) >= 140
    assert [d for d in digests if d in chain] == []
    assert [p for p in result.purposes if doc_type_code(p) in chain or (len(p) >= 6 and p.encode() in chain)] == []


def test_demo_with_signing_keys_in_a_token(consortium: Consortium, softhsm: SoftHsm, tmp_path: Path) -> None:
    def in_token(issuer_id: str) -> BaseAccount:
        return generate_token_key(softhsm.ref(f"demo {issuer_id}"), softhsm.pin)

    result = run_demo(tmp_path, certificates=60, console=Console(file=(tmp_path / "out.txt").open("w")),
                      signing_key=in_token)
    assert result.issued == result.genuine_valid == 60
    assert [check for _, check, _ in result.failures][-1] == "key_not_compromised"  # reported from the token key
    assert "in token 'crossverify-test' as 'demo BNUMMOMX'" in (tmp_path / "out.txt").read_text()


def test_demo_hsm_flag_makes_its_own_softhsm_token(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "crossverify.cli", "demo", "--hsm", "--certificates", "30",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "lives in token 'crossverify-demo' as 'LUSOMOMX anchor key'" in done.stdout
    assert (tmp_path / "out" / "softhsm" / "softhsm2.conf").exists()


@pytest.mark.parametrize("count", ["0", "11"])
def test_too_few_certificates_for_the_story_are_refused(count: str, tmp_path: Path) -> None:
    """The story's failures take five of BNU's certificates (40% of them): fewer is a named error, not a traceback
    (0) or a story whose superseded certificate passes (11)."""
    done = CliRunner().invoke(main, ["demo", "--certificates", count, "--out", str(tmp_path / "out")])
    assert done.exit_code == 2 and "--certificates" in done.output and "12" in done.output, done.output
    assert not (tmp_path / "out").exists()


def test_the_demo_empties_only_a_folder_of_its_own(tmp_path: Path) -> None:
    """--out is emptied first: a folder holding anything else (a mistyped --out ., a home folder) is refused, and
    left as it was; the demo's own folder is emptied and written again."""
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    done = CliRunner().invoke(main, ["demo", "--certificates", "12", "--out", str(tmp_path)])
    assert done.exit_code == 2 and "not a demo's" in done.output, done.output
    assert mine.read_text() == "mine"
    out = tmp_path / "out"
    for json_flag in ([], ["--json"]):
        done = CliRunner().invoke(main, [*json_flag, "demo", "--certificates", "12", "--out", str(out)])
        assert done.exit_code == 0 and (out / "audit-report.html").exists(), done.output
    said = json.loads(done.stdout)  # --json: stdout is one JSON document, the story went to stderr
    assert (said["issued"], said["genuineValid"], said["report"]) == (12, 12, str(out / "audit-report.html"))
    assert [f["check"] for f in said["failures"]][-1] == "key_not_compromised" and len(said["anomalies"]) == 5
    assert "The consortium" in done.stderr


def test_the_demo_story_in_the_gm_suite(consortium: Consortium, tmp_path: Path,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    """The same story with SM3, SM2 and SM4 only: SM2 issuer keys verified on chain, SM2 regulator and holder keys,
    receipts and the dispute sealed with SM2 and SM4-GCM; nothing on standard error (the regulators' trial
    decryptions of parts sealed to each other print no library trace)."""
    result = run_demo(tmp_path, certificates=40, console=Console(file=(tmp_path / "out.txt").open("w")),
                      suite=Suite.GM)
    assert Registry.at(consortium.w3, result.registry_address).crypto_suite() is Suite.GM
    assert result.issued == result.genuine_valid == 40
    assert [check for _, check, _ in result.failures] == [
        "proof_leads_to_root", "proof_leads_to_root", "anchored", "not_revoked", "not_revoked", "not_expired",
        "key_not_compromised"]
    assert [check for _, check in result.consent] == ["", "holder_bound", "audience_matches", "challenge_fresh"]
    assert [(r.purpose, r.consented) for r in result.traced] == [("ACCTOPEN", True)]
    assert result.dispute == ("confirmed_genuine", True)
    assert result.report is not None
    assert sorted((g["kind"], g["count"]) for g in result.report.anomalies) == sorted(
        (kind, 1) for kind in result.planted)
    story = " ".join((tmp_path / "out.txt").read_text().split())
    assert "the GM suite, for ever" in story and "its signing key lives in process memory (an SM2 key)" in story
    assert "the registry refused the forger's anchor: RegistryUnknownKey" in story
    bundle = next((tmp_path / "bundles").rglob("*.bundle.json")).read_text()
    assert '"hashAlg":"sm3"' in bundle.replace(" ", "")
    assert capfd.readouterr().err == ""
