"""The coalescing verification queue: concurrent requests checked in one batch, and a batch that fails."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from crossverify.errors import NodeUnavailable
from crossverify.service.workers import VerifyQueue


class Verifier:
    """Reports each bundle's own text; a batch holding ``b"poison"`` fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def verify_many(self, bundles: Sequence[bytes]) -> list[Any]:
        self.calls += 1
        if b"poison" in bundles:
            raise self.error
        return [bundle.decode() for bundle in bundles]


def test_an_input_no_check_foresaw_fails_its_own_request_only() -> None:
    verifier = Verifier(KeyError("a case no check foresaw"))
    queue = VerifyQueue(verifier, threading.Lock())  # type: ignore[arg-type]
    futures = queue.submit([b"one", b"poison", b"two"])
    assert [f.result(10) for f in (futures[0], futures[2])] == ["one", "two"]
    with pytest.raises(KeyError, match="no check foresaw"):
        futures[1].result(10)
    assert verifier.calls == 4  # the batch, then each of its documents alone


def test_a_batch_that_fails_for_want_of_the_node_fails_as_one() -> None:
    verifier = Verifier(NodeUnavailable("the node is away"))
    queue = VerifyQueue(verifier, threading.Lock())  # type: ignore[arg-type]
    futures = queue.submit([b"one", b"poison", b"two"])
    for future in futures:
        with pytest.raises(NodeUnavailable):
            future.result(10)
    assert verifier.calls == 1  # not asked again per document while it is away
