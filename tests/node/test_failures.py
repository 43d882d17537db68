"""What a real node does that eth-tester does not: reverts inside error objects, transactions that wait in a
mempool and can be replaced or dropped, two senders racing for one account's nonces, a kept-alive connection the
node closes while a signer works, and a node that is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from crossverify.chain import transactions
from crossverify.chain.connection import connect
from crossverify.chain.consortium import ConsortiumContract, encode_payload
from crossverify.chain.records import ProposalKind, Role
from crossverify.chain.registry import Registry
from crossverify.chain.transactions import submit, wait
from crossverify.errors import (
    ConsortiumNotOperator,
    ConsortiumUnknownProposal,
    ReceiptTimeout,
    RegistryNotFound,
    TransactionDropped,
    TransactionFailed,
    TransactionReplaced,
)

from .conftest import free_port, rpc
from .test_flow import Net


@pytest.fixture(scope="module")
def net(node_url: str, dev_accounts: list[LocalAccount]) -> Net:
    return Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))


@pytest.fixture
def manual_mining(node_url: str) -> Iterator[None]:
    """Transactions wait in the node's mempool until the test mines a block."""
    rpc(node_url, "evm_setAutomine", [False])
    try:
        yield
    finally:
        rpc(node_url, "evm_setAutomine", [True])
        rpc(node_url, "evm_mine")


def test_reverts_come_back_by_name(net: Net, dev_accounts: list[LocalAccount]) -> None:
    consortium = net.macao.consortium
    with pytest.raises(ConsortiumUnknownProposal) as unknown:
        consortium.transact(lambda f: f.approve(10_000), net.operator)  # type: ignore[arg-type]
    assert unknown.value.args_by_name == {"proposalId": 10_000}
    outsider = dev_accounts[7]
    with pytest.raises(ConsortiumNotOperator) as not_operator:
        consortium.transact(_admit_verifier(outsider.address), outsider)
    assert not_operator.value.args_by_name == {"account": outsider.address}
    with pytest.raises(ConsortiumUnknownProposal):
        consortium.call(lambda f: f.approve(10_000))


def test_an_address_without_code_is_not_a_registry(net: Net) -> None:
    with pytest.raises(RegistryNotFound, match=f"no registry at 0x{'12' * 20} on chain 1337"):
        Registry.found_at(net.w3, "0x" + "12" * 20)


def test_a_transaction_the_node_refuses_is_a_named_failure(net: Net) -> None:
    """An account without the balance its fees need: the node refuses the broadcast with an error object, which
    comes back as :class:`TransactionFailed` with the node's reason (the command line's exit 1), not web3's own
    exception (a traceback)."""
    priced = Registry.at(net.w3, net.registry.address, {"gasPrice": Web3.to_wei(1, "gwei")})
    with pytest.raises(TransactionFailed, match="enough funds"):
        priced.submit(lambda f: f.cryptoSuite(), Account.create())  # any call: its estimate passes


def _admit_verifier(account: str):  # type: ignore[no-untyped-def]
    payload = encode_payload(ProposalKind.ADMIT_MEMBER, account, Role.VERIFIER, bytes(32))
    return lambda f: f.propose(int(ProposalKind.ADMIT_MEMBER), payload)


def _transfer(w3: Web3, sender: LocalAccount, nonce: int, gas_price: int) -> bytes:
    tx = {"to": sender.address, "value": 0, "gas": 21_000, "gasPrice": gas_price, "nonce": nonce, "chainId": 1337}
    return bytes(w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction))


def test_a_transaction_that_fails_on_chain_says_why(net: Net, node_url: str, dev_accounts: list[LocalAccount]
                                                    ) -> None:
    """An approval whose estimate passed, mined after its proposal expired: the failure names the contract's error,
    as a revert its estimate had found would, not only "reverted on chain"."""
    snapshot = rpc(node_url, "evm_snapshot")
    try:
        proposal = net.macao.propose_admit_member(dev_accounts[6].address, Role.VERIFIER)
        rpc(node_url, "evm_setAutomine", [False])
        sent = net.macao.consortium.submit(lambda f: f.approve(proposal), dev_accounts[1])
        rpc(node_url, "evm_increaseTime", [100 * 86400])
        rpc(node_url, "evm_mine")
        with pytest.raises(TransactionFailed, match=r"reverted on chain .*: ConsortiumProposalExpired\(proposalId="):
            net.macao.consortium.wait(sent)
    finally:
        rpc(node_url, "evm_setAutomine", [True])
        rpc(node_url, "evm_revert", [snapshot])


def test_a_replaced_transaction_is_named_as_soon_as_its_nonce_is_taken(
        net: Net, node_url: str, dev_accounts: list[LocalAccount], manual_mining: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    operator, outcome = dev_accounts[0], []
    sent = net.macao.consortium.submit(_admit_verifier(dev_accounts[6].address), operator)
    nonce = net.w3.eth.get_transaction(sent)["nonce"]
    looked_up, get_transaction = threading.Event(), net.w3.eth.get_transaction

    def observed(tx_hash: object) -> object:
        found = get_transaction(tx_hash)  # type: ignore[arg-type]
        looked_up.set()
        return found

    def waiting() -> None:
        try:
            wait(net.w3, sent, timeout=60)
        except Exception as exc:  # asserted below
            outcome.append(exc)

    monkeypatch.setattr(net.w3.eth, "get_transaction", observed)
    waiter = threading.Thread(target=waiting)
    waiter.start()
    assert looked_up.wait(10)  # the waiter has seen the pending transaction (else the race makes it "dropped")
    _transfer(net.w3, operator, nonce, Web3.to_wei(1, "gwei"))  # same nonce, higher price: replaces it
    rpc(node_url, "evm_mine")
    waiter.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], TransactionReplaced), outcome
    assert f"nonce {nonce}" in str(outcome[0])


