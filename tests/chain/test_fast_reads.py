"""The fast registry reads answer exactly as web3's contract calls do, over random states of the embedded chain."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from crossverify.consortium.operator import OperatorClient

from ..conftest import Consortium, labelled_test_key
from .fast_reads import Chain, check_equivalence, plans, queries


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
