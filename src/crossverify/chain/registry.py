"""The registry contract as Python sees it: load the committed artifacts, send, call, decode errors and events.

The consortium contract (:mod:`crossverify.chain.consortium`) shares the sending and decoding defined here."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any, ClassVar, Self

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from eth_utils.abi import collapse_if_tuple, event_abi_to_log_topic, function_abi_to_4byte_selector
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, ContractPanicError, Web3Exception, Web3RPCError
from web3.types import TxReceipt

from ..errors import (
    CONTRACT_ERRORS,
    ContractRevert,
    CrossverifyError,
    InvalidQuery,
    NodeUnavailable,
    RegistryNotFound,
    TransactionFailed,
)
from ..format.encoding import to_hex
from ..format.suite import Suite
from .connection import block_time, node_errors, quantity, rpc
from .records import NOT_REVOKED, DocumentStatus
from .transactions import Sender, submit, wait

RECEIPT_TIMEOUT = 120.0
#: Pairs per ``documentStatuses`` call: the returned memory grows with the square of the count, and nodes cap
#: the gas of an ``eth_call`` (eth-tester at the block gas limit, geth and Besu at 50M by default).
STATUS_CHUNK = 200
#: Statuses :meth:`Registry.document_statuses` asks for in one round trip at most (one call). A node answers a
#: JSON-RPC batch whole, and others wait: an issuer's full check of 10,000 live batches as one request (2.35 s on a
#: Hardhat node) kept a bank's reads of the same node waiting up to 2.2 s, in round trips of 200 (2.46 s) 0.21 s (the
#: "A bank's reads beside an issuer's check" benchmark); and 100,000 statuses in one request outlasted the client's
#: 10 s timeout (11.3 s in round trips).
STATUSES_PER_ROUND_TRIP = STATUS_CHUNK
#: Documents per ``revokedDocuments`` call (one storage read each).
REVOCATION_CHUNK = 2000
#: Up to this many documents, ``bulk_statuses`` reads each document's own status rather than each batch's and then
#: the revoked documents'.
DIRECT_READS = 16
#: Batch statuses a :class:`Head` holds at most: beyond, a call's head keeps only its own batches.
HEAD_BATCHES = 4096
#: The latest block's header, as a bare JSON-RPC request.
_LATEST = ("eth_getBlockByNumber", ["latest", False])
#: The node's chain id, asked with every read at a block: the chain the statuses come from must be the one a
#: bundle names, and a node behind a load balancer may be swapped for another network's.
_CHAIN_ID: tuple[str, list[Any]] = ("eth_chainId", [])


#: The deployable contracts, each with a committed artifact.
CONTRACTS = ("DocumentRegistry", "Consortium", "Circulation", "SM2Verifier", "SM2PrecompileVerifier")


@cache
def artifact(name: str = "DocumentRegistry") -> dict[str, Any]:
    """The committed compiler output for a contract (ABI, bytecode, NatSpec, compiler version)."""
    text = resources.files("crossverify.chain").joinpath("artifacts", f"{name}.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def _error_selectors() -> dict[bytes, tuple[str, list[str], list[str]]]:
    """Both contracts' errors: the consortium passes on the registry's when it executes a proposal."""
    selectors = {}
    for entry in (e for name in CONTRACTS for e in artifact(name)["abi"]):
        if entry["type"] == "error":
            types = [i["type"] for i in entry["inputs"]]
            names = [i["name"] for i in entry["inputs"]]
            selectors[function_abi_to_4byte_selector(entry)] = (entry["name"], names, types)
    return selectors


def decode_revert(data: bytes | str) -> ContractRevert | None:
    """Turn revert data (selector + ABI-encoded arguments) into the matching named exception; ``None`` for an
    unknown selector, or arguments that do not decode as its error's."""
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
    found = _error_selectors().get(raw[:4])
    if found is None:
        return None
    name, names, types = found
    try:
        decoded = abi_decode(types, raw[4:])
    except DecodingError:
        return None
    values = [Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(types, decoded, strict=True)]
    return CONTRACT_ERRORS[name](**dict(zip(names, values, strict=True)))


def _revert_data(exc: Exception) -> bytes | None:
    """Revert data from a failed call or gas estimate, wherever the backend put it.

    JSON-RPC nodes (Hardhat, geth, Besu) answer with an error object whose ``data`` holds the hex, sometimes
    nested one level down; web3 passes it on as ``exc.data`` (a string or that object). eth-tester writes the
    bytes into the message instead.
    """
    return _revert_bytes(getattr(exc, "data", None), str(exc))


def _revert_bytes(data: Any, message: str) -> bytes | None:
    for _ in range(3):  # {"data": "0x..."} or {"data": {"data": "0x..."}} or {"originalError": {...}}
        if not isinstance(data, dict):
            break
        data = data.get("data", data.get("originalError"))
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    marker = "execution reverted: b"  # eth-tester's bytes literal; or a node's reason string that starts so
    if marker in message:
        try:
            literal = ast.literal_eval(message[message.index(marker) + len(marker) - 1 :])
        except (ValueError, SyntaxError):
            return None
        if isinstance(literal, bytes):
            return literal
    return None


def _named_revert(exc: Web3RPCError) -> ContractRevert | None:
    """The named revert a JSON-RPC error object carries (Hardhat answers a reverted ``eth_call`` with code -32603
    and the data one level down), if it carries one."""
    error = (exc.rpc_response or {}).get("error")
    if not isinstance(error, dict):
        return None
    data = _revert_bytes(error.get("data"), str(error.get("message", "")))
    return decode_revert(data) if data else None


def _raise_revert(exc: Web3RPCError) -> None:
    """Raise the named revert a JSON-RPC error object carries, if it carries one."""
    decoded = _named_revert(exc)
    if decoded is not None:
        raise decoded from exc


@contextmanager
def registry_errors() -> Iterator[None]:
    """Re-raise web3 contract errors, and a node's error objects (a transaction it refuses to take: too little
    balance for its fees, a gas price under the node's minimum), as crossverify's named exceptions."""
    try:
        yield
    except ContractPanicError as exc:
        raise TransactionFailed(str(exc)) from exc
    except (ContractLogicError, TesterTransactionFailed) as exc:
        data = _revert_data(exc)
        decoded = decode_revert(data) if data else None
        if decoded is None:
            raise TransactionFailed(str(exc)) from exc
        raise decoded from exc
    except Web3RPCError as exc:  # a bare request's error object: a revert, or the node refusing the request
        _raise_revert(exc)
        raise TransactionFailed(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class _Function:
    selector: bytes
    outputs: tuple[str, ...]


@cache
def _function(contract: str, name: str) -> _Function:
    entry = next(e for e in artifact(contract)["abi"] if e["type"] == "function" and e["name"] == name)
    return _Function(function_abi_to_4byte_selector(entry), tuple(collapse_if_tuple(o) for o in entry["outputs"]))


def _calldata(w3: Web3, fn: ContractFunction) -> dict[str, Any]:
    """The transaction that calls ``fn``: its arguments encoded by web3's codec alone (without web3's per-value
    normalizing, which takes 40 times as long for a batch of receipts: the arguments are given as their ABI types
    take them, bytes as bytes)."""
    types = [collapse_if_tuple(i) for i in fn.abi["inputs"]]
    return {"to": fn.address, "data": HexBytes(fn.selector) + w3.codec.encode(types, fn.arguments)}


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded registry event."""

    name: str
    args: dict[str, Any]
    block_number: int
    transaction_hash: bytes
    log_index: int


@dataclass(frozen=True, slots=True)
class _EventCodec:
    name: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    addresses: tuple[str, ...]


@cache
def _event_by_topic(contract: str) -> dict[bytes, _EventCodec]:
    """Decoders for a contract's events, by topic 0 (straight eth-abi: web3's ``process_log`` costs ~10x)."""
    codecs = {}
    for entry in artifact(contract)["abi"]:
        if entry["type"] == "event":
            inputs = entry["inputs"]
            codecs[bytes(event_abi_to_log_topic(entry))] = _EventCodec(
                entry["name"],
                tuple((i["name"], collapse_if_tuple(i)) for i in inputs if i["indexed"]),
                tuple(i["name"] for i in inputs if not i["indexed"]),
                tuple(collapse_if_tuple(i) for i in inputs if not i["indexed"]),
                tuple(i["name"] for i in inputs if i["type"] == "address"),
            )
    return codecs


def event_topic(contract: str, name: str) -> bytes:
    """Topic 0 of the event ``name`` of ``contract`` (one of :data:`CONTRACTS`)."""
    return next(topic for topic, codec in _event_by_topic(contract).items() if codec.name == name)


@lru_cache(maxsize=1024)  # the same few signing keys, again and again
def _checksum(address: str) -> str:
    return str(Web3.to_checksum_address(address))


def _decode_log(codec: _EventCodec, log: Any) -> dict[str, Any]:
    topics = log["topics"][1:]
    if len(topics) != len(codec.indexed):
        raise TransactionFailed(f"{codec.name} log with {len(topics)} indexed topics, expected {len(codec.indexed)}")
    args: dict[str, Any] = {}
    for (name, kind), topic in zip(codec.indexed, topics, strict=True):
        args[name] = abi_decode([kind], bytes(topic))[0]
    args.update(zip(codec.data_names, abi_decode(codec.data_types, bytes(log["data"])), strict=True))
    for name in codec.addresses:
        args[name] = _checksum(args[name])
    return args


@dataclass(frozen=True)
class Deployed:
    """A deployed contract: the web3 contract plus sending and decoding that every role shares."""

    w3: Web3
    contract: Contract
    #: Extra transaction fields, e.g. ``{"gasPrice": 0}`` on a gasless permissioned network.
    tx_params: dict[str, Any] = field(default_factory=dict)

    #: The artifact this class wraps.
    NAME: ClassVar[str] = ""

    @classmethod
    def at(cls, w3: Web3, address: str, tx_params: dict[str, Any] | None = None) -> Self:
        contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact(cls.NAME)["abi"])
        return cls(w3, contract, dict(tx_params or {}))

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @property
    def functions(self) -> Any:
        return self.contract.functions

    def transact(self, build: Callable[[Any], ContractFunction], sender: Sender) -> TxReceipt:
        """Send ``build(self.functions)`` from ``sender`` and wait for its receipt; errors come back named."""
        return self.wait(self.submit(build, sender))

    def submit(self, build: Callable[[Any], ContractFunction], sender: Sender,
               on_signed: Callable[[bytes], None] | None = None) -> bytes:
        """Send without waiting; returns the transaction hash. Reverts found by gas estimation raise named.

        ``on_signed(tx_hash)`` runs before the broadcast (see :func:`~crossverify.chain.transactions.submit`).
        """
        with registry_errors(), node_errors():
            return submit(self.w3, _calldata(self.w3, build(self.functions)), sender, self.tx_params, on_signed)

    def wait(self, tx_hash: bytes, timeout: float = RECEIPT_TIMEOUT) -> TxReceipt:
        """The receipt of a sent transaction; :class:`ReceiptTimeout` if none comes in time, and
        :class:`TransactionFailed` saying why if it failed on chain."""
        try:
            return wait(self.w3, tx_hash, timeout)
        except TransactionFailed as failed:
            try:
                why = self._why_failed(tx_hash)
            except (CrossverifyError, Web3Exception) as exc:  # still a failed transaction, whatever the look-ups
                why = f"the node did not say why ({exc})"
            raise TransactionFailed(f"{failed}: {why}") from failed

    def _why_failed(self, tx_hash: bytes) -> str:
        """Why a mined transaction failed, though its estimate passed: the chain changed between the two, so that it
        ran out of the gas it was given, or reverts (what a call of it at its block reverts with, named)."""
        with node_errors():
            tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
            receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            if receipt["gasUsed"] >= tx["gas"]:
                return (f"it used all the {tx['gas']:,} gas it was given (the chain changed since its estimate): "
                        "send it again")
            call = {"from": tx["from"], "to": tx["to"], "data": to_hex(bytes(tx["input"]))}
            try:
                rpc(self.w3)("eth_call", [call, hex(receipt["blockNumber"])])
            except Web3RPCError as exc:
                return str(_named_revert(exc) or exc)
        return "a call of it at its block no longer reverts"

    def call(self, build: Callable[[Any], ContractFunction], caller: str | None = None) -> Any:
        """Call ``build(self.functions)``, from ``caller`` if given (a transaction's dry run); errors come back
        named."""
        with registry_errors(), node_errors():
            return build(self.functions).call({"from": caller} if caller else None)

    def raw_call(self, name: str, arguments: bytes) -> tuple[Any, ...]:
        """Call the view ``name`` with ABI-encoded ``arguments`` by a bare ``eth_call``, and decode its outputs
        with eth-abi: none of web3's middleware or per-field argument and result processing. Reverts come back
        named, as from :meth:`call`."""
        return self.raw_calls([(name, arguments)])[0][0]

    def raw_calls(self, calls: Sequence[tuple[str, bytes]], extra: Sequence[tuple[str, Sequence[Any]]] = (),
                  block: str | dict[str, str] = "latest") -> tuple[list[tuple[Any, ...]], list[Any]]:
        """:meth:`raw_call` for many views in one round trip (a JSON-RPC batch), together with the ``extra``
        JSON-RPC requests (method, params), whose results come back as the node gave them. The views run at
        ``block``: a tag, or (EIP-1898) ``{"blockHash": ...}`` for the state after one block, whichever came
        after it."""
        requests = [("eth_call", [{"to": self.contract.address, "data": "0x" + (_function(self.NAME, name).selector
                                                                                 + arguments).hex()}, block])
                    for name, arguments in calls]
        with registry_errors(), node_errors():
            try:
                results = rpc(self.w3).batch([*requests, *extra])
            except Web3RPCError as exc:  # a node's error object that web3 did not recognise as a revert
                _raise_revert(exc)
                raise TransactionFailed(f"eth_call {', '.join(sorted({n for n, _ in calls}))} failed: {exc}"
                                        ) from exc
        decoded = []
        for (name, _), result in zip(calls, results, strict=False):
            try:
                fast = _FAST_DECODERS.get(name)
                found = fast(result) if fast is not None and isinstance(result, str) else None
                decoded.append(found if found is not None else
                               tuple(abi_decode(_function(self.NAME, name).outputs, HexBytes(result))))
            except (DecodingError, TypeError, ValueError) as exc:
                raise TransactionFailed(f"eth_call {name} answered {result!r}, which does not decode") from exc
        return decoded, results[len(calls):]

    def decode_logs(self, logs: Sequence[Any]) -> list[Event]:
        """Decode this contract's logs, strictly: a log from its address with an unknown topic is an error."""
        decoded = []
        codecs = _event_by_topic(self.NAME)
        for log in logs:
            if log["address"] != self.contract.address:
                continue
            topic = bytes(log["topics"][0])
            codec = codecs.get(topic)
            if codec is None:
                raise TransactionFailed(f"log with unknown topic 0x{topic.hex()} from the {self.NAME} contract")
            decoded.append(Event(codec.name, _decode_log(codec, log), log["blockNumber"],
                                 bytes(log["transactionHash"]), log["logIndex"]))
        return decoded


def deploy_contract(w3: Web3, name: str, args: Sequence[Any], sender: Sender, tx_params: dict[str, Any]) -> str:
    """Deploy the committed artifact ``name`` with constructor ``args``; returns its address."""
    factory = w3.eth.contract(abi=artifact(name)["abi"], bytecode=artifact(name)["bytecode"])
    with registry_errors(), node_errors():
        tx_hash = submit(w3, {"data": HexBytes(factory.constructor(*args).data_in_transaction)}, sender, tx_params)
    receipt = wait(w3, tx_hash, RECEIPT_TIMEOUT)
    address = receipt["contractAddress"]
    if address is None:
        raise TransactionFailed("the deployment receipt names no contract address")
    return str(address)


#: The requests whose answers name a chain: its genesis block's header and its id.
CHAIN_NAMED: tuple[tuple[str, list[Any]], ...] = (("eth_getBlockByNumber", ["0x0", False]), ("eth_chainId", []))


def chain_identity(named: Sequence[Any], registry: str) -> dict[str, str]:
    """:meth:`Registry.identity` from the node's answers to :data:`CHAIN_NAMED` and the registry's address."""
    genesis, chain_id = named
    return {"chain_id": str(quantity(chain_id)), "genesis": to_hex(bytes(HexBytes(genesis["hash"]))),
            "registry": registry}


@dataclass(frozen=True, slots=True)
class Head:
    """A block, by its hash (a reorganised chain has another block at the same height), and its time, with the
    statuses of the batches (issuer id, batch root) read at it: what :meth:`Registry.statuses_at_head` lends to
    the next call. Read only."""

    hash: bytes
    number: int
    time: int
    batches: Mapping[tuple[bytes, bytes], DocumentStatus] = field(default_factory=dict)

    @classmethod
    def of(cls, block: Any) -> Head:
        """The head an ``eth_getBlockByNumber`` answer names, holding no statuses yet."""
        time = block_time(block)  # NodeUnavailable if the node answered no block
        return cls(bytes(HexBytes(block["hash"])), quantity(block["number"]), time)


@dataclass(frozen=True)
class Registry(Deployed):
    """A deployed document registry. Deploy it together with its consortium (:func:`deploy_consortium`)."""

    NAME: ClassVar[str] = "DocumentRegistry"

    @classmethod
    def found_at(cls, w3: Web3, address: str, tx_params: dict[str, Any] | None = None) -> Registry:
        """:meth:`at`, after checking that the node's chain has contract code there (:class:`RegistryNotFound`)."""
        registry = cls.at(w3, address, tx_params)
        with node_errors():
            if not w3.eth.get_code(registry.contract.address):
                raise RegistryNotFound(f"no registry at {registry.address} on chain {w3.eth.chain_id}: check "
                                       "[network] registry and rpc")
        return registry

    def identity(self) -> dict[str, str]:
        """What a local store is bound to: the chain id, the chain's genesis block hash and this address.

        A rebuilt network has a new genesis even when it reuses the chain id and the registry address.
        """
        with node_errors():
            return chain_identity(rpc(self.w3).batch(CHAIN_NAMED), self.address)

    def crypto_suite(self) -> Suite:
        """The deployment's crypto suite (``cryptoSuite()``, one bare ``eth_call``; a registry deployed before
        suites existed, which has no such function, reverts: it is of the standard suite). A call the node fails,
        or answers with nothing (no code at the address), raises :class:`TransactionFailed`: it says nothing of
        the suite."""
        try:
            (suite,) = self.raw_call("cryptoSuite", b"")
        except TransactionFailed as exc:
            if not isinstance(exc.__cause__, Web3RPCError) or "revert" not in str(exc.__cause__).lower():
                raise
            return Suite.STANDARD
        return Suite(suite)

    def chain_id(self) -> int:
        """The chain's id, as its node says (one bare request, as every read a verification makes)."""
        return quantity(rpc(self.w3)("eth_chainId", []))

    def consortium_address(self) -> str:
        return str(self.call(lambda f: f.consortium()))

    def predecessors(self) -> list[tuple[int, str, int]]:
        """The registries this one succeeds, as its consortium recorded them: (chain id, address, recorded at); one
        bare ``eth_call``."""
        (records,) = self.raw_call("predecessors", b"")
        return [(int(chain_id), Web3.to_checksum_address(registry), int(at)) for chain_id, registry, at in records]

    def sm2_public_key(self, key: str) -> bytes:
        """The public key x || y of the SM2 signing key at address ``key``; 64 zero bytes (no point of the curve)
        when the registry holds none there."""
        x, y = self.call(lambda f: f.sm2PublicKey(key))
        return bytes(x) + bytes(y)

    def metadata_digest(self, issuer_id: bytes, doc_type: bytes = bytes(8)) -> bytes:
        """The registered digest of ``issuer_id``'s display metadata for ``doc_type`` (zero: of its own name);
        32 zero bytes when none is registered."""
        _require_bytes(issuer_id, 11, "issuer id")
        _require_bytes(doc_type, 8, "document type")
        (digest,) = self.raw_call("metadataDigest", issuer_id.ljust(32, b"\0") + doc_type.ljust(32, b"\0"))
        return bytes(digest)

    def document_status(self, issuer_id: bytes, batch_root: bytes, document_digest: bytes) -> DocumentStatus:
        """What the registry holds about one document of a batch ``issuer_id`` anchored."""
        return self.document_statuses([(issuer_id, batch_root, document_digest)])[0]

    def document_statuses(self, triples: Sequence[tuple[bytes, bytes, bytes]]) -> list[DocumentStatus]:
        """Statuses of many (issuer id, batch root, document digest) triples, ``STATUS_CHUNK`` per ``eth_call``,
        in as few round trips as ``STATUSES_PER_ROUND_TRIP`` allows."""
        step = STATUSES_PER_ROUND_TRIP
        chunks = [triples[start:start + step] for start in range(0, len(triples), step)]
        return [status for chunk in chunks for status in _decoded(self.raw_calls(_status_calls(chunk))[0], len(chunk))]

    def bulk_statuses(self, triples: Sequence[tuple[bytes, bytes, bytes]]) -> list[DocumentStatus]:
        """:meth:`document_statuses` for many documents of few batches: each batch's record read once, and
        which documents are revoked, in bulk per issuer, in the same round trip; then only the revoked
        documents' records. Up to ``DIRECT_READS`` documents are read each with its own status, in one
        ``eth_call``: for the node, one view instead of two."""
        if len(triples) <= DIRECT_READS:
            return self.document_statuses(triples)
        batch_keys, by_issuer, revocation_calls = _bulk_plan(triples)
        status_calls = _status_calls([(issuer, root, bytes(32)) for issuer, root in batch_keys])
        raw, _ = self.raw_calls([*status_calls, *revocation_calls])
        batches = {key: _without_document(status)
                   for key, status in zip(batch_keys, _decoded(raw[:len(status_calls)], len(batch_keys)), strict=True)}
        return self._assembled(triples, by_issuer, iter(raw[len(status_calls):]), batches, self.document_statuses)

    def statuses_at_head(self, triples: Sequence[tuple[bytes, bytes, bytes]], head: Head | None = None
                         ) -> tuple[list[DocumentStatus], Head]:
        """:meth:`bulk_statuses` as of one block, and that block: every view of the call runs at the block (by
        its hash, EIP-1898), so the statuses and the chain's clock (the block's time) are of one state, never of
        two blocks. The block was the latest at some moment during the call, never before it began: the latest
        header of the same round trip when ``head`` is still the latest, else the header read just before the
        round trip pinned to it (a block mined meanwhile waits for the next call).

        ``head``, what an earlier call answered, lends the statuses of the batches it read, which are the same at
        the same block: a call then asks, in one round trip, for the latest header, each document's revocation
        (read on every call) and the batches ``head`` lacks, all at ``head``'s block. If the latest header is
        another block (one was mined, or the chain was reorganised), those answers are dropped and everything is
        read again at that block: a second round trip, once per block."""
        batch_keys, by_issuer, revocation_calls = _bulk_plan(triples)
        latest: Any = None
        if head is not None:
            try:
                read, answers, latest, by_hash = self._round(
                    head, [k for k in batch_keys if k not in head.batches], revocation_calls)
            except NodeUnavailable:
                raise
            except CrossverifyError:  # the block may be gone from the chain: the latest header tells
                latest = self._latest()
                if Head.of(latest).hash == head.hash:
                    raise
            else:
                if Head.of(latest).hash == head.hash:
                    batches = {**head.batches, **read}
                    if len(batches) > HEAD_BATCHES:  # the call's own batches, those ``head`` lent it among them
                        batches = {key: batches[key] for key in batch_keys}
                    kept = replace(head, batches=batches)
                    return self._assembled_at(triples, by_issuer, answers, kept, by_hash), kept
        fresh = Head.of(self._latest() if latest is None else latest)
        read, answers, _, by_hash = self._round(fresh, batch_keys, revocation_calls)
        fresh = replace(fresh, batches=read)
        return self._assembled_at(triples, by_issuer, answers, fresh, by_hash), fresh

    def _latest(self) -> Any:
        with node_errors():
            try:
                return rpc(self.w3)(*_LATEST)
            except Web3RPCError as exc:  # an error object: named, as a view's is
                raise TransactionFailed(f"the latest block's header: {exc}") from exc

    def _round(self, head: Head, batch_keys: Sequence[tuple[bytes, bytes]],
               revocation_calls: Sequence[tuple[str, bytes]]
               ) -> tuple[dict[tuple[bytes, bytes], DocumentStatus], Iterator[tuple[Any, ...]], Any, bool]:
        """One round trip at ``head``'s block: the batches' statuses, the revocation answers, the latest header,
        and whether the block was named by its hash. A read by hash that fails is made again by the block's
        number: when the same views answer there and the block is still the latest, the node refused the hash
        (before EIP-1898), and after ``HASH_REFUSALS`` such refusals in a row it is asked by number from then on
        (one refusal may be a passing fault: the stronger read is kept)."""
        node = rpc(self.w3)
        by_hash = node.block_hashes
        try:
            found = self._read(head, by_hash, batch_keys, revocation_calls)
        except NodeUnavailable:
            raise
        except CrossverifyError as refused:
            if not by_hash:
                raise
            found = self._read(head, False, batch_keys, revocation_calls)
            if Head.of(found[2]).hash != head.hash:
                raise refused from None
            node.refused_block_hash()
            return (*found, False)
        if by_hash and node.hash_refusals:
            node.hash_refusals = 0
        return (*found, by_hash)

    def _read(self, head: Head, by_hash: bool, batch_keys: Sequence[tuple[bytes, bytes]],
              revocation_calls: Sequence[tuple[str, bytes]]
              ) -> tuple[dict[tuple[bytes, bytes], DocumentStatus], Iterator[tuple[Any, ...]], Any]:
        status_calls = _status_calls([(issuer, root, bytes(32)) for issuer, root in batch_keys])
        raw, (chain_id, latest) = self._at(head, by_hash, [*status_calls, *revocation_calls], [_CHAIN_ID, _LATEST])
        rpc(self.w3).check_chain(chain_id)
        batches = {key: _without_document(status)
                   for key, status in zip(batch_keys, _decoded(raw[:len(status_calls)], len(batch_keys)), strict=True)}
        return batches, iter(raw[len(status_calls):]), latest

    def _at(self, head: Head, by_hash: bool, calls: Sequence[tuple[str, bytes]],
            extra: Sequence[tuple[str, Sequence[Any]]] = ()) -> tuple[list[tuple[Any, ...]], list[Any]]:
        """:meth:`raw_calls` at ``head``'s block: by its hash (EIP-1898), or by its number, together with the
        header at that number, which must be ``head``'s: the chain may have been reorganised to another block of
        that height, whose state is not ``head``'s."""
        if by_hash:
            return self.raw_calls(calls, extra, {"blockHash": to_hex(head.hash)})
        number = hex(head.number)
        raw, (*answers, at) = self.raw_calls(calls, [*extra, ("eth_getBlockByNumber", [number, False])], number)
        if not isinstance(at, dict) or Head.of(at).hash != head.hash:  # no block, or another, of that height
            raise TransactionFailed(f"block {head.number} is no longer {to_hex(head.hash)}: the chain was reorganised "
                                    "while it was read")
        return raw, answers

    def _assembled_at(self, triples: Sequence[tuple[bytes, bytes, bytes]],
                      by_issuer: dict[bytes, list[tuple[bytes, bytes]]], answers: Iterator[tuple[Any, ...]],
                      head: Head, by_hash: bool) -> list[DocumentStatus]:
        """:meth:`_assembled` with ``head``'s batches, the revoked documents' records read at ``head`` (named as
        the round trip before named it)."""
        return self._assembled(triples, by_issuer, answers, head.batches,
                               lambda revoked: _decoded(self._at(head, by_hash, _status_calls(revoked))[0],
                                                        len(revoked)))

    @staticmethod
    def _assembled(triples: Sequence[tuple[bytes, bytes, bytes]], by_issuer: dict[bytes, list[tuple[bytes, bytes]]],
                   answers: Iterator[tuple[Any, ...]], batches: Mapping[tuple[bytes, bytes], DocumentStatus],
                   records: Callable[[list[tuple[bytes, bytes, bytes]]], list[DocumentStatus]]
                   ) -> list[DocumentStatus]:
        """Each document's status: its batch's, or, for the documents the ``revokedDocuments`` ``answers`` name in
        an anchored batch, with the document's own revocation record (its status, as ``records`` reads them)."""
        revoked: list[tuple[bytes, bytes, bytes]] = []
        for issuer, documents in by_issuer.items():
            for i in _revoked_positions(answers, len(documents)):
                root, digest = documents[i]
                if batches[issuer, root].anchored:
                    revoked.append((issuer, root, digest))
        revoked = list(dict.fromkeys(revoked))
        found = dict(zip(revoked, (s.document_revocation for s in records(revoked)), strict=True)) if revoked else {}
        out = []
        for issuer, root, digest in triples:
            batch = batches[issuer, root]
            record = found.get((issuer, root, digest))
            out.append(batch if record is None else batch.with_document_revocation(record))
        return out

    def revoked_documents(self, issuer_id: bytes, digests: Sequence[bytes]) -> list[int]:
        """Positions in ``digests`` of the documents ``issuer_id`` revoked (void revocations included),
        ``REVOCATION_CHUNK`` per ``eth_call``, all in one round trip: one storage read each, and nothing to
        decode when none is revoked. Their records come with :meth:`document_statuses`."""
        raw, _ = self.raw_calls(_revocation_calls(issuer_id, digests))
        return list(_revoked_positions(iter(raw), len(digests)))


def _bulk_plan(triples: Sequence[tuple[bytes, bytes, bytes]]
               ) -> tuple[list[tuple[bytes, bytes]], dict[bytes, list[tuple[bytes, bytes]]], list[tuple[str, bytes]]]:
    """What a bulk read of ``triples`` asks: their batches (issuer id, root) once each, their documents per issuer
    (root, digest), and the ``revokedDocuments`` calls for those documents."""
    batch_keys = list(dict.fromkeys((issuer, root) for issuer, root, _ in triples))
    by_issuer: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for issuer, root, digest in _queries(triples):
        by_issuer.setdefault(issuer, []).append((root, digest))
    revocation_calls = [call for issuer, documents in by_issuer.items()
                        for call in _revocation_calls(issuer, [digest for _, digest in documents])]
    return batch_keys, by_issuer, revocation_calls


def _decoded(raw: Sequence[tuple[Any, ...]], count: int) -> list[DocumentStatus]:
    """The statuses ``documentStatuses`` answers hold, in order: those of ``count`` documents, ``STATUS_CHUNK`` an
    answer (:func:`_status_calls`). An answer of another number of statuses, or with a value the registry never
    returns, raises :class:`TransactionFailed`."""
    statuses = []
    for start, (chunk,) in zip(range(0, count, STATUS_CHUNK), raw, strict=True):
        asked = min(STATUS_CHUNK, count - start)
        if len(chunk) != asked:
            raise TransactionFailed(f"documentStatuses answered {len(chunk)} statuses for {asked} documents")
        try:
            statuses += [DocumentStatus.from_abi(_checksummed_status(r)) for r in chunk]
        except ValueError as exc:  # an enum's value out of its range
            raise TransactionFailed(f"documentStatuses answered a value the registry never returns: {exc}") from exc
    return statuses


def _status_calls(triples: Sequence[tuple[bytes, bytes, bytes]]) -> list[tuple[str, bytes]]:
    """``documentStatuses`` calls for ``triples``, their arguments ABI-encoded here: an offset, a length, and each
    (bytes11, bytes32, bytes32) as three words."""
    calls = []
    for start in range(0, len(triples), STATUS_CHUNK):
        chunk = _queries(triples[start:start + STATUS_CHUNK])
        words = [issuer.ljust(32, b"\0") + root + digest for issuer, root, digest in chunk]
        calls.append(("documentStatuses", (32).to_bytes(32, "big") + len(chunk).to_bytes(32, "big") + b"".join(words)))
    return calls


def _revocation_calls(issuer_id: bytes, digests: Sequence[bytes]) -> list[tuple[str, bytes]]:
    _require_bytes(issuer_id, 11, "issuer id")
    for digest in digests:
        _require_bytes(digest, 32, "document digest")
    calls = []
    for start in range(0, len(digests), REVOCATION_CHUNK):
        chunk = digests[start:start + REVOCATION_CHUNK]
        head = issuer_id.ljust(32, b"\0") + (64).to_bytes(32, "big") + len(chunk).to_bytes(32, "big")
        calls.append(("revokedDocuments", head + b"".join(chunk)))
    return calls


def _revoked_positions(answers: Iterator[tuple[Any, ...]], count: int) -> Iterator[int]:
    """The positions among ``count`` documents that the next ``revokedDocuments`` answers name."""
    for start in range(0, count, REVOCATION_CHUNK):
        size = min(REVOCATION_CHUNK, count - start)
        (indices,) = next(answers)
        if list(indices) != sorted(set(indices)) or any(i >= size for i in indices):
            raise TransactionFailed(f"revokedDocuments answered positions {list(indices)[:8]}… that are not "
                                    f"ascending positions among {size} documents")
        yield from (start + i for i in indices)


#: ``DocumentStatus`` as the ABI lays it out: 21 words, each a (kind, bits) the word must fit.
_STATUS_WORDS = (("bytes", 11), ("address", 160), ("uint", 40), ("uint", 40), ("bytes", 8), ("uint", 8),
                 ("uint", 24), ("uint", 8), ("uint", 40), ("address", 160), ("bool", 1), ("uint", 8), ("uint", 40),
                 ("address", 160), ("bool", 1), ("uint", 8), ("bool", 1), ("bool", 1), ("uint", 40), ("uint", 40),
                 ("uint", 40))


def _fast_statuses(result: str) -> tuple[Any, ...] | None:
    """``documentStatuses``' answer decoded word by word, as eth-abi decodes it (bytesN as bytes, addresses as
    lowercase hex, booleans, integers), or ``None`` when it is not in the canonical layout (an offset of 32,
    a length, then exactly that many statuses, every word fitting its type), for eth-abi to judge."""
    try:
        data = bytes.fromhex(result.removeprefix("0x"))
    except ValueError:
        return None
    size = 21 * 32
    if len(data) < 64 or int.from_bytes(data[:32], "big") != 32:
        return None
    count = int.from_bytes(data[32:64], "big")
    if len(data) != 64 + count * size:
        return None
    statuses = []
    for at in range(64, len(data), size):
        values: list[Any] = []
        for i, (kind, bits) in enumerate(_STATUS_WORDS):
            word = data[at + 32 * i:at + 32 * i + 32]
            if kind == "bytes":
                if any(word[bits:]):
                    return None
                values.append(word[:bits])
                continue
            number = int.from_bytes(word, "big")
            if number >> bits:
                return None
            values.append("0x" + word[12:].hex() if kind == "address" else bool(number) if kind == "bool" else number)
        statuses.append((*values[:7], tuple(values[7:11]), tuple(values[11:15]), *values[15:]))
    return (tuple(statuses),)


_FAST_DECODERS: dict[str, Callable[[str], tuple[Any, ...] | None]] = {"documentStatuses": _fast_statuses}


def _without_document(batch: DocumentStatus) -> DocumentStatus:
    """A batch's status read with the zero digest, cleared of any revocation recorded under that digest."""
    return batch if batch.document_revocation == NOT_REVOKED else batch.with_document_revocation(NOT_REVOKED)


def _require_bytes(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise InvalidQuery(f"a {what} is {size} bytes, got {value!r}")


def _queries(triples: Sequence[tuple[bytes, bytes, bytes]]) -> list[tuple[bytes, bytes, bytes]]:
    for issuer_id, root, digest in triples:
        _require_bytes(issuer_id, 11, "issuer id")
        _require_bytes(root, 32, "batch root")
        _require_bytes(digest, 32, "document digest")
    return [tuple(t) for t in triples]  # type: ignore[misc]


def _checksummed_record(raw: tuple[Any, ...]) -> tuple[Any, ...]:
    reason, revoked_at, key, void = raw
    return reason, revoked_at, _checksum(key), void


def _checksummed_status(raw: tuple[Any, ...]) -> tuple[Any, ...]:
    return (raw[0], _checksum(raw[1]), *raw[2:7], _checksummed_record(raw[7]), _checksummed_record(raw[8]),
            *raw[9:])
