"""What an issuer's round checks on chain of its unexpired anchors and revocations: everything when something may
have changed them, else only the recent ones.

A reorganisation takes away only what is in its blocks: an anchor or revocation deeper than the window under the
head stays while the block at that depth stays the chain's. What else voids or replaces one is an act on the
issuer's records that is not its own routine work: a key reported compromised, an admin replaced, a key added or
retired, requests cancelled, the issuer suspended (events that name the issuer first), or an anchor or revocation
of the issuer's by a key or account that is not this pipeline's (a thief's). So a round checks everything when it
is the pipeline's first, when the block at the last full check's depth is no longer the chain's (a deep
reorganisation, a reset), when such an event was logged since the last round, when the last round's head is no
longer the chain's (a branch may hold such an event in a block already looked at), and at least every
:data:`FULL_CHECK_EVERY` seconds; in between, the anchors above that depth and the revocations sent since.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from hexbytes import HexBytes

from ..chain.connection import node_errors, quantity, rpc
from ..chain.logs import spanning
from ..chain.registry import Registry
from ..format.codes import issuer_id_code

#: Blocks under the head within which a reorganisation may still take an anchor or a revocation away (at least: an
#: issuer that waits for more confirmations uses that many).
REORG_WINDOW = 64
#: Seconds after which a round checks every unexpired anchor and revocation again, even when nothing says one
#: changed.
FULL_CHECK_EVERY = 600.0
#: The events of an issuer's routine work: its anchors (the signing key third) and revocations (the sender third).
ROUTINE = ("BatchAnchored", "BatchRevoked", "DocumentRevoked")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A full check that succeeded: every anchor at or below ``block`` (whose hash was ``block_hash``) was on chain,
    and every revocation up to the journal's position ``revocations`` held, at ``at`` (monotonic seconds)."""

    block: int
    block_hash: bytes
    revocations: int
    at: float


@dataclass(frozen=True, slots=True)
class Scope:
    """What this round checks: what came after ``since`` (``None``: everything); ``head``, the latest block (number,
    hash) when the round began; ``fresh``, the checkpoint a full check stands on once it succeeded."""

    since: Checkpoint | None
    head: tuple[int, bytes]
    fresh: Checkpoint | None


class ChainWatch:
    """The checkpoint of one issuer pipeline's checks, and the events since, in this process."""

    def __init__(self, registry: Registry, issuer_id: str, own: Callable[[], Collection[str]], depth: int) -> None:
        self.registry = registry
        self.depth = max(REORG_WINDOW, depth)
        self._own = own  # this pipeline's signing key and sender, now (a key rotates)
        self._issuer = "0x" + issuer_id_code(issuer_id).hex().ljust(64, "0")  # a bytes11 topic, left-aligned
        events: list[Any] = [e for e in registry.contract.abi if e.get("type") == "event"]
        abi = {e["name"]: e for e in events}
        self._routine = ["0x" + event_abi_to_log_topic(abi[name]).hex() for name in ROUTINE]
        self._checked: Checkpoint | None = None
        #: The head (number, hash) the last successful round began at: the events up to it are accounted for while
        #: it is the chain's (a reorganisation that replaced any block up to it replaced it too).
        self._seen: tuple[int, bytes] | None = None

    def scope(self, revocations: Callable[[], int]) -> Scope:
        """This round's scope; ``revocations()`` tells the journal's revocation position for a fresh checkpoint,
        read before the head: a revocation kept by then was mined by then, under the head (one being kept meanwhile
        is waited for: :meth:`~.journal.Journal.revocations_kept`)."""
        position = revocations()
        last, seen = self._checked, self._seen
        latest, held = self._headers([] if last is None or seen is None else [last.block, seen[0]])  # still ours?
        head = (quantity(latest["number"]), _hash(latest))
        if (last is not None and seen is not None and time.monotonic() - last.at < FULL_CHECK_EVERY
                and list(map(_hash, held)) == [last.block_hash, seen[1]] and not self._touched(seen[0] + 1, head[0])):
            return Scope(last, head, None)
        block = max(0, head[0] - self.depth)
        with node_errors():
            found = _hash(rpc(self.registry.w3)("eth_getBlockByNumber", [hex(block), False]))
        fresh = None if found is None else Checkpoint(block, found, position, time.monotonic())
        return Scope(None, head, fresh)  # (a node that lost the block meanwhile: no checkpoint, the next round full)

    def moved(self, scope: Scope) -> bool:
        """Whether the chain changed under the round of ``scope`` since it began: its head is no longer the chain's,
        or an event since may have voided or replaced an anchor or revocation (as :meth:`scope` judges)."""
        latest, [held] = self._headers([scope.head[0]])
        return _hash(held) != scope.head[1] or self._touched(scope.head[0] + 1, quantity(latest["number"]))

    def done(self, scope: Scope) -> None:
        """The round's checks succeeded: events up to its head are accounted for, and a full check's checkpoint
        holds. (A round that failed leaves both: the next one looks again.)"""
        self._seen = scope.head
        if scope.fresh is not None:
            self._checked = scope.fresh

    def again(self) -> None:
        """Check everything next round too: this full round sent revocations again, mined above its head under
        positions the checkpoint covers (a short reorganisation could take them away unseen)."""
        self._checked = None

    def forget(self) -> None:
        """Check everything next round (the journal moved to another registry)."""
        self._checked = self._seen = None

    def _headers(self, numbers: list[int]) -> tuple[Any, list[Any]]:
        """The latest block's header, and those of the blocks ``numbers`` (``None`` for one the node does not have),
        in one request."""
        with node_errors():
            latest, *held = rpc(self.registry.w3).batch([("eth_getBlockByNumber", [number, False])
                                                         for number in ["latest", *map(hex, numbers)]])
        return latest, held

    def _touched(self, start: int, head: int) -> bool:
        """Whether an event in blocks ``start`` to ``head`` may have voided or replaced an anchor or revocation."""
        if start > head:
            return False

        def logs(topics: list[Any]) -> list[Any]:
            query: Any = {"address": self.registry.address, "topics": topics}
            return spanning(lambda low, high: self.registry.w3.eth.get_logs(query | {"fromBlock": low,
                                                                                    "toBlock": high}), start, head)

        with node_errors():
            named, routine = logs([None, self._issuer]), logs([self._routine, None, self._issuer])
        own = {address.lower() for address in self._own()}
        return bool(named) or any("0x" + bytes(HexBytes(log["topics"][3]))[12:].hex() not in own for log in routine)


def _hash(block: Any) -> Any:
    """A block's hash as bytes, as JSON-RPC or the embedded chain answers it; ``None`` for a block the node does not
    have."""
    return None if block is None else bytes(HexBytes(block["hash"]))
