"""The resident's commands and the bank's challenges, end to end through the CLI on the embedded chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crossverify.cli import main
from crossverify.format.codes import doc_type_code
from crossverify.format.display import HOLDER_KEY, holder_key
from crossverify.format.metadata import metadata_digest
from crossverify.keys.keystore import write_keystore

from ..conftest import Consortium
from .test_cli_issuer import PASSWORD, as_json, run

BANK = {"CROSSVERIFY_VERIFIER_AUDIENCE": "ICBKCNBJGDG"}


@pytest.fixture
def config(consortium: Consortium, tmp_path: Path) -> Path:
    write_keystore(consortium.signing_key, tmp_path / "keys" / "signer.json", PASSWORD)
    path = tmp_path / "crossverify.toml"
    path.write_text(f"""
[network]
rpc = "embedded"
registry = "{consortium.registry.address}"

[keys]
sender_address = "{consortium.macao_operator}"
signer_keystore = "keys/signer.json"
password_env = "TEST_KEYSTORE_PASSWORD"

[issuer]
id = "BNUMMOMX"
journal = "var/journal.sqlite"
bundles = "var/bundles"

[verifier]
challenges = "var/challenges.sqlite"
holder_binding = ["DEPCERT"]
""")
    return path


def test_consent_from_keygen_to_a_refused_replay(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    key = tmp_path / "alice.pem"
    made = as_json(run(config, "--json", "holder", "keygen", str(key)))
    assert key.stat().st_mode & 0o777 == 0o600 and made["cnf"]["jwk"]["crv"] == "P-256"
    assert run(config, "holder", "keygen", str(key)).exit_code == 2  # never overwrites a key
    assert as_json(run(config, "--json", "holder", "show", str(key))) == {"cnf": made["cnf"]}

    certificate = {"reference": "alice", "docType": "DEPCERT", "notAfter": consortium.now() + 86400 * 90,
                   "claims": {"holder_name": "CHAN Tai Man", "balance_mop": 125000, "cnf": made["cnf"]}}
    (tmp_path / "alice.json").write_text(json.dumps(certificate))
    as_json(run(config, "--json", "issuer", "issue", str(tmp_path / "alice.json")))
    as_json(run(config, "--json", "issuer", "run"))
    bundle = tmp_path / "var" / "bundles" / "BNUMMOMX" / "alice.bundle.json"
    shown = as_json(run(config, "--json", "holder", "show", str(bundle)))
    assert shown["holderBound"] and shown["redacted"] == 0

    bare = run(config, "--json", "verify", str(bundle), env=BANK)
    assert bare.exit_code == 1 and "holder_bound" in [c["name"] for c in json.loads(bare.stdout)[0]["checks"]
                                                      if c["outcome"] == "failed"]

    asked = tmp_path / "challenge.json"
    issued = as_json(run(config, "--json", "challenge", "--purpose", "ACCTOPEN", "--out", str(asked), env=BANK))
    assert issued["aud"] == "ICBKCNBJGDG" and json.loads(asked.read_text()) == issued
    presentation = tmp_path / "alice.presentation.json"
    answered = as_json(run(config, "--json", "holder", "present", str(bundle), "--key", str(key), "--challenge",
                           str(asked), "--redact", "balance_mop", "--out", str(presentation)))
    assert answered["disclosed"] == ["cnf", "holder_name"]
    verdict = as_json(run(config, "--json", "verify", str(presentation), env=BANK))[0]
    assert verdict["valid"] and verdict["purpose"] == "ACCTOPEN"

    replay = run(config, "--json", "verify", str(presentation), env=BANK)
    assert replay.exit_code == 1
    said = run(config, "verify", str(presentation), "--language", "pt", env={**BANK, "COLUMNS": "120"}).output
    assert "Chave do titular" in said and holder_key(made["cnf"], "pt") in said and "kty" not in said  # no raw JWK
    assert holder_key(made["cnf"], "pt").startswith("P-256 · ") and "ocultados pelo titular: 1" in said
    assert "Certificado de depósito" in said and "Nome do titular" in said  # the standard type's labels, although
    assert "labels not used" not in said  # this bank keeps no file of the issuer's registered name
    assert [c["name"] for c in json.loads(replay.stdout)[0]["checks"] if c["outcome"] == "failed"] == [
        "challenge_fresh"]
    elsewhere = run(config, "--json", "verify", str(presentation), env={"CROSSVERIFY_VERIFIER_AUDIENCE": "BKCHCNBJ"})
    assert [c["name"] for c in json.loads(elsewhere.stdout)[0]["checks"] if c["outcome"] == "failed"] == [
        "audience_matches"]


def test_the_holder_key_is_labelled_by_the_reader_whatever_the_metadata_says(consortium: Consortium, config: Path,
                                                                          tmp_path: Path) -> None:
    """Metadata that lists cnf (here as a deposit balance in MOP) does not label the holder's key: the page names
    it by its own words, and so does the clerk's output."""
    key = tmp_path / "alice.pem"
    made = as_json(run(config, "--json", "holder", "keygen", str(key)))
    labels = json.loads((Path(__file__).parents[2] / "src/crossverify/format/types/DEPCERT.json").read_text())
    labels["claims"].append({"name": "cnf", "kind": "amount", "currency": "MOP", "label": {
        "zh-Hant": "存款結餘", "zh-Hans": "存款余额", "pt": "Saldo do depósito", "en": "Deposit balance"}})
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "DEPCERT.json").write_text(json.dumps(labels, ensure_ascii=False))
    consortium.registry.transact(lambda f: f.setMetadataDigest(doc_type_code("DEPCERT"), metadata_digest(labels)),
                                 consortium.issuer_admin)
    config.write_text(config.read_text() + f'\n[display]\nmetadata = ["{tmp_path / "labels"}"]\n')
    certificate = {"reference": "alice", "docType": "DEPCERT", "notAfter": consortium.now() + 86400 * 90,
                   "claims": {"holder_name": "CHAN Tai Man", "cnf": made["cnf"]}}
    (tmp_path / "alice.json").write_text(json.dumps(certificate))
    as_json(run(config, "--json", "issuer", "issue", str(tmp_path / "alice.json")))
    as_json(run(config, "--json", "issuer", "run"))
    said = run(config, "verify", str(tmp_path / "var" / "bundles" / "BNUMMOMX" / "alice.bundle.json"),
               env={"COLUMNS": "200"}).output
    assert "Holder's name" in said and "labels not used" not in said  # the registered metadata is read
    [line] = [line for line in said.splitlines() if HOLDER_KEY["en"] in line]
    assert line.split() == [*HOLDER_KEY["en"].split(), *holder_key(made["cnf"], "en").split()]
    assert "Deposit balance" not in said


