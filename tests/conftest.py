"""Shared fixtures: one embedded chain and one deployed consortium per session, reverted after every test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crossverify import sealing
from crossverify.chain.circulation import CirculationContract
from crossverify.chain.connection import chain_time, embedded_chain
from crossverify.chain.consortium import ConsortiumContract, deploy_consortium, encode_payload
from crossverify.chain.records import ProposalKind, Role
from crossverify.chain.registry import Registry
from crossverify.chain.typed_data import AnchorRequest, Domain, gm_key_proof, key_proof, sign, sign_gm
from crossverify.format.certificate import Certificate, DocumentHeader
from crossverify.format.codes import doc_type_code, issuer_id_code, jurisdiction_code
from crossverify.format.metadata import read_metadata, standard_types
from crossverify.format.suite import Suite
from crossverify.issuer.client import register_metadata
from crossverify.keys.sm2 import LocalSM2Key
from crossverify.sealing import Kem, Receipt, RegulatorKey, RegulatorPublicKey, SealedReceipts, open_receipts

from .postgres import engine, location, postgres, postgres_databases, postgres_url
from .softhsm import SoftHsm, start_softhsm

__all__ = ["engine", "location", "postgres", "postgres_databases", "postgres_url"]  # fixtures for every test module

YEAR = 365 * 86400
#: The example configurations and published metadata a newcomer starts from (README, docs/deploy.md).
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def labelled_test_key(label: str) -> LocalAccount:
    """A deterministic key for tests only. Never use such a key outside tests."""
    return Account.from_key(Web3.keccak(text=f"crossverify test key: {label}"))


def labelled_regulator_key(label: str) -> RegulatorKey:
    """A deterministic X25519 regulator key for tests only."""
    return RegulatorKey(Kem.X25519, bytes(Web3.keccak(text=f"crossverify test regulator key: {label}")))


@dataclass
class Consortium:
    """A deployed consortium (Macao and Guangdong operators) and its registry, with one admitted issuer, a
    verifier and a regulator."""

    w3: Web3
    consortium: ConsortiumContract
    registry: Registry
    domain: Domain
    macao_operator: str
    guangdong_operator: str
    issuer_admin: str
    verifier: str
    regulator: str
    outsider: str
    hong_kong_operator: str
    issuer_id: bytes
    signing_key: LocalAccount
    doc_type: bytes
    circulation: CirculationContract
    #: The regulators' private sealing keys (Macao, Guangdong), set on the circulation contract by quorum.
    regulator_keys: list[RegulatorKey]
    #: The deployment's crypto suite; in the GM suite the issuer signs with ``sm2_key`` (``signing_key`` is unused).
    suite: Suite = Suite.STANDARD
    sm2_key: LocalSM2Key | None = None

    def set_regulator_keys(self, keys: list[RegulatorKey], jurisdictions: list[str]):  # type: ignore[no-untyped-def]
        """Set the regulators' sealing keys on the circulation contract by quorum."""
        return self.govern(ProposalKind.SET_REGULATOR_KEYS, [k.public_key.raw for k in keys],
                           [jurisdiction_code(j) for j in jurisdictions])

    def now(self) -> int:
        return chain_time(self.w3)

    def sealed_batches(self, from_block: int = 0) -> list[tuple[str, SealedReceipts]]:
        """Every batch of receipts on the circulation contract since ``from_block``: (verifier, batch)."""
        return [(e.args["verifier"], SealedReceipts(tuple(bytes(c) for c in e.args["commitments"]),
                                                 bytes(e.args["ciphertext"])))
                for e in self.circulation.events(from_block) if e.name == "ReceiptsSealed"]

    def sealed_receipts(self, from_block: int = 0) -> list[tuple[str, bytes, SealedReceipts]]:
        """Every receipt on the circulation contract since ``from_block``: (verifier, commitment, its batch)."""
        return [(verifier, commitment, batch) for verifier, batch in self.sealed_batches(from_block)
                for commitment in batch.commitments]

    def opened_receipts(self, from_block: int = 0) -> list[Receipt]:
        """The receipts since ``from_block`` as the Macao regulator opens them."""
        opened = [r for _, batch in self.sealed_batches(from_block)
                  for r in open_receipts(batch, self.regulator_keys[0])]
        assert all(r is not None for r in opened), "every receipt matches its commitment"
        return [r for r in opened if r is not None]

    def travel(self, seconds: int) -> int:
        """Move the chain clock forward; returns the timestamp the next block will carry."""
        target = self.now() + seconds
        self.w3.testing.timeTravel(target)
        return target

    def anchor_request(self, root: bytes, **overrides: int | bytes) -> AnchorRequest:
        fields: dict[str, int | bytes] = {
            "batch_root": root, "doc_type": self.doc_type, "hash_alg": 3 if self.suite is Suite.GM else 1,
            "leaf_count": 16,
            "not_after": self.now() + YEAR, "deadline": self.now() + 3600,
        }
        fields.update(overrides)
        return AnchorRequest(**fields)  # type: ignore[arg-type]

    def anchor(self, root: bytes, signer: LocalAccount | LocalSM2Key | None = None, sender: str | None = None,
               **overrides: int | bytes):  # type: ignore[no-untyped-def]
        """Anchor ``root`` signed by ``signer`` (the issuer's key), in the deployment's suite."""
        request = self.anchor_request(root, **overrides)
        if self.suite is Suite.GM:
            sm2 = sm2_signature(request, self.domain, signer or self.sm2_key)
            return self.registry.transact(lambda f: f.anchorSM2(request.as_abi(), sm2), sender or self.macao_operator)
        assert isinstance(signer or self.signing_key, LocalAccount)
        signature = sign(request, self.domain, signer or self.signing_key)
        return self.registry.transact(lambda f: f.anchor(request.as_abi(), signature), sender or self.macao_operator)

    def propose(self, kind: ProposalKind, *values: object, proposer: str | None = None):  # type: ignore[no-untyped-def]
        """Propose as ``proposer`` (the Macao operator); returns the receipt."""
        payload = encode_payload(kind, *values)
        return self.consortium.transact(lambda f: f.propose(int(kind), payload), proposer or self.macao_operator)

    def govern(self, kind: ProposalKind, *values: object, approvers: list[str] | None = None):  # type: ignore[no-untyped-def]
        """Propose as the Macao operator, then approve as the others; returns the last receipt."""
        receipt = self.propose(kind, *values)
        proposal_id = self.consortium.call(lambda f: f.proposalCount())
        for approver in approvers if approvers is not None else [self.guangdong_operator]:
            receipt = self.consortium.transact(lambda f: f.approve(proposal_id), approver)
        return receipt


