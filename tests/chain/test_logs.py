"""The fast log path (raw ``eth_getLogs``, packed arguments) against web3's: random events of every type of both
contracts, emitted on chain, decode identically; logs an ABI does not describe exactly are refused by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.tools import get_abi_strategy
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from web3 import Web3

from crossverify.chain.circulation import CirculationContract
from crossverify.chain.consortium import ConsortiumContract
from crossverify.chain.logs import EventCodec, LogDecoder, LogSource, RawLog, _sliced_spans, _type, _values
from crossverify.chain.registry import Deployed, Registry, artifact
from crossverify.errors import LogNotDecodable

CONTRACTS: dict[str, type[Deployed]] = {"DocumentRegistry": Registry, "Consortium": ConsortiumContract,
                                         "Circulation": CirculationContract}
EVENTS = [(name, e) for name in CONTRACTS for e in artifact(name)["abi"] if e["type"] == "event"]


def emitter_code(topics: int) -> bytes:
    """Creation code of a contract whose every call logs ``LOG<topics>``: the calldata's first ``topics`` words
    are the topics, the rest the data."""
    runtime = bytes.fromhex("366000600037")  # CALLDATACOPY(0, 0, CALLDATASIZE)
    for i in reversed(range(topics)):
        runtime += bytes([0x60, 32 * i, 0x51])  # MLOAD(32 i)
    runtime += bytes([0x60, 32 * topics, 0x36, 0x03, 0x60, 32 * topics, 0xA0 + topics, 0x00])
    return bytes([0x60, len(runtime), 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3]) + runtime


class Emitters:
    """One emitter per contract and topic count, each read with that contract's ABI."""

    def __init__(self, w3: Web3, sender: str) -> None:
        self.w3, self.sender = w3, sender
        self.at: dict[tuple[str, int], str] = {}
        for name in CONTRACTS:
            for topics in range(5):
                tx = w3.eth.send_transaction({"from": sender, "data": emitter_code(topics), "gas": 100_000})
                self.at[(name, topics)] = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
        self.decoder = LogDecoder((address, artifact(name)["abi"]) for (name, _), address in self.at.items())

    def emit(self, contract: str, topics: list[bytes], data: bytes) -> None:
        tx = self.w3.eth.send_transaction({"from": self.sender, "to": self.at[(contract, len(topics))],
                                           "data": b"".join(topics) + data, "gas": 1_000_000})
        assert self.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1

    def web3_args(self, low: int, high: int) -> list[dict[str, Any]]:
        """Arguments as the index stored them before (``Deployed.decode_logs`` of web3's ``get_logs``, as JSON)."""
        out = []
        for (name, _), address in self.at.items():
            logs = self.w3.eth.get_logs({"address": address, "fromBlock": low, "toBlock": high})
            out += [(e.block_number, e.log_index, _json(e.args))
                    for e in CONTRACTS[name].at(self.w3, address).decode_logs(logs)]
        return [args for *_, args in sorted(out, key=lambda e: (e[0], e[1]))]

    def web3_process_log(self, low: int, high: int) -> list[dict[str, Any]]:
        """Arguments as web3's own ``process_log`` decodes them (events without tuples: web3 8 fails on some
        arrays of structs, which the comparison with ``decode_logs`` covers)."""
        out = []
        for (name, _), address in self.at.items():
            contract = self.w3.eth.contract(address=address, abi=artifact(name)["abi"])
            for log in self.w3.eth.get_logs({"address": address, "fromBlock": low, "toBlock": high}):
                event = next(e for e in contract.all_events() if e.topic == "0x" + bytes(log["topics"][0]).hex())
                if any(i["type"].startswith("tuple") for i in event.abi["inputs"]):
                    continue
                decoded = event.process_log(log)
                out.append((log["blockNumber"], log["logIndex"], _json(dict(decoded["args"].items()))))
        return [args for *_, args in sorted(out, key=lambda e: (e[0], e[1]))]

    def fast_args(self, low: int, high: int) -> list[dict[str, Any]]:
        logs = LogSource(self.w3).logs(self.decoder.addresses, low, high)
        return [(c := self.decoder.codec(x)).unpack(c.pack(x.topics, x.data)) for x in logs]


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda b: "0x" + bytes(b).hex()))


