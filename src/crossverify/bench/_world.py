"""A fresh embedded chain with a deployed, populated consortium for one benchmark section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.base import BaseAccount
from web3 import EthereumTesterProvider, Web3

from ..chain.circulation import CirculationContract
from ..chain.connection import chain_time
from ..chain.records import Role
from ..chain.registry import Registry
from ..chain.transactions import Sender
from ..chain.typed_data import Domain, key_proof
from ..consortium.operator import OperatorClient
from ..format.certificate import Certificate, DocumentHeader
from ..format.codes import issuer_id_code
from ..sealing import Kem, RegulatorKey

ISSUER = "BNUMMOMX"
#: The regulators' sealing keys of every benchmark chain (benchmarks only).
REGULATORS = (RegulatorKey(Kem.X25519, bytes(Web3.keccak(text="crossverify benchmark regulator key MO"))),
              RegulatorKey(Kem.X25519, bytes(Web3.keccak(text="crossverify benchmark regulator key GD"))))


@dataclass
class World:
    w3: Web3
    registry: Registry
    operator: str
    admin: str
    verifier: str
    key: BaseAccount
    circulation: CirculationContract

    def now(self) -> int:
        return chain_time(self.w3)


def world(key: BaseAccount | None = None, admin: BaseAccount | None = None, w3: Web3 | None = None) -> World:
    """A new chain (so sections do not slow each other down) with one issuer and one verifier admitted.

    ``key`` signs the issuer's anchors (default: a benchmark key in memory); ``admin`` is its admin account
    (default: one the chain manages), which registers the key with its proof of possession. ``w3``: a node
    whose accounts it manages (default: a new embedded chain).
    """
    w3 = w3 or Web3(EthereumTesterProvider())
    a = list(w3.eth.accounts)
    macao = OperatorClient.deploy(w3, a[0], [(a[0], "MO"), (a[1], "GD")])
    guangdong = OperatorClient(macao.registry, a[1], macao.consortium)
    key = key or Account.from_key(Web3.keccak(text="crossverify benchmark signing key (test only)"))
    sender: Sender = admin or a[2]
    address = a[2] if admin is None else admin.address
    if admin is not None:
        w3.eth.send_transaction({"from": a[0], "to": address, "value": Web3.to_wei(100, "ether")})
    guangdong.approve(macao.propose_admit_issuer(ISSUER, "MO", address, ["DEPCERT", "ACCTSTMT"]))
    guangdong.approve(macao.propose_admit_member(a[3], Role.VERIFIER))
    guangdong.approve(macao.propose_regulator_keys([(REGULATORS[0].public_key.raw, "MO"),
                                                    (REGULATORS[1].public_key.raw, "GD")]))
    issuer_id = issuer_id_code(ISSUER)
    proof = key_proof(issuer_id, key, Domain.of(macao.registry))
    macao.registry.transact(lambda f: f.addSigningKey(issuer_id, key.address, proof), sender)
    assert macao.circulation is not None
    return World(w3, macao.registry, a[0], address, a[3], key, macao.circulation)


def statements(n: int, claims: int = 12, now: int = 1_790_000_000, start: int = 0) -> list[tuple[str, Certificate]]:
    """``n`` account statements of ``claims`` claims each, with references."""
    header = DocumentHeader("ACCTSTMT", ISSUER, now, now - 86400, now + 365 * 86400)
    return [(f"stmt-{i:07d}", Certificate(header, {
        "holder_name": f"CHAN Tai Man {i}", "account_no": f"9-101-{i:07d}", "balance_mop": 1000 * i + 17,
        "joint": i % 2 == 0, **{f"line_{j:02d}": f"2026-10-{j + 1:02d} deposit {i * j} MOP" for j in range(claims - 4)},
    })) for i in range(start, start + n)]


def scratch(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path