def admission(name: str, admin: str, doc_types: list[str], jurisdiction: str = "MO") -> tuple[object, ...]:
    """The payload values of an AdmitIssuer proposal (no display metadata)."""
    return (issuer_id_code(name), jurisdiction_code(jurisdiction), admin, [doc_type_code(t) for t in doc_types],
            bytes(32), [bytes(32)] * len(doc_types))


def sm2_signature(request: object, domain: Domain, key: object) -> tuple[bytes, bytes, str]:
    """A GM request's signature as the registry takes it: ``(r, s, key address)``."""
    assert isinstance(key, LocalSM2Key)
    signature = sign_gm(request, domain, key)  # type: ignore[arg-type]
    return signature[:32], signature[32:], key.address


def add_key(c: Consortium, name: str, admin: str, key: LocalAccount | LocalSM2Key):  # type: ignore[no-untyped-def]
    """Add ``key`` to issuer ``name`` as its admin, with the key's proof of possession."""
    issuer_id = issuer_id_code(name)
    if isinstance(key, LocalSM2Key):
        signed = gm_key_proof(issuer_id, key, c.domain)
        x, y = key.public_key[:32], key.public_key[32:]
        return c.registry.transact(lambda f: f.addSM2SigningKey(issuer_id, x, y, (signed[:32], signed[32:],
                                                                                  key.address)), admin)
    proof = key_proof(issuer_id, key, c.domain)
    return c.registry.transact(lambda f: f.addSigningKey(issuer_id, key.address, proof), admin)


def admit_issuer(c: Consortium, name: str, admin: str, keys: list[LocalAccount] | list[LocalSM2Key],
                 doc_types: list[str]):  # type: ignore[no-untyped-def]
    """Admit issuer ``name`` by quorum, then add its keys as its admin."""
    receipt = c.govern(ProposalKind.ADMIT_ISSUER, *admission(name, admin, doc_types))
    for key in keys:
        receipt = add_key(c, name, admin, key)
    return receipt


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    """A SoftHSM2 token for the session, holding a test key imported for comparison (label ``imported``)."""
    return start_softhsm(tmp_path_factory.mktemp("softhsm"), {"imported": labelled_test_key("HSM comparison")})


@pytest.fixture(scope="session")
def w3() -> Web3:
    """The process's embedded chain: the one the CLI reaches as ``rpc = "embedded"`` too."""
    return embedded_chain()


