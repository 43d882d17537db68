"""A Hypothesis state machine over the registry: only `anchor` sets anchored, only revocations set revoked,
revocation is final, callers without the role always revert (leaving state unchanged), and a signed anchor
counts whoever submits it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from web3 import Web3

from crossverify import errors
from crossverify.chain.records import RevocationReason
from crossverify.chain.typed_data import sign

from ..conftest import Consortium

ROOTS = [Web3.keccak(text=f"machine root {i}") for i in range(4)]
DOCS = [Web3.keccak(text=f"machine doc {i}") for i in range(3)]
REASONS = st.sampled_from([r for r in RevocationReason if r])
WHO = st.sampled_from(["operator", "admin", "outsider", "verifier"])


class RegistryMachine(RuleBasedStateMachine):
    consortium: Consortium

    def __init__(self) -> None:
        super().__init__()
        self.c = type(self).consortium
        self.snapshot = self.c.w3.testing.snapshot()
        self.anchored: set[bytes] = set()
        self.batch_revoked: dict[bytes, RevocationReason] = {}
        self.doc_revoked: dict[bytes, RevocationReason] = {}

    def teardown(self) -> None:
        self.c.w3.testing.revert(self.snapshot)

    def account(self, who: str) -> str:
        return {"operator": self.c.macao_operator, "admin": self.c.issuer_admin, "outsider": self.c.outsider,
                "verifier": self.c.verifier}[who]

    def attempt(self, build: Any, who: str, allowed: bool, refusal: type[Exception]) -> bool:
        if allowed:
            self.c.registry.transact(build, self.account(who))
            return True
        with pytest.raises(refusal):
            self.c.registry.transact(build, self.account(who))
        return False

    @rule(root=st.sampled_from(ROOTS), who=WHO)
    def anchor(self, root: bytes, who: str) -> None:
        request = self.c.anchor_request(root)
        signature = sign(request, self.c.domain, self.c.signing_key)
        build = lambda f: f.anchor(request.as_abi(), signature)  # noqa: E731
        if root in self.anchored:
            self.attempt(build, who, False, errors.RegistryRootAlreadyAnchored)
        elif self.attempt(build, who, True, Exception):
            self.anchored.add(root)

    @rule(root=st.sampled_from(ROOTS), who=WHO, reason=REASONS)
    def revoke_batch(self, root: bytes, who: str, reason: RevocationReason) -> None:
        build = lambda f: f.revokeBatch(root, reason)  # noqa: E731
        if who != "admin":
            self.attempt(build, who, False, errors.RegistryNotIssuerAdmin)
        elif root not in self.anchored:
            self.attempt(build, who, False, errors.RegistryUnknownBatch)
        elif root in self.batch_revoked:
            self.attempt(build, who, False, errors.RegistryBatchAlreadyRevoked)
        else:
            self.attempt(build, who, True, Exception)
            self.batch_revoked[root] = reason

    @rule(doc=st.sampled_from(DOCS), who=WHO, reason=REASONS)
    def revoke_document(self, doc: bytes, who: str, reason: RevocationReason) -> None:
        build = lambda f: f.revokeDocument(doc, reason)  # noqa: E731
        if who != "admin":
            self.attempt(build, who, False, errors.RegistryNotIssuerAdmin)
        elif doc in self.doc_revoked:
            self.attempt(build, who, False, errors.RegistryDocumentAlreadyRevoked)
        else:
            self.attempt(build, who, True, Exception)
            self.doc_revoked[doc] = reason

    @invariant()
    def chain_agrees_with_the_model(self) -> None:
        triples = [(self.c.issuer_id, r, d) for r in ROOTS for d in DOCS]
        for (_, root, doc), status in zip(triples, self.c.registry.document_statuses(triples), strict=True):
            assert status.anchored == (root in self.anchored)
            if status.anchored:
                assert status.batch_revocation.reason == self.batch_revoked.get(root, RevocationReason.NONE)
                assert status.document_revocation.reason == self.doc_revoked.get(doc, RevocationReason.NONE)


def test_registry_state_machine(session_consortium: Consortium) -> None:
    RegistryMachine.consortium = session_consortium
    run = RegistryMachine.TestCase()
    run.settings = settings(max_examples=10, stateful_step_count=10, deadline=None)
    run.runTest()
