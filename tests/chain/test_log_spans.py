"""Logs read span by span (``chain.logs.spanning``, ``newest``): a node caps the block range of one ``eth_getLogs``
(Besu's ``--rpc-max-logs-range``), and a query over years of blocks would hold the node past the client's timeout."""

from __future__ import annotations

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from web3.exceptions import Web3RPCError

from crossverify.chain import logs
from crossverify.chain.connection import node_errors
from crossverify.chain.logs import newest, spanning
from crossverify.errors import NodeUnavailable, TransactionFailed


class Node:
    """A node holding one log per block in ``blocks`` (the log is its block's number), answering ranges of at most
    ``cap`` blocks."""

    def __init__(self, blocks: set[int], cap: int) -> None:
        self.blocks, self.cap = blocks, cap
        self.asked: list[tuple[int, int, bool]] = []

    def __call__(self, low: int, high: int) -> list[int]:
        refused = high - low + 1 > self.cap
        self.asked.append((low, high, refused))
        if refused:
            raise Web3RPCError(f"Requested range exceeds maximum RPC range limit ({self.cap})")
        return sorted(b for b in self.blocks if low <= b <= high)


@given(blocks=st.sets(st.integers(0, 5000), max_size=30), cap=st.integers(1, 6000), start=st.integers(0, 5000),
       end=st.integers(0, 5000))
def test_every_log_in_the_range_once_in_chain_order_within_the_cap(blocks: set[int], cap: int, start: int,
                                                                   end: int) -> None:
    node = Node(blocks, cap)
    assert spanning(node, start, end) == sorted(b for b in blocks if start <= b <= end)
    answered = [(low, high) for low, high, refused in node.asked if not refused]
    assert all(high - low < cap for low, high in answered)
    assert [low for low, _ in answered] == sorted(low for low, _ in answered)  # each block asked once, in order
    assert sum(high - low + 1 for low, high in answered) == max(0, end - start + 1)
    refusals = [(low, high) for low, high, refused in node.asked if refused]
    # halved until accepted; after that, one probe past the cap per REPROBE answers
    assert len(refusals) <= logs.FIRST_SPAN.bit_length() + len(answered) // logs.REPROBE


def test_a_node_that_refuses_a_single_block_is_an_error() -> None:
    with pytest.raises(TransactionFailed, match="eth_getLogs of block 0 refused"):
        spanning(Node(set(), 0), 0, 10)


def test_spans_grow_where_the_node_allows_it() -> None:
    node = Node({7, 900_000}, 10**9)
    assert spanning(node, 0, 1_000_000) == [7, 900_000]
    assert len(node.asked) == 15 and max(high - low + 1 for low, high, _ in node.asked) == logs.MAX_SPAN


def test_a_dense_stretch_of_logs_shrinks_the_spans_around_it_alone() -> None:
    """A node that caps the results of one query (geth: "query returned more than 10000 results") refuses a span
    for the logs it holds, not for its length: past a dense stretch the spans grow back."""
    asked = []

    def capped_results(low: int, high: int) -> list[int]:
        asked.append((low, high))
        found = [b for b in (100, 101) if low <= b <= high] * 6000
        if len(found) > 10_000:
            raise Web3RPCError("query returned more than 10000 results")
        return found

    assert len(spanning(capped_results, 0, 1_000_000)) == 12_000
    assert len(asked) < 200  # 15 without the dense blocks; one block at a time after them would be 999,900


def test_newest_walks_back_to_the_newest_span_that_holds_logs() -> None:
    node = Node({5, 12, 4_000}, 1000)
    assert newest(node, 10_000) == [4_000]
    assert all(low > 3_000 for low, _, _ in node.asked)  # never asked further back than it found
    assert newest(Node(set(), 1000), 10_000) == []
    assert newest(Node({0}, 1), 40) == [0]


def test_a_span_too_long_to_answer_in_time_is_halved_and_an_unreachable_node_is_not() -> None:
    """A node that does not answer a wide span within the client's timeout is asked a shorter one; a node that
    cannot be reached, or that does not answer even one block in time, is reported as unavailable at once."""
    asked: list[tuple[int, int]] = []

    def slow(low: int, high: int) -> list[int]:
        if high - low + 1 > 3000:
            with node_errors():
                raise requests.exceptions.ReadTimeout("read timed out")
        asked.append((low, high))
        return [low]

    spanning(slow, 0, 1_000_000)
    assert asked[0][0] == 0 and asked[-1][1] == 1_000_000 and all(high - low < 3000 for low, high in asked)

    def down(low: int, high: int) -> list[int]:
        with node_errors():
            raise requests.exceptions.ConnectionError("connection refused")

    with pytest.raises(NodeUnavailable):
        spanning(down, 0, 1_000_000)
    asked.clear()

    def stalled(low: int, high: int) -> list[int]:
        asked.append((low, high))
        with node_errors():
            raise requests.exceptions.ReadTimeout("read timed out")

    with pytest.raises(NodeUnavailable):
        spanning(stalled, 0, 10)
    assert asked[-1] == (0, 0)