def test_holder_input_errors_exit_2(config: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    assert "NOT encrypted: set $CROSSVERIFY_HOLDER_PASSWORD" in run(config, "holder", "keygen", str(key)).output
    assert run(config, "challenge", "--purpose", "ACCTOPEN").exit_code == 2  # no [verifier] audience
    assert run(config, "challenge", "--purpose", "account opening", env=BANK).exit_code == 2
    for ttl in ("0", "-5", "3601"):  # a lifetime the bank's route refuses too (0 is none, not the default)
        refused = run(config, "challenge", "--purpose", "ACCTOPEN", "--ttl", ttl, env=BANK)
        assert refused.exit_code == 2 and "a challenge lives 1 to 3600 seconds" in refused.output, refused.output
    no_node = {**BANK, "CROSSVERIFY_NETWORK_RPC": "http://127.0.0.1:9"}  # nothing listens: a challenge needs no node
    assert as_json(run(config, "--json", "challenge", "--purpose", "KYC", env=no_node))["purpose"] == "KYC"
    (tmp_path / "b.json").write_text("{}")
    result = run(config, "holder", "present", str(tmp_path / "b.json"), "--key", str(key), "--challenge", "nonsense",
                 "--out", str(tmp_path / "p.json"))
    assert result.exit_code == 2 and "challenge" in result.output
    wrong = run(config, "holder", "show", str(key), env={"CROSSVERIFY_HOLDER_PASSWORD": "not the password"})
    assert wrong.exit_code == 2


def test_a_mistyped_challenge_file_is_named_as_missing(tmp_path: Path) -> None:
    """--challenge takes a file or the challenge's JSON text: a file name that does not exist is said to be missing,
    not read as JSON ('not valid JSON: Expecting value')."""
    key, bundle = tmp_path / "k.pem", tmp_path / "b.json"
    bundle.write_text("{}")
    CliRunner().invoke(main, ["holder", "keygen", str(key)], catch_exceptions=False)
    result = CliRunner().invoke(main, ["holder", "present", str(bundle), "--key", str(key), "--challenge",
                                       str(tmp_path / "challenge.jsn"), "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and f"no file {tmp_path / 'challenge.jsn'}" in result.output, result.output


def test_keygen_keeps_an_existing_claim_file(tmp_path: Path) -> None:
    """The claim file the issuer reads (holderKey) is not replaced by another key's claim: refused before the new
    key is written, so nothing is half made."""
    claim = tmp_path / "alice.cnf.json"
    claim.write_text("alice's claim")
    made = CliRunner().invoke(main, ["holder", "keygen", str(tmp_path / "new.pem"), "--claim", str(claim)])
    assert made.exit_code == 2 and "exists" in made.output, made.output
    assert claim.read_text() == "alice's claim" and not (tmp_path / "new.pem").exists()
