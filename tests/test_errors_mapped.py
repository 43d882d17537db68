"""Every custom error in both contracts' ABIs has a named Python exception whose text is the error's NatSpec
notice, and decoding round-trips (the consortium passes on the registry's errors)."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_abi_to_4byte_selector
from web3.exceptions import Web3RPCError

from crossverify import errors
from crossverify.chain.registry import CONTRACTS, artifact, decode_revert, registry_errors
from crossverify.errors import TransactionFailed


def _abi_errors() -> dict[str, str]:
    """Error name -> the contract that declares it."""
    return {e["name"]: name for name in CONTRACTS for e in artifact(name)["abi"] if e["type"] == "error"}


def test_every_abi_error_has_a_class() -> None:
    assert set(_abi_errors()) == set(errors.CONTRACT_ERRORS)


@pytest.mark.parametrize("name", sorted(n for n in _abi_errors()
                                        if n.startswith(("Registry", "Consortium", "Circulation"))))
def test_class_text_is_the_natspec_notice(name: str) -> None:
    userdoc = artifact(_abi_errors()[name])["userdoc"]["errors"]
    notices = [v[0]["notice"] for k, v in userdoc.items() if k.split("(")[0] == name]
    assert notices, f"{name} has no @notice in the contract"
    assert " ".join((getattr(errors, name).__doc__ or "").split()) == " ".join(notices[0].split())


def test_every_function_event_and_error_has_natspec() -> None:
    for name in CONTRACTS:
        art = artifact(name)
        documented = {**art["userdoc"].get("methods", {}), **art["devdoc"].get("methods", {})}
        events = {**art["userdoc"].get("events", {}), **art["devdoc"].get("events", {})}
        for entry in art["abi"]:
            signature = f"{entry.get('name')}({','.join(_type(i) for i in entry.get('inputs', []))})"
            if entry["type"] == "function":
                assert signature in documented or entry["name"].isupper() or entry["name"].endswith("TYPEHASH") \
                    or entry["name"] == "eip712Domain", f"{name}.{signature} has no NatSpec"
            elif entry["type"] == "event" and entry["name"] != "EIP712DomainChanged":
                assert signature in events, f"{name} event {signature} has no NatSpec"


def _type(i: dict) -> str:  # type: ignore[type-arg]
    if i["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in i["components"]) + ")" + i["type"][5:]
    return str(i["type"])


def test_decode_round_trip() -> None:
    entry = next(e for e in artifact()["abi"] if e.get("name") == "RegistryDocTypeNotAllowed")
    data = function_abi_to_4byte_selector(entry) + encode(["bytes11", "bytes8"], [b"BNUMMOMX", b"INSPOL"])
    err = decode_revert(data)
    assert isinstance(err, errors.RegistryDocTypeNotAllowed)
    assert err.args_by_name == {"issuerId": b"BNUMMOMX\0\0\0", "docType": b"INSPOL\0\0"}
    assert "not allowed to issue" in str(err)


def test_consortium_errors_decode() -> None:
    entry = next(e for e in artifact("Consortium")["abi"] if e.get("name") == "ConsortiumProposalStale")
    err = decode_revert(function_abi_to_4byte_selector(entry) + encode(["uint256", "uint32", "uint32"], [7, 1, 2]))
    assert isinstance(err, errors.ConsortiumProposalStale)
    assert err.args_by_name == {"proposalId": 7, "epoch": 1, "currentEpoch": 2}


def test_unknown_selector_is_not_guessed() -> None:
    assert decode_revert(b"\xde\xad\xbe\xef") is None


@pytest.mark.parametrize("error", [
    {"code": 3, "message": "execution reverted: bad signature"},
    {"code": 3, "message": "execution reverted", "data": "0x" + (function_abi_to_4byte_selector(next(
        e for e in artifact()["abi"] if e.get("name") == "RegistryDocTypeNotAllowed")) + b"\x01").hex()}],
    ids=["a reason string", "arguments cut short"])
def test_a_revert_that_does_not_decode_is_a_plain_failure(error: dict) -> None:  # type: ignore[type-arg]
    """A node's revert whose message is a reason string that begins as eth-tester's bytes do ('execution reverted:
    b...', as geth writes a reason without data), or whose data names a known error with its arguments cut short:
    TransactionFailed with the node's words, not a SyntaxError or eth-abi's DecodingError."""
    with pytest.raises(TransactionFailed, match="execution reverted"), registry_errors():
        raise Web3RPCError(str(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})  # type: ignore[typeddict-item]
