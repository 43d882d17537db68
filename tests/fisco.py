"""A stand-in for FISCO BCOS's precompiled Crypto contract (address 0x100a) on an embedded py-evm chain.

It answers the two calls :class:`SM2PrecompileVerifier` makes, as FISCO BCOS 3.x's CryptoPrecompiled does:
``sm3(bytes)`` and ``sm2Verify(bytes message, bytes sign)``, where ``message`` must be 32 bytes, ``sign`` is
``r || s || x || y``, and the answer is ``(valid, account)`` with the key's account (the last 20 bytes of
SM3(x || y)) or ``(false, 0)``. Selectors are hashed with SM3 in national-cryptography mode, with keccak-256
otherwise; an unknown selector fails the call. The work is done by crossverify.gm (Tongsuo and OpenSSL), not by
the Solidity under test.
"""

from __future__ import annotations

from typing import ClassVar

from eth.abc import ComputationAPI
from eth.exceptions import VMError
from eth.vm.forks import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth_abi import decode, encode
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import keccak, to_canonical_address
from web3 import EthereumTesterProvider, Web3

from crossverify import gm
from crossverify.chain.connection import estimating_by_execution

CRYPTO = to_canonical_address("0x000000000000000000000000000000000000100a")


def _selector(signature: str, national: bool) -> bytes:
    return (gm.sm3 if national else keccak)(signature.encode())[:4]


def crypto_precompile(national: bool):  # type: ignore[no-untyped-def]
    sm3_selector, verify_selector = _selector("sm3(bytes)", national), _selector("sm2Verify(bytes,bytes)", national)

    def run(computation: ComputationAPI) -> ComputationAPI:
        data = bytes(computation.msg.data)
        computation.consume_gas(3000, reason="FISCO BCOS Crypto precompile")
        if data[:4] == sm3_selector:
            (payload,) = decode(["bytes"], data[4:])
            computation.output = encode(["bytes32"], [gm.sm3(payload)])
        elif data[:4] == verify_selector:
            message, sign = decode(["bytes", "bytes"], data[4:])
            valid = len(message) == 32 and len(sign) == 128 and gm.verify(sign[64:], message, sign[:64])
            account = "0x" + gm.sm3(sign[64:])[12:].hex() if valid else "0x" + "00" * 20
            computation.output = encode(["bool", "address"], [valid, account])
        else:
            raise VMError("CryptoPrecompiled call undefined function!")
        return computation

    return run


def fisco_chain(national: bool) -> Web3:
    """A fresh embedded chain whose every block has the Crypto precompile at 0x100a."""

    class FiscoComputation(PragueComputation):
        _precompiles: ClassVar = {**PragueComputation._precompiles, CRYPTO: crypto_precompile(national)}

    class FiscoState(PragueState):
        computation_class = FiscoComputation

    class FiscoVM(PragueVM):
        _state_class = FiscoState

    backend = estimating_by_execution(PyEVMBackend(vm_configuration=((0, FiscoVM),)))
    return Web3(EthereumTesterProvider(EthereumTester(backend)))
