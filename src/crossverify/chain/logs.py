"""Bulk event reading without web3's result formatters: raw ``eth_getLogs`` and block headers, and a compact,
strictly checked binary form of each event's arguments.

An event's arguments are packed by its ABI: each static elementary value keeps only its significant bytes (an
address 20, a ``bytes11`` 11, a ``uint40`` 5, a ``bool`` 1) after its padding was checked to be zero; indexed
reference types keep their 32-byte topic (a hash, as web3 gives it); data holding a dynamic or composite type is
kept ABI-encoded. :meth:`EventCodec.unpack` gives back what :meth:`Deployed.decode_logs
<crossverify.chain.registry.Deployed.decode_logs>` gives, in JSON form (bytes as ``0x`` hex, addresses
checksummed, integers and booleans as themselves, tuples as lists).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.grammar import BasicType, TupleType, parse
from eth_utils.abi import event_abi_to_log_topic
from requests.exceptions import Timeout
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import Web3RPCError

from ..errors import LogNotDecodable, NodeUnavailable, TransactionFailed
from .connection import rpc

T = TypeVar("T")

#: Block headers asked for in one JSON-RPC batch request.
BATCH = 500
#: Blocks the first ``eth_getLogs`` of a walk (:func:`spanning`) asks about; each next one asks about twice as many
#: as the last the node answered, up to ``MAX_SPAN``, and half as many as the last it refused. After a refusal,
#: spans stay under the refused one for ``REPROBE`` answers, then may grow again: a node that caps the range keeps
#: refusing the same length (one query in ``REPROBE + 1`` refused), one that caps the results refused a dense
#: stretch of blocks, not every later one.
FIRST_SPAN = 2000
MAX_SPAN = 100_000
REPROBE = 8


def spanning(fetch: Callable[[int, int], Sequence[T]], from_block: int, to_block: int) -> list[T]:
    """What ``fetch(low, high)``, one ``eth_getLogs`` over blocks ``low`` to ``high``, finds in blocks ``from_block``
    to ``to_block``, asked span by span: nodes cap the range of one query (Besu's ``--rpc-max-logs-range``, 1,000
    blocks by default), and one query over years of blocks would hold the node, and outlast the client's timeout.
    A span the node refuses, or does not answer in time, is asked again halved (``REPROBE``); one of a single block
    refused raises :class:`~crossverify.errors.TransactionFailed`. Topic-filtered queries find few logs in many
    blocks: the span doubles after each answer."""
    return [log for found in _spans(fetch, from_block, to_block) for log in found]


def newest(fetch: Callable[[int, int], Sequence[T]], to_block: int) -> Sequence[T]:
    """What :func:`spanning` would find in the newest of its spans that holds anything, walking back from
    ``to_block`` (nothing if no block does): for a log known to exist, most likely recent."""
    return next((found for found in _spans(fetch, 0, to_block, backwards=True) if found), [])


def _spans(fetch: Callable[[int, int], Sequence[T]], from_block: int, to_block: int, backwards: bool = False
           ) -> Iterator[Sequence[T]]:
    span, most, answered = FIRST_SPAN, MAX_SPAN, 0
    while from_block <= to_block:
        low, high = ((max(from_block, to_block - span + 1), to_block) if backwards else
                     (from_block, min(to_block, from_block + span - 1)))
        try:
            found = fetch(low, high)
        except (Web3RPCError, NodeUnavailable) as exc:
            timed_out = isinstance(exc, NodeUnavailable) and isinstance(exc.__cause__, (TimeoutError, Timeout))
            if isinstance(exc, NodeUnavailable) and not (timed_out and high > low):
                raise  # unreachable, or not even one block in time
            if high == low:  # refused, not too long
                raise TransactionFailed(f"eth_getLogs of block {low} refused: {exc}") from exc
            span = most = (high - low + 1) // 2  # refused, or too long to answer in time
            answered = 0
            continue
        yield found
        if backwards:
            to_block = low - 1
        else:
            from_block = high + 1
        answered += 1
        if answered % REPROBE == 0:
            most = min(MAX_SPAN, 2 * most)
        span = min(most, 2 * span)


class RawLog(NamedTuple):
    """One log as the node sent it (hex text), with only its numbers parsed."""

    address: str
    topics: list[str]
    data: str
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int


@lru_cache(maxsize=4096)
def _checksum(address: bytes) -> str:
    return str(Web3.to_checksum_address(address))


def _json(value: Any) -> Any:
    """A decoded ABI value as JSON reads it back: bytes as ``0x`` hex, tuples as lists."""
    return json.loads(json.dumps(value, default=lambda b: "0x" + b.hex()))


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # "address", "bytes", "uint", "int", "bool"
    width: int  # bytes kept in the packed form
    pad: int  # leading (numbers, addresses) or trailing (bytesN) padding bytes in the 32-byte word
    bits: int = 0  # a signed integer's size


def _field(name: str, type_str: str, indexed: bool) -> _Field | None:
    """The packed layout of one static elementary value, or None when it is kept ABI-encoded."""
    abi = parse(type_str)
    if indexed and (abi.is_dynamic or isinstance(abi, TupleType) or abi.is_array):
        return _Field(name, "bytes", 32, 0)  # the topic is the value's keccak hash
    if not isinstance(abi, BasicType) or abi.is_array:
        return None
    if abi.base == "address":
        return _Field(name, "address", 20, 12)
    if abi.base == "bool":
        return _Field(name, "bool", 1, 31)
    if abi.base == "uint":
        return _Field(name, "uint", abi.sub // 8, 32 - abi.sub // 8)
    if abi.base == "int":
        return _Field(name, "int", 32, 0, abi.sub)  # sign-extended: kept whole
    if abi.base == "bytes" and isinstance(abi.sub, int):
        return _Field(name, "bytes", abi.sub, 32 - abi.sub)
    return None


class EventCodec:
    """Packs one event's topics and data into bytes and unpacks them into its arguments."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.name: str = entry["name"]
        self.topic = _topic(entry)
        inputs = entry["inputs"]
        indexed = [i for i in inputs if i["indexed"]]
        data = [i for i in inputs if not i["indexed"]]
        self._indexed = [_field(i["name"], _type(i), True) for i in indexed]
        packed_data = [_field(i["name"], _type(i), False) for i in data]
        #: Data with a dynamic or composite value is kept ABI-encoded, after the packed topics.
        self.raw_data = any(f is None for f in packed_data)
        self._data_names = [i["name"] for i in data]
        self._data_types = [_type(i) for i in data]
        self._sliced = bool(data) and all(t in _SLICED for t in self._data_types)
        self._data_addresses = {i["name"] for i in data if i["type"] == "address"}
        fields: list[_Field] = [f for f in self._indexed if f is not None]
        if not self.raw_data:
            fields += [f for f in packed_data if f is not None]
        self._fields = fields
        self._words = 32 * len(fields)
        self._n_topics = 1 + len(indexed)
        self._data_len = 0 if self.raw_data else 32 * len(data)
        mask, keep = 0, []
        for i, f in enumerate(fields):
            padding = (1 << (8 * f.pad)) - 1
            word_mask = padding if f.kind == "bytes" else padding << (8 * (32 - f.pad))
            if f.kind == "bool":
                word_mask |= 0xFE
            mask = (mask << 256) | word_mask
            start = 32 * i + (0 if f.kind == "bytes" else f.pad)
            keep.append((start, start + f.width))
        self._mask = mask
        self._keep = keep
        self._ints = [(32 * i, f) for i, f in enumerate(fields) if f.kind == "int"]
        self._packed_len = sum(f.width for f in fields)
        offsets, at = [], 0
        for f in fields:
            offsets.append((f.name, at, at + f.width, _UNPACK[f.kind]))
            at += f.width
        self._unpackers = offsets

    def pack(self, topics: Sequence[str], data: str) -> bytes:
        """The packed arguments of a log with these hex ``topics`` (the event's first) and hex ``data``.

        Raises :class:`~crossverify.errors.LogNotDecodable` for a log its ABI does not describe exactly.
        """
        if len(topics) != self._n_topics:
            raise LogNotDecodable(f"{self.name} log with {len(topics) - 1} indexed topics, expected "
                                  f"{self._n_topics - 1}")
        try:
            head = "".join(t[2:] for t in topics[1:])
            words = bytes.fromhex(head if self.raw_data else head + data[2:])
            tail = bytes.fromhex(data[2:]) if self.raw_data else b""
        except ValueError as exc:
            raise LogNotDecodable(f"{self.name} log is not hex: {exc}") from None
        if len(words) != self._words or (not self.raw_data and len(words) != 32 * (self._n_topics - 1)
                                         + self._data_len):
            raise LogNotDecodable(f"{self.name} log holds {len(words)} bytes of static values, expected "
                                  f"{self._words}")
        if self._mask and int.from_bytes(words, "big") & self._mask:
            raise LogNotDecodable(f"{self.name} log has a value out of its type's range (non-zero padding)")
        for offset, f in self._ints:
            value = int.from_bytes(words[offset:offset + 32], "big", signed=True)
            if not -(1 << (f.bits - 1)) <= value < (1 << (f.bits - 1)):
                raise LogNotDecodable(f"{self.name} log has {f.name} out of range")
        if self.raw_data and (not self._sliced or _sliced_spans(self._data_types, tail) is None):
            try:
                abi_decode(self._data_types, tail, strict=True)
            except Exception as exc:  # eth-abi raises several unrelated classes
                raise LogNotDecodable(f"{self.name} log data does not decode: {exc}") from None
        return b"".join(words[a:b] for a, b in self._keep) + tail

    def unpack(self, packed: bytes, *, lengths: bool = False) -> dict[str, Any]:
        """The arguments, in JSON form, from what :meth:`pack` made; with ``lengths``, each dynamic value (``bytes``,
        a string, an array) as its length instead: what is read of a large log without copying its content."""
        args = {name: convert(packed[a:b]) for name, a, b, convert in self._unpackers}
        if self.raw_data:
            tail = packed[self._packed_len:]
            spans = _sliced_spans(self._data_types, tail) if self._sliced else None
            if spans is not None:
                args.update(zip(self._data_names, _lengths(self._data_types, spans) if lengths else
                                _values(self._data_types, tail, spans), strict=True))
                return args
            values = abi_decode(self._data_types, tail)
            for name, kind, value in zip(self._data_names, self._data_types, values, strict=True):
                if lengths and (kind.endswith("]") or kind in ("bytes", "string")):
                    args[name] = len(value)
                else:
                    args[name] = _checksum(bytes.fromhex(value[2:])) if name in self._data_addresses else _json(value)
        return args

    def pack_args(self, args: Mapping[str, Any]) -> bytes:
        """The packed form of arguments in JSON form (what :meth:`unpack` gives): for migrating stored rows."""
        out = []
        for f in self._fields:
            value = args[f.name]
            if f.kind in ("address", "bytes"):
                raw = bytes.fromhex(value[2:])
                if len(raw) != f.width:
                    raise LogNotDecodable(f"{self.name}.{f.name} is {len(raw)} bytes, expected {f.width}")
                out.append(raw)
            elif f.kind == "bool":
                out.append(b"\x01" if value else b"\x00")
            else:
                out.append(int(value).to_bytes(f.width, "big", signed=f.kind == "int"))
        if self.raw_data:
            values = [_from_json(t, args[n]) for n, t in zip(self._data_names, self._data_types, strict=True)]
            out.append(abi_encode(self._data_types, values))
        return b"".join(out)


