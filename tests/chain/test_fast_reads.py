"""The fast registry reads answer exactly as web3's contract calls do, over random states of the embedded chain."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from crossverify.chain import registry as registry_module
from crossverify.consortium.operator import OperatorClient

from ..conftest import Consortium, labelled_test_key
from .fast_reads import Chain, check_equivalence, check_equivalence_by_number, plans, queries


@pytest.fixture(scope="module")
def chain(session_consortium: Consortium) -> Chain:
    c = session_consortium
    return Chain(c.registry, OperatorClient(c.registry, c.macao_operator, c.consortium),
                 OperatorClient(c.registry, c.guangdong_operator, c.consortium), c.issuer_admin, c.macao_operator,
                 [c.signing_key, labelled_test_key("equivalence key 1"), labelled_test_key("equivalence key 2")])


@settings(max_examples=25, deadline=None)
@given(plan=plans(), triples=queries())
def test_fast_reads_match_web3(chain: Chain, plan: dict[str, Any], triples: list[tuple[bytes, bytes, bytes]]) -> None:
    check_equivalence(chain, plan, triples)


@settings(max_examples=8, deadline=None)
@given(plan=plans(), triples=queries())
def test_fast_reads_by_block_number_match_web3(chain: Chain, plan: dict[str, Any],
                                               triples: list[tuple[bytes, bytes, bytes]]) -> None:
    check_equivalence_by_number(chain, plan, triples)


def test_a_full_head_keeps_the_batches_of_the_call_that_filled_it(consortium: Consortium,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A head holds at most ``HEAD_BATCHES`` batches' statuses: a call that would pass it keeps its own, those the
    head lent it among them (made-up roots sent to fill it must neither break the next call nor change an answer)."""
    c = consortium
    monkeypatch.setattr(registry_module, "HEAD_BATCHES", 2)
    root = bytes([9]) * 32
    c.anchor(root)
    known = [(c.issuer_id, root, bytes([1]) * 32)]
    made_up = [(c.issuer_id, bytes([i]) * 32, bytes([i]) * 32) for i in (2, 3)]
    _, head = c.registry.statuses_at_head(known)
    statuses, full = c.registry.statuses_at_head(known + made_up, head)
    assert statuses == c.registry.bulk_statuses(known + made_up) and statuses[0].anchored
    assert full.hash == head.hash and set(full.batches) == {(i, r) for i, r, _ in known + made_up}
    assert c.registry.statuses_at_head(known, full)[0] == c.registry.bulk_statuses(known)
