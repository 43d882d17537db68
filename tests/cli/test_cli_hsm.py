"""The CLI with keys in a PKCS#11 token (SoftHSM2): generate, list, issue; every token failure exits 2 and leaves
the journal as it was."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crossverify.chain.records import ProposalKind
from crossverify.cli import main
from crossverify.errors import SigningFailed
from crossverify.keys.pkcs11 import TokenAccount

from ..conftest import Consortium, admission
from ..softhsm import SPARE_TOKEN, SoftHsm

ISSUER = "CLIHSMMO"


def write_config(c: Consortium, softhsm: SoftHsm, tmp: Path, tag: str) -> Path:
    path = tmp / "crossverify.toml"
    path.write_text(f"""
[network]
registry = "{c.registry.address}"

[keys.signer_pkcs11]
module = "{softhsm.module}"
token = "{softhsm.token}"
label = "cli signer {tag}"
pin_env = "TEST_HSM_PIN"

[keys.sender_pkcs11]
module = "{softhsm.module}"
token = "{softhsm.token}"
label = "cli admin {tag}"
pin_file = "hsm-pin"

[issuer]
id = "{ISSUER}"
journal = "var/journal.sqlite"
bundles = "var/bundles"
""")
    (tmp / "hsm-pin").write_text(softhsm.pin + "\n")
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env={"TEST_HSM_PIN": "246810", **(env or {})},
                              catch_exceptions=False)


def ok(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def certificates(c: Consortium, tmp: Path, n: int) -> str:
    path = tmp / "certificates.json"
    path.write_text(json.dumps([{"reference": f"hsm-{i}", "docType": "DEPCERT", "notAfter": c.now() + 86400 * 90,
                                 "claims": {"holder": f"HO Sio Mei {i}"}} for i in range(n)]))
    return str(path)


def test_keys_generated_in_the_token_listed_and_issuing(consortium: Consortium, softhsm: SoftHsm,
                                                       tmp_path: Path) -> None:
    c, config = consortium, write_config(consortium, softhsm, tmp_path, "flow")
    signer = ok(run(config, "--json", "keys", "new", "--hsm"))
    admin = ok(run(config, "--json", "keys", "new", "--hsm", "--role", "sender"))
    assert isinstance(signer, dict) and isinstance(admin, dict)
    assert signer["label"] == "cli signer flow" and admin["label"] == "cli admin flow"
    again = run(config, "keys", "new", "--hsm")
    assert again.exit_code == 2 and "already holds" in again.output

    listed = ok(run(config, "--json", "keys", "list"))
    assert [(e["role"], e["kind"], e["address"]) for e in listed] == [  # type: ignore[attr-defined]
        ("signer", "pkcs11", signer["address"]), ("sender", "pkcs11", admin["address"])]
    assert "PIN from env TEST_HSM_PIN" in listed[0]["where"]  # type: ignore[index]
    assert signer["address"] in run(config, "keys", "list").output  # whole, however narrow the terminal

    c.govern(ProposalKind.ADMIT_ISSUER, *admission(ISSUER, admin["address"], ["DEPCERT"]))
    c.w3.eth.send_transaction({"from": c.macao_operator, "to": admin["address"], "value": 10**18})
    assert ok(run(config, "--json", "issuer", "key", "add")) == {"added": signer["address"]}
    assert ok(run(config, "--json", "issuer", "issue", certificates(c, tmp_path, 30))) == {"journalled": 30}
    with pytest.MonkeyPatch.context() as unplugged:  # the HSM stops answering in the middle of a run
        unplugged.setattr(TokenAccount, "_sign", _unplugged)
        stopped = run(config, "issuer", "run")
        assert stopped.exit_code == 3 and "SigningFailed" in stopped.output
    assert ok(run(config, "--json", "issuer", "status")) == {"pending": 0, "sealed": 30}  # resumable
    report = ok(run(config, "--json", "issuer", "run"))
    assert isinstance(report, dict) and (report["anchored"], report["delivered"]) == (1, 30)
    bundle = tmp_path / "var" / "bundles" / ISSUER / "hsm-3.bundle.json"
    verified = CliRunner().invoke(main, ["--config", str(config), "--json", "verify", str(bundle)])
    assert verified.exit_code == 0, verified.output


def dump(journal: Path) -> list[str]:
    """Every row of the journal, as SQL (the file's bytes also depend on when SQLite checkpoints its WAL)."""
    with closing(sqlite3.connect(journal)) as db:
        return list(db.iterdump())


def _unplugged(self: TokenAccount, digest: bytes) -> None:
    raise SigningFailed(f"{self.ref}: the token could not sign (DeviceRemoved)")


def test_token_failures_exit_2_and_leave_the_journal_untouched(consortium: Consortium, softhsm: SoftHsm,
                                                               tmp_path: Path) -> None:
    c, config = consortium, write_config(consortium, softhsm, tmp_path, "failures")
    ok(run(config, "--json", "keys", "new", "--hsm"))
    ok(run(config, "--json", "keys", "new", "--hsm", "--role", "sender"))
    ok(run(config, "--json", "issuer", "issue", certificates(c, tmp_path, 5)))
    before = dump(tmp_path / "var" / "journal.sqlite")

    def signer(**changes: str) -> dict[str, str]:
        settings = {"module": softhsm.module, "token": softhsm.token, "label": "cli signer failures",
                    "pin_env": "TEST_HSM_PIN", **changes}
        return {"CROSSVERIFY_KEYS_SIGNER_PKCS11": json.dumps(settings)}

    cases = {  # a token's refusal by its name, as docs/deploy.md lists them
        "TokenPinIncorrect: token 'crossverify-spare' refused the PIN": {
            **signer(token=SPARE_TOKEN), "TEST_HSM_PIN": "000000"},
        "TokenPinIncorrect: token 'crossverify-test' is logged in with another PIN": {"TEST_HSM_PIN": "000000"},
        "TokenNotFound: no token labelled": signer(token="no such token"),
        "TokenKeyNotFound: token 'crossverify-test' holds no private key labelled": signer(label="no such key"),
        "TokenKeyWrongCurve: key 'p256' is on another curve": signer(label="p256"),
        "TokenModuleUnavailable: cannot load the PKCS#11 module": signer(module="/nonexistent/libpkcs11.so"),
        "TokenPinIncorrect: no token PIN": signer(pin_env="UNSET_HSM_PIN"),
        "never goes in the configuration": signer(pin="246810"),
        "more than one signer key": {"CROSSVERIFY_KEYS_SIGNER_KEYSTORE": "keys/signer.json"},
    }
    for expected, env in cases.items():
        result = run(config, "issuer", "run", env=env)
        assert result.exit_code == 2 and expected in result.output, (expected, result.output)
    assert dump(tmp_path / "var" / "journal.sqlite") == before
    assert ok(run(config, "--json", "issuer", "status")) == {"pending": 5}