@pytest.fixture(scope="session")
def session_consortium(w3: Web3) -> Consortium:
    accounts = w3.eth.accounts
    consortium, registry, circulation = deploy_consortium(w3, accounts[0], [(accounts[0], "MO"), (accounts[1], "GD")])
    c = Consortium(
        w3=w3, consortium=consortium, registry=registry, domain=Domain.of(registry),
        macao_operator=accounts[0], guangdong_operator=accounts[1], issuer_admin=accounts[2],
        verifier=accounts[3], regulator=accounts[4], outsider=accounts[5], hong_kong_operator=accounts[6],
        issuer_id=issuer_id_code("BNUMMOMX"), signing_key=labelled_test_key("BNU signing key 1"),
        doc_type=doc_type_code("DEPCERT"),
        circulation=circulation,
        regulator_keys=[labelled_regulator_key("AMCM"), labelled_regulator_key("PBoC Guangdong")],
    )
    c.set_regulator_keys(c.regulator_keys, ["MO", "GD"])
    admit_issuer(c, "BNUMMOMX", c.issuer_admin, [c.signing_key], ["DEPCERT", "ACCTSTMT"])
    for display in (read_metadata((EXAMPLES / "metadata" / "BNUMMOMX.json").read_bytes()),
                    *(t for t in standard_types() if t.doc_type in ("DEPCERT", "ACCTSTMT"))):
        register_metadata(c.registry, c.issuer_admin, "BNUMMOMX", display)  # its name and labels, as published
    _admit_bank_and_regulator(c)
    return c


@pytest.fixture
def consortium(session_consortium: Consortium) -> Iterator[Consortium]:
    """The session consortium, with every chain change of the test reverted afterwards."""
    yield from _reverted(session_consortium)


def _reverted(c: Consortium) -> Iterator[Consortium]:
    """``c`` for one test: its chain is snapshotted before and reverted after."""
    snapshot = c.w3.testing.snapshot()
    yield c
    c.w3.testing.revert(snapshot)


def _admit_bank_and_regulator(c: Consortium) -> None:
    """The session's verifier (a bank) and its regulator, admitted for Guangdong (the jurisdiction whose
    recoveries the tests veto)."""
    c.govern(ProposalKind.ADMIT_MEMBER, c.verifier, Role.VERIFIER, bytes(32))
    c.govern(ProposalKind.ADMIT_MEMBER, c.regulator, Role.REGULATOR, jurisdiction_code("GD"))


def deploy_gm_consortium(w3: Web3, sm2_verifier: str | None = None) -> Consortium:
    """A consortium of the GM suite, as the session's: the issuer BNUMMOMX with an SM2 signing key, a verifier
    and a regulator (the contracts' accounts as in :func:`session_consortium`). ``sm2_verifier``: see
    :func:`deploy_consortium`."""
    accounts = w3.eth.accounts
    consortium, registry, circulation = deploy_consortium(
        w3, accounts[0], [(accounts[0], "MO"), (accounts[1], "GD")], suite=Suite.GM, sm2_verifier=sm2_verifier)
    c = Consortium(
        w3=w3, consortium=consortium, registry=registry, domain=Domain.of(registry),
        macao_operator=accounts[0], guangdong_operator=accounts[1], issuer_admin=accounts[2],
        verifier=accounts[3], regulator=accounts[4], outsider=accounts[5], hong_kong_operator=accounts[6],
        issuer_id=issuer_id_code("BNUMMOMX"), signing_key=labelled_test_key("unused in the GM suite"),
        doc_type=doc_type_code("DEPCERT"), circulation=circulation, regulator_keys=[],
        suite=Suite.GM, sm2_key=LocalSM2Key.labelled("crossverify test key: BNU SM2 signing key 1"),
    )
    assert c.sm2_key is not None
    admit_issuer(c, "BNUMMOMX", c.issuer_admin, [c.sm2_key], ["DEPCERT", "ACCTSTMT"])
    _admit_bank_and_regulator(c)
    return c


@pytest.fixture(scope="session")
def session_gm_consortium(w3: Web3) -> Consortium:
    return deploy_gm_consortium(w3)


@pytest.fixture
def gm_consortium(session_gm_consortium: Consortium) -> Iterator[Consortium]:
    """The session's GM consortium, with every chain change of the test reverted afterwards."""
    yield from _reverted(session_gm_consortium)


def deposit_certificates(
    c: Consortium, n: int, issuer: str = "BNUMMOMX", start: int = 0
) -> list[tuple[str, Certificate]]:
    """``n`` deposit certificates of ``issuer``, issued now, with references ``<issuer>-000000`` on."""
    now = c.now()
    header = DocumentHeader("DEPCERT", issuer, now, now - 86400, now + 365 * 86400)
    return [(f"{issuer}-{i:06d}", Certificate(header, {
        "holder_name": f"CHAN Tai Man {i}", "account_no": f"9-101-{i:06d}-8", "balance_mop": 1000 + i,
    })) for i in range(start, start + n)]


def forge_batch(receipts: Sequence[Receipt], commitments: tuple[bytes, ...],
                regulators: Sequence[RegulatorPublicKey]) -> SealedReceipts:
    """What a dishonest bank can seal: any plaintexts under any commitments, in a well-formed envelope."""
    body = b"".join(r.plaintext()[1:] for r in receipts)
    info = sealing._batch_info(commitments, regulators[0].kem.crypto_suite)
    return SealedReceipts(commitments, sealing._envelope(body, secrets.token_bytes(16), regulators, info))
