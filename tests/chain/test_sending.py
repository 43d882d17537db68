"""Sending transactions by bare JSON-RPC: the calldata web3 would write, the fields web3 would fill, a broadcast never
repeated on a new connection, and a named error where a chain gives nothing to fill a field with."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3RPCError

from crossverify.chain import registry as registry_module
from crossverify.chain.connection import JsonRpc, rpc
from crossverify.chain.transactions import GAS_BUFFER, submit
from crossverify.errors import NodeUnavailable, TransactionFailed
from crossverify.format.batch import salt_document, seal_batch
from crossverify.format.hashing import HashAlgorithm
from crossverify.sealing import Receipt, seal_receipts

from ..conftest import Consortium, deposit_certificates, labelled_regulator_key, labelled_test_key


def test_calldata_is_what_web3_encodes(consortium: Consortium, gm_consortium: Consortium,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every transaction of an anchoring (a struct), a governance round (bytes, integers), the regulators' keys
    (arrays of bytes) and a batch of receipts (bytes32[], bytes), in both suites, carries the bytes web3's own
    encoding writes for the same call."""
    encoded = registry_module._calldata
    seen: list[str] = []

    def checked(w3: Web3, fn: Any) -> dict[str, Any]:
        ours = encoded(w3, fn)
        theirs = w3.eth.contract(abi=fn.contract_abi).encode_abi(fn.abi_element_identifier, args=fn.args)
        assert ours["data"].hex() == theirs.removeprefix("0x"), fn.abi_element_identifier
        assert ours["to"] == fn.address
        seen.append(fn.fn_name)
        return ours

    monkeypatch.setattr(registry_module, "_calldata", checked)
    for c in (consortium, gm_consortium):
        batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256) for _, cert in deposit_certificates(c, 4)])
        c.anchor(batch.root, leaf_count=4)
    consortium.set_regulator_keys([labelled_regulator_key("sending-1"), labelled_regulator_key("sending-2")],
                                  ["MO", "CN"])
    receipts = [Receipt.new(bytes([i]) * 32, "BNUMMOMX", "DEPCERT", b"\x01" * 32, "ACCTOPEN", 1_790_000_000 + i)
                for i in range(3)]
    sealed = seal_receipts(receipts, [k.public_key for k in consortium.regulator_keys]).sealed
    consortium.circulation.transact(
        lambda f: f.recordSealedReceipts([r.commitment() for r in receipts], sealed), consortium.verifier)
    assert {"anchor", "anchorSM2", "propose", "approve", "recordSealedReceipts"} <= set(seen)


def test_a_signed_transaction_carries_the_fields_web3_fills(consortium: Consortium) -> None:
    """EIP-1559 fees from the node (its priority fee, and twice the base fee more), the chain id, the pending nonce,
    the estimate and the buffer; a configured gas price makes it a legacy transaction instead."""
    c, account = consortium, labelled_test_key("sending-signer")
    c.w3.eth.send_transaction({"from": c.macao_operator, "to": account.address, "value": 10**18})
    node = rpc(c.w3)
    latest = c.w3.eth.get_block("latest")
    dynamic = c.w3.eth.get_transaction(submit(c.w3, {"to": c.outsider, "data": b""}, account, {}))
    assert (dynamic["type"], dynamic["chainId"], dynamic["nonce"]) == (2, c.w3.eth.chain_id, 0)
    assert dynamic["maxPriorityFeePerGas"] == c.w3.eth.max_priority_fee
    assert dynamic["maxFeePerGas"] == c.w3.eth.max_priority_fee + 2 * latest["baseFeePerGas"]
    assert dynamic["gas"] == c.w3.eth.estimate_gas({"from": account.address, "to": c.outsider}) + GAS_BUFFER
    legacy = c.w3.eth.get_transaction(submit(c.w3, {"to": c.outsider, "data": b""}, account,
                                             {"gasPrice": 2 * latest["baseFeePerGas"]}))
    assert (legacy["type"], legacy["gasPrice"], legacy["nonce"]) == (0, 2 * latest["baseFeePerGas"], 1)
    assert node.chain_id() == c.w3.eth.chain_id


