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
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from ..errors import ReceiptTimeout, TransactionDropped, TransactionFailed, TransactionReplaced
from ..format.encoding import to_hex
from .connection import node_errors, quantity, rpc, snake_case

#: Who sends a transaction: an account the node manages (its address), or a signer (keystore, HSM).
Sender = str | BaseAccount


def sender_address(sender: Sender) -> str:
    """The account ``sender`` sends from."""
    return sender if isinstance(sender, str) else sender.address


#: Where the per-account nonce locks live (one small file per chain and account, shared by every process).
LOCK_DIR = Path(tempfile.gettempdir()) / "crossverify-accounts"
#: A transaction the node has never shown us counts as dropped only after this long (propagation to a
#: load-balanced node can lag the broadcast).
UNSEEN_GRACE = 3.0
#: Gas a node's account's transaction is given beyond its estimate, as web3 gives it (within the caps below).
GAS_BUFFER = 100_000
#: The most gas one transaction may carry on chains that cap it below the block's limit (EIP-7825; Hardhat).
TX_GAS_CAP = 2**24
#: The fee fields of an EIP-1559 transaction.
DYNAMIC_FEES = frozenset({"maxFeePerGas", "maxPriorityFeePerGas"})


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


def submit(w3: Web3, request: dict[str, Any], sender: Sender, params: dict[str, Any],
           on_signed: Callable[[bytes], None] | None = None) -> bytes:
    """Send ``request`` (``to`` and ``data``; ``data`` alone deploys) from ``sender``; returns the transaction hash.

    Bare JSON-RPC (:func:`~.connection.rpc`), with the fields web3 fills. Gas is estimated first (a revert raises
    there, and nothing is sent). An account the node manages is given ``GAS_BUFFER`` more, within the block's and a
    transaction's gas caps, and sends (the node takes its nonce and fees). A signer is given the estimate, and
    ``params``' gas price, or else EIP-1559 fees (the node's priority fee, and twice the latest block's base fee
    more); its nonce is taken under :func:`account_lock`, and ``on_signed(tx_hash)`` runs before the broadcast, so
    a caller can record the hash durably first: after a crash it finds the transaction instead of sending a second
    one. A broadcast is sent once (:meth:`~.connection.JsonRpc.send`).
    """
    node = rpc(w3)
    address = sender_address(sender)
    tx = {"from": address, "value": 0, **request, **params}
    estimate, latest = node.batch([("eth_estimateGas", [_wire(tx)]), ("eth_getBlockByNumber", ["latest", False])])
    estimate, limit = quantity(estimate), quantity(_field(latest, "gasLimit"))
    if estimate > limit:
        raise TransactionFailed(f"the transaction needs {estimate:,} gas, beyond the block's limit {limit:,}")
    if isinstance(sender, str):
        tx["gas"] = max(estimate, min(limit, TX_GAS_CAP, estimate + GAS_BUFFER))
        tx_hash = bytes(HexBytes(node.send("eth_sendTransaction", [_wire(tx)])))
        if on_signed:
            on_signed(tx_hash)
        return tx_hash
    tx["gas"], tx["chainId"] = estimate, node.chain_id()
    tx.update(_fees(w3, tx, _field(latest, "baseFeePerGas")))
    with account_lock(tx["chainId"], address):
        tx["nonce"] = quantity(node("eth_getTransactionCount", [address, "pending"]))
        signed = sender.sign_transaction(tx)
        if on_signed:
            on_signed(bytes(signed.hash))
        return bytes(HexBytes(node.send("eth_sendRawTransaction", [to_hex(signed.raw_transaction)])))


def _fees(w3: Web3, tx: dict[str, Any], base_fee: Any) -> dict[str, int]:
    """The fee fields web3 fills for a signed transaction without them: none beside a gas price (a legacy
    transaction), else the node's priority fee and a maximum of that and twice the latest block's ``base_fee``."""
    if "gasPrice" in tx and not DYNAMIC_FEES & tx.keys():
        return {}
    if "maxFeePerGas" not in tx and base_fee is None:
        raise TransactionFailed("the chain's blocks carry no base fee: configure a gas price for its transactions")
    fees: dict[str, int] = {}
    priority = tx.get("maxPriorityFeePerGas")
    if priority is None:
        try:
            priority = quantity(rpc(w3)("eth_maxPriorityFeePerGas", []))
        except Web3RPCError:  # a node without the method: web3's estimate from the fee history
            priority = int(w3.eth.max_priority_fee)
        fees["maxPriorityFeePerGas"] = priority
    if "maxFeePerGas" not in tx:
        fees["maxFeePerGas"] = priority + 2 * quantity(base_fee)
    return fees


def _field(block: dict[str, Any], name: str) -> Any:
    """A block header's field ``name`` as JSON-RPC spells it, or as eth-tester does in process (``gas_limit``)."""
    return block.get(name, block.get(snake_case(name)))


def _wire(tx: dict[str, Any]) -> dict[str, Any]:
    """``tx`` as JSON-RPC writes a transaction: numbers and bytes in hex."""
    return {k: hex(v) if isinstance(v, int) else to_hex(v) if isinstance(v, bytes) else v for k, v in tx.items()}


def wait(w3: Web3, tx_hash: bytes, timeout: float, poll: float = 0.05) -> TxReceipt:
    """The receipt of a sent transaction, polling with back-off up to one second.

    Raises :class:`TransactionReplaced` when another transaction took its nonce, :class:`TransactionDropped`
    when the node forgot it, :class:`ReceiptTimeout` when neither happened in ``timeout`` seconds, and
    :class:`TransactionFailed` when it was mined but reverted. A look-up the node answers with an error object
    (geth after a restart: "transaction indexing is in progress") tells nothing: it is made again.
    """
    started = time.monotonic()
    seen: Any = None
    refused: Web3RPCError | None = None
    while True:
        with node_errors():
            try:
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
                refused = None
            except Web3RPCError as exc:
                receipt, refused = None, exc
        if receipt is not None:
            break
        if time.monotonic() - started > timeout:
            raise ReceiptTimeout(f"no receipt for {to_hex(tx_hash)} within {timeout:g}s; it may still be mined"
                                 + ("" if refused is None else f" (the node's last answer: {refused})"))
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
