"""A node that caps the block range of ``eth_getLogs``, as Besu does (``--rpc-max-logs-range``, 1,000 blocks by
default): a query over more blocks is refused with an error object."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import Web3RPCError


def cap_log_ranges(monkeypatch: pytest.MonkeyPatch, w3: Web3, blocks: int) -> list[tuple[int, int]]:
    """From now on, ``w3``'s node refuses ``eth_getLogs`` over more than ``blocks`` blocks; the ranges it answered."""
    answered: list[tuple[int, int]] = []
    get_logs = type(w3.eth).get_logs

    def block(eth: Any, tag: Any) -> int:
        return eth.block_number if tag in (None, "latest") else int(tag, 16) if isinstance(tag, str) else int(tag)

    def capped(eth: Any, query: Any) -> Any:
        low, high = block(eth, query.get("fromBlock", 0)), block(eth, query.get("toBlock"))
        if high - low + 1 > blocks:
            raise Web3RPCError(f"Requested range exceeds maximum RPC range limit ({blocks})")
        answered.append((low, high))
        return get_logs(eth, query)

    monkeypatch.setattr(type(w3.eth), "get_logs", capped)
    return answered
