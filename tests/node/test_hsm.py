"""The issuer with its signing key and its admin in a PKCS#11 token (SoftHSM2), over HTTP to a real node."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.base import BaseAccount
from eth_account.signers.local import LocalAccount

from crossverify.chain.connection import connect
from crossverify.consortium.operator import OperatorClient

from ..hsm_flow import issue_with_token_keys
from ..softhsm import SoftHsm


def test_issuance_with_keys_in_the_token_over_a_node(node_url: str, dev_accounts: list[LocalAccount],
                                                     softhsm: SoftHsm, tmp_path: Path) -> None:
    w3 = connect(node_url, chain_id=1337)
    banker, macao_key, guangdong_key = dev_accounts[7], dev_accounts[5], dev_accounts[6]
    macao = OperatorClient.deploy(w3, macao_key, [(macao_key.address, "MO"), (guangdong_key.address, "GD")])
    guangdong = OperatorClient(macao.registry, guangdong_key, macao.consortium)

    def fund(account: BaseAccount) -> None:
        tx = {"to": account.address, "value": 10**18, "gas": 21_000, "gasPrice": w3.eth.gas_price, "chainId": 1337,
              "nonce": w3.eth.get_transaction_count(banker.address, "pending")}
        w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(banker.sign_transaction(tx).raw_transaction))

    issue_with_token_keys(macao.registry, macao, guangdong, softhsm, tmp_path, "HSMNODEX", fund)