#: Dynamic data read by slicing when it is ABI-encoded as an encoder lays it out (else by eth-abi): the sealed
#: receipts' commitments and ciphertext.
_SLICED = frozenset({"bytes32[]", "bytes"})


def _sliced_spans(types: Sequence[str], data: bytes) -> list[tuple[int, int]] | None:
    """Where each value of ``data``, the ABI encoding of ``types`` (each ``bytes32[]`` or ``bytes``), lies (its
    content's start and end) when ``data`` is laid out exactly as an encoder lays it out (offsets in order, each
    tail right after the previous one, zero padding, nothing after the last); ``None`` otherwise, for eth-abi to
    judge. What this accepts, eth-abi's strict decoding reads as the same values (tests/chain/test_logs.py)."""
    size, at = len(data), 32 * len(types)
    spans = []
    for i, kind in enumerate(types):
        if size < at + 32 or int.from_bytes(data[32 * i:32 * i + 32], "big") != at:
            return None
        length = int.from_bytes(data[at:at + 32], "big")
        at += 32
        if kind == "bytes":
            padded = at + -(-length // 32) * 32
            if padded > size or data[at + length:padded].count(0) != padded - at - length:
                return None
            spans.append((at, at + length))
        else:
            padded = at + 32 * length
            if padded > size:
                return None
            spans.append((at, padded))
        at = padded
    return spans if at == size else None


def _values(types: Sequence[str], data: bytes, spans: list[tuple[int, int]]) -> list[Any]:
    """The values at ``spans`` of ``data`` (:func:`_sliced_spans`), in JSON form."""
    values: list[Any] = []
    for kind, (start, end) in zip(types, spans, strict=True):
        text = data[start:end].hex()
        values.append("0x" + text if kind == "bytes" else ["0x" + text[j:j + 64] for j in range(0, len(text), 64)])
    return values


def _lengths(types: Sequence[str], spans: list[tuple[int, int]]) -> list[int]:
    """The length of each value at ``spans`` (bytes, or elements of a ``bytes32[]``)."""
    return [end - start if kind == "bytes" else (end - start) // 32
            for kind, (start, end) in zip(types, spans, strict=True)]


def _bool(b: bytes) -> bool:
    return b == b"\x01"


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _uint(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


_UNPACK: dict[str, Callable[[bytes], Any]] = {"address": _checksum, "bytes": _hex, "uint": _uint, "int": _int,
                                              "bool": _bool}


def _topic(entry: Mapping[str, Any]) -> bytes:
    return bytes(event_abi_to_log_topic(entry))  # type: ignore[arg-type]


def _type(entry: Mapping[str, Any]) -> str:
    """An ABI input's canonical type, tuples spelled out."""
    kind: str = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in entry["components"]) + ")" + kind[5:]
    return kind


def _from_json(type_str: str, value: Any) -> Any:
    """A value in JSON form back to what eth-abi encodes."""
    abi = parse(type_str)
    if abi.is_array:
        return tuple(_from_json(abi.item_type.to_type_str(), v) for v in value)
    if isinstance(abi, TupleType):
        return tuple(_from_json(c.to_type_str(), v) for c, v in zip(abi.components, value, strict=True))
    if abi.base == "bytes":
        return bytes.fromhex(value[2:])
    return value


class LogDecoder:
    """The codecs of a list of contracts (each an address and its ABI), by address and topic."""

    def __init__(self, contracts: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> None:
        self.addresses: list[str] = []
        self._by_address: dict[str, dict[str, EventCodec]] = {}
        self.by_topic: dict[bytes, EventCodec] = {}
        for address, abi in contracts:
            codecs = {}
            for entry in abi:
                if entry["type"] == "event" and not entry.get("anonymous"):
                    codec = self.by_topic.setdefault(_topic(entry), EventCodec(entry))
                    codecs["0x" + codec.topic.hex()] = codec
            self.addresses.append(Web3.to_checksum_address(address))
            self._by_address[address.lower()] = codecs

    def codec(self, log: RawLog) -> EventCodec:
        """The codec of ``log``; :class:`~crossverify.errors.LogNotDecodable` if its contract has no such event."""
        codecs = self._by_address.get(log.address.lower())
        if codecs is None:
            raise LogNotDecodable(f"log from {log.address}, which is not a contract being read")
        codec = codecs.get(log.topics[0].lower()) if log.topics else None
        if codec is None:
            topic = log.topics[0] if log.topics else "none"
            raise LogNotDecodable(f"log with unknown topic {topic} from {log.address}")
        return codec

    def by_name(self, name: str) -> EventCodec:
        found = [c for c in self.by_topic.values() if c.name == name]
        if len(found) != 1:
            raise LogNotDecodable(f"{len(found)} events are named {name}")
        return found[0]


class LogSource:
    """Logs and block headers straight from the node: JSON-RPC for a node, eth-tester's own calls for the
    embedded chain; in both, no web3 result formatting."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        provider = w3.provider
        self._tester = provider.ethereum_tester if isinstance(provider, EthereumTesterProvider) else None

    def logs(self, addresses: Sequence[str], low: int, high: int) -> list[RawLog]:
        """Every log of ``addresses`` in blocks ``low`` to ``high``, in chain order."""
        if self._tester is not None:
            return [RawLog(x["address"], list(x["topics"]), x["data"], x["block_number"], x["block_hash"],
                           x["transaction_hash"], x["log_index"])
                    for x in self._tester.get_logs(from_block=low, to_block=high, address=list(addresses))]
        try:
            found = rpc(self.w3)("eth_getLogs", [{"address": list(addresses), "fromBlock": hex(low),
                                                   "toBlock": hex(high)}])
        except Web3RPCError as exc:
            raise TransactionFailed(f"eth_getLogs {low}-{high} refused: {exc}") from exc
        try:
            return [RawLog(x["address"], x["topics"], x["data"], int(x["blockNumber"], 16), x["blockHash"],
                           x["transactionHash"], int(x["logIndex"], 16)) for x in found]
        except (KeyError, TypeError, ValueError) as exc:  # a field missing, null, or not hex
            raise LogNotDecodable(f"eth_getLogs {low}-{high} answered {str(found)[:200]}, not logs ({exc!r})"
                                  ) from None

    def blocks(self, numbers: Iterable[int]) -> dict[int, tuple[bytes, int] | None]:
        """Each block's hash and timestamp, or None for a block the node does not have; one round trip per
        ``BATCH`` blocks."""
        numbers = sorted(numbers)
        if self._tester is not None:
            from eth_tester.exceptions import BlockNotFound

            found: dict[int, tuple[bytes, int] | None] = {}
            for n in numbers:
                try:
                    block = self._tester.get_block_by_number(n)
                except BlockNotFound:
                    found[n] = None
                else:
                    found[n] = (bytes.fromhex(block["hash"][2:]), int(block["timestamp"]))
            return found
        if not numbers:
            return {}
        blocks = []
        for at in range(0, len(numbers), BATCH):  # nodes cap batches (Besu: 1,024 requests by default)
            try:
                blocks += rpc(self.w3).batch([("eth_getBlockByNumber", [hex(n), False])
                                              for n in numbers[at:at + BATCH]])
            except Web3RPCError as exc:
                raise TransactionFailed(f"eth_getBlockByNumber refused: {exc}") from exc
        out: dict[int, tuple[bytes, int] | None] = {}
        asked = set(numbers)
        for block in blocks:
            if block is None:
                continue
            try:
                number, block_hash = int(block["number"], 16), bytes.fromhex(block["hash"].removeprefix("0x"))
                out[number] = (block_hash, int(block["timestamp"], 16))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field missing, null, or not hex
                raise LogNotDecodable(f"eth_getBlockByNumber answered {str(block)[:200]}, not a block header "
                                      f"({exc!r})") from None
            if len(block_hash) != 32 or number not in asked:
                raise LogNotDecodable(f"eth_getBlockByNumber answered {str(block)[:200]}, not a header of a block "
                                      "asked for")
        return {n: out.get(n) for n in numbers}
