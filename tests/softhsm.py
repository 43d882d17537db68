"""A real SoftHSM2 token for the tests, in a temporary directory named by ``SOFTHSM2_CONF``.

SoftHSM2 lists its tokens when the module is first loaded in a process: so every token is made here, before
crossverify loads the module. Child processes (the CLI tests) inherit ``SOFTHSM2_CONF`` and find the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pkcs11
from eth_account.signers.local import LocalAccount
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from crossverify.keys.pkcs11 import SECP256K1_PARAMS, TokenKeyRef
from crossverify.keys.softhsm import init_softhsm

TOKEN = "crossverify-test"
SPARE_TOKEN = "crossverify-spare"  # never logged in by the suite: its PIN is checked by the token itself
PIN = "246810"
SO_PIN = "13579111"


@dataclass(frozen=True)
class SoftHsm:
    """The initialised token with its user PIN; ``ref(label)`` names a key in it."""

    module: str
    token: str = TOKEN
    pin: str = PIN

    def ref(self, label: str, token: str | None = None) -> TokenKeyRef:
        return TokenKeyRef(self.module, token or self.token, label)


def start_softhsm(directory: Path, imported: dict[str, LocalAccount]) -> SoftHsm:
    """Initialise the tokens under ``directory`` and put test-only keys in the main one.

    ``imported`` keys are copied into the token under their label, so tests can compare the token's signatures
    with eth-account's for the same key; ``p256`` is a key on another curve.
    """
    module = init_softhsm(directory, [TOKEN, SPARE_TOKEN], PIN, SO_PIN)
    with pkcs11.lib(module).get_token(token_label=TOKEN).open(rw=True, user_pin=PIN) as session:
        for label, account in imported.items():
            _import_secp256k1(session, label, account)
        session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True,
        ).generate_keypair(store=True, label="p256")
    return SoftHsm(module)


def _import_secp256k1(session: pkcs11.Session, label: str, account: LocalAccount,
                      public_of: LocalAccount | None = None) -> None:
    """``account``'s private and public halves under ``label`` (the public half of ``public_of``: a damaged token)."""
    public = (public_of or account)._key_obj.public_key.to_bytes()
    common = {Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.KEY_TYPE: KeyType.EC,
              Attribute.EC_PARAMS: SECP256K1_PARAMS}
    session.create_object({**common, Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.VALUE: account.key,
                           Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.SIGN: True})
    session.create_object({**common, Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.VERIFY: True,
                           Attribute.EC_POINT: b"\x04\x41\x04" + public})
