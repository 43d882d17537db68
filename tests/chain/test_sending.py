"""Sending transactions by bare JSON-RPC: the calldata web3 would write, the fields web3 would fill, a broadcast never
repeated on a new connection, and a named error where a chain gives nothing to fill a field with."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3RPCError

from crossverify.chain import registry as registry_module
from crossverify.chain.connection import JsonRpc, rpc
from crossverify.chain.transactions import GAS_BUFFER, TX_GAS_CAP, submit
from crossverify.chain.typed_data import Domain
from crossverify.errors import DomainMismatch, NodeUnavailable, TransactionFailed
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
    assert dynamic["gas"] == c.w3.eth.estimate_gas({"from": account.address, "to": c.outsider})
    legacy = c.w3.eth.get_transaction(submit(c.w3, {"to": c.outsider, "data": b""}, account,
                                             {"gasPrice": 2 * latest["baseFeePerGas"]}))
    assert (legacy["type"], legacy["gasPrice"], legacy["nonce"]) == (0, 2 * latest["baseFeePerGas"], 1)
    assert node.chain_id() == c.w3.eth.chain_id


def test_a_node_account_is_given_a_buffer_within_a_transactions_cap(consortium: Consortium,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """As web3 gives it: the estimate and 100,000 more; but never beyond the 2^24 gas a chain may cap one
    transaction at (a batch whose estimate lies just below the cap would be refused on every retry)."""
    c = consortium
    estimate = c.w3.eth.estimate_gas({"from": c.macao_operator, "to": c.outsider})
    sent = c.w3.eth.get_transaction(submit(c.w3, {"to": c.outsider, "data": b""}, c.macao_operator, {}))
    assert sent["gas"] == estimate + GAS_BUFFER
    batch = JsonRpc.batch

    def near_the_cap(self: JsonRpc, calls: Any) -> list[Any]:
        _, latest = batch(self, calls)
        return [TX_GAS_CAP - 50_000, {**latest, "gas_limit": 4 * TX_GAS_CAP}]

    monkeypatch.setattr(JsonRpc, "batch", near_the_cap)
    sent = c.w3.eth.get_transaction(submit(c.w3, {"to": c.outsider, "data": b""}, c.macao_operator, {}))
    assert sent["gas"] == TX_GAS_CAP


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

    asked: list[str] = []
    call = JsonRpc.__call__

    def recorded(self: JsonRpc, method: str, params: Any) -> Any:
        asked.append(method)
        return call(self, method, params)

    monkeypatch.setattr(JsonRpc, "batch", without_base_fee)
    monkeypatch.setattr(JsonRpc, "__call__", recorded)
    with pytest.raises(TransactionFailed, match="no base fee: configure a gas price"):
        submit(c.w3, {"to": c.outsider, "data": b""}, account, {})
    assert c.w3.eth.get_transaction_count(account.address, "pending") == nonce
    assert "eth_maxPriorityFeePerGas" not in asked  # (a node without fees may not have the method either)


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


@dataclass
class ClosingNode:
    """A node on a bare socket that answers ``0x539`` to every request, keeping the connection alive, except that it
    closes a connection unannounced after answering (``idle_close``: as a node's idle time-out does), or on reading
    a request of a method in ``unanswered`` (each entry once; ``reset``: with an RST rather than a FIN).
    ``received``: the methods it read, in order."""

    url: str = ""
    idle_close: bool = False
    unanswered: list[str] = field(default_factory=list)
    reset: bool = False
    received: list[str] = field(default_factory=list)


def _request(conn: socket.socket) -> dict[str, Any] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        if not (chunk := conn.recv(65536)):
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.fixture
def closing_node() -> Iterator[ClosingNode]:
    node, server = ClosingNode(), socket.create_server(("127.0.0.1", 0))
    node.url = f"http://127.0.0.1:{server.getsockname()[1]}"

    def serve(conn: socket.socket) -> None:
        with conn:
            while (request := _request(conn)) is not None:
                node.received.append(request["method"])
                if request["method"] in node.unanswered:
                    node.unanswered.remove(request["method"])
                    if node.reset:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x539"}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(answer) + answer)
                if node.idle_close:
                    return

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield node
    server.close()


def _raw_transaction() -> list[str]:
    signed = Account.create().sign_transaction(
        {"to": "0x" + "00" * 20, "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": 0, "chainId": 1337})
    return ["0x" + signed.raw_transaction.hex()]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_broadcast_the_node_did_not_answer_is_never_sent_again(closing_node: ClosingNode, reset: bool) -> None:
    """The node read it and dropped the connection without an answer (it may have taken the transaction): the
    broadcast fails as unavailable, and is not sent again on a new connection."""
    node = JsonRpc(Web3(HTTPProvider(closing_node.url)))
    closing_node.reset = reset
    assert node("eth_chainId", []) == "0x539"
    closing_node.unanswered = ["eth_sendRawTransaction"]
    with pytest.raises(NodeUnavailable):
        node.send("eth_sendRawTransaction", _raw_transaction())
    assert closing_node.received == ["eth_chainId", "eth_sendRawTransaction"]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_read_the_node_dropped_on_a_kept_connection_is_asked_again(closing_node: ClosingNode, reset: bool) -> None:
    """The same drop on a read: asked again on a new connection, and answered."""
    node = JsonRpc(Web3(HTTPProvider(closing_node.url)))
    closing_node.reset = reset
    assert node("eth_chainId", []) == "0x539"
    closing_node.unanswered = ["eth_blockNumber"]
    assert node("eth_blockNumber", []) == "0x539"
    assert closing_node.received == ["eth_chainId", "eth_blockNumber", "eth_blockNumber"]


def test_a_broadcast_on_a_connection_the_node_closed_while_idle_goes_out_on_a_new_one(
        closing_node: ClosingNode) -> None:
    """A kept-alive connection the node closed meanwhile (its idle time-out, during a slow signer or a locked
    store) is replaced before the broadcast: the node answers it, and sees it once."""
    node = JsonRpc(Web3(HTTPProvider(closing_node.url)))
    closing_node.idle_close = True
    assert node("eth_chainId", []) == "0x539"
    time.sleep(0.05)  # the node's close has arrived
    assert node.send("eth_sendRawTransaction", _raw_transaction()) == "0x539"
    assert closing_node.received == ["eth_chainId", "eth_sendRawTransaction"]


@pytest.mark.parametrize("answer", [lambda d: (*d[:3], d[3] + 1, *d[4:]), lambda d: (*d[:4], "0x" + "ab" * 20, *d[5:])],
                         ids=["another chain", "another contract"])
def test_a_domain_naming_another_chain_or_contract_is_refused(consortium: Consortium,
                                                               answer: Any) -> None:
    """The contract at the configured address (an impostor, a proxy of another registry) answers ``eip712Domain``
    with another registry's chain id or address: what an issuer signed under it would anchor at that registry."""
    registry = consortium.registry
    assert Domain.of(registry).verifying_contract == registry.address
    domain = registry.call(lambda f: f.eip712Domain())
    impostor = SimpleNamespace(w3=registry.w3, address=registry.address, call=lambda build: answer(domain))
    with pytest.raises(DomainMismatch, match="nothing was signed"):
        Domain.of(impostor)  # type: ignore[arg-type]