def test_a_dropped_transaction_is_named(net: Net, node_url: str, dev_accounts: list[LocalAccount],
                                        manual_mining: None) -> None:
    sent = net.macao.consortium.submit(_admit_verifier(dev_accounts[6].address), dev_accounts[0])
    rpc(node_url, "hardhat_dropTransaction", ["0x" + sent.hex()])
    with pytest.raises(TransactionDropped):
        wait(net.w3, sent, timeout=60)


def test_look_ups_the_node_answers_with_an_error_are_made_again(net: Net, dev_accounts: list[LocalAccount],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """geth after a restart answers a transaction's look-ups with "transaction indexing is in progress": a wait
    asks again, and neither gives up with web3's own exception nor takes the transaction for dropped (which
    would have its batches or receipts sent again); a node that never answers runs out the wait, named."""
    monkeypatch.setattr(transactions, "UNSEEN_GRACE", 0.1)
    sent = net.macao.consortium.submit(_admit_verifier(dev_accounts[6].address), dev_accounts[0])
    indexed_at = [time.monotonic() + 0.5]  # past the grace: errors are not "the node does not know it"

    def indexing(look_up: Any, error: Exception) -> Any:
        def answer(*args: Any) -> Any:
            if time.monotonic() < indexed_at[0]:
                raise error
            return look_up(*args)
        return answer

    in_progress = Web3RPCError("{'code': -32000, 'message': 'transaction indexing is in progress'}")
    for name, error in (("get_transaction_receipt", TransactionNotFound("not found")),
                        ("get_transaction", in_progress), ("get_transaction_count", in_progress)):
        monkeypatch.setattr(net.w3.eth, name, indexing(getattr(net.w3.eth, name), error))
    assert wait(net.w3, sent, timeout=30)["status"] == 1
    indexed_at[0] = float("inf")
    with pytest.raises(ReceiptTimeout, match="indexing is in progress"):
        wait(net.w3, sent, timeout=0.5)


def test_concurrent_senders_share_one_account_without_nonce_clashes(net: Net, dev_accounts: list[LocalAccount]
                                                                     ) -> None:
    operator, errors, receipts = dev_accounts[0], [], []

    def propose(i: int) -> None:
        consortium = ConsortiumContract.at(connect(net.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
                                           net.macao.consortium.address)
        for j in range(5):
            account = Web3.to_checksum_address(f"0x{i:02x}{j:02x}" + "ab" * 18)
            try:
                receipts.append(consortium.transact(_admit_verifier(account), operator))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=propose, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(receipts) == 15


def test_a_signer_slower_than_the_nodes_keep_alive_still_broadcasts_once(net: Net, dev_accounts: list[LocalAccount]
                                                                         ) -> None:
    """Hardhat closes an idle connection after 5 s; a signer (a busy network HSM) takes 6: the connection the nonce
    was read on is gone when the transaction is signed, and the broadcast goes out on a new one."""
    account = dev_accounts[8]

    class SlowToken:
        address = account.address

        def sign_transaction(self, tx: dict[str, object]) -> object:
            time.sleep(6)
            return account.sign_transaction(tx)

    nonce = net.w3.eth.get_transaction_count(account.address)
    tx_hash = submit(net.w3, {"to": account.address, "data": b""}, SlowToken(), {"gasPrice": 0})  # type: ignore[arg-type]
    assert wait(net.w3, tx_hash, 30)["status"] == 1
    assert net.w3.eth.get_transaction_count(account.address) == nonce + 1


def test_an_unreachable_node_exits_3(tmp_path: Path) -> None:
    config = tmp_path / "bank.toml"
    config.write_text(f'[network]\nrpc = "http://127.0.0.1:{free_port()}"\nregistry = "0x{"12" * 20}"\n'
                      "timeout = 2\nretries = 0\n")
    (tmp_path / "b.json").write_text("{}")
    result = subprocess.run([sys.executable, "-m", "crossverify.cli", "--config", str(config), "audit", "sync"],
                            capture_output=True, text=True, env=os.environ, timeout=60, check=False)
    assert result.returncode == 3, result.stderr
    assert "NodeUnavailable" in result.stderr


def test_a_registry_address_without_code_exits_3(node_url: str, tmp_path: Path) -> None:
    config = tmp_path / "bank.toml"
    config.write_text(f'[network]\nrpc = "{node_url}"\nregistry = "0x{"12" * 20}"\n')
    result = subprocess.run([sys.executable, "-m", "crossverify.cli", "--config", str(config), "audit", "sync"],
                            capture_output=True, text=True, env=os.environ, timeout=60, check=False)
    assert result.returncode == 3, result.stderr
    assert "no registry at" in result.stderr
