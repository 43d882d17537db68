"""Registry succession on a real node: the next version of the contracts is deployed beside the first, its
consortium records the first registry as its predecessor by quorum, the issuer moves its journal there, and a bank
reading the new registry accepts the files residents hold, which name the old one."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from crossverify import VerifierClient, load_bundle
from crossverify.chain.connection import connect
from crossverify.chain.records import RevocationReason
from crossverify.verifier.client import Outcome

from ..conftest import deposit_certificates
from .test_flow import Net, _Clock
from .test_receipts_final import fresh  # noqa: F401  (the fixture: a consortium on a reset chain)


def test_an_issuer_follows_its_registry_to_the_next_version(fresh: Net, tmp_path: Path,  # noqa: F811
                                                             node_url: str, dev_accounts: list[LocalAccount]) -> None:
    old = fresh
    issuer = old.issuer(tmp_path, "journal")
    issuer.issue(deposit_certificates(_Clock(old), 3))
    held = [load_bundle(p.read_bytes()) for p in issuer.run().delivered]
    issuer.revoke(RevocationReason.WITHDRAWN, reference="BNUMMOMX-000002")
    issuer.journal.close()

    new = Net(connect(node_url, chain_id=1337), dev_accounts, list(dev_accounts[:5]))
    assert new.registry.address != old.registry.address
    new.guangdong.approve(new.macao.propose_predecessor(1337, old.registry.address))
    moved = new.issuer(tmp_path, "journal")
    assert moved.rebind()["registry"] == old.registry.address
    report = moved.run()
    assert (report.anchored, report.restored) == (1, 1)
    reports = VerifierClient(new.registry).verify_many(held)
    assert [r.valid for r in reports] == [True, True, False]
    assert reports[0].check("registry_succession").outcome is Outcome.PASSED
    assert reports[2].check("not_revoked").outcome is Outcome.FAILED
