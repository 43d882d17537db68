"""Reads over JSON-RPC: one HTTP request per read, batched where the node takes batches, with no middleware.

The node is the embedded chain behind a loopback HTTP server that counts what crosses the wire, answers as a
node does (hex quantities, error objects), and can refuse batches or long log ranges, or drop kept-alive connections."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_tester import exceptions as tester_errors
from eth_utils import to_hex
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import HTTPProvider, Web3

from crossverify.chain import connection
from crossverify.chain.connection import HASH_REFUSALS, chain_time, connect, rpc
from crossverify.chain.logs import LogSource
from crossverify.chain.records import RevocationReason
from crossverify.chain.registry import DIRECT_READS, Registry, _function
from crossverify.errors import LogNotDecodable, NodeTooSlow, NodeUnavailable, TransactionFailed
from crossverify.format.batch import salt_document, seal_batch
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.suite import Suite
from crossverify.regulator.index import RegulatorReader
from crossverify.verifier.client import VerifierClient

from ..conftest import Consortium, deposit_certificates


@dataclass
class Node:
    """What the wire saw: one entry per HTTP request, the methods it carried."""

    url: str
    requests: list[list[str]] = field(default_factory=list)
    #: The block parameter of each ``eth_call``.
    blocks: list[Any] = field(default_factory=list)
    refuse_batches: bool = False
    #: Answer a batch with one error object of a request beyond the node's limits (a rate limit, EIP-1474 -32005).
    limit_batches: bool = False
    #: Answer a block asked for by its hash with an error, as nodes from before EIP-1898 do.
    refuse_block_hashes: bool = False
    close_after_answer: bool = False
    #: Answer every ``eth_getBlockByNumber`` with an error object.
    refuse_headers: bool = False
    #: What happens on the chain before the request of each position (from 0) is answered.
    before: dict[int, Callable[[], None]] = field(default_factory=dict)
    #: Answer with this HTTP status and a JSON error object (a rate limit, a gateway without its node).
    status: int = 200
    #: Answer every request with the error object of a request beyond the node's limits (EIP-1474 -32005).
    limit_exceeded: bool = False
    #: Seconds between the bytes of each answer's body, written one at a time (0: the body in one write).
    trickle: float = 0.0
    #: The whole HTTP answer (status line, headers and body) to every request, instead of the node's.
    raw_answer: bytes | None = None
    #: What the node answers a ``documentStatuses`` call with instead of the statuses it read (a faulty node).
    statuses: Callable[[list[Any]], list[Any]] | None = None
    #: Answer every ``eth_call`` with an error object of this message (a pruned or syncing node).
    call_error: str | None = None
    #: The chain id the node answers with, if not the chain's (another network's node behind the same URL).
    chain_id: int | None = None
    #: What the node answers an ``eth_getLogs`` with instead of the logs it found (a faulty node).
    logs: Callable[[list[Any]], Any] | None = None
    #: What the node answers an ``eth_getBlockByNumber`` with instead of the header it read (a faulty node).
    header: Callable[[dict[str, Any]], Any] | None = None
    #: Refuse ``eth_getLogs`` over more blocks than this, as Besu does (``--rpc-max-logs-range``, error -32005).
    max_log_range: int | None = None


def _answer(tester: Any, request: dict[str, Any], state: Node) -> dict[str, Any]:
    method, params = request["method"], request["params"]
    if state.limit_exceeded:
        return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32005, "message": "rate limit exceeded"}}
    try:
        if method == "eth_call":
            if state.call_error is not None:
                raise ValueError(state.call_error)
            block = params[1]
            state.blocks.append(block)
            if isinstance(block, dict):
                if state.refuse_block_hashes:
                    raise ValueError("invalid argument 1: json: cannot unmarshal object into Go value of type string")
                block = tester.get_block_by_hash(block["blockHash"])["number"]
            elif block.startswith("0x"):
                block = int(block, 16)
            result: Any = tester.call({"from": tester.get_accounts()[0], **params[0]}, block)
            if state.statuses is not None and params[0]["data"].startswith(to_hex(STATUSES_SELECTOR)):
                (statuses,) = decode([STATUS_TYPE], bytes.fromhex(result[2:]))
                result = to_hex(encode([STATUS_TYPE], [state.statuses(list(statuses))]))
        elif method == "eth_getBlockByNumber":
            if state.refuse_headers:
                raise ValueError("header not found")
            number = params[0]
            block = tester.get_block_by_number(int(number, 16) if number.startswith("0x") else number)
            result = {"number": hex(block["number"]), "hash": block["hash"], "timestamp": hex(block["timestamp"])}
            if state.header is not None:
                result = state.header(result)
        elif method == "eth_chainId":
            result = hex(state.chain_id or tester.backend.chain.chain_id)
        elif method == "eth_blockNumber":
            result = hex(tester.get_block_by_number("latest")["number"])
        elif method == "eth_getLogs":
            low, high = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
            if state.max_log_range is not None and high - low + 1 > state.max_log_range:
                return {"jsonrpc": "2.0", "id": request["id"], "error": {
                    "code": -32005, "message": "Requested range exceeds maximum RPC range limit"}}
            result = [{"address": x["address"], "topics": x["topics"], "data": x["data"],
                       "blockNumber": hex(x["block_number"]), "blockHash": x["block_hash"],
                       "transactionHash": x["transaction_hash"], "logIndex": hex(x["log_index"]), "removed": False}
                      for x in tester.get_logs(from_block=low, to_block=high, address=params[0]["address"])]
            if state.logs is not None:
                result = state.logs(result)
        else:
            return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "no such method"}}
    except tester_errors.TransactionFailed as exc:  # a revert, as geth answers it (eth-tester's text holds its data)
        return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": 3, "message": f"execution reverted: {exc}"}}
    except Exception as exc:  # a node answers every failure with an error object
        return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32603, "message": str(exc)}}
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


@pytest.fixture
def node(consortium: Consortium) -> Iterator[Node]:
    tester = consortium.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as nodes serve

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            batch = isinstance(payload, list)
            state.requests.append([r["method"] for r in payload] if batch else [payload["method"]])
            if state.raw_answer is not None:
                self.wfile.write(state.raw_answer)
                self.close_connection = True
                return
            if batch and state.refuse_batches:
                answer: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "no batches"}}
            elif batch and state.limit_batches:
                answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32005, "message": "rate limit exceeded"}}
            else:
                with lock:
                    if (change := state.before.pop(len(state.requests) - 1, None)) is not None:
                        change()
                    answer = [_answer(tester, r, state) for r in payload] if batch else _answer(tester, payload, state)
            if state.status != 200:
                answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "try again later"}}
            body = json.dumps(answer).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not state.trickle:
                self.wfile.write(body)
            for i in range(len(body) if state.trickle else 0):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(state.trickle)
            self.close_connection = state.close_after_answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Node(f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def _bundles(c: Consortium, n: int) -> list[Any]:
    batch = seal_batch([salt_document(cert, HashAlgorithm.KECCAK256) for _, cert in deposit_certificates(c, n)])
    c.anchor(batch.root, leaf_count=n)
    return list(batch.bundles(c.w3.eth.chain_id, c.registry.address))


def _verifier(c: Consortium, node: Node) -> VerifierClient:
    verifier = VerifierClient(Registry.at(Web3(HTTPProvider(node.url)), c.registry.address))
    verifier._chain_id = c.w3.eth.chain_id  # the session checks it once, at connection
    verifier._suite = c.registry.crypto_suite()  # read once per client, as the chain id
    return verifier


@pytest.mark.parametrize("documents", [1, DIRECT_READS + 1])
def test_verify_many_reads_the_chain_in_one_request_at_a_block_it_knows(consortium: Consortium, node: Node,
                                                                       documents: int) -> None:
    """A verifier new to the latest block reads its header, then everything at it (by its hash), in one request:
    the batch's status, which documents are revoked, the node's chain id and the header again. At the same block,
    the next batch asks only which of its documents are revoked, the chain id and the latest header, in one
    request."""
    bundles = _bundles(consortium, documents)
    verifier = _verifier(consortium, node)
    reports = verifier.verify_many(bundles)
    assert all(r.valid for r in reports), [r.failed for r in reports]
    assert node.requests == [["eth_getBlockByNumber"], ["eth_call", "eth_call", "eth_chainId", "eth_getBlockByNumber"]]
    head = {"blockHash": to_hex(consortium.w3.eth.get_block("latest")["hash"])}
    assert node.blocks == [head, head]
    assert [r.checks for r in reports] == [r.checks for r in VerifierClient(consortium.registry).verify_many(bundles)]
    again = verifier.verify_many(bundles[:1])
    assert node.requests[2:] == [["eth_call", "eth_chainId", "eth_getBlockByNumber"]] and node.blocks[2:] == [head]
    assert again[0].checks == reports[0].checks


def test_a_node_swapped_for_another_networks_is_not_read(consortium: Consortium, node: Node) -> None:
    """Behind a load balancer, the node a bank reads may be swapped for another network's, where the same deployer
    put a registry at the same address (a test network beside production): its statuses are not those of the
    chain the bundles name. The chain id comes with every read at a block; another than the node first gave fails
    the batch as the node unavailable (the service's 503), with no verdict."""
    bundles = _bundles(consortium, 2)
    verifier = _verifier(consortium, node)
    assert all(r.valid for r in verifier.verify_many(bundles))
    node.chain_id = 8853
    with pytest.raises(NodeUnavailable, match="serves chain 8853 now, not chain"):
        verifier.verify_many(bundles)
    node.chain_id = None
    assert all(r.valid for r in verifier.verify_many(bundles))


def test_a_batch_answered_with_a_passing_limit_is_the_node_unavailable_and_batching_goes_on(
        consortium: Consortium, node: Node) -> None:
    """A node (or its gateway) answering a batch with one "limits exceeded" error object, a rate limit for now, is
    unavailable (no verdict, the service's 503), not a node that refuses batches: the next batch is sent as a batch
    again, not each read on its own request for the process's life."""
    bundles = _bundles(consortium, 2)
    verifier = _verifier(consortium, node)
    assert all(r.valid for r in verifier.verify_many(bundles))
    node.limit_batches = True
    with pytest.raises(NodeUnavailable, match="limits were exceeded"):
        verifier.verify_many(bundles)
    node.limit_batches = False
    seen = len(node.requests)
    assert all(r.valid for r in verifier.verify_many(bundles))
    assert any(len(methods) > 1 for methods in node.requests[seen:]), node.requests[seen:]


def test_a_node_that_refuses_batches_is_asked_one_by_one(consortium: Consortium, node: Node) -> None:
    bundles = _bundles(consortium, 2)
    node.refuse_batches = True
    verifier = _verifier(consortium, node)
    assert all(r.valid for r in verifier.verify_many(bundles))
    assert node.requests[2:] == [["eth_call"], ["eth_call"], ["eth_chainId"], ["eth_getBlockByNumber"]]
    assert all(r.valid for r in verifier.verify_many(bundles))  # refused once, not asked to batch again
    assert len(node.requests) == 9


def test_a_node_that_refuses_block_hashes_is_asked_by_number(consortium: Consortium, node: Node) -> None:
    """A node from before EIP-1898 answers a block asked for by its hash with an error: each read is made again by
    the block's number (the same views answer there, and the block is still the latest), and after
    ``HASH_REFUSALS`` refusals in a row the node is asked by number from then on."""
    bundles = _bundles(consortium, 3)
    node.refuse_block_hashes = True
    verifier = _verifier(consortium, node)
    expected = [r.checks for r in VerifierClient(consortium.registry).verify_many(bundles)]
    assert [r.checks for r in verifier.verify_many(bundles)] == expected
    head = consortium.w3.eth.get_block("latest")
    by_hash, by_number = {"blockHash": to_hex(head["hash"])}, hex(head["number"])
    assert node.blocks == [by_hash, by_hash, by_number, by_number]  # the batch and the revocations, twice
    for _ in range(HASH_REFUSALS - 1):  # the batch lent by the block read: its revocations, twice
        assert rpc(verifier.registry.w3).block_hashes is True
        assert [r.checks for r in verifier.verify_many(bundles)] == expected
    assert node.blocks[4:] == [by_hash, by_number] * (HASH_REFUSALS - 1)
    assert rpc(verifier.registry.w3).block_hashes is False
    asked = len(node.blocks)
    consortium.registry.transact(lambda f: f.revokeDocument(bundles[1].document_digest(), 1), consortium.issuer_admin)
    reports = verifier.verify_many(bundles)
    assert [r.valid for r in reports] == [True, False, True]
    assert all(isinstance(b, str) for b in node.blocks[asked:])


def test_a_passing_refusal_of_a_block_hash_keeps_reads_by_hash(consortium: Consortium, node: Node) -> None:
    """One refusal answered by number, then reads by hash that answer: the node is still asked by hash, and the
    refusals are counted again from none."""
    bundles = _bundles(consortium, 2)
    node.refuse_block_hashes = True
    verifier = _verifier(consortium, node)
    expected = [r.checks for r in VerifierClient(consortium.registry).verify_many(bundles)]
    assert [r.checks for r in verifier.verify_many(bundles)] == expected
    node.refuse_block_hashes = False
    assert [r.checks for r in verifier.verify_many(bundles)] == expected
    node.refuse_block_hashes = True
    for _ in range(HASH_REFUSALS - 1):
        assert [r.checks for r in verifier.verify_many(bundles)] == expected
    assert rpc(verifier.registry.w3).block_hashes is True
    node.refuse_block_hashes = False
    asked = len(node.blocks)
    assert [r.checks for r in verifier.verify_many(bundles)] == expected
    assert node.blocks[asked:] == [{"blockHash": to_hex(consortium.w3.eth.get_block("latest")["hash"])}]


def test_a_node_answering_the_latest_header_with_an_error_fails_by_name(consortium: Consortium, node: Node) -> None:
    """The latest header read alone (a verifier new to the block) fails as the views do: a named error, which
    the service answers as the node's failure."""
    bundles = _bundles(consortium, 1)
    node.refuse_headers = True
    with pytest.raises(TransactionFailed, match=r"eth_getBlockByNumber.*header not found"):
        _verifier(consortium, node).verify_many(bundles)


def test_a_kept_alive_connection_the_node_closed_is_reopened(consortium: Consortium, node: Node) -> None:
    w3 = Web3(HTTPProvider(node.url))
    node.close_after_answer = True
    assert [chain_time(w3) for _ in range(3)] == [consortium.now()] * 3
    assert rpc(w3)("eth_chainId", []) == to_hex(consortium.w3.eth.chain_id)


def test_reads_given_less_time_give_up_on_a_stalled_node_and_the_next_have_the_full_timeout(
        consortium: Consortium, node: Node) -> None:
    """What the service's event loop relies on: its reads give up after their limit (``NodeTooSlow``, the
    connection dropped, as its answer may still come), and the same thread's reads after it wait as long as the
    connection's own timeout; another thread's reads meanwhile are not limited."""
    bundles = _bundles(consortium, 2)
    verifier = _verifier(consortium, node)
    assert all(r.valid for r in verifier.verify_many(bundles))  # the connection open, kept alive
    stalled = len(node.requests)
    node.before[stalled] = lambda: time.sleep(0.6)
    prepared = verifier.prepare(bundles)
    started = time.monotonic()
    with pytest.raises(NodeTooSlow, match=r"within 0.1 s"), verifier.reads_within(0.1):
        verifier.complete(prepared)
    assert time.monotonic() - started < 0.5
    node.before[stalled + 1] = lambda: time.sleep(0.3)  # slower than the limit was, within the full timeout
    assert all(r.valid for r in verifier.complete(prepared))
    with ThreadPoolExecutor(1) as other, verifier.reads_within(0.1):
        node.before[stalled + 2] = lambda: time.sleep(0.3)
        assert all(r.valid for r in other.submit(verifier.verify_many, bundles).result(10))


def test_a_limit_bounds_its_reads_together_and_a_kept_connection_gets_the_full_timeout_back(node: Node) -> None:
    """Two requests made under one limit share it (each stalls less than the limit, both more); a connection kept
    alive from a limited read, read on without a limit, waits the connection's own timeout again."""
    node_rpc = rpc(Web3(HTTPProvider(node.url)))
    with node_rpc.within(0.1):
        node_rpc("eth_chainId", [])  # quick: the connection stays open, its timeout the limit's
    node.before[len(node.requests)] = lambda: time.sleep(0.3)
    assert node_rpc("eth_chainId", [])  # on the kept connection, after the limit: answered
    first = len(node.requests)
    node.before[first] = node.before[first + 1] = lambda: time.sleep(0.3)
    started = time.monotonic()
    with pytest.raises(NodeTooSlow, match=r"within 0.5 s"), node_rpc.within(0.5):
        node_rpc("eth_chainId", [])
        node_rpc("eth_chainId", [])
    assert time.monotonic() - started < 0.58


def test_a_node_trickling_its_answer_is_cut_off_at_the_limit(consortium: Consortium, node: Node) -> None:
    """A node that sends its answer a byte every 10 ms (each wait short, the whole answer most of a second) is cut
    off when the limit's time is up; without a limit the same thread waits for the whole answer."""
    node_rpc = rpc(Web3(HTTPProvider(node.url)))
    node_rpc("eth_chainId", [])  # a connection kept alive
    node.trickle = 0.01
    started = time.monotonic()
    with pytest.raises(NodeTooSlow, match=r"within 0.2 s"), node_rpc.within(0.2):
        node_rpc("eth_chainId", [])
    assert time.monotonic() - started < 0.35
    started = time.monotonic()
    assert node_rpc("eth_chainId", []) == to_hex(consortium.w3.eth.chain_id)
    assert time.monotonic() - started > 0.3


def test_a_node_trickling_its_answer_is_cut_off_at_the_connections_timeout(node: Node) -> None:
    """Without a shorter limit, a request gives up after the connection's timeout whatever the node does: one
    that sends its answer a byte at a time, each well within the timeout, is cut off at it (as [network] timeout
    promises), not waited for as long as it trickles (a worker thread held for ever)."""
    node_rpc = rpc(Web3(HTTPProvider(node.url, request_kwargs={"timeout": 0.3})))
    node_rpc("eth_chainId", [])  # a connection kept alive
    node.trickle = 0.02  # the whole answer takes about a second
    started = time.monotonic()
    with pytest.raises(NodeUnavailable, match="the node did not answer"):
        node_rpc("eth_chainId", [])
    assert time.monotonic() - started < 0.5


def test_a_request_made_again_on_a_new_connection_has_only_the_time_left(node: Node) -> None:
    """The node closes a kept-alive connection without answering, late: the request made again on a new one gets
    what is left of the limit, not the whole limit again."""
    node_rpc = rpc(Web3(HTTPProvider(node.url)))
    node_rpc("eth_chainId", [])  # a connection kept alive

    def closes_late() -> None:
        time.sleep(0.4)
        raise ConnectionAbortedError("the node closes the connection without answering")

    first = len(node.requests)
    node.before[first], node.before[first + 1] = closes_late, lambda: time.sleep(0.4)
    started = time.monotonic()
    with pytest.raises(NodeTooSlow), node_rpc.within(0.5):
        node_rpc("eth_chainId", [])
    assert time.monotonic() - started < 0.58


@pytest.mark.parametrize("busy", ["HTTP 429", "HTTP 503", "limit exceeded"])
def test_a_node_saying_not_now_is_unavailable_not_a_refusal(consortium: Consortium, node: Node, busy: str) -> None:
    """A rate limit or a gateway without its node, even with a JSON error object for a body, is the node away
    (``NodeUnavailable``: the service answers 503 and opens again the challenges the batch consumed), not a failed
    read (``TransactionFailed``)."""
    bundles = _bundles(consortium, 2)
    verifier = _verifier(consortium, node)
    if busy == "limit exceeded":
        node.limit_exceeded = True
    else:
        node.status = int(busy.split()[1])
    with pytest.raises(NodeUnavailable, match=r"HTTP 429|HTTP 503|limits were exceeded"):
        verifier.verify_many(bundles)
    node.status, node.limit_exceeded = 200, False
    assert all(r.valid for r in verifier.verify_many(bundles))


def test_a_node_that_refuses_long_log_ranges_as_besu_does_is_read_in_shorter_ones(
        consortium: Consortium, node: Node, tmp_path: Path) -> None:
    """Besu refuses an ``eth_getLogs`` over more than ``--rpc-max-logs-range`` blocks (1,000 by default, under the
    regulator's 2,000) with the "limit exceeded" code of a rate limit: that refusal is of the range, and the
    regulator's sync reads shorter ones, not "the node is unavailable" for good."""
    c = consortium
    for i in range(3):
        c.anchor(Web3.keccak(text=f"capped {i}"))
    c.w3.testing.mine(40)
    node.max_log_range = 8
    reader = RegulatorReader(Registry.at(Web3(HTTPProvider(node.url)), c.registry.address), tmp_path / "audit.sqlite")
    logs = c.w3.eth.get_logs({"address": [c.registry.address, c.consortium.address], "fromBlock": 0})
    try:
        assert reader.sync().events == len(logs) == len(list(reader.events())) > 3
    finally:
        reader.close()


@pytest.mark.parametrize("answer", [lambda logs: None, lambda logs: [{k: v for k, v in x.items() if k != "blockHash"}
                                                                     for x in logs],
                                    lambda logs: [{**x, "logIndex": "first"} for x in logs]],
                         ids=["null", "a field missing", "not hex"])
def test_logs_that_are_not_logs_stop_the_sync_by_name(consortium: Consortium, node: Node, tmp_path: Path,
                                                      answer: Callable[[list[Any]], Any]) -> None:
    """A node answering ``eth_getLogs`` with something else than logs stops the regulator's sync with a named
    error (the command line's exit 1), before anything of the chunk is indexed, not with a Python KeyError."""
    consortium.anchor(Web3.keccak(text="malformed"))
    node.logs = answer
    reader = RegulatorReader(Registry.at(Web3(HTTPProvider(node.url)), consortium.registry.address),
                             tmp_path / "audit.sqlite")
    try:
        with pytest.raises(LogNotDecodable, match="not logs"):
            reader.sync()
        assert not list(reader.events())
    finally:
        reader.close()


@pytest.mark.parametrize("header", [
    lambda h: {k: v for k, v in h.items() if k != "timestamp"}, lambda h: {**h, "hash": None},
    lambda h: {**h, "number": "first"}, lambda h: "0x12", lambda h: {**h, "hash": "0x1234"},
    lambda h: {**h, "number": hex(int(h["number"], 16) + 100)},
], ids=["a field missing", "null", "not hex", "not an object", "a short hash", "another block"])
def test_headers_that_are_not_headers_fail_by_name(consortium: Consortium, node: Node,
                                                   header: Callable[[dict[str, Any]], Any]) -> None:
    """A node answering ``eth_getBlockByNumber`` with something else than the header asked for stops the reader
    with the named error, as logs do, not with a Python KeyError (nor reads as a block the node does not have)."""
    node.header = header
    with pytest.raises(LogNotDecodable, match="eth_getBlockByNumber answered"):
        LogSource(Web3(HTTPProvider(node.url))).blocks([0, 1])


def test_a_call_the_node_fails_is_not_read_as_a_registry_of_the_standard_suite(consortium: Consortium,
                                                                              node: Node) -> None:
    """Only a registry without ``cryptoSuite()`` (from before suites: the call reverts) is of the standard suite. A
    node that fails the call (pruned, syncing), or answers it with nothing (a node without the registry's code),
    says nothing of the suite: read as standard, a GM deployment's bank would fail every genuine certificate,
    and its operators would register metadata digests of the wrong hash."""
    w3 = Web3(HTTPProvider(node.url))
    registry = Registry.at(w3, consortium.registry.address)
    node.call_error = "missing trie node"
    with pytest.raises(TransactionFailed, match="missing trie node"):
        registry.crypto_suite()
    node.call_error = None
    with pytest.raises(TransactionFailed, match="does not decode"):
        Registry.at(w3, "0x" + "12" * 20).crypto_suite()
    assert Registry.at(w3, consortium.consortium.address).crypto_suite() is Suite.STANDARD  # reverts: no function
    assert registry.crypto_suite() is Suite.STANDARD


@pytest.mark.parametrize("answer", [
    lambda statuses: [], lambda statuses: statuses * 2,
    lambda statuses: [(*s[:7], (9, *s[7][1:]), *s[8:]) for s in statuses]],  # a revocation reason with no name
    ids=["none", "twice as many", "unknown reason"])
def test_a_node_answering_statuses_that_are_not_those_asked_fails_by_name(
        consortium: Consortium, node: Node, answer: Callable[[list[Any]], list[Any]]) -> None:
    """A node that answers ``documentStatuses`` with another number of statuses than it was asked for, or a value
    the registry never returns, fails the batch by name (the service's 502, the node's failure), not with a
    Python error (a 500, the service's own fault)."""
    bundles = _bundles(consortium, 2)
    node.statuses = answer
    with pytest.raises(TransactionFailed, match="documentStatuses"):
        _verifier(consortium, node).verify_many(bundles)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 33\r\n\r\n<html>Down for maintenance</html>",
    b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"],
    ids=["an HTML page", "a bad length", "a bad chunk"])
def test_an_answer_that_is_not_json_rpc_over_http_is_the_node_unavailable(consortium: Consortium, node: Node,
                                                                         answer: bytes) -> None:
    """A proxy before the node that answers with its own page (maintenance, a login), or a broken HTTP answer, is
    the node unavailable (the service's 503, the batch's challenges open again; the command line's exit 3), not a
    Python ValueError (a 500; the command line's "bad input", exit 2)."""
    bundles = _bundles(consortium, 2)
    verifier = _verifier(consortium, node)
    node.raw_answer = answer
    with pytest.raises(NodeUnavailable, match="not JSON-RPC"):
        verifier.verify_many(bundles)
    with pytest.raises(NodeUnavailable):  # through web3's provider, as a session connects
        connect(node.url)
    node.raw_answer = None
    assert all(r.valid for r in verifier.verify_many(bundles))


def test_an_answer_larger_than_any_read_is_not_read_whole(consortium: Consortium, node: Node,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A node (hostile, or broken) that sends more than an answer may hold, by its length or without end, is the
    node unavailable, refused by its length before its body is read, or as soon as the body passes the limit: not
    read into memory until the process dies."""
    bundles = _bundles(consortium, 2)
    verifier = _verifier(consortium, node)
    monkeypatch.setattr(connection, "MAX_ANSWER_BYTES", 100)
    for answer in (b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n[",
                   b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b" " * 1000,
                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b" " * 64 + b"\r\n40\r\n"):
        node.raw_answer = answer
        with pytest.raises(NodeUnavailable, match="more than the 100 an answer may hold"):
            verifier.verify_many(bundles)


def test_error_objects_and_unreachable_nodes(node: Node) -> None:
    from web3.exceptions import Web3RPCError

    with pytest.raises(Web3RPCError, match="no such method"):
        rpc(Web3(HTTPProvider(node.url)))("eth_nothing", [])
    with pytest.raises(NodeUnavailable):
        rpc(Web3(HTTPProvider("http://127.0.0.1:9")))("eth_chainId", [])


STATUSES_SELECTOR = _function("DocumentRegistry", "documentStatuses").selector
STATUS_TYPE = "(bytes11,address,uint40,uint40,bytes8,uint8,uint24,(uint8,uint40,address,bool),(uint8,uint40,address,bool),uint8,bool,bool,uint40,uint40,uint40)[]"  # noqa: E501


def _record() -> Any:
    return st.tuples(st.integers(0, 255), st.integers(0, 2**40 - 1), st.binary(min_size=20, max_size=20).map(
        lambda b: "0x" + b.hex()), st.booleans())


STATUSES = st.lists(st.tuples(
    st.binary(min_size=11, max_size=11), st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    st.integers(0, 2**40 - 1), st.integers(0, 2**40 - 1), st.binary(min_size=8, max_size=8), st.integers(0, 255),
    st.integers(0, 2**24 - 1), _record(), _record(), st.integers(0, 255), st.booleans(), st.booleans(),
    st.integers(0, 2**40 - 1), st.integers(0, 2**40 - 1), st.integers(0, 2**40 - 1)), max_size=3)


@settings(max_examples=200, deadline=None)
@given(statuses=STATUSES, flip=st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(1, 255))),
       cut=st.integers(0, 40))
def test_statuses_decode_as_eth_abi_decodes_them(statuses: list[Any], flip: tuple[int, int] | None, cut: int
                                                 ) -> None:
    """The hand decoder of ``documentStatuses`` gives eth-abi's values, and leaves anything off the canonical
    layout (a byte changed, the answer cut short) to eth-abi."""
    from crossverify.chain.registry import _fast_statuses

    data = bytearray(encode([STATUS_TYPE], [statuses]))
    if flip is not None:
        data[flip[0] % len(data)] ^= flip[1]
    if cut:
        data = data[:-cut]
    fast = _fast_statuses("0x" + data.hex())
    try:
        expected = decode([STATUS_TYPE], bytes(data))
    except Exception:  # eth-abi refuses it: so must the fast path (which hands it on)
        assert fast is None
        return
    assert fast is None or fast == expected
    if flip is None and not cut:
        assert fast == expected


def test_a_node_asked_by_number_is_not_read_at_another_block_of_that_height(consortium: Consortium,
                                                                           node: Node) -> None:
    """Asked by number (a node before EIP-1898), a read takes the header at that number in the same request: a
    chain reorganised, between the latest header's read and the read at its number, to another block of that
    height (one where the batch is not revoked) is not read as the first block, nor kept as it for when the
    chain comes back to it."""
    c = consortium
    tester = c.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    bundles = _bundles(c, 2)
    before = tester.take_snapshot()
    c.registry.transact(lambda f: f.revokeBatch(bundles[0].proof.batch_root, RevocationReason.FRAUD), c.issuer_admin)
    revoked = tester.take_snapshot()
    tester.revert_to_snapshot(before)
    c.w3.testing.mine()  # another block of the same height, where the batch is not revoked
    other = tester.take_snapshot()
    tester.revert_to_snapshot(revoked)
    verifier = _verifier(c, node)
    rpc(verifier.registry.w3).block_hashes = False
    node.before[1] = lambda: tester.revert_to_snapshot(other)  # once the latest header is read
    with pytest.raises(TransactionFailed, match="reorganised"):
        verifier.verify_many(bundles)
    assert node.requests[1][-2:] == ["eth_getBlockByNumber", "eth_getBlockByNumber"]
    tester.revert_to_snapshot(revoked)  # and back
    reports = verifier.verify_many(bundles)
    assert [r.checks for r in reports] == [r.checks for r in VerifierClient(c.registry).verify_many(bundles)]
    assert not any(r.valid for r in reports)
