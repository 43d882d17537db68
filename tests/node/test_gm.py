"""A consortium of the GM suite on a real node: SM2 verified by EVM code (SM2Verifier) under Hardhat's gas
estimation, an issuer's SM2 key added with its proof, SM3 batches anchored with SM2 signatures in one transaction,
verified by a bank that reads the suite from the registry, receipts sealed with SM2 and SM4-GCM, a dispute answered
with the SM2 answer key, a resident's SM2-signed presentation answering the bank's challenge, and a revocation by a
relayed SM2 signature."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from crossverify import RevocationReason
from crossverify.chain.connection import connect
from crossverify.chain.records import Role
from crossverify.consortium.operator import OperatorClient
from crossverify.format.bundle import load_bundle
from crossverify.format.certificate import Certificate
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.holder import SM2HolderKey, SM2HolderPrivateKey, holder_claim
from crossverify.format.presentation import present
from crossverify.format.suite import Suite
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from crossverify.issuer.journal import Journal
from crossverify.keys.sm2 import LocalSM2Key
from crossverify.sealing import (
    DisputeReason,
    DisputeStatus,
    Kem,
    RegulatorKey,
    SealedReceipts,
    open_receipts,
    seal_receipts,
)
from crossverify.verifier.challenges import ChallengeStore
from crossverify.verifier.client import Outcome, VerifierClient
from crossverify.verifier.disputes import open_dispute, read_answer
from crossverify.verifier.outbox import regulator_keys

from ..conftest import deposit_certificates

GASLESS = {"gasPrice": 0}


class _Clock:
    """What :func:`deposit_certificates` needs of a consortium: the chain's time."""

    def __init__(self, issuer: IssuerClient) -> None:
        self.issuer = issuer

    def now(self) -> int:
        return int(self.issuer.registry.w3.eth.get_block("latest")["timestamp"])


def test_a_gm_consortium_on_the_node(node_url: str, dev_accounts: list[LocalAccount], tmp_path: Path) -> None:
    w3 = connect(node_url, chain_id=1337)
    macao_op, guangdong_op, admin, bank, relay = (dev_accounts[i] for i in (0, 1, 2, 3, 4))
    founders = [(macao_op.address, "MO"), (guangdong_op.address, "GD")]
    macao = OperatorClient.deploy(w3, macao_op, founders, tx_params=GASLESS, suite=Suite.GM)
    guangdong = OperatorClient(macao.registry, guangdong_op, macao.consortium)
    registry = macao.registry
    assert registry.crypto_suite() is Suite.GM and w3.eth.get_code(registry.call(lambda f: f.sm2Verifier()))
    guangdong.approve(macao.propose_admit_issuer("BNUMMOMX", "MO", admin.address, ["DEPCERT"]))
    guangdong.approve(macao.propose_admit_member(bank.address, Role.VERIFIER))
    regulators = [RegulatorKey.generate(Kem.SM2), RegulatorKey.generate(Kem.SM2)]
    guangdong.approve(macao.propose_regulator_keys([(k.public_key.raw, j) for k, j in zip(regulators, ("MO", "GD"),
                                                                                          strict=True)]))
    assert macao.circulation is not None
    circulation = macao.circulation
    sealing = RegulatorKey.generate(Kem.SM2)
    register_sealing_key(circulation, "BNUMMOMX", sealing, admin)

    key = LocalSM2Key.labelled("crossverify test key: BNU SM2 signing key on the node")
    IssuerClient(registry, "BNUMMOMX", key, admin, Journal(tmp_path / "admin.sqlite"), tmp_path / "admin",
                 hash_alg=HashAlgorithm.SM3).add_key(key)
    issuer = IssuerClient(registry, "BNUMMOMX", key, relay, Journal(tmp_path / "journal.sqlite"),
                          tmp_path / "bundles", hash_alg=HashAlgorithm.SM3, receipt_timeout=30)
    certificates = deposit_certificates(_Clock(issuer), 12)  # type: ignore[arg-type]
    issuer.issue(certificates)
    report = issuer.run(max_batch=5)
    assert (report.anchored, report.transactions, len(report.delivered)) == (3, 1, 12)

    verifier = VerifierClient(registry, circulation=circulation)
    files = [issuer.bundle_path(reference).read_bytes() for reference, _ in certificates]
    verdicts = verifier.verify_many(files)
    assert all(v.valid for v in verdicts), [v.failed for v in verdicts if not v.valid]
    assert verdicts[0].check("suite_matches").detail == "the gm crypto suite"

    # Receipts sealed with SM2 and SM4-GCM, opened by a regulator; a dispute answered with the SM2 answer key.
    receipts = verifier.receipts(verdicts[:3], purpose="ACCTOPEN")
    batch = seal_receipts(receipts, regulator_keys(circulation))
    circulation.record(batch.commitments, batch.sealed, bank)
    [recorded] = [e for e in circulation.events() if e.name == "ReceiptsSealed"]
    assert open_receipts(SealedReceipts(tuple(bytes(x) for x in recorded.args["commitments"]),
                                        bytes(recorded.args["ciphertext"])), regulators[0]) == receipts
    now = int(w3.eth.get_block("latest")["timestamp"])
    opened = open_dispute(circulation, bank, verdicts[1], DisputeReason.STATEMENT_MISMATCH, now)
    [received] = received_disputes(circulation, sealing)
    answer_dispute(circulation, received, DisputeStatus.CONFIRMED_GENUINE, key, relay, now, sealing)
    read = read_answer(circulation, registry, opened)
    assert read is not None and read.signed_by_issuer and read.signer == key.address

    # A resident holding an SM2 key presents a certificate bound to it, signed for this bank's challenge.
    holder = SM2HolderPrivateKey.generate()
    [(reference, plain)] = deposit_certificates(_Clock(issuer), 1, start=12)  # type: ignore[arg-type]
    issuer.issue([(reference, Certificate(plain.header, {**plain.claims, "cnf": holder_claim(holder.public_key())}))])
    assert issuer.run().anchored == 1
    challenges = ChallengeStore(tmp_path / "challenges.sqlite", "ICBKCNBJGDG")
    chain_time = _Clock(issuer).now  # the node's clock: earlier tests on this node moved it past the wall clock
    counter = VerifierClient(registry, audience="ICBKCNBJGDG", challenges=challenges, wall_clock=chain_time)
    now = chain_time()
    presentation = present(load_bundle(issuer.bundle_path(reference).read_bytes()),
                           challenges.issue("ACCTOPEN", now), holder, now)
    presented = counter.verify(presentation.dumps().encode())
    assert presented.valid, [(c.name, c.detail) for c in presented.failed]
    assert presented.check("holder_signed").outcome is Outcome.PASSED
    assert isinstance(presentation.holder_key(), SM2HolderKey)
    assert [c.name for c in counter.verify(load_bundle(issuer.bundle_path(reference).read_bytes())).failed] == [
        "holder_bound"]  # the bound certificate, handed over bare

    issuer.revoke(RevocationReason.WITHDRAWN, reference=certificates[0][0])
    assert [c.name for c in verifier.verify(files[0]).failed] == ["not_revoked"]
    assert verifier.verify(files[1]).valid