def _lower(value: Any) -> Any:
    """Addresses inside tuples come checksummed from web3 and in lower case from eth-abi: compare ignoring case."""
    if isinstance(value, dict):
        return {k: _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value.lower() if isinstance(value, str) else value


def event_strategy() -> st.SearchStrategy[tuple[str, list[bytes], bytes]]:
    """A random event of either contract: (contract, topics, data), its values drawn over each ABI type."""
    def encoded(item: tuple[str, dict[str, Any]]) -> st.SearchStrategy[tuple[str, list[bytes], bytes]]:
        contract, entry = item
        indexed = [i for i in entry["inputs"] if i["indexed"]]
        data = [i for i in entry["inputs"] if not i["indexed"]]
        topic0 = Web3.keccak(text=f"{entry['name']}({','.join(_type(i) for i in entry['inputs'])})")
        values = st.tuples(*(_strategy(_type(i)) for i in indexed), *(_strategy(_type(i)) for i in data))
        return values.map(lambda v: (contract, [topic0, *(abi_encode([_type(i)], [x]) for i, x in zip(
            indexed, v, strict=False))], abi_encode([_type(i) for i in data], list(v[len(indexed):]))))
    return st.sampled_from(EVENTS).flatmap(encoded)


def _strategy(type_str: str) -> st.SearchStrategy[Any]:
    if type_str.endswith("[]"):  # keep dynamic arrays short: every example is a transaction
        return st.lists(_strategy(type_str[:-2]), max_size=3).map(tuple)
    if type_str == "bytes":
        return st.binary(max_size=80)
    return get_abi_strategy(type_str)


def _has_tuple(contract: str, topic0: bytes) -> bool:
    entry = next(e for c, e in EVENTS if c == contract and Web3.keccak(
        text=f"{e['name']}({','.join(_type(i) for i in e['inputs'])})") == topic0)
    return any(i["type"].startswith("tuple") for i in entry["inputs"])


def check_equivalence(emitters: Emitters, events: list[tuple[str, list[bytes], bytes]]) -> None:
    low = emitters.w3.eth.block_number + 1
    for contract, topics, data in events:
        emitters.emit(contract, topics, data)
    high = emitters.w3.eth.block_number
    fast = emitters.fast_args(low, high)
    assert fast == emitters.web3_args(low, high)
    plain = [a for a, (c, t, _) in zip(fast, events, strict=True) if not _has_tuple(c, t[0])]
    assert _lower(plain) == _lower(emitters.web3_process_log(low, high))
    assert len(fast) == len(events)


@pytest.fixture(scope="module")
def emitters(w3: Web3) -> Emitters:
    return Emitters(w3, w3.eth.accounts[7])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(events=st.lists(event_strategy(), min_size=1, max_size=5))
def test_random_events_decode_as_web3_decodes_them(emitters: Emitters,
                                                   events: list[tuple[str, list[bytes], bytes]]) -> None:
    check_equivalence(emitters, events)


def test_every_event_type_round_trips_through_its_stored_form() -> None:
    for _, entry in EVENTS:
        codec = EventCodec(entry)
        data = [i for i in entry["inputs"] if not i["indexed"]]
        assert codec.raw_data == any(_type(i).endswith("[]") or _type(i) == "bytes" for i in data)


def _codec(name: str) -> EventCodec:
    return EventCodec(next(e for _, e in EVENTS if e["name"] == name))


def _word(value: bytes) -> str:
    return "0x" + value.rjust(32, b"\0").hex()


@pytest.mark.parametrize("tamper", [
    lambda t, d: (t[:-1], d),  # a topic missing
    lambda t, d: ([*t, t[-1]], d),  # one too many
    lambda t, d: (t, d + "00" * 32),  # a word of data too many
    lambda t, d: (t, d[:-2]),  # data cut short
    lambda t, d: ([*t[:3], "0x" + "ff" * 12 + t[3][26:]], d),  # an address with its padding set
    lambda t, d: ([t[0], t[1], "0x" + "ab" * 32, t[3]], d),  # bytes11 issuerId with non-zero trailing bytes
    lambda t, d: (t, "0x" + "01" * 32 + d[66:]),  # uint8 reason out of range
    lambda t, d: (t, d[:-2] + "zz"),  # not hex
])
def test_a_log_its_abi_does_not_describe_is_refused(tamper: Callable[[list[str], str], tuple[list[str], str]]) -> None:
    codec = _codec("BatchRevoked")
    issuer = "0x" + b"BNUMMOMX".ljust(11, b"\0").ljust(32, b"\0").hex()
    topics = ["0x" + codec.topic.hex(), _word(b"\x01" * 32), issuer, _word(b"\x03" * 20)]
    data = _word(b"\x02") + _word(b"\x04" * 20)[2:]
    assert codec.unpack(codec.pack(topics, data))["actor"] == Web3.to_checksum_address(b"\x03" * 20)
    with pytest.raises(LogNotDecodable):
        codec.pack(*tamper(topics, data))


def test_a_bool_other_than_zero_or_one_is_refused() -> None:
    codec = _codec("DocTypePermissionChanged")
    topics = ["0x" + codec.topic.hex(), _word(b"x" * 11 + b"\0" * 21), _word(b"y" * 8 + b"\0" * 24), _word(b"\1")]
    assert codec.unpack(codec.pack(topics, _word(b"\1")))["allowed"] is True
    with pytest.raises(LogNotDecodable):
        codec.pack(topics, _word(b"\2"))


def test_unknown_events_and_contracts_are_refused() -> None:
    decoder = LogDecoder([("0x" + "11" * 20, artifact("DocumentRegistry")["abi"])])
    unknown = RawLog("0x" + "11" * 20, ["0x" + "00" * 32], "0x", 1, "0x" + "00" * 32, "0x" + "00" * 32, 0)
    with pytest.raises(LogNotDecodable, match="unknown topic"):
        decoder.codec(unknown)
    with pytest.raises(LogNotDecodable, match="not a contract being read"):
        decoder.codec(unknown._replace(address="0x" + "22" * 20))
    with pytest.raises(LogNotDecodable, match="unknown topic"):
        decoder.codec(unknown._replace(topics=[]))


SEALED = ["bytes32[]", "bytes"]


def _sliced_values(types: list[str], data: bytes) -> list[Any] | None:
    spans = _sliced_spans(types, data)
    return None if spans is None else _values(types, data, spans)


@settings(max_examples=300, deadline=None)
@given(commitments=st.lists(st.binary(min_size=32, max_size=32), max_size=6), ciphertext=st.binary(max_size=100),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["flip", "cut", "grow"])), max_size=2))
def test_sealed_receipts_data_is_sliced_as_eth_abi_decodes_it(commitments: list[bytes], ciphertext: bytes,
                                                             edits: list[tuple[int, str]]) -> None:
    """Data laid out as an encoder lays it out is read by slicing, with eth-abi's values; anything else (a flipped
    byte in an offset, a length or the padding, data cut short or grown) is left to eth-abi or equals its reading."""
    data = bytearray(abi_encode(SEALED, [commitments, ciphertext]))
    expected: Any = [["0x" + c.hex() for c in commitments], "0x" + ciphertext.hex()]
    assert _sliced_values(SEALED, bytes(data)) == expected
    for pick, how in edits:
        if how == "flip" and data:
            data[pick % len(data)] ^= 1 << (pick % 8)
        elif how == "cut":
            del data[-(1 + pick % 40):]
        else:
            data += bytes([pick % 256]) * (1 + pick % 40)
    sliced = _sliced_values(SEALED, bytes(data))
    if sliced is not None:
        values = abi_decode(SEALED, bytes(data), strict=True)
        assert sliced == [["0x" + c.hex() for c in values[0]], "0x" + values[1].hex()]


def test_sealed_receipts_round_trip_through_their_stored_form() -> None:
    codec = _codec("ReceiptsSealed")
    assert codec.raw_data
    topics = ["0x" + codec.topic.hex(), _word(b"\x03" * 20), _word(b"\x07")]
    commitments, ciphertext = [b"\x01" * 32, b"\x02" * 32], b"sealed" * 11
    data = "0x" + abi_encode(SEALED, [commitments, ciphertext]).hex()
    args = codec.unpack(codec.pack(topics, data))
    assert args["commitments"] == ["0x" + c.hex() for c in commitments]
    assert args["ciphertext"] == "0x" + ciphertext.hex()
    lengths = codec.unpack(codec.pack(topics, data), lengths=True)
    assert lengths == {**args, "commitments": 2, "ciphertext": len(ciphertext)}
    odd = "0x" + _word(b"\x60")[2:] + data[2 + 64:]  # the first offset off by 0x20: not as an encoder writes it
    with pytest.raises(LogNotDecodable):
        codec.pack(topics, odd)
