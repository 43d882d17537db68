"""A real SoftHSM2 token for the tests, in a temporary directory named by ``SOFTHSM2_CONF``.

SoftHSM2 reads ``SOFTHSM2_CONF`` and scans its token directory when the module is initialised, which happens once
per process: so every token is made here, before crossverify loads the module. Child processes (the CLI tests)
inherit the variable and find the same tokens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pkcs11
from eth_account.signers.local import LocalAccount
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from crossverify.keys.pkcs11 import SECP256K1_PARAMS, TokenKeyRef

#: Where Debian's ``softhsm2`` package (and a build from source) puts the module.
MODULE_PATHS = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
]
TOKEN = "crossverify-test"
SPARE_TOKEN = "crossverify-spare"  # never logged in by the suite: its PIN is checked by the token itself
PIN = "246810"
SO_PIN = "13579111"


@dataclass(frozen=True)
class SoftHsm:
    """One initialised token with its user PIN; ``ref(label)`` names a key in it."""

    module: str
    conf: Path
    token: str = TOKEN
    pin: str = PIN

    def ref(self, label: str, token: str | None = None) -> TokenKeyRef:
        return TokenKeyRef(self.module, token or self.token, label)


def find_module() -> str | None:
    return next((p for p in MODULE_PATHS if Path(p).exists()), None)


def start_softhsm(directory: Path, imported: dict[str, LocalAccount]) -> SoftHsm:
    """Initialise the tokens under ``directory`` and put test-only keys in the main one.

    ``imported`` keys are copied into the token under their label, so tests can compare the token's signatures
    with eth-account's for the same key; ``p256`` is a key on another curve.
    """
    module = find_module()
    if module is None or shutil.which("softhsm2-util") is None:
        raise RuntimeError("SoftHSM2 is not installed: run ./scripts/setup (it installs the Debian package softhsm2)")
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in (TOKEN, SPARE_TOKEN):
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN,
                        "--so-pin", SO_PIN], check=True, capture_output=True)
    with pkcs11.lib(module).get_token(token_label=TOKEN).open(rw=True, user_pin=PIN) as session:
        for label, account in imported.items():
            _import_secp256k1(session, label, account)
        session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True,
        ).generate_keypair(store=True, label="p256")
    return SoftHsm(module, conf)


def _import_secp256k1(session: pkcs11.Session, label: str, account: LocalAccount) -> None:
    public = account._key_obj.public_key.to_bytes()
    common = {Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.KEY_TYPE: KeyType.EC,
              Attribute.EC_PARAMS: SECP256K1_PARAMS}
    session.create_object({**common, Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.VALUE: account.key,
                           Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.SIGN: True})
    session.create_object({**common, Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.VERIFY: True,
                           Attribute.EC_POINT: b"\x04\x41\x04" + public})
