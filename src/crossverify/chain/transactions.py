"""Sending transactions: one nonce per account at a time, and waiting that notices a replaced or dropped
transaction as soon as the node does, instead of running out the clock."""

from __future__ import annotations

import fcntl
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account.signers.base import BaseAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from ..errors import ReceiptTimeout, TransactionDropped, TransactionFailed, TransactionReplaced
from ..format.encoding import to_hex
from .connection import node_errors

#: Who sends a transaction: an account the node manages (its address), or a signer (keystore, HSM).
Sender = str | BaseAccount

#: Where the per-account nonce locks live (one small file per chain and account, shared by every process).
LOCK_DIR = Path(tempfile.gettempdir()) / "crossverify-accounts"
#: A transaction the node has never shown us counts as dropped only after this long (propagation to a
#: load-balanced node can lag the broadcast).
UNSEEN_GRACE = 3.0


@contextmanager
def account_lock(chain_id: int, address: str) -> Iterator[None]:
    """Hold the machine-wide lock under which ``address`` takes its next nonce and broadcasts.

    Two processes relaying with one operator key then never pick the same nonce. (Processes on different
    machines must not share a sending key; see docs/deploy.md.)
    """
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    with (LOCK_DIR / f"{chain_id}-{address.lower()}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def submit(w3: Web3, fn: Any, sender: Sender, params: dict[str, Any],
           on_signed: Callable[[bytes], None] | None = None) -> bytes:
    """Send ``fn`` from ``sender``; returns the transaction hash.

    Gas is estimated first (a revert raises there, named, and nothing is sent). For a local key the nonce is
    taken under :func:`account_lock`, and ``on_signed(tx_hash)`` runs before the broadcast, so a caller can
    record the hash durably first: after a crash it finds the transaction instead of sending a second one.
    """
    if isinstance(sender, str):
        tx_hash = bytes(fn.transact({"from": sender, **params}))
        if on_signed:
            on_signed(tx_hash)
        return tx_hash
    tx = fn.build_transaction({"from": sender.address, **params})
    with account_lock(int(tx["chainId"]), sender.address):
        tx["nonce"] = w3.eth.get_transaction_count(sender.address, "pending")
        signed = sender.sign_transaction(tx)
        if on_signed:
            on_signed(bytes(signed.hash))
        return bytes(w3.eth.send_raw_transaction(signed.raw_transaction))


def wait(w3: Web3, tx_hash: bytes, timeout: float, poll: float = 0.05) -> TxReceipt:
    """The receipt of a sent transaction, polling with back-off up to one second.

    Raises :class:`TransactionReplaced` when another transaction took its nonce, :class:`TransactionDropped`
    when the node forgot it, :class:`ReceiptTimeout` when neither happened in ``timeout`` seconds, and
    :class:`TransactionFailed` when it was mined but reverted.
    """
    started = time.monotonic()
    seen: Any = None
    while True:
        with node_errors():
            try:
                receipt: TxReceipt | None = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                receipt = None
            if receipt is None:
                try:
                    seen = w3.eth.get_transaction(HexBytes(tx_hash))
                except TransactionNotFound:
                    if seen is not None or time.monotonic() - started > UNSEEN_GRACE:
                        _gone(w3, tx_hash, seen)
        if receipt is not None:
            break
        if time.monotonic() - started > timeout:
            raise ReceiptTimeout(f"no receipt for {to_hex(tx_hash)} within {timeout:g}s; it may still be mined")
        time.sleep(poll)
        poll = min(poll * 2, 1.0)
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {to_hex(tx_hash)} reverted on chain (gas used {receipt['gasUsed']})")
    return receipt


def _gone(w3: Web3, tx_hash: bytes, seen: Any) -> None:
    """The node forgot ``tx_hash``: replaced if another transaction (mined or pending) holds its nonce."""
    if seen is not None and w3.eth.get_transaction_count(seen["from"], "pending") > seen["nonce"]:
        raise TransactionReplaced(
            f"transaction {to_hex(tx_hash)} was replaced: another transaction from {seen['from']} took its nonce "
            f"{seen['nonce']}")
    raise TransactionDropped(f"the node no longer knows transaction {to_hex(tx_hash)}; it was never mined")
