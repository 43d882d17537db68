"""Answers kept under idempotency keys, on both engines: reserved once, kept, replayed, released, forgotten."""

from __future__ import annotations

from crossverify import idempotency
from crossverify.idempotency import Answers, Kept
from crossverify.store import Store

from .postgres import Locate


def test_a_key_is_reserved_once_kept_and_forgotten(location: Locate) -> None:
    store = Store(location("answers.sqlite"), [idempotency.MIGRATION], kind="answers")
    answers, now = Answers(store), 1_800_000_000
    assert answers.begin(b"k1", b"f1", now) is None  # this request's to answer
    assert answers.begin(b"k1", b"f1", now) == Kept(True, None, None)  # still being answered
    assert answers.begin(b"k1", b"f2", now) == Kept(False, None, None)  # another request under the key
    answers.finish(b"k1", b"f1", 200, b"sealed answer")
    assert answers.begin(b"k1", b"f1", now + 60) == Kept(True, 200, b"sealed answer")

    assert answers.begin(b"k2", b"f", now) is None
    answers.abandon(b"k2", b"f")  # the request failed: the same one may run again
    assert answers.begin(b"k2", b"f", now) is None
    assert answers.begin(b"k2", b"f", now + idempotency.ABANDONED_AFTER + 1) is None  # its process died

    assert answers.begin(b"k1", b"f1", now + idempotency.KEPT + 1) is None  # a day later: forgotten
    store.close()


def test_a_request_past_its_time_neither_answers_nor_releases_the_one_that_took_its_key(location: Locate) -> None:
    """A request that ran past ABANDONED_AFTER lost its key to another request: its answer is not kept over the
    other's reservation, nor does its failure release it (the review's suspicion, older than the grouping)."""
    store = Store(location("answers.sqlite"), [idempotency.MIGRATION], kind="answers")
    answers, now = Answers(store), 1_800_000_000
    assert answers.begin(b"k", b"slow", now) is None
    later = now + idempotency.ABANDONED_AFTER + 1
    assert answers.begin(b"k", b"other", later) is None  # taken for lost, and taken
    answers.finish(b"k", b"slow", 200, b"the slow one's answer")
    answers.abandon(b"k", b"slow")
    assert answers.begin(b"k", b"other", later) == Kept(True, None, None)  # still the other's, being answered
    answers.finish(b"k", b"other", 200, b"the other's answer")
    answers.finish(b"k", b"other", 200, b"again")  # kept once
    assert answers.begin(b"k", b"other", later) == Kept(True, 200, b"the other's answer")
    store.close()
