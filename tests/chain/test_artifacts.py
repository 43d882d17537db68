"""The committed artifacts are exactly what the pinned compiler makes of contracts/."""

from __future__ import annotations

import shutil

import pytest

from crossverify.chain.compiler import EVM_VERSION, SOLC_SHIM, compile_contracts
from crossverify.chain.registry import artifact


@pytest.mark.skipif(shutil.which("node") is None or not SOLC_SHIM.exists(), reason="needs Node.js and the solc shim")
def test_committed_artifacts_match_sources() -> None:
    fresh = compile_contracts()
    for name, compiled in fresh.items():
        committed = artifact(name)
        assert committed["sourceDigest"] == compiled["sourceDigest"], f"{name}: sources changed; run scripts/compile.py"
        for field in ("abi", "bytecode", "deployedBytecode", "compiler", "evmVersion"):
            assert committed[field] == compiled[field], f"{name}.{field} is stale; run scripts/compile.py"


def test_runtime_fits_the_contract_size_limit() -> None:
    runtime = bytes.fromhex(artifact()["deployedBytecode"][2:])
    assert len(runtime) <= 24_576  # EIP-170
    assert artifact()["evmVersion"] == EVM_VERSION == "paris"
    assert bytes([0x5F]) not in _opcodes(runtime), "PUSH0 would not run on paris-era chains"


def _opcodes(code: bytes) -> set[bytes]:
    """The opcodes of EVM bytecode, skipping PUSH data."""
    ops, i = set(), 0
    while i < len(code):
        op = code[i]
        ops.add(bytes([op]))
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops
