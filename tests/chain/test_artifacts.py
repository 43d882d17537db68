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
        for field in ("abi", "bytecode", "deployedBytecode", "compiler", "evmVersion", "devdoc", "userdoc"):
            assert committed[field] == compiled[field], f"{name}.{field} is stale; run scripts/compile.py"


@pytest.mark.parametrize(("name", "budget"), [("DocumentRegistry", 20_480), ("RegistryGovernance", 20_480),
                                              ("Consortium", 16_000), ("Circulation", 16_000)])
def test_runtime_leaves_room_under_the_size_limit(name: str, budget: int) -> None:
    """Each contract stays within its budget, and so at least 4 KB under EIP-170's 24,576 bytes: room for the
    next features."""
    runtime = bytes.fromhex(artifact(name)["deployedBytecode"][2:])
    assert len(runtime) <= budget <= 24_576 - 4096
    assert artifact(name)["evmVersion"] == EVM_VERSION == "paris"
    assert bytes([0x5F]) not in _opcodes(runtime), "PUSH0 would not run on paris-era chains"


def _opcodes(code: bytes) -> set[bytes]:
    """The opcodes of EVM bytecode, skipping PUSH data."""
    ops, i = set(), 0
    while i < len(code):
        op = code[i]
        ops.add(bytes([op]))
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops
