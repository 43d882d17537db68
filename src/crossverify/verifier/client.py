"""The Guangdong verifier: check a bundle or presentation a resident hands over, with a named result for every
check.

``verify`` and ``verify_many`` never raise for a bad bundle: each bundle gets a :class:`VerificationReport` whose
checks say what passed, what failed and why, and what did not apply, so one unreadable file does not sink a
batch. ``verify_many`` reads the chain for many bundles at once.

A presentation (a bundle the holder signed for this bank's challenge) passes the holder checks only when the
certificate names the holder's key, that key signed exactly what is disclosed, for this bank (``audience``),
before it expired, and for a challenge this bank issued and nobody answered before (consumed here, atomically,
in the :class:`~crossverify.verifier.challenges.ChallengeStore`). A certificate bound to its holder's key (its
header says so, inside the digest) fails ``holder_bound`` as a bare bundle at every bank; the policy can demand
presentations for further document types.
"""

from __future__ import annotations

import gc
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache, cached_property, lru_cache
from types import MappingProxyType

from ..chain.circulation import CirculationContract
from ..chain.connection import rpc
from ..chain.records import NOT_REVOKED, DocumentStatus, RevocationReason, Status
from ..chain.registry import Head, Registry
from ..chain.transactions import Sender
from ..errors import UNAVAILABLE, ConfigError, CrossverifyError, NodeBehind, NodeTooSlow, SuiteMismatch
from ..format.bundle import Bundle
from ..format.certificate import MAX_BUNDLE_BYTES
from ..format.codes import code_name, issuer_id_code
from ..format.display import counted
from ..format.encoding import to_hex, utc_time
from ..format.hashing import HashAlgorithm
from ..format.holder import HOLDER_CLAIM, HolderPublicKey, is_sm2
from ..format.presentation import Challenge, Presentation, disclosed_names, load_document
from ..format.suite import Suite
from ..sealing import Receipt, RegulatorPublicKey, SealedReceipts, case_reference_code, seal_receipts
from .challenges import DEFAULT_CHALLENGE_TTL, ChallengeStore, Consumed
from .outbox import RECEIPTS_PER_TX, FlushReport, ReceiptOutbox, regulator_keys

log = logging.getLogger(__name__)
Bundleish = Bundle | Presentation | str | bytes
#: How far ahead of this bank's clock a presentation's issue time may be, in seconds.
CLOCK_SKEW = 60
#: Seconds between two reads of the registries this bank's registry succeeds, for bundles naming another one.
SUCCESSIONS_REREAD = 60.0


class Outcome(StrEnum):
    """How one check came out. ``NOT_APPLICABLE``: the check could not run (an earlier one failed) or does not
    apply (no attachments, no age limit for the type)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not applicable"


#: Every check, in the order a report lists them.
CHECKS = (
    "bundle_well_formed",
    "attachments_match",
    "proof_leads_to_root",
    "registry_matches",
    "registry_succession",
    "suite_matches",
    "holder_bound",
    "holder_signed",
    "disclosure_matches_signature",
    "audience_matches",
    "presentation_not_expired",
    "challenge_fresh",
    "presentation_within_challenge",
    "anchored",
    "anchor_matches_bundle",
    "key_held_by_issuer",
    "key_not_compromised",
    "issuer_in_good_standing",
    "doc_type_permitted",
    "not_revoked",
    "not_expired",
    "fresh_enough",
)


@dataclass(frozen=True, slots=True)
class Check:
    """One named check and its outcome, with a detail a bank clerk can read and log."""

    name: str
    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class VerificationReport:
    """The verdict on one bundle: every check, and the bundle's identifying digests when it could be read; for a
    presentation that consumed its challenge, its batch's mark on it (:meth:`VerifierClient.withdraw`)."""

    checks: tuple[Check, ...]
    bundle: Bundle | None = None
    document_digest: bytes | None = None
    presentation: Presentation | None = None
    consumed_by: bytes | None = None

    @cached_property
    def valid(self) -> bool:
        return all(c.outcome is not Outcome.FAILED for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.outcome is Outcome.FAILED]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_json(self) -> dict[str, object]:
        return {**self.summary(), "checks": [{"name": c.name, "outcome": c.outcome.value, "detail": c.detail}
                                             for c in self.checks]}

    def summary(self) -> dict[str, object]:
        """:meth:`as_json` without the checks."""
        b = self.bundle
        return {
            "valid": self.valid,
            "docType": b.header.doc_type if b else None,
            "issuer": b.header.issuer_id if b else None,
            "documentDigest": to_hex(self.document_digest) if self.document_digest else None,
            "batchRoot": to_hex(b.proof.batch_root) if b else None,
            "purpose": self.presentation.binding.purpose if self.presentation else None,
            "presentationHash": (to_hex(self.presentation.hash(self.document_digest))
                                 if self.presentation and self.document_digest else None),
        }


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch :meth:`VerifierClient.prepare` checked as far as it can without reading the registry: per item,
    its bundle (if readable), its checks so far, its digest (if it goes on to the registry's checks) and its
    presentation; and the (issuer id, batch root, digest) of those that go on, in their order; and the batch's mark
    on the challenges it consumed (``consumed_by``). Read only."""

    parsed: Sequence[tuple[Bundle | None, Sequence[Check], bytes | None, Presentation | None]]
    triples: Sequence[tuple[bytes, bytes, bytes]]
    consumed_by: bytes | None = None

    @property
    def consumed(self) -> list[bytes | None]:
        """Per item, the nonce of the challenge its presentation consumed (``None``: none): a presentation goes on
        to the reads only once it consumed its challenge."""
        return [p.binding.nonce if p is not None and digest is not None else None for _, _, digest, p in self.parsed]


@dataclass(frozen=True)
class Policy:
    """The bank's own rules: how old (from ``asOf``) a document of each type may be, in seconds, the largest
    bundle file it reads, in bytes, which document types it accepts only as presentations signed by their
    holder, in a deployment of the GM suite, whether it also accepts P-256 holder keys (where the consortium
    allows them), and how far the node's latest block may lag this machine's clock, in seconds (0: any), before
    the node counts as behind (:class:`~crossverify.errors.NodeBehind`: no verdict from a stale read)."""

    max_age: Mapping[str, int] = field(default_factory=dict)
    max_bundle_bytes: int = MAX_BUNDLE_BYTES
    holder_binding: frozenset[str] = frozenset()
    p256_holders: bool = False
    max_head_age: int = 0

    def __post_init__(self) -> None:  # a copy none can change: the checks a verifier keeps were made under it
        object.__setattr__(self, "max_age", MappingProxyType(dict(self.max_age)))


class VerifierClient:
    """A mainland bank's verifier. ``sender`` (its admitted account) is needed only to record receipts;
    ``audience`` (its verifier id) and ``challenges`` (its challenge store) only to accept presentations.

    Documents are judged by ``clock`` (the chain's, by default); challenges and presentations, a matter between
    the resident and the bank, by ``wall_clock`` (this machine's, by default).
    """

    def __init__(self, registry: Registry, policy: Policy | None = None, sender: Sender | None = None,
                 clock: Callable[[], int] | None = None, outbox: ReceiptOutbox | None = None,
                 audience: str | None = None, challenges: ChallengeStore | None = None,
                 wall_clock: Callable[[], int] | None = None, circulation: CirculationContract | None = None,
                 receipt_timeout: float = 120.0) -> None:
        self.registry = registry
        self.circulation = circulation
        self.policy = policy or Policy()
        self.sender = sender
        self.outbox = outbox
        self.audience = audience
        self.challenges = challenges
        self.receipt_timeout = receipt_timeout
        self._clock = clock
        self._wall_clock = wall_clock or (lambda: int(time.time()))
        self._chain_id: int | None = None
        self._registry_check: Check | None = None
        self._suite: Suite | None = None
        self._successions: dict[tuple[int, str], Check] | None = None
        self._successions_read = 0.0
        self._seen: _Seen | None = None
        self._seen_lock = threading.Lock()

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.registry.chain_id()
        return self._chain_id

    @property
    def suite(self) -> Suite:
        """The deployment's crypto suite, as its registry says (read once)."""
        if self._suite is None:
            self._suite = self.registry.crypto_suite()
        return self._suite

    def verify(self, bundle: Bundleish, attachments: Mapping[str, bytes] | None = None) -> VerificationReport:
        """Check one bundle or presentation (a :class:`Bundle`, a :class:`Presentation`, or a file's text or
        bytes: a file with a top-level ``binding`` is read as a presentation)."""
        return self.verify_many([bundle], [attachments] if attachments is not None else None)[0]

    def verify_many(self, bundles: Sequence[Bundleish],
                    attachments: Sequence[Mapping[str, bytes] | None] | None = None) -> list[VerificationReport]:
        """Check many bundles or presentations, reading the registry for all of them in batched calls.
        ``attachments``, if given, holds one mapping (or ``None``) per bundle. When the reads fail (for want of the
        node, or an answer no check foresaw), the challenges the batch's presentations consumed are open again (no
        verdict was given on them)."""
        with collector_paused():
            prepared = self.prepare(bundles, attachments)
            try:
                return self._complete(prepared)
            except NodeTooSlow:
                raise
            except Exception:
                self.abandon(prepared)
                raise

    def prepare(self, bundles: Sequence[Bundleish],
                attachments: Sequence[Mapping[str, bytes] | None] | None = None) -> Prepared:
        """The first half of :meth:`verify_many`: every check that needs no status read (reading, digests,
        proofs, registry and suite, the holder's signature, the presentations' challenges consumed). Its
        reports come from :meth:`complete`, whose reads are made when it is called, not before: a service can
        prepare one batch while another's reads are out."""
        if attachments is not None and len(attachments) != len(bundles):
            raise ValueError(f"{len(bundles)} bundles but {len(attachments)} attachment mappings")
        now, mark = self._wall_clock(), secrets.token_bytes(16)
        parsed = self._offline_all(bundles, attachments, now, mark)
        triples = [(issuer_id_code(b.header.issuer_id), b.proof.batch_root, digest)
                   for b, _, digest, _ in parsed if b is not None and digest is not None]
        return Prepared(parsed, triples, mark)

    def complete(self, prepared: Prepared) -> list[VerificationReport]:
        """The second half of :meth:`verify_many`: the registry read for the prepared bundles (the statuses as
        of the latest block now, and its time), the checks on what it says, and every report, in order. When the
        reads fail for want of the node, the challenges the batch consumed are open again; not when they were only
        too slow for :meth:`reads_within` (its caller completes the batch again, elsewhere)."""
        with collector_paused():
            return self._reported(prepared)

    def _reported(self, prepared: Prepared) -> list[VerificationReport]:
        """:meth:`_complete`, the batch's challenges released if the node is away (:meth:`complete`)."""
        try:
            return self._complete(prepared)
        except NodeTooSlow:
            raise
        except UNAVAILABLE:
            self.abandon(prepared)
            raise

    def abandon(self, prepared: Prepared) -> None:
        """No verdict will be given on ``prepared`` (its reads failed): the challenges its presentations consumed
        are open again, so that a presentation sent again is checked, not refused as a replay."""
        self._release([nonce for nonce in prepared.consumed if nonce is not None], prepared.consumed_by,
                      "the challenges of a batch whose reads failed could not be opened again")

    def withdraw(self, reports: Sequence[VerificationReport]) -> None:
        """The verdicts on ``reports`` were not given and left nothing behind: what had to follow them failed
        before it was kept (a receipt, an answer for the clerk; the caller makes sure). The challenges their
        presentations consumed are open again, so that a presentation sent again is checked, not refused as a
        replay; a challenge with the clerk's answer recorded stays used whatever the caller says."""
        by_batch: dict[bytes, list[bytes]] = {}
        for report in reports:
            if report.consumed_by is not None and report.presentation is not None:
                by_batch.setdefault(report.consumed_by, []).append(report.presentation.binding.nonce)
        for mark, nonces in by_batch.items():
            self._release(nonces, mark, "the challenges of verdicts not given could not be opened again")

    def withdraw_unless_queued(self, reports: Sequence[VerificationReport], reference: str,
                               outbox: ReceiptOutbox) -> None:
        """:meth:`withdraw` the verdicts on ``reports`` whose presentations' receipts ``outbox`` surely does not
        hold under the bank's case ``reference``; one it may hold (or cannot say: it may) stands, its challenge
        used."""
        try:
            unqueued = [r for r in reports if r.presentation is not None and r.document_digest is not None
                        and outbox.find(r.document_digest, r.presentation.binding.purpose, reference) is None]
        except CrossverifyError:
            return
        self.withdraw(unqueued)

    def _release(self, nonces: Sequence[bytes], mark: bytes | None, failure: str) -> None:
        """Open again the challenges ``nonces`` the batch marked ``mark`` consumed; a store that cannot logs
        ``failure`` (they stay used)."""
        if not nonces or mark is None or self.challenges is None:
            return
        try:
            self.challenges.release_many(nonces, mark)
        except CrossverifyError as exc:
            log.warning(failure, extra={"challenges": len(nonces), "error": f"{type(exc).__name__}: {exc}"})

    def _complete(self, prepared: Prepared) -> list[VerificationReport]:
        # The documents of one batch share their status (one object), header and batch size: their online
        # checks are the same immutable objects, computed once.
        online: dict[tuple[object, ...], tuple[Check, ...]] = {}
        shared: dict[tuple[object, ...], tuple[Check, ...]] = {}
        batches: Mapping[tuple[bytes, bytes], DocumentStatus] = {}
        if self._clock is None:  # as of the latest block, by its clock; what is the same at that block, kept
            statuses, seen = self._at_head(prepared.triples)
            now, shared, batches = seen.head.time, seen.online, seen.head.batches
            if prepared.triples:
                self.not_behind(seen.head.number, seen.head.time)
        else:
            statuses, now = self.registry.bulk_statuses(prepared.triples), self._clock()
        position = 0
        reports = []
        for bundle, offline, digest, presentation in prepared.parsed:
            checks: Sequence[Check] = offline
            if bundle is not None and digest is not None:
                s, p, (issuer, root, _) = statuses[position], bundle.proof, prepared.triples[position]
                position += 1
                fits = p.fits_anchor(s.leaf_count)
                key: tuple[object, ...]
                if s is batches.get((issuer, root)):  # the batch's status at this block: no document revocation
                    table, key = shared, (issuer, root, bundle.header, p.hash_alg, p.leaf_count, fits)
                else:
                    table, key = online, (id(s), bundle.header, p.hash_alg, p.leaf_count, fits)
                found = table.get(key)
                if found is None:
                    found = table[key] = tuple(self._online(bundle, s, now))
                checks = (*offline, *found)
            if len(checks) < len(CHECKS):  # checks are added in the order of CHECKS; some did not run
                by_name = {c.name: c for c in checks}
                checks = [by_name.get(n) or _SKIPPED[n] for n in CHECKS]
            reports.append(VerificationReport(tuple(checks), bundle, digest, presentation,
                                              prepared.consumed_by if presentation is not None and digest is not None
                                              else None))
        return reports

    def not_behind(self, number: int, block_time: int) -> None:
        """:class:`NodeBehind` if the latest block the node knows (``number``, mined at ``block_time``) lags this
        machine's clock by more than the policy's ``max_head_age``: its revocations and its clock, which judges
        expiry, may be out of date."""
        limit, now = self.policy.max_head_age, self._wall_clock()
        if limit and now - block_time > limit:
            raise NodeBehind(f"the node's latest block, #{number}, is from {utc_time(block_time)}, "
                             f"{now - block_time} s before this machine's clock ({utc_time(now)}); "
                             f"[verifier] max_head_age allows {limit} s")

    def _at_head(self, triples: Sequence[tuple[bytes, bytes, bytes]]) -> tuple[list[DocumentStatus], _Seen]:
        """The statuses of ``triples`` as of the latest block (:meth:`Registry.statuses_at_head`), lending it the
        batches' statuses last read at that block, and the online checks made from them at it. Any error drops
        what was kept."""
        with self._seen_lock:
            seen = self._seen
        try:
            statuses, head = self.registry.statuses_at_head(triples, seen.head if seen is not None else None)
        except BaseException:
            with self._seen_lock:
                self._seen = None
            raise
        if (seen is None or seen.head.hash != head.hash or seen.policy is not self.policy
                or len(seen.online) > _SEEN_CHECKS):
            seen = _Seen(head, self.policy, {})
        elif seen.head is not head:
            seen = _Seen(head, seen.policy, seen.online)
        with self._seen_lock:
            self._seen = seen
        return statuses, seen

    def record(self, reports: Sequence[VerificationReport], purpose: str | None = None, reference: str = "",
               progress: Callable[[int, int], None] | None = None, *, in_person: bool = False) -> FlushReport:
        """Record sealed receipts of the valid reports on the circulation contract (see :meth:`receipts`); the
        report's ``commitments`` are the receipt references, in the order of the valid reports. ``in_person``:
        the bank attests that the residents of the bare bundles consented in person, under its case
        ``reference``.

        With an outbox, each receipt is recorded exactly once per document, purpose and ``reference`` (the bank's
        case), across retries and crashes; without one, they are sealed and sent as they are. Each transaction's
        receipt is waited for up to ``receipt_timeout`` seconds (``[network] receipt_timeout``), and so is another
        process's flush of the same outbox (it waits on one transaction's receipt at a time): past that,
        :class:`~crossverify.errors.StoreLocked` names it and these receipts stay queued for the next flush.
        """
        if self.sender is None or self.circulation is None:
            raise CrossverifyError("recording receipts needs the verifier's account as sender and the circulation "
                                   "contract ([network] circulation)")
        receipts = self.receipts(reports, purpose, reference if in_person else None)
        if self.outbox is not None:
            try:
                commitments = self.outbox.enqueue(receipts, reference, self.suite)
            except BaseException:  # nothing queued: the presentations may be sent again, not refused as replays
                self.withdraw_unless_queued(reports, reference, self.outbox)
                raise
            # another process (a service replica) may be flushing the same outbox: wait for it, then send the rest
            flushed = self.outbox.flush(self.circulation, self.sender, progress=progress,
                                        wait=self.receipt_timeout, timeout=self.receipt_timeout)
            return replace(flushed, commitments=tuple(commitments))
        keys = regulator_keys(self.circulation)
        transactions = 0
        for start in range(0, len(receipts), RECEIPTS_PER_TX):
            batch = seal_receipts(receipts[start:start + RECEIPTS_PER_TX], keys)
            circulation = self.circulation
            sent = circulation.submit(lambda f, b=batch: f.recordSealedReceipts(list(b.commitments), b.sealed),  # type: ignore[misc]
                                      self.sender)
            circulation.wait(sent, self.receipt_timeout)
            transactions += 1
        return FlushReport(0, len(receipts), transactions, tuple(r.commitment(self.suite) for r in receipts))

    def receipts(self, reports: Sequence[VerificationReport], purpose: str | None = None,
                 in_person_case: str | None = None) -> list[Receipt]:
        """A receipt (fresh salt) for each valid report, naming the document, its type and batch root: for a
        presentation its own purpose code and hash (the resident's signed consent); for a bare bundle ``purpose``
        (a purpose code, such as ``ACCTOPEN``) and, with ``in_person_case``, the bank's attestation that the
        resident consented in person under that case reference (else no consent, which regulators flag)."""
        if in_person_case is not None:
            case_reference_code(in_person_case)  # refused before anything is made
        now = self._wall_clock()
        out = []
        for r in reports:
            if not (r.valid and r.bundle and r.document_digest):
                continue
            p, header = r.presentation, r.bundle.header
            why = p.binding.purpose if p else purpose
            if why is None:
                raise CrossverifyError("a receipt for a bare bundle needs a purpose code")
            out.append(Receipt.new(r.document_digest, header.issuer_id, header.doc_type, r.bundle.proof.batch_root,
                                   why, now, presentation_hash=p.hash(r.document_digest) if p else None,
                                   case=None if p else in_person_case))
        return out

    def reads_within(self, seconds: float) -> AbstractContextManager[None]:
        """The registry reads this thread makes meanwhile give up together after ``seconds`` (when that is less than
        ``[network] timeout``), raising :class:`~crossverify.errors.NodeTooSlow`, for a caller that asks again
        elsewhere with the full time (the service's event loop hands such a batch to its worker thread)."""
        return rpc(self.registry.w3).within(seconds)

    def issue_challenge(self, purpose: str, ttl: int = DEFAULT_CHALLENGE_TTL) -> Challenge:
        """A one-time challenge for a resident's session, stored before it is handed out."""
        if self.challenges is None:
            raise ConfigError("issuing challenges needs the bank's challenge store ([verifier] audience)")
        return self.challenges.issue(purpose, self._wall_clock(), ttl)

    def seal_receipts(self, reports: Sequence[VerificationReport], regulators: Sequence[RegulatorPublicKey],
                      purpose: str | None = None, in_person_case: str | None = None) -> SealedReceipts:
        """Receipts of the valid reports (:meth:`receipts`), sealed together to every regulator key: the
        commitments and ciphertext ``recordSealedReceipts(bytes32[], bytes)`` carries."""
        return seal_receipts(self.receipts(reports, purpose, in_person_case), regulators)

    # -------------------------------------------------------------------------------------------------------

    def _offline_all(self, items: Sequence[Bundleish], attachments: Sequence[Mapping[str, bytes] | None] | None,
                     now: int, mark: bytes | None = None
                     ) -> list[tuple[Bundle | None, list[Check], bytes | None, Presentation | None]]:
        """Every check that needs no registry read, for each item, the presentations' challenges consumed in one
        durable transaction, marked ``mark`` (:meth:`ChallengeStore.consume_many`). Every item is read before any
        is checked: reading one file, then verifying its signature, then reading the next, each step finds the
        other's code and data gone from the processor's caches (a tenth more time per presentation)."""
        with collector_paused():
            read = [self._read(item) for item in items]
            parsed = [self._offline(item, attachments[i] if attachments else None, now) for i, item in enumerate(read)]
            self._consume_challenges(parsed, now, mark)
        return parsed

    def _read(self, item: Bundleish) -> Bundle | Presentation | Check:
        """``item`` read from its text (once, every rule checked), or checked (a bundle built in code), or the
        failed ``bundle_well_formed`` check that says why not."""
        try:
            if isinstance(item, str | bytes):  # read once, every rule checked
                return load_document(item, max_bytes=self.policy.max_bundle_bytes)
            if isinstance(item, Bundle):  # built in code: its rules are checked here
                item.check()
            return item
        except CrossverifyError as exc:  # a named bundle fault, or an algorithm this Python cannot compute
            return Check("bundle_well_formed", Outcome.FAILED, f"{type(exc).__name__}: {exc}")

    def _offline(self, item: Bundle | Presentation | Check, files: Mapping[str, bytes] | None, now: int
                 ) -> tuple[Bundle | None, list[Check], bytes | None, Presentation | None]:
        """The checks that need no registry read of one item as :meth:`_read` gave it."""
        if isinstance(item, Check):
            return None, [item], None, None
        checks: list[Check] = []
        presentation: Presentation | None = None
        if isinstance(item, Presentation):
            presentation, bundle = item, item.bundle
        else:
            bundle = item
        checks.append(_well_formed(bundle.header.doc_type, bundle.header.issuer_id, len(bundle.claims),
                                   bundle.redacted_count))
        checks.append(self._attachments(bundle, files))
        try:
            digest = bundle.document_digest()
            root = bundle.recompute_root(digest)
        except CrossverifyError as exc:
            checks.append(Check("proof_leads_to_root", Outcome.FAILED, f"{type(exc).__name__}: {exc}"))
            return bundle, checks, None, presentation
        if root != bundle.proof.batch_root:
            checks.append(Check("proof_leads_to_root", Outcome.FAILED,
                                "the claims and proof lead to another root: a claim, salt, header or proof step was "
                                "changed, or the proof belongs to another document"))
            return bundle, checks, None, presentation
        checks.append(Check("proof_leads_to_root", Outcome.PASSED,
                            f"document 0x{digest[:8].hex()}… is leaf {bundle.proof.index} of "
                            f"{bundle.proof.leaf_count} under root 0x{root[:8].hex()}…"))
        named = (bundle.chain_id, bundle.registry)
        if named == (self.chain_id, self.registry.address):
            checks += self._registry_matches()
        elif named in (predecessors := self._predecessors(named)):
            checks += (Check("registry_matches", Outcome.PASSED, f"chain {bundle.chain_id}, {bundle.registry}, which "
                                                                 f"this bank's registry succeeds"),
                       predecessors[named])
        else:
            checks.append(Check("registry_matches", Outcome.FAILED,
                                f"the bundle names registry {bundle.registry} on chain {bundle.chain_id}; this bank "
                                f"reads {self.registry.address} on chain {self.chain_id}, which does not succeed it"))
            return bundle, checks, None, presentation
        key = _holder_key(presentation)
        checks.append(self._suite_matches(bundle, key))
        if checks[-1].outcome is Outcome.FAILED:
            return bundle, checks, None, presentation
        holder = self._holder(bundle, presentation, key, digest, now)
        checks += holder
        if holder[-1].outcome is Outcome.FAILED:
            return bundle, checks, None, presentation
        return bundle, checks, digest, presentation

    def _registry_matches(self) -> tuple[Check, Check]:
        """The passing ``registry_matches`` check of a bundle naming this bank's registry, the same for all."""
        if self._registry_check is None:
            self._registry_check = Check("registry_matches", Outcome.PASSED,
                                         f"chain {self.chain_id}, {self.registry.address}")
        return self._registry_check, _DIRECT

    def _predecessors(self, named: tuple[int, str]) -> dict[tuple[int, str], Check]:
        """The registries this bank's registry succeeds, as the consortium recorded them, each with the
        ``registry_succession`` check a bundle naming it passes: its anchor is read here. Read once, and again for
        a bundle naming a registry not among them at most every ``SUCCESSIONS_REREAD`` seconds (a succession
        recorded while the bank runs is followed without a restart; bundles naming made-up registries cost one
        read a minute, not one each)."""
        now = time.monotonic()
        if self._successions is None or (named not in self._successions
                                         and now - self._successions_read >= SUCCESSIONS_REREAD):
            self._successions_read = now
            self._successions = {
                (int(chain_id), str(registry)): Check(
                    "registry_succession", Outcome.PASSED,
                    f"the bundle names registry {registry} on chain {chain_id}, which {self.registry.address} on "
                    f"chain {self.chain_id} succeeds (recorded by the consortium on {utc_time(int(recorded_at))}): "
                    "its anchor is read here")
                for chain_id, registry, recorded_at in self.registry.predecessors()}
        return self._successions

    def _suite_matches(self, bundle: Bundle, key: HolderPublicKey | CrossverifyError | None) -> Check:
        """Whether the bundle, and the presentation's holder key (``key``: as :func:`_holder_key` read it), belong
        to the deployment's crypto suite: the GM suite anchors SM3 batches only and takes SM2 holder keys (P-256
        where the bank's policy allows); the standard suite takes keccak-256, sha256 or SM3 batches and P-256
        holder keys. A malformed key passes here: ``holder_bound`` names it."""
        suite, alg = self.suite, bundle.proof.hash_alg
        if isinstance(key, CrossverifyError):
            key = None
        try:
            if suite is Suite.GM and alg is not HashAlgorithm.SM3:
                raise SuiteMismatch(f"the batch is hashed with {alg.label}; this deployment of the GM suite anchors "
                                    "SM3 batches only")
            if key is not None and is_sm2(key) and suite is not Suite.GM:
                raise SuiteMismatch("the holder key is SM2, of the GM suite; this deployment uses the standard suite")
            if key is not None and not is_sm2(key) and suite is Suite.GM and not self.policy.p256_holders:
                raise SuiteMismatch("the holder key is P-256; this deployment of the GM suite takes SM2 holder keys "
                                    "(P-256 only where the bank allows them: [verifier] p256_holders)")
        except SuiteMismatch as exc:
            return Check("suite_matches", Outcome.FAILED, f"SuiteMismatch: {exc}")
        return _suite_passed(suite)

    def _holder(self, bundle: Bundle, p: Presentation | None, key: HolderPublicKey | CrossverifyError | None,
                digest: bytes, now: int) -> list[Check]:
        """The holder checks but ``challenge_fresh``, in order; the first that fails ends them, so only the last
        can fail (and then no challenge is consumed)."""
        doc_type = bundle.header.doc_type
        if p is None:
            if bundle.header.holder_bound or bundle.discloses(HOLDER_CLAIM):
                return [Check("holder_bound", Outcome.FAILED,
                              "the certificate is bound to its holder's key: it verifies only as a presentation its "
                              "holder signed, at any bank, not as a bare bundle")]
            if doc_type in self.policy.holder_binding:
                return [Check("holder_bound", Outcome.FAILED,
                              f"this bank accepts {doc_type} only as a presentation signed by its holder, not as a "
                              "bare bundle")]
            return list(_bare(doc_type))
        if isinstance(key, CrossverifyError):
            return [Check("holder_bound", Outcome.FAILED, f"the certificate's {HOLDER_CLAIM!r} claim: {key}")]
        if key is None:
            return [Check("holder_bound", Outcome.FAILED,
                          f"the certificate discloses no holder key (its {HOLDER_CLAIM!r} claim is absent or "
                          "redacted), so nobody can show the holder presented it")]
        b = p.binding
        # Each passing check is one immutable object (per disclosure, audience and times), shared by every
        # presentation that passes it.
        if not p.signed_by(key, digest):
            return [_HOLDER_BOUND, Check("holder_signed", Outcome.FAILED,
                                         "not signed by the holder key the certificate names: signed by another "
                                         "key, or the binding or document was altered after signing")]
        disclosed = disclosed_names(bundle)
        if b.disclosed != disclosed:
            return [_HOLDER_BOUND, _HOLDER_SIGNED, Check(
                "disclosure_matches_signature", Outcome.FAILED,
                f"the holder signed a disclosure of {', '.join(b.disclosed) or 'nothing'}; the bundle discloses "
                f"{', '.join(disclosed) or 'nothing'}: it was re-redacted after signing")]
        checks = [_HOLDER_BOUND, _HOLDER_SIGNED, _disclosure_matches(b.disclosed)]
        if self.audience is None or b.aud != self.audience:
            ours = self.audience or "no verifier id configured"
            checks.append(Check("audience_matches", Outcome.FAILED,
                                f"presented to {b.aud}, not to this bank ({ours}): a replay from another bank"))
            return checks
        checks.append(_presented_to(b.aud))
        if not b.iat <= now + CLOCK_SKEW or not now < b.exp:
            checks.append(Check("presentation_not_expired", Outcome.FAILED,
                                f"valid from {utc_time(b.iat)} until {utc_time(b.exp)}; it is now {utc_time(now)}"))
            return checks
        checks.append(_valid_between(b.iat, b.exp))
        return checks

    def _consume_challenges(self, parsed: list[tuple[Bundle | None, list[Check], bytes | None,
                                                     Presentation | None]], now: int, mark: bytes | None) -> None:
        """Consume, in one durable transaction, the challenge of every presentation whose other holder checks
        passed, and add ``challenge_fresh``; a presentation whose challenge is not fresh goes no further."""
        waiting = [i for i, (_, _, digest, p) in enumerate(parsed) if p is not None and digest is not None]
        if not waiting:
            return
        answers = [(p.binding.nonce, p.binding.purpose, p.binding.exp) for i in waiting
                   if (p := parsed[i][3]) is not None]
        found: list[Consumed | None] = [None] * len(waiting)
        if self.challenges is not None:
            found = [*self.challenges.consume_many(answers, now, mark)]
        for i, (nonce, purpose, exp), result in zip(waiting, answers, found, strict=True):
            bundle, checks, _, p = parsed[i]
            checks.append(_challenge_check(nonce, purpose, result))
            if result is Consumed.FRESH:
                checks.append(_within_challenge(exp))
            elif result is Consumed.OUTLIVED:
                checks.append(Check("presentation_within_challenge", Outcome.FAILED,
                                    f"it expires at {utc_time(exp)}, after its challenge does: a holder's software "
                                    "caps a presentation's exp at the challenge's expiresAt; the challenge stays "
                                    "open for a presentation that does"))
            if result is not Consumed.FRESH:
                parsed[i] = (bundle, checks, None, p)

    @staticmethod
    def _attachments(bundle: Bundle, files: Mapping[str, bytes] | None) -> Check:
        named = bundle.attachment_names()
        if not named:
            return _NO_ATTACHMENTS
        if files is None:
            return Check("attachments_match", Outcome.NOT_APPLICABLE,
                         f"attachments {', '.join(named)} were not handed over, so not compared")
        try:
            bundle.check_attachments(files)
        except CrossverifyError as exc:
            return Check("attachments_match", Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        return Check("attachments_match", Outcome.PASSED, f"{', '.join(named)} match their digests")

    def _online(self, bundle: Bundle, s: DocumentStatus, now: int) -> list[Check]:
        h, p = bundle.header, bundle.proof
        if not s.anchored:
            return [Check("anchored", Outcome.FAILED,
                          f"{h.issuer_id} anchored no batch under this root: it was never issued through the "
                          "registry (forged, or signed by a key the registry does not know)")]
        checks = [Check("anchored", Outcome.PASSED, f"anchored at {utc_time(s.anchored_at)} by key {s.signing_key}")]
        mismatches = [
            f"{what}: anchor {a!r}, bundle {b!r}" for what, a, b in (
                ("issuer", code_name(s.issuer_id), h.issuer_id), ("document type", code_name(s.doc_type), h.doc_type),
                ("hash algorithm", s.hash_alg, int(p.hash_alg)))
            if a != b
        ]
        if not p.fits_anchor(s.leaf_count):
            mismatches.append(f"batch size: anchor {s.leaf_count!r}, bundle {p.leaf_count!r}")
        checks.append(Check("anchor_matches_bundle", Outcome.FAILED if mismatches else Outcome.PASSED,
                            "; ".join(mismatches) or "issuer, type, hash algorithm and batch size agree"))
        held = s.key_added_at <= s.anchored_at and (s.key_retired_at == 0 or s.anchored_at <= s.key_retired_at)
        checks.append(Check("key_held_by_issuer", Outcome.PASSED if held else Outcome.FAILED,
                            f"key {s.signing_key} belonged to {code_name(s.issuer_id)} when it signed" if held else
                            f"key {s.signing_key} was not an active key of {code_name(s.issuer_id)} when it signed"))
        if s.key_compromised_from and s.anchored_at >= s.key_compromised_from:
            checks.append(Check("key_not_compromised", Outcome.FAILED,
                                f"the signing key is reported compromised from {utc_time(s.key_compromised_from)}, "
                                f"and this batch was anchored after that, at {utc_time(s.anchored_at)}"))
        else:
            extra = f" (compromised only from {utc_time(s.key_compromised_from)})" if s.key_compromised_from else ""
            checks.append(Check("key_not_compromised", Outcome.PASSED, f"not compromised when it signed{extra}"))
        standing = s.issuer_status is Status.ACTIVE and s.issuer_active_at_anchor
        why = (f"the issuer is {s.issuer_status.name.lower()} by the consortium" if s.issuer_active_at_anchor else
               "the issuer was not active when this batch was anchored")
        checks.append(Check("issuer_in_good_standing", Outcome.PASSED if standing else Outcome.FAILED,
                            "admitted, and was when anchoring" if standing else why))
        checks.append(Check("doc_type_permitted", Outcome.PASSED if s.issuer_may_issue else Outcome.FAILED,
                            f"{code_name(s.issuer_id)} may issue {h.doc_type}" if s.issuer_may_issue else
                            f"{code_name(s.issuer_id)} is not permitted to issue {h.doc_type}"))
        checks.append(_revocation(s))
        expiry = min(h.not_after, s.not_after)
        checks.append(Check("not_expired", Outcome.PASSED if now < expiry else Outcome.FAILED,
                            f"valid until {utc_time(expiry)}" if now < expiry else f"expired at {utc_time(expiry)}"))
        limit = self.policy.max_age.get(h.doc_type)
        if limit is None:
            checks.append(Check("fresh_enough", Outcome.NOT_APPLICABLE, f"no age limit for {h.doc_type}"))
        else:
            age = now - h.as_of
            ok = age <= limit
            checks.append(Check("fresh_enough", Outcome.PASSED if ok else Outcome.FAILED,
                                f"describes {utc_time(h.as_of)}: {counted(age // 86400, 'day')} old, limit "
                                f"{counted(limit // 86400, 'day')}"))
        return checks


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a verifier keeps of the latest block it read: the batches' statuses at it (:class:`Head`) and, by
    (issuer id, batch root, header, hash algorithm, leaf count, fits), the online checks made from them under
    ``policy`` and the block's clock. Both are the same for every document read at that block; a document's own
    revocation is read every time and its checks are never kept."""

    head: Head
    policy: Policy
    online: dict[tuple[object, ...], tuple[Check, ...]]


#: Online checks a verifier keeps for one block at most.
_SEEN_CHECKS = 16384


_PAUSES = threading.Lock()
#: Batches in this process verifying with the collector paused, and whether it ran before the first of them began.
_paused = {"batches": 0, "was_enabled": False}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a batch is verified, and resumed (if it ran before) when the
    last batch verifying at once in this process ends, however it ends.

    A batch makes tens of objects per document (bundles, checks, reports): the collector would otherwise run every
    few hundred documents, and at times walk the whole process's heap (a service's or a node client's: hundreds
    of thousands of objects), to find garbage a batch does not make (what it drops, reference counting frees at
    once)."""
    with _PAUSES:
        if _paused["batches"] == 0:
            _paused["was_enabled"] = gc.isenabled()
            gc.disable()
        _paused["batches"] += 1
    try:
        yield
    finally:
        with _PAUSES:
            _paused["batches"] -= 1
            if _paused["batches"] == 0 and _paused["was_enabled"]:
                gc.enable()


def _holder_key(p: Presentation | None) -> HolderPublicKey | CrossverifyError | None:
    """The holder key a presentation's certificate names (read once for every check that needs it), the fault
    that makes it unreadable, or ``None`` (no presentation, or no key disclosed)."""
    if p is None:
        return None
    try:
        return p.holder_key()
    except CrossverifyError as exc:
        return exc


def _challenge_check(nonce: bytes, purpose: str, found: Consumed | None) -> Check:
    if found is Consumed.FRESH:
        return Check("challenge_fresh", Outcome.PASSED,
                     f"challenge 0x{nonce[:8].hex()}… for {purpose}, issued here and now used")
    if found is Consumed.OUTLIVED:
        return Check("challenge_fresh", Outcome.PASSED,
                     f"challenge 0x{nonce[:8].hex()}… for {purpose}, issued here and still open (not used)")
    if found is None:
        return Check("challenge_fresh", Outcome.FAILED, "this verifier keeps no challenge store, so it cannot tell a "
                                                        "fresh challenge from a replayed one")
    if found is Consumed.MISMATCH:
        return Check("challenge_fresh", Outcome.FAILED, f"the challenge was issued for another purpose than {purpose}")
    return Check("challenge_fresh", Outcome.FAILED, _CHALLENGE_REFUSED[found])


@lru_cache(maxsize=4096)  # presentations answered in the same seconds share their expiry
def _within_challenge(exp: int) -> Check:
    return Check("presentation_within_challenge", Outcome.PASSED,
                 f"it expires at {utc_time(exp)}, within its challenge's life")


_CHALLENGE_REFUSED = {
    Consumed.UNKNOWN: "this bank never issued this challenge (or forgot it long after it expired)",
    Consumed.USED: "the challenge was already answered: a replayed presentation",
    Consumed.EXPIRED: "the challenge expired before it was answered",
}
_PRESENTATION_CHECKS = ("holder_signed", "disclosure_matches_signature", "audience_matches",
                        "presentation_not_expired", "challenge_fresh", "presentation_within_challenge")
#: What a report says of a check that never ran.
_SKIPPED = {n: Check(n, Outcome.NOT_APPLICABLE, "an earlier check failed") for n in CHECKS}
_NOT_A_PRESENTATION = tuple(Check(n, Outcome.NOT_APPLICABLE, "not a presentation") for n in _PRESENTATION_CHECKS)


_HOLDER_BOUND = Check("holder_bound", Outcome.PASSED, f"the certificate names its holder's key ({HOLDER_CLAIM})")
_HOLDER_SIGNED = Check("holder_signed", Outcome.PASSED, "signed by the holder key the certificate names")


@lru_cache(maxsize=1024)  # a bank sees the same few disclosures, from its own few verifier ids
def _disclosure_matches(disclosed: tuple[str, ...]) -> Check:
    return Check("disclosure_matches_signature", Outcome.PASSED,
                 f"discloses exactly what the holder signed: {', '.join(disclosed) or 'nothing'}")


@lru_cache(maxsize=64)
def _presented_to(aud: str) -> Check:
    return Check("audience_matches", Outcome.PASSED, f"presented to {aud}")


@lru_cache(maxsize=4096)  # presentations answered in the same seconds share their times
def _valid_between(iat: int, exp: int) -> Check:
    return Check("presentation_not_expired", Outcome.PASSED, f"signed {utc_time(iat)}, valid until {utc_time(exp)}")


_NO_ATTACHMENTS = Check("attachments_match", Outcome.NOT_APPLICABLE, "no attachment claims")
_DIRECT = Check("registry_succession", Outcome.NOT_APPLICABLE, "the bundle names this bank's registry")


@lru_cache(maxsize=1024)  # a bank sees few document types, issuers and claim counts: one immutable check each
def _well_formed(doc_type: str, issuer_id: str, claims: int, redacted: int) -> Check:
    return Check("bundle_well_formed", Outcome.PASSED, f"{doc_type} from {issuer_id}; {claims} claims, {redacted} "
                                                       "redacted")


@cache
def _suite_passed(suite: Suite) -> Check:
    return Check("suite_matches", Outcome.PASSED, f"the {suite.label} crypto suite")


@lru_cache(maxsize=256)  # a bank sees few document types
def _bare(doc_type: str) -> tuple[Check, ...]:
    """The holder checks of a bare bundle of a type that needs no holder binding."""
    return (Check("holder_bound", Outcome.NOT_APPLICABLE, f"a bare bundle; {doc_type} needs no holder binding"),
            *_NOT_A_PRESENTATION)


_REVOCATION_MEANING = {
    RevocationReason.SUPERSEDED: "superseded: a re-issued document replaces it; ask for the new one",
    RevocationReason.WITHDRAWN: "withdrawn by the issuer",
    RevocationReason.FRAUD: "revoked for fraud",
    RevocationReason.ISSUED_IN_ERROR: "issued in error",
}
_NOT_REVOKED = Check("not_revoked", Outcome.PASSED, "neither the document nor its batch is revoked")


def _revocation(s: DocumentStatus) -> Check:
    if s.document_revocation == s.batch_revocation == NOT_REVOKED:
        return _NOT_REVOKED
    for what, record in (("document", s.document_revocation), ("its whole batch", s.batch_revocation)):
        if record.counts:
            return Check("not_revoked", Outcome.FAILED,
                         f"{what} {_REVOCATION_MEANING[record.reason]} (on {utc_time(record.revoked_at)})")
    void = [f"{what}'s revocation ({record.reason.name.lower()}, {utc_time(record.revoked_at)}) was signed by key "
            f"{record.signing_key}, compromised by then, so it does not count"
            for what, record in (("the document", s.document_revocation), ("the batch", s.batch_revocation))
            if record.void]
    return Check("not_revoked", Outcome.PASSED, "; ".join(void)) if void else _NOT_REVOKED
