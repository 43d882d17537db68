"""The issuance flow with every issuer key in a token: run on the embedded chain and on the Hardhat node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eth_account.signers.base import BaseAccount

from crossverify import RevocationReason, load_bundle
from crossverify.chain.registry import Registry
from crossverify.consortium.operator import OperatorClient
from crossverify.issuer.client import IssuerClient
from crossverify.issuer.journal import Journal
from crossverify.keys.pkcs11 import generate_token_key
from crossverify.verifier.client import VerifierClient

from .conftest import deposit_certificates
from .softhsm import SoftHsm


class Clock:
    """What ``deposit_certificates`` needs of a consortium: the chain's time."""

    def __init__(self, registry: Registry) -> None:
        self.w3 = registry.w3

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def issue_with_token_keys(
    registry: Registry, macao: OperatorClient, guangdong: OperatorClient, softhsm: SoftHsm, tmp: Path,
    issuer_id: str, fund: Callable[[BaseAccount], None],
) -> None:
    """Admit an issuer whose signing key and admin (its transaction sender) live in the token; anchor, verify,
    rotate to a new token key, anchor again, revoke: every signature made by the token."""
    signer = generate_token_key(softhsm.ref(f"{issuer_id} signing 1"), softhsm.pin)
    admin = generate_token_key(softhsm.ref(f"{issuer_id} admin"), softhsm.pin)
    fund(admin)
    guangdong.approve(macao.propose_admit_issuer(issuer_id, "MO", admin.address, ["DEPCERT"]))

    issuer = IssuerClient(registry, issuer_id, signer, admin, Journal(tmp / "journal.sqlite"), tmp / "bundles",
                          receipt_timeout=30)
    issuer.add_key(signer)  # the token key signs its proof of possession; the admin sends it
    clock = Clock(registry)
    issuer.issue(deposit_certificates(clock, 300, issuer=issuer_id))  # type: ignore[arg-type]
    report = issuer.run(max_batch=100)
    assert (report.anchored, len(report.delivered), report.transactions) == (3, 300, 1)
    # The token signed the key proof, then once per batch; the admin addSigningKey, then one anchorMany.
    assert (signer.signatures, admin.signatures) == (4, 2)

    verifier = VerifierClient(registry)
    bundles = [load_bundle(p.read_bytes()) for p in sorted(report.delivered)]
    assert all(r.valid for r in verifier.verify_many(bundles))

    successor = generate_token_key(softhsm.ref(f"{issuer_id} signing 2"), softhsm.pin)
    issuer.rotate_key(successor)
    issuer.issue(deposit_certificates(clock, 20, issuer=issuer_id, start=300))  # type: ignore[arg-type]
    assert len(issuer.run().delivered) == 20
    fresh = load_bundle(issuer.bundle_path(f"{issuer_id}-000300").read_bytes())
    assert verifier.verify(fresh).valid and verifier.verify(bundles[0]).valid  # the retired key's anchors stand

    issuer.revoke_document(bundles[1].document_digest(), RevocationReason.SUPERSEDED)
    assert verifier.verify(bundles[1]).failed[0].name == "not_revoked"
    assert admin.signatures == 6  # addSigningKey, anchorMany, addSigningKey, retireSigningKey, anchor, revokeDocument
    issuer.journal.close()
