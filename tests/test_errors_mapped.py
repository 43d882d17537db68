"""Every custom error in the registry ABI has a named Python exception, and decoding round-trips."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import function_abi_to_4byte_selector

from crossverify import errors
from crossverify.chain.registry import artifact, decode_revert


def test_every_abi_error_has_a_class() -> None:
    abi_errors = {e["name"] for e in artifact()["abi"] if e["type"] == "error"}
    assert abi_errors == set(errors.CONTRACT_ERRORS)
    for name in abi_errors:
        assert getattr(errors, name).__doc__, f"{name} needs a docstring: it becomes the message"


def test_decode_round_trip() -> None:
    entry = next(e for e in artifact()["abi"] if e.get("name") == "RegistryDocTypeNotAllowed")
    data = function_abi_to_4byte_selector(entry) + encode(["bytes11", "bytes8"], [b"BNUMMOMX", b"INSPOL"])
    err = decode_revert(data)
    assert isinstance(err, errors.RegistryDocTypeNotAllowed)
    assert err.args_by_name == {"issuerId": b"BNUMMOMX\0\0\0", "docType": b"INSPOL\0\0"}
    assert "not allowed to issue" in str(err)


def test_unknown_selector_is_not_guessed() -> None:
    assert decode_revert(b"\xde\xad\xbe\xef") is None