def test_a_node_without_a_priority_fee_method_is_given_web3s_estimate(consortium: Consortium,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    c, account = consortium, labelled_test_key("sending-history")
    c.w3.eth.send_transaction({"from": c.macao_operator, "to": account.address, "value": 10**18})
    asked = JsonRpc.__call__

    def without(self: JsonRpc, method: str, params: Any) -> Any:
        if method == "eth_maxPriorityFeePerGas":
            raise Web3RPCError("eth_maxPriorityFeePerGas: the method does not exist",
                               rpc_response={"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}})
        return asked(self, method, params)

    monkeypatch.setattr(JsonRpc, "__call__", without)
    sent = c.w3.eth.get_transaction(submit(c.w3, {"to": c.outsider, "data": b""}, account, {}))
    assert sent["maxPriorityFeePerGas"] == c.w3.eth.max_priority_fee


def test_a_chain_without_base_fees_needs_a_gas_price(consortium: Consortium, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is signed or sent: the error says what to configure."""
    c, account = consortium, labelled_test_key("sending-no-base-fee")
    c.w3.eth.send_transaction({"from": c.macao_operator, "to": account.address, "value": 10**18})
    batch = JsonRpc.batch
    nonce = c.w3.eth.get_transaction_count(account.address)

    def without_base_fee(self: JsonRpc, calls: Any) -> list[Any]:
        answers = batch(self, calls)
        return [{k: v for k, v in a.items() if k != "base_fee_per_gas"} if isinstance(a, dict) else a
                for a in answers]

    monkeypatch.setattr(JsonRpc, "batch", without_base_fee)
    with pytest.raises(TransactionFailed, match="no base fee: configure a gas price"):
        submit(c.w3, {"to": c.outsider, "data": b""}, account, {})
    assert c.w3.eth.get_transaction_count(account.address, "pending") == nonce


def test_a_transaction_beyond_the_block_gas_limit_is_refused_unsent(consortium: Consortium,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose estimate exceeds its own block's limit (a chain whose limit fell meanwhile)."""
    c = consortium
    batch = JsonRpc.batch
    before = c.w3.eth.block_number

    def beyond(self: JsonRpc, calls: Any) -> list[Any]:
        _, latest = batch(self, calls)
        return [latest["gas_limit"] + 1, latest]

    monkeypatch.setattr(JsonRpc, "batch", beyond)
    with pytest.raises(TransactionFailed, match="beyond the block's limit"):
        submit(c.w3, {"to": c.outsider, "data": b""}, c.macao_operator, {})
    assert c.w3.eth.block_number == before


@pytest.fixture
def closing_node() -> Iterator[tuple[str, list[str]]]:
    """A node that answers each connection's first request, keeping it alive, then closes it unannounced (as a
    node's idle time-out does): the methods it received, in order."""
    received: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                request = json.loads(body)
                received.append(request["method"])
                answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x539"}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(answer) + answer)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    server.close()


def test_a_broadcast_is_never_sent_again_on_a_new_connection(closing_node: tuple[str, list[str]]) -> None:
    """A read the node's closed connection did not answer is asked again on a new one; a broadcast is not (the node
    may have taken it): it fails as unavailable, and the node saw it at most once."""
    url, received = closing_node
    node = JsonRpc(Web3(HTTPProvider(url)))
    assert node("eth_chainId", []) == "0x539"
    assert node("eth_chainId", []) == "0x539"  # the closed connection noticed, the read asked again
    with pytest.raises(NodeUnavailable):
        node.send("eth_sendRawTransaction", ["0x" + Account.create().sign_transaction(
            {"to": "0x" + "00" * 20, "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": 0, "chainId": 1337}
        ).raw_transaction.hex()])
    assert received.count("eth_sendRawTransaction") <= 1
    assert received == ["eth_chainId", "eth_chainId"]
