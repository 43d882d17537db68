"""The fast log path against web3's on a real node: raw JSON-RPC ``eth_getLogs`` and batched block headers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crossverify.chain.connection import connect
from crossverify.chain.logs import LogSource

from ..chain.test_logs import Emitters, check_equivalence, event_strategy


@pytest.fixture(scope="module")
def emitters(node_url: str) -> Emitters:
    w3 = connect(node_url, chain_id=1337)
    return Emitters(w3, w3.eth.accounts[7])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(events=st.lists(event_strategy(), min_size=1, max_size=5))
def test_random_events_decode_as_web3_decodes_them(emitters: Emitters,
                                                   events: list[tuple[str, list[bytes], bytes]]) -> None:
    check_equivalence(emitters, events)


def test_block_headers_read_raw_match_web3(emitters: Emitters) -> None:
    w3 = emitters.w3
    head = w3.eth.block_number
    found = LogSource(w3).blocks([0, head, head + 5])
    for n in (0, head):
        block = w3.eth.get_block(n)
        assert found[n] == (bytes(block["hash"]), block["timestamp"])
    assert found[head + 5] is None
