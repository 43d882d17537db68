"""The issuer with its signing key and its admin in a PKCS#11 token (SoftHSM2), on the embedded chain."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.base import BaseAccount

from crossverify.consortium.operator import OperatorClient

from ..conftest import Consortium
from ..hsm_flow import issue_with_token_keys
from ..softhsm import SoftHsm


def test_issuance_with_keys_in_the_token(consortium: Consortium, softhsm: SoftHsm, tmp_path: Path) -> None:
    c = consortium

    def fund(account: BaseAccount) -> None:
        c.w3.eth.send_transaction({"from": c.macao_operator, "to": account.address, "value": 10**18})

    issue_with_token_keys(c.registry, OperatorClient(c.registry, c.macao_operator, c.consortium),
                          OperatorClient(c.registry, c.guangdong_operator, c.consortium), softhsm, tmp_path, "HSMBANKX",
                          fund)
