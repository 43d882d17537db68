"""The Macao issuer: journal certificates, seal them into batches, sign, anchor, hand out bundles; revoke and
manage keys.

Issuance is a pipeline over the :class:`~crossverify.issuer.journal.Journal`. Each step reads the journal, acts, and
commits the new state before the next begins, so :meth:`IssuerClient.run` after any crash picks up where the
last run stopped. Before sending anything it reconciles with the chain: a root the registry already holds is
marked anchored, never sent again; a transaction still pending is waited for, not sent twice (its hash is in the
journal before it is broadcast). Bundles go out once an anchor is ``confirmations`` blocks deep, and every run
checks, in bulk, that every anchored or delivered root is still on chain: one that a reorganisation or a network
reset removed is signed and anchored again, so the bundles residents hold verify again; every revocation the
issuer sent is kept in the journal and sent again if the chain lost it. A registry that succeeds the one the
journal is bound to (recorded by the consortium) takes the journal over with :meth:`IssuerClient.rebind`: the
same roots are anchored there, the revocations sent again, and residents keep their files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.base import BaseAccount
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from ..chain.connection import chain_time, node_errors
from ..chain.logs import newest, spanning
from ..chain.records import DocumentStatus, RevocationReason
from ..chain.registry import Registry
from ..chain.transactions import Sender
from ..chain.typed_data import (
    AnchorRequest,
    Domain,
    RevocationRequest,
    SM2Signer,
    gm_key_proof,
    key_proof,
    sign,
    sign_gm,
)
from ..errors import (
    AnchorMismatch,
    CertificateInputError,
    HolderKeyError,
    JournalError,
    RegistryBatchAlreadyRevoked,
    RegistryDocumentAlreadyRevoked,
    SuccessionNotRecorded,
    TransactionDropped,
    TransactionFailed,
    TransactionReplaced,
)
from ..format.batch import SealedBatch, salt_document, seal_batch
from ..format.certificate import Certificate
from ..format.codes import doc_type_code, issuer_id_code
from ..format.encoding import to_hex
from ..format.hashing import HashAlgorithm
from ..format.holder import HOLDER_CLAIM, HolderPublicKey, is_sm2, key_from_claim
from ..format.metadata import Display, IssuerDisplay
from .journal import BatchRecord, BatchState, Journal
from .watch import ChainWatch

log = logging.getLogger(__name__)
ZERO = bytes(32)
#: Batches per ``anchorMany`` transaction: about 36,400 gas each, so 400 stay below the 16,777,216 cap (461 fit).
MAX_ANCHORS_PER_TX = 400
#: Seconds a signed batch or signature must still have at the chain's time to be sent: a minute to be mined in. A
#: batch that expires sooner is neither signed nor sent (the registry refuses an anchor past its not-after, and would
#: refuse every other batch of the same transaction with it): its documents fail verification anyway.
SEND_MARGIN = 60
#: Batches per ``anchorManySM2`` transaction (the GM suite, SM2 verified by EVM code): about 312,000 gas each.
MAX_SM2_ANCHORS_PER_TX = 48
#: Points where a test may inject a crash: each lies between two durable steps.
FAULT_POINTS = ("before_sign", "after_sign", "after_send", "after_receipt", "before_deliver")


def _compact(b: BatchRecord) -> tuple[bytes, bytes]:
    if b.signature is None or len(b.signature) != 64:
        raise TransactionFailed(f"journal batch {b.id} is marked signed but holds no signature")
    return b.signature[:32], b.signature[32:]


def _sm2(b: BatchRecord) -> tuple[bytes, bytes, str]:
    """A GM suite batch's signature as the registry takes it: ``(r, s, key)``, the key named by its address."""
    r, s = _compact(b)
    return r, s, b.signer or ""


def is_sm2_signer(signer: BaseAccount | SM2Signer) -> bool:
    """Whether ``signer`` signs in the GM suite (an SM2 key) rather than the standard suite (an Ethereum key)."""
    return not isinstance(signer, BaseAccount)


def no_faults(point: str) -> None:
    """The production fault hook: nothing happens."""


#: Told ``(stage, done, total)`` as a run advances.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The silent progress hook."""


@dataclass
class RunReport:
    """What one :meth:`IssuerClient.run` did. ``reanchored``: batches whose anchor had vanished from the chain
    (a reorganisation or a reset), or was taken by a void anchor of another key, and were sent again (or their
    transaction, back in the node's pool after a reorganisation, waited for); ``awaiting``: anchored batches not
    yet deep enough to deliver; ``superseded``: earlier revisions of re-issued references revoked now; ``restored``:
    revocations the chain had lost or holds void (a reset, a new registry, a thief's overwrite), sent again;
    ``lapsed``: documents of sealed batches found expired before they could be anchored (they never will be)."""

    sealed: int = 0
    signed: int = 0
    anchored: int = 0
    delivered: list[Path] = field(default_factory=list)
    gas_used: int = 0
    transactions: int = 0
    reanchored: int = 0
    awaiting: int = 0
    superseded: int = 0
    restored: int = 0
    lapsed: int = 0


def journal_certificates(journal: Journal, issuer_id: str, certificates: Sequence[tuple[str, Certificate]],
                         hash_alg: HashAlgorithm, *, supersede: bool = False, now: int | None = None) -> list[int]:
    """Salt certificates and commit them to ``journal`` under the caller's references, all or none. Needs no node.

    Nothing else happens to a certificate before this returns; a reference given again with the same content is
    not doubled, and with changed content is refused unless ``supersede`` (see :meth:`Journal.add_documents`).
    Given ``now`` (this machine's clock), a certificate expired by then, or within :data:`SEND_MARGIN`, is refused
    (:class:`CertificateInputError`) unless its reference is journalled already (a file given again): it could
    never be anchored, only lapse.
    """
    for reference, cert in certificates:
        if cert.header.issuer_id != issuer_id:
            raise ValueError(f"certificate names issuer {cert.header.issuer_id}, this client is {issuer_id}")
        if (now is not None and cert.header.not_after <= now + SEND_MARGIN
                and journal.find(issuer_id, reference=reference) is None):
            raise CertificateInputError(
                f"certificate {reference} expires at {cert.header.not_after} (notAfter), by this machine's clock "
                f"(now {now}) already or within {SEND_MARGIN} seconds: it could never be anchored; nothing was "
                "journalled")
        if HOLDER_CLAIM in cert.claims:
            require_suite_holder_key(key_from_claim(cert.claims[HOLDER_CLAIM]), hash_alg, f"certificate {reference}")
    salted = [(ref, salt_document(cert, hash_alg)) for ref, cert in certificates]
    return journal.add_documents(salted, hash_alg, supersede=supersede)


def require_suite_holder_key(key: HolderPublicKey, hash_alg: HashAlgorithm, what: str) -> None:
    """Refuse an SM2 holder key for batches hashed with keccak-256 or sha256, which only the standard suite
    anchors: its banks take P-256 holder keys only, so the certificate could never be presented."""
    if is_sm2(key) and hash_alg is not HashAlgorithm.SM3:
        raise HolderKeyError(f"{what}: the holder key is SM2, of the GM suite, but this issuer's {hash_alg.label} "
                             "batches are the standard suite's, whose banks take P-256 holder keys only: the resident "
                             "needs a P-256 key ('holder keygen' without --suite gm)")


def write_bundles(journal: Journal, batch: BatchRecord, folder: Path, chain_id: int, registry: str,
                  sealed: tuple[Sequence[str], SealedBatch] | None = None) -> list[Path]:
    """Write the bundles of one anchored batch into ``folder``: the same bytes every time. ``sealed`` is the
    batch with its file stems as this process sealed it; without it (after a restart) the batch is rebuilt from
    the journal. Each file is owner-only, written under a temporary name and renamed into place."""
    if sealed is None:
        entries = journal.batch_documents(batch.id)
        stems: Sequence[str] = [stem for stem, _ in entries]
        built = seal_batch([doc for _, doc in entries], batch.hash_alg, decoy=batch.leaf_count > len(entries))
    else:
        stems, built = sealed
    if built.root != batch.root:
        raise JournalError(f"journal batch {batch.id} no longer hashes to its anchored root: restore the journal "
                           "from a backup")
    written = []
    for file_stem, bundle in zip(stems, built.bundles(chain_id, registry), strict=True):
        path = folder / f"{file_stem}.bundle.json"
        partial = path.with_name(f".{path.name}.partial")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(bundle.dumps().encode())
        os.replace(partial, path)
        written.append(path)
    return written


def retire_key(registry: Registry, admin: Sender, key: str) -> None:
    """Retire the signing key ``key``, as its issuer's admin: it never signs again, its earlier anchors stay valid
    (no signing key needed: the admin sends)."""
    registry.transact(lambda f: f.retireSigningKey(key), admin)


def report_compromised(registry: Registry, admin: Sender, key: str, since: int) -> None:
    """Mark ``key`` compromised from ``since``, as its issuer's admin: its anchors and signed revocations from then
    on stop counting (no signing key needed: the admin sends)."""
    registry.transact(lambda f: f.markKeyCompromised(key, since), admin)


def register_metadata(registry: Registry, admin: Sender, issuer_id: str, display: Display) -> None:
    """Register, as ``issuer_id``'s admin, the digest of its name (:class:`IssuerDisplay`) or of the display
    metadata of a document type it may issue; readers then use exactly that metadata."""
    if isinstance(display, IssuerDisplay):
        if display.issuer != issuer_id:
            raise ValueError(f"the metadata names issuer {display.issuer}, not {issuer_id}")
        doc_type = bytes(8)
    else:
        doc_type = doc_type_code(display.doc_type)
    digest = display.digest_in(registry.crypto_suite())
    registry.transact(lambda f: f.setMetadataDigest(doc_type, digest), admin)


def export_bundles(journal: Journal, issuer_id: str, folder: Path) -> list[Path]:
    """Write again every bundle of ``issuer_id``'s anchored and delivered batches into ``folder``, from the
    journal alone (no node): for a resident who lost theirs, or after the bundle folder was lost."""
    binding = journal.store.binding()
    if "registry" not in binding:
        raise JournalError(f"{journal.where} has not anchored anything on a chain yet: nothing to export")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for batch in journal.batches(issuer_id, BatchState.ANCHORED, BatchState.DELIVERED):
        written += write_bundles(journal, batch, folder, int(binding["chain_id"]), binding["registry"])
    os.sync()
    return written


class IssuerClient:
    """One issuer's pipeline. ``sender`` submits transactions: the issuer's admin, or an operator relaying."""

    def __init__(
        self,
        registry: Registry,
        issuer_id: str,
        signer: BaseAccount | SM2Signer,
        sender: Sender,
        journal: Journal,
        bundle_dir: str | Path,
        *,
        hash_alg: HashAlgorithm = HashAlgorithm.KECCAK256,
        signature_ttl: int = 3600,
        receipt_timeout: float = 120.0,
        confirmations: int = 0,
        faults: Callable[[str], None] = no_faults,
    ) -> None:
        issuer_id_code(issuer_id)
        self.registry = registry
        self.issuer_id = issuer_id
        self.signer = signer
        self.sender = sender
        self.journal = journal
        self.bundle_dir = Path(bundle_dir)
        self.hash_alg = hash_alg
        self.signature_ttl = signature_ttl
        self.receipt_timeout = receipt_timeout
        self.confirmations = confirmations
        self._fault = faults
        self._domain: Domain | None = None
        self._watch = ChainWatch(registry, issuer_id, lambda: {self.signer.address, self.sender if isinstance(
            self.sender, str) else self.sender.address}, confirmations)
        #: Batches this process sealed and has not delivered yet, with their bundle file stems.
        self._sealed: dict[int, tuple[list[str], SealedBatch]] = {}

    @property
    def domain(self) -> Domain:
        """The registry's EIP-712 domain; reading it first binds the journal to this chain and registry."""
        if self._domain is None:
            self.journal.store.bind(self.registry.identity())
            self._domain = Domain.of(self.registry)
        return self._domain

    # -------------------------------------------------------------------------------------------------------
    # Issuance pipeline
    # -------------------------------------------------------------------------------------------------------

    def issue(self, certificates: Sequence[tuple[str, Certificate]], *, supersede: bool = False) -> list[int]:
        """Salt certificates and commit them to the journal (see :func:`journal_certificates`)."""
        return journal_certificates(self.journal, self.issuer_id, certificates, self.hash_alg, supersede=supersede)

    def seal(self, max_batch: int = 1000, max_age: float | None = None) -> list[int]:
        """Seal pending documents into batches of one type, at most ``max_batch`` each.

        A full batch is always sealed; a partial one only when its oldest document is older than ``max_age``
        seconds (``None``: seal partial batches at once). Documents journalled with another hash algorithm than
        this client's (``[issuer] hash_alg`` changed) are hashed again with it first.
        """
        self.journal.rehash_pending(self.issuer_id, self.hash_alg)
        by_type: dict[str, list[tuple[int, str, float]]] = {}
        for doc_id, doc_type, stem, added_at in self.journal.pending(self.issuer_id):
            by_type.setdefault(doc_type, []).append((doc_id, stem, added_at))
        sealed = []
        for entries in by_type.values():
            for start in range(0, len(entries), max_batch):
                chunk = entries[start:start + max_batch]
                if len(chunk) < max_batch and max_age is not None and time.time() - chunk[0][2] < max_age:
                    continue
                ids = [doc_id for doc_id, _, _ in chunk]
                batch = seal_batch(self.journal.documents(ids), self.hash_alg)
                batch_id = self.journal.record_sealed(
                    self.issuer_id, batch.doc_type, self.hash_alg, batch.root, batch.not_after, ids, batch.leaf_count)
                self._sealed[batch_id] = ([stem for _, stem, _ in chunk], batch)
                sealed.append(batch_id)
        return sealed

    def sign(self, report: RunReport | None = None) -> int:
        """Sign every sealed batch that has not expired (EIP-712, domain read from the registry); those that have,
        marked lapsed in the journal and counted in ``report``."""
        now = chain_time(self.registry.w3)
        lapsed = self.journal.record_lapsed(self.issuer_id, now, now + SEND_MARGIN)
        if lapsed:
            log.warning("sealed batches expired before they could be anchored: they never will be, and their "
                        "documents must be issued again", extra={"batches": [b.id for b in lapsed],
                                                                  "documents": sum(b.documents for b in lapsed)})
            if report is not None:
                report.lapsed += sum(b.documents for b in lapsed)
        batches = self.journal.batches(self.issuer_id, BatchState.SEALED, live_at=now + SEND_MARGIN)
        if batches:
            self._fault("before_sign")
        deadline = now + self.signature_ttl
        for b in batches:
            self.journal.record_signed(b.id, deadline, self._sign(self._request(b, deadline)), self.signer.address)
        if batches:
            self._fault("after_sign")
        return len(batches)

    def anchor(self, report: RunReport | None = None, progress: Progress = no_progress) -> int:
        """Reconcile with the chain, then send every signed batch (``anchorMany``, in chunks) and await receipts.

        A batch whose signature is about to expire, or was made by a key this client no longer signs with (a
        rotation), is signed again first instead of being sent to fail.
        """
        report = report or RunReport()
        reconciled = self._reconcile(report, wait_pending=True)
        now = chain_time(self.registry.w3)
        unusable = [b for b in self.journal.batches(self.issuer_id, BatchState.SIGNED)
                    if (b.deadline or 0) <= now + SEND_MARGIN or b.signer != self.signer.address]
        for b in unusable:
            self.journal.record_unsent(b.id)
        if unusable:
            self.sign(report)
        signed = self.journal.batches(self.issuer_id, BatchState.SIGNED, live_at=now + SEND_MARGIN)
        anchored = 0
        per_tx = MAX_SM2_ANCHORS_PER_TX if is_sm2_signer(self.signer) else MAX_ANCHORS_PER_TX
        for start in range(0, len(signed), per_tx):
            progress("anchoring batches", start, len(signed))
            chunk = signed[start:start + per_tx]
            tx_hash = self._send_anchors(chunk)
            log.info("anchors sent", extra={"issuer": self.issuer_id, "batches": [b.id for b in chunk],
                                            "tx": to_hex(tx_hash)})
            self._fault("after_send")
            receipt = self.registry.wait(tx_hash, self.receipt_timeout)
            log.info("anchors mined", extra={"issuer": self.issuer_id, "tx": to_hex(tx_hash),
                                             "block": receipt["blockNumber"], "gas": receipt["gasUsed"]})
            report.gas_used += receipt["gasUsed"]
            report.transactions += 1
            self._fault("after_receipt")
            anchored += self._reconcile(report, sent=[b.id for b in chunk],
                                        mined={tx_hash: (receipt["blockNumber"], bytes(receipt["blockHash"]))})
        if signed:
            progress("anchoring batches", len(signed), len(signed))
        return reconciled + anchored

    def _send_anchors(self, batches: list[BatchRecord]) -> bytes:
        """Send one ``anchorMany``; the journal holds its hash before the node does."""
        requests = [self._request(b, b.deadline or 0).as_abi() for b in batches]
        ids = [b.id for b in batches]
        if is_sm2_signer(self.signer):
            sm2 = [_sm2(b) for b in batches]
            return self.registry.submit(lambda f: f.anchorManySM2(requests, sm2), self.sender,
                                        on_signed=lambda tx_hash: self.journal.record_sent(ids, tx_hash))
        signatures = [_compact(b) for b in batches]
        return self.registry.submit(lambda f: f.anchorMany(requests, signatures), self.sender,
                                    on_signed=lambda tx_hash: self.journal.record_sent(ids, tx_hash))

    def _sign(self, request: AnchorRequest | RevocationRequest) -> bytes:
        """The 64 bytes the journal keeps: ``r || vs`` (EIP-2098) in the standard suite, ``r || s`` (SM2) in the
        GM suite."""
        if is_sm2_signer(self.signer):
            return sign_gm(request, self.domain, self.signer)  # type: ignore[arg-type]
        r, vs = sign(request, self.domain, self.signer)  # type: ignore[arg-type]
        return r + vs

    def verify_anchors(self, after_block: int | None = None) -> int:
        """Check, in bulk, that every unexpired anchored or delivered root (anchored after ``after_block``, when
        given) is still on chain and held by an anchor that counts; send back to signing each one a reorganisation
        or a network reset removed, and each one held by a void anchor (its key compromised at or before it) of
        another key: a stolen key's or a stolen admin's, once found out, which the registry lets this issuer's
        genuine anchor replace. One whose transaction the node has pending again (geth and Besu put a dropped
        block's transactions back in their pool) goes back to sent instead: the round's reconcile waits for it, and
        sends nothing for its root. Returns how many went back."""
        now = chain_time(self.registry.w3)
        # An expired batch fails verification anyway, and the registry would refuse to anchor it again.
        held = self.journal.batches(self.issuer_id, BatchState.ANCHORED, BatchState.DELIVERED, live_at=now,
                                    anchored_after=after_block)
        if not held:
            return 0
        issuer = issuer_id_code(self.issuer_id)
        statuses = self.registry.document_statuses([(issuer, b.root, ZERO) for b in held])
        lost = [b for b, s in zip(held, statuses, strict=True) if not s.anchored or self._replaceable(s)]
        pending = {tx_hash for tx_hash in {b.tx_hash for b in lost if b.tx_hash} if self._pending(tx_hash)}
        for b in lost:
            where = {"issuer": self.issuer_id, "batch": b.id, "root": to_hex(b.root), "was_block": b.anchor_block}
            if b.tx_hash in pending:
                log.warning("anchor no longer on chain, its transaction pending again: waiting for it", extra=where)
                self.journal.record_sent([b.id], b.tx_hash)
            else:
                log.warning("anchor no longer on chain, or held by a void anchor: anchoring again", extra=where)
                self.journal.record_unsent(b.id)
        return len(lost)

    def _replaceable(self, status: DocumentStatus) -> bool:
        """Whether the anchor found is void and this client's key may replace it (a key that is not the void
        anchor's own: that one cannot anchor any more)."""
        void = 0 < status.key_compromised_from <= status.anchored_at
        return void and status.signing_key.lower() != self.signer.address.lower()

    def deliver(self, progress: Progress = no_progress) -> list[Path]:
        """Write the holders' bundles of every anchored batch; rewriting yields the same bytes.

        Each file is written under a temporary name and renamed into place; once a batch's files are all
        written, one ``sync`` makes them durable before the batch is marked delivered. Until then the journal
        says "anchored", so a crash only means the files are written again.
        """
        written: list[Path] = []
        batches = self._final(self.journal.batches(self.issuer_id, BatchState.ANCHORED))
        if batches:
            self._fault("before_deliver")
        chain_id = self.registry.w3.eth.chain_id
        total = sum(b.documents for b in batches)
        if batches:
            (self.bundle_dir / self.issuer_id).mkdir(mode=0o700, parents=True, exist_ok=True)
        for b in batches:
            progress("writing bundles", len(written), total)
            written += write_bundles(self.journal, b, self.bundle_dir / self.issuer_id, chain_id,
                                     self.registry.address, self._sealed.get(b.id))
            os.sync()
            log.info("bundles delivered", extra={"issuer": self.issuer_id, "batch": b.id, "bundles": b.documents})
            self.journal.record_delivered(b.id)
            self._sealed.pop(b.id, None)
        if batches:
            progress("writing bundles", len(written), total)
        return written

    def run(self, max_batch: int = 1000, max_age: float | None = None, progress: Progress = no_progress
            ) -> RunReport:
        """Seal, sign, anchor and deliver everything pending; after a crash, finish what the last run began.

        ``progress(stage, done, total)`` is told how anchoring and bundle writing advance. One process runs an
        issuer's pipeline at a time, across the replicas sharing the journal (a holder that dies frees it):
        :class:`~crossverify.errors.StoreLocked` names the process running it now.
        """
        with self.journal.store.exclusively(f"issuer pipeline {self.issuer_id}"):
            return self._run(max_batch, max_age, progress)

    def _run(self, max_batch: int, max_age: float | None, progress: Progress) -> RunReport:
        report = RunReport()
        _ = self.domain  # the journal must belong to this chain before anything is checked against it
        # Everything unexpired when something may have changed it, else the recent (issuer/watch.py).
        scope = self._watch.scope(self.journal.revocations_kept)
        since = scope.since
        kept_after = None if since is None else since.revocations
        report.reanchored = self.verify_anchors(None if since is None else since.block)
        # A document's revocation needs no anchor: it goes first, so no root anchored again (a successor, a reset)
        # is ever on chain without it. A batch's needs its root, and follows it.
        report.restored = self.restore_revocations(kept_after)
        self._watch.done(scope)
        report.sealed = len(self.seal(max_batch, max_age))
        report.signed = self.sign(report)
        report.anchored = self.anchor(report, progress)
        report.delivered = self.deliver(progress)
        report.awaiting = len(self.journal.batches(self.issuer_id, BatchState.ANCHORED))
        report.superseded = self.revoke_superseded()
        # Batches anchored this round carry their revocations now. After a full check, only batches' are left to
        # look at, unless the chain changed under the round (a revocation voided or taken away since): every
        # document's was checked above, anchored or not, and those kept since are the next round's.
        report.restored += self.restore_revocations(kept_after,
                                                    batches_only=since is None and not self._watch.moved(scope))
        if since is None and report.restored:
            self._watch.again()
        return report

    def rebind(self) -> dict[str, str]:
        """Move the journal to this client's registry, which must succeed the registry the journal is bound to
        (recorded by the consortium on the successor: a rebuilt network, or a new version), then anchor the same
        roots there, send the revocations again and rewrite the bundle files under the new registry. Residents'
        files keep naming the old registry and verify through the succession. Returns the binding left behind
        (empty if the journal already belonged here)."""
        with self.journal.store.exclusively(f"issuer pipeline {self.issuer_id}"):
            old, new = self.journal.store.binding(), self.registry.identity()
            if not old or all(old.get(k) == v for k, v in new.items()):
                return {}
            recorded = {(c, r) for c, r, _ in self.registry.predecessors()}
            if (int(old["chain_id"]), old["registry"]) not in recorded:
                raise SuccessionNotRecorded(
                    f"registry {new['registry']} on chain {new['chain_id']} does not record that it succeeds "
                    f"{old['registry']} on chain {old['chain_id']}: the operators record it first (operator propose "
                    "predecessor)")
            if old.get("genesis") == new["genesis"]:  # the predecessor answers on this chain
                self._carry_revocations(Registry.at(self.registry.w3, old["registry"]))
            self.journal.store.rebind(new)
            self._domain = None
            self._watch.forget()
            # A batch that has expired is not anchored again (the successor would refuse it, and its documents fail
            # anyway): one delivered stays so, any other goes back to sealed and stays there, unsent, undelivered.
            live = chain_time(self.registry.w3) + SEND_MARGIN
            moved = [*self.journal.batches(self.issuer_id, BatchState.DELIVERED, live_at=live),
                     *self.journal.batches(self.issuer_id, BatchState.SIGNED, BatchState.SENT, BatchState.ANCHORED)]
            for b in moved:
                self.journal.record_unsent(b.id)
            log.info("journal moved to a successor registry", extra={
                "issuer": self.issuer_id, "from": old["registry"], "to": new["registry"], "batches": len(moved)})
        return old

    def _carry_revocations(self, predecessor: Registry) -> int:
        """Keep in the journal every revocation of its documents and batches that ``predecessor`` holds and counts,
        sent from outside the journal too (the admin's own wallet, another tool), so that ``run`` sends it to the
        successor. Returns how many it holds."""
        issuer = issuer_id_code(self.issuer_id)
        events, head = predecessor.contract.events, predecessor.w3.eth.block_number
        with node_errors():
            batches = spanning(lambda low, high: events.BatchRevoked().get_logs(
                from_block=low, to_block=high, argument_filters={"issuerId": issuer}), 0, head)
            documents = spanning(lambda low, high: events.DocumentRevoked().get_logs(
                from_block=low, to_block=high, argument_filters={"issuerId": issuer}), 0, head)
        targets: dict[tuple[bytes, bytes], int | None] = {(bytes(e.args["batchRoot"]), ZERO): None for e in batches}
        actors = {bytes(e.args["batchRoot"]): e.args["actor"] for e in batches}
        for e in documents:
            found = self.journal.find(self.issuer_id, digest=bytes(e.args["documentDigest"]))
            if found is not None and found.batch_root is not None:
                targets[(found.batch_root, found.digest)] = found.id
                actors[found.digest] = e.args["actor"]
        if not targets:
            return 0
        statuses = predecessor.document_statuses([(issuer, root, digest) for root, digest in targets])
        held = 0
        for ((root, digest), document_id), status in zip(targets.items(), statuses, strict=True):
            record = status.batch_revocation if digest == ZERO else status.document_revocation
            if not record.counts:
                continue
            target = root if digest == ZERO else digest
            log.warning("revocation the predecessor holds: carried to the successor", extra={
                "issuer": self.issuer_id, "target": to_hex(target), "reason": int(record.reason),
                "sent_by": actors[target], "signing_key": record.signing_key, "revoked_at": record.revoked_at})
            self.journal.record_revocation(self.issuer_id, target, root, int(record.reason))
            if document_id is not None:
                self.journal.record_revoked([document_id])
            held += 1
        return held

    def restore_revocations(self, after: int | None = None, batches_only: bool = False) -> int:
        """Send again every revocation of this issuer's journal, of a batch not expired yet (kept after the
        journal's position ``after``, when given; only whole batches', ``batches_only``), that the chain does not
        hold (or holds void): one a network reset or a new registry lost, or one signed by a key reported
        compromised since (a document of an expired batch fails verification whatever its revocation says).
        Returns how many were sent."""
        kept = self.journal.revocations(self.issuer_id, live_at=chain_time(self.registry.w3), after=after,
                                        batches_only=batches_only)
        if not kept:
            return 0
        issuer = issuer_id_code(self.issuer_id)
        statuses = self.registry.document_statuses([(issuer, root, ZERO if target == root else target)
                                                    for target, root, _ in kept])
        restored = 0
        for (target, root, reason), status in zip(kept, statuses, strict=True):
            record = status.batch_revocation if target == root else status.document_revocation
            if (target == root and not status.anchored) or record.counts:
                continue
            try:
                self._relay_revocation(root if target == root else ZERO, ZERO if target == root else target,
                                       RevocationReason(reason))
            except (RegistryDocumentAlreadyRevoked, RegistryBatchAlreadyRevoked):
                continue  # held, and it counts: a document's reads as none while its batch is not anchored (again)
            log.warning("revocation missing on chain: sent again", extra={
                "issuer": self.issuer_id, "target": to_hex(target), "reason": reason})
            restored += 1
        return restored

    def bundle_path(self, file_stem: str) -> Path:
        """Where the bundle of a reference (``REF``, or ``REF~N`` for its revision N) is written."""
        return self.bundle_dir / self.issuer_id / f"{file_stem}.bundle.json"

    def _reconcile(self, report: RunReport, wait_pending: bool = False, sent: Collection[int] | None = None,
                   mined: dict[bytes, tuple[int, bytes]] | None = None) -> int:
        """Mark anchored every signed or sent batch (of ids ``sent``, when given: a transaction's just mined, whose
        block ``mined`` tells by its hash) whose root the registry holds, with the block that holds it.

        A sent transaction the node still has pending is waited for when ``wait_pending`` (after a crash, or a
        reorganisation that put it back in the node's pool: so it is not sent twice); one the node does not know,
        or that failed, sends its batches back to signing. Each transaction is looked up once, however many batches
        it carried. Without ``sent``, the unexpired sealed batches are looked for too: marked lapsed within
        ``SEND_MARGIN`` of their not-after, one whose anchor a reorganisation took away may have it mined again by
        the new branch (anchored then, lapsed no more).
        """
        open_batches = self.journal.batches(self.issuer_id, BatchState.SIGNED, BatchState.SENT, ids=sent)
        if sent is None:
            open_batches += self.journal.batches(self.issuer_id, BatchState.SEALED,
                                                 live_at=chain_time(self.registry.w3))
        if wait_pending:
            for tx_hash in {b.tx_hash for b in open_batches if b.tx_hash} - set(mined or ()):
                if self._pending(tx_hash):
                    with contextlib.suppress(TransactionFailed, TransactionDropped, TransactionReplaced):
                        report.gas_used += self.registry.wait(tx_hash, self.receipt_timeout)["gasUsed"]
        if not open_batches:
            return 0
        issuer = issuer_id_code(self.issuer_id)
        statuses = self.registry.document_statuses([(issuer, b.root, ZERO) for b in open_batches])
        blocks: dict[bytes, tuple[int, bytes] | None] = dict(mined or {})
        pending: dict[bytes, bool] = {}
        marked = unsent = 0
        for b, status in zip(open_batches, statuses, strict=True):
            if status.anchored and not self._replaceable(status):
                self._require_own(b, status)
                block, block_hash = self._anchor_block(b, blocks)
                self.journal.record_anchored(b.id, status.anchored_at, block, block_hash)
                marked += 1
            elif b.state is BatchState.SENT and b.tx_hash:
                if b.tx_hash not in pending:
                    pending[b.tx_hash] = self._pending(b.tx_hash)
                if not pending[b.tx_hash]:
                    self.journal.record_unsent(b.id)
                    unsent += 1
        if unsent:  # back to sealed: sign again before the next send
            self.sign(report)
        return marked

    def _anchor_block(self, b: BatchRecord, mined: dict[bytes, tuple[int, bytes] | None]
                      ) -> tuple[int | None, bytes | None]:
        """The block (number, hash) holding the anchor of ``b``: from its own transaction's receipt (looked up
        once per transaction: ``mined`` keeps what each answered), else from the registry's ``BatchAnchored`` log
        for its root (another operator may have relayed it)."""
        w3 = self.registry.w3
        with node_errors():
            if b.tx_hash:
                if b.tx_hash not in mined:
                    mined[b.tx_hash] = None
                    with contextlib.suppress(TransactionNotFound):
                        receipt = w3.eth.get_transaction_receipt(HexBytes(b.tx_hash))
                        if receipt["status"] == 1:
                            mined[b.tx_hash] = (receipt["blockNumber"], bytes(receipt["blockHash"]))
                found = mined[b.tx_hash]
                if found is not None:
                    return found
            anchored = {"batchRoot": b.root, "issuerId": issuer_id_code(self.issuer_id)}
            logs = newest(lambda low, high: self.registry.contract.events.BatchAnchored().get_logs(
                from_block=low, to_block=high, argument_filters=anchored), w3.eth.block_number)
        if not logs:
            return None, None
        return logs[-1]["blockNumber"], bytes(logs[-1]["blockHash"])

    def _final(self, batches: list[BatchRecord]) -> list[BatchRecord]:
        """The anchored batches deep enough to deliver: ``confirmations`` blocks on top of an anchor whose block
        is still the chain's. An anchor whose block was replaced is looked up again (or sent again)."""
        if self.confirmations == 0 or not batches:
            return batches
        w3 = self.registry.w3
        with node_errors():
            head = w3.eth.block_number
            final = []
            for b in batches:
                if b.anchor_block is None or head - b.anchor_block < self.confirmations:
                    continue
                if bytes(w3.eth.get_block(b.anchor_block)["hash"]) == b.anchor_block_hash:
                    final.append(b)
                else:  # a reorganisation: back to sent, so the next reconcile finds where (or whether) it is
                    self.journal.record_sent([b.id], b.tx_hash or ZERO)
        return final

    def _require_own(self, b: BatchRecord, status: DocumentStatus) -> None:
        """The anchor found under this issuer's id must be this batch's record, signed by one of its keys."""
        found = (status.issuer_id, status.doc_type, status.hash_alg, status.leaf_count, status.not_after)
        expected = (issuer_id_code(self.issuer_id), doc_type_code(b.doc_type), int(b.hash_alg), b.documents,
                    b.not_after)
        # A batch of one anchored before anchors counted documents carries its leaves (the decoy too) instead.
        if found not in (expected, (*expected[:3], b.leaf_count, b.not_after)):
            raise AnchorMismatch(f"journal batch {b.id}: the registry holds root 0x{b.root.hex()} for "
                                 f"{self.issuer_id} with another record, signed by {status.signing_key}; a key of "
                                 "this issuer signed something else: check for a compromised key")

    def _pending(self, tx_hash: bytes) -> bool:
        """Whether the node still knows a sent transaction that has not been mined, and can mine it: one queued
        behind a nonce the node holds no transaction for (a forgotten one's, after a reorganisation) waits for a
        transaction only this issuer would send, so it counts as not pending (its batches are signed and sent
        again, taking that nonce; it then mines as a no-op, the registry skipping the identical anchor, or reverts)."""
        w3 = self.registry.w3
        with node_errors():
            try:
                tx = w3.eth.get_transaction(HexBytes(tx_hash))
            except TransactionNotFound:
                return False
            # Queued behind a gap: its nonce beyond the account's next one the node would take (the gap's). (Not
            # counting itself, as eth-tester does not, its nonce is that next one.)
            return tx["blockNumber"] is None and tx["nonce"] <= w3.eth.get_transaction_count(tx["from"], "pending")

    def _request(self, b: BatchRecord, deadline: int) -> AnchorRequest:
        return AnchorRequest(b.root, doc_type_code(b.doc_type), int(b.hash_alg), b.documents, b.not_after, deadline)

    # -------------------------------------------------------------------------------------------------------
    # Revocation and keys (``sender`` must be the issuer's admin)
    # -------------------------------------------------------------------------------------------------------

    def revoke(self, reason: RevocationReason, *, reference: str | None = None, document: bytes | None = None,
               batch: bytes | None = None) -> None:
        """Revoke a document (by ``reference`` or its digest) or a whole ``batch`` this journal anchored.

        The revocation is signed by the issuer's key and relayed by the sender (an operator or the admin). A
        digest or root the journal does not know, or whose batch is not on chain yet, is refused
        (:class:`JournalError`): a mistyped digest must not "succeed" by revoking nothing real.
        """
        if batch is not None:
            known = self.journal.batches(self.issuer_id, *BatchState, root=batch)
            if not known or known[0].state not in (BatchState.ANCHORED, BatchState.DELIVERED):
                raise JournalError(f"batch {to_hex(batch)} is not an anchored batch of {self.issuer_id} in this "
                                   "journal; nothing was revoked")
            self._revoke_and_keep(batch, batch, reason)
            return
        found = self.journal.find(self.issuer_id, reference=reference, digest=document)
        what = f"reference {reference}" if reference is not None else f"document {to_hex(document or b'')}"
        if found is None:
            raise JournalError(f"{what} is not in {self.issuer_id}'s journal; nothing was revoked")
        if found.batch_state not in (BatchState.ANCHORED, BatchState.DELIVERED):
            raise JournalError(f"{what} is not anchored yet ({found.batch_state or 'pending'}); nothing was revoked")
        self._revoke_and_keep(found.digest, found.batch_root, reason, found.id)

    def revoke_superseded(self) -> int:
        """Revoke, as superseded, every earlier revision of a re-issued reference that is on chain; the signed
        revocation is relayed by this client's sender (an operator or the admin). One the chain holds already (an
        earlier run's, whose answer was lost) is kept, not sent again."""
        revoked = 0
        for doc in self.journal.superseded(self.issuer_id):
            with contextlib.suppress(RegistryDocumentAlreadyRevoked):
                self._revoke_and_keep(doc.digest, doc.batch_root, RevocationReason.SUPERSEDED, doc.id)
            revoked += 1
        return revoked

    def _revoke_and_keep(self, target: bytes, batch_root: bytes | None, reason: RevocationReason,
                         document_id: int | None = None) -> None:
        """Relay the revocation of ``target`` (a document's digest, or ``batch_root`` for its whole batch) and keep
        it in the journal (marking journal document ``document_id`` revoked). One the chain holds already and that
        counts (sent by an attempt whose answer was lost, a receipt timeout, or from elsewhere) is kept as the
        chain holds it, so that a reset restores it, and refused by name."""
        whole = target == batch_root
        try:
            self._relay_revocation(target if whole else ZERO, ZERO if whole else target, reason)
        except (RegistryDocumentAlreadyRevoked, RegistryBatchAlreadyRevoked):
            [status] = self.registry.document_statuses([(issuer_id_code(self.issuer_id), batch_root or ZERO,
                                                         ZERO if whole else target)])
            held = status.batch_revocation if whole else status.document_revocation
            if held.counts:
                self._keep_revocation(target, batch_root, held.reason, document_id)
            raise
        self._keep_revocation(target, batch_root, reason, document_id)

    def _keep_revocation(self, target: bytes, batch_root: bytes | None, reason: RevocationReason,
                         document_id: int | None) -> None:
        if document_id is not None:
            self.journal.record_revoked([document_id])
        if batch_root is not None:
            self.journal.record_revocation(self.issuer_id, target, batch_root, int(reason))

    def _relay_revocation(self, batch_root: bytes, document_digest: bytes, reason: RevocationReason) -> None:
        request, signature = self.signed_revocation(batch_root, document_digest, reason)
        if is_sm2_signer(self.signer):
            sm2 = (*signature, self.signer.address)
            self.registry.transact(lambda f: f.revokeBySM2Signature(request.as_abi(), sm2), self.sender)
            return
        self.registry.transact(lambda f: f.revokeBySignature(request.as_abi(), signature), self.sender)

    def revoke_document(self, document_digest: bytes, reason: RevocationReason) -> None:
        self.registry.transact(lambda f: f.revokeDocument(document_digest, reason), self.sender)

    def revoke_batch(self, batch_root: bytes, reason: RevocationReason) -> None:
        self.registry.transact(lambda f: f.revokeBatch(batch_root, reason), self.sender)

    def signed_revocation(self, batch_root: bytes, document_digest: bytes, reason: RevocationReason,
                          ttl: int = 3600) -> tuple[RevocationRequest, tuple[bytes, bytes]]:
        """A revocation signed by this issuer's key, for an operator to relay: ``(r, vs)``, or ``(r, s)`` in the GM
        suite."""
        request = RevocationRequest(batch_root, document_digest, int(reason), chain_time(self.registry.w3) + ttl)
        signature = self._sign(request)
        return request, (signature[:32], signature[32:])

    def add_key(self, key: BaseAccount | SM2Signer) -> None:
        """Register ``key`` for this issuer, with its proof of possession (the key signs the registry, the issuer
        and itself), so no other institution can claim it first. An SM2 key (the GM suite) is registered with its
        public key, which the registry keeps to verify its signatures."""
        issuer = issuer_id_code(self.issuer_id)
        if is_sm2_signer(key):
            proof = gm_key_proof(issuer, key, self.domain)  # type: ignore[arg-type]
            x, y = key.public_key[:32], key.public_key[32:]  # type: ignore[union-attr]
            signed = (proof[:32], proof[32:], key.address)
            self.registry.transact(lambda f: f.addSM2SigningKey(issuer, x, y, signed), self.sender)
            return
        plain = key_proof(issuer, key, self.domain)  # type: ignore[arg-type]
        self.registry.transact(lambda f: f.addSigningKey(issuer, key.address, plain), self.sender)

    def set_metadata(self, display: Display) -> None:
        """Register, as the admin, the digest of this issuer's name or of a type's display metadata."""
        register_metadata(self.registry, self.sender, self.issuer_id, display)

    def cancel_signed_requests(self, up_to: int) -> None:
        """Void every request this issuer signed (anchor or revocation) with a deadline at or before ``up_to``."""
        self.registry.transact(lambda f: f.cancelSignedRequests(issuer_id_code(self.issuer_id), up_to), self.sender)

    def retire_key(self, key: str) -> None:
        retire_key(self.registry, self.sender, key)

    def report_compromised(self, key: str, since: int) -> None:
        report_compromised(self.registry, self.sender, key, since)

    def rotate_key(self, new_signer: BaseAccount) -> None:
        """Add ``new_signer``'s key, switch to it, and retire the old one."""
        old = self.signer.address
        self.add_key(new_signer)
        self.signer = new_signer
        self.retire_key(old)
