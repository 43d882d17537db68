"""Each benchmark section: measure, then render a markdown table with figures beside same-run baselines."""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from eth_account.signers.base import BaseAccount
from web3 import EthereumTesterProvider, Web3

from ..chain.connection import connect
from ..chain.registry import REVOCATION_CHUNK, artifact
from ..chain.transactions import Sender
from ..chain.typed_data import AnchorRequest, Domain, sign
from ..format.batch import salt_document, seal_batch
from ..format.bundle import Bundle
from ..format.certificate import Certificate
from ..format.codes import doc_type_code, issuer_id_code
from ..format.hashing import HashAlgorithm
from ..issuer.client import IssuerClient
from ..issuer.journal import BatchState, Journal
from ..verifier.client import VerifierClient
from ._clock import RUNS, SHORT_RUNS, Sample, best, in_turns, interleaved, sample
from ._node import GROUPS, BareRpc, hardhat_node
from ._world import ISSUER, World, scratch, statements, world

KECCAK = HashAlgorithm.KECCAK256


@dataclass
class Section:
    """One part of docs/benchmarks.md."""

    title: str
    intro: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: Said below the table.
    notes: str = ""
    #: The machine's load while it was measured (``_clock.load``), said below the table.
    load: str = ""

    def markdown(self) -> str:
        """The section as markdown; columns holding only figures are right-aligned."""
        def numeric(column: int) -> bool:
            cells = [r[column] for r in self.rows if r[column]]
            return bool(cells) and all(c.lstrip("<= ").replace(",", "").replace(".", "").rstrip("xs").isdigit()
                                       for c in cells)

        align = ["---:" if i and numeric(i) else "---" for i in range(len(self.header))]
        lines = [f"## {self.title}", "", self.intro, "", "| " + " | ".join(self.header) + " |",
                 "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.notes:
            lines += ["", self.notes]
        if self.load:
            lines += ["", f"Measured at {self.load}."]
        return "\n".join(lines)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _anchor(w: World, root: bytes, leaves: int, domain: Domain) -> int:
    request = AnchorRequest(root, doc_type_code("ACCTSTMT"), 1, leaves, w.now() + 10**7, w.now() + 3600)
    receipt = w.registry.transact(lambda f: f.anchor(request.as_abi(), sign(request, domain, w.key)), w.operator)
    return int(receipt["gasUsed"])


def anchoring_gas(sizes: list[int]) -> Section:
    """Gas per document when a batch of n documents shares one anchor, beside one anchor per document."""
    w = world()
    domain = Domain.of(w.registry)
    baseline = _anchor(w, Web3.keccak(text="single"), 1, domain)
    s = Section("Anchoring gas per document",
                f"One signed anchor per batch (the operator relays), for real batches of documents. Baseline: one "
                f"anchor per document, {baseline:,} gas each, measured in the same run. Goal: <= 65 gas per "
                "document at 1,000 per batch.",
                ["documents per batch", "anchor gas", "gas per document", "vs one anchor per document"])
    for n in sizes:
        docs = [salt_document(c, KECCAK) for _, c in statements(n, claims=4)]
        batch = seal_batch(docs)
        gas = _anchor(w, batch.root, n, domain)
        s.rows.append([f"{n:,}", f"{gas:,}", f"{gas / n:,.1f}", f"{baseline / (gas / n):,.0f}x less"])
        s.series.setdefault("gas per document", []).append((n, gas / n))
    return s


#: The issuance pipeline's steps, in order.
ISSUANCE_STEPS = ("salt, hash, journal", "seal into batches", "sign (EIP-712)", "anchor (one transaction)",
                  "write bundles")


def issuance_run(w: World, key: BaseAccount, sender: Sender, n: int, batch_size: int, work: Path
                 ) -> tuple[dict[str, Sample], list[Path]]:
    """One run of the issuance pipeline for ``n`` new documents on ``w``, its anchors signed by ``key`` and sent by
    ``sender``: each step's sample (:data:`ISSUANCE_STEPS`), and the bundles it wrote."""
    certs = statements(n, now=w.now())
    client = IssuerClient(w.registry, ISSUER, key, sender, Journal(work / "j.sqlite"), work / "bundles")
    steps: dict[str, Callable[[], Any]] = dict(zip(ISSUANCE_STEPS, (
        lambda: client.issue(certs), lambda: client.seal(batch_size), client.sign, client.anchor, client.deliver),
        strict=True))
    samples, out = {}, {}
    for step, run in steps.items():
        samples[step], out[step] = sample(run)
    counts = client.journal.counts(ISSUER)
    client.journal.close()
    if counts != {"pending": 0, "delivered": n} or out["anchor (one transaction)"] != -(-n // batch_size):
        raise AssertionError("not every document was anchored and delivered")
    return samples, out["write bundles"]


def least(runs: list[dict[str, Sample]]) -> dict[str, Sample]:
    """Per step, the sample of ``runs`` with the least CPU seconds (the steadier measure on a shared machine)."""
    return {step: min((run[step] for run in runs), key=lambda s: s.work) for step in runs[0]}


def total(run: dict[str, Sample]) -> Sample:
    """A run's steps together."""
    return Sample(sum(s.wall for s in run.values()), sum(s.cpu for s in run.values()))


def issuance(n: int, batch_size: int, root: Path) -> Section:
    """Salt, hash, journal, seal, sign, anchor and write bundles for ``n`` documents, end to end, on a fresh chain
    and journal per run, beside its floors (the same documents salted and hashed into a tree in memory, and the
    bundles' bytes written to files as delivery writes them), in turns."""
    runs: list[dict[str, Sample]] = []
    floors: list[dict[str, Sample]] = []
    for turn in range(RUNS + 1):  # the first warms up, untimed
        w = world()
        work = scratch(root, f"issuance-{turn}")
        run, delivered = issuance_run(w, w.key, w.operator, n, batch_size, work)
        docs = [doc for _, doc in statements(n, now=w.now())]
        floor = {"tree": sample(partial(_tree, docs))[0],
                 "files": _file_floor([p.read_bytes() for p in delivered], batch_size, work / "files")}
        if turn:
            runs.append(run)
            floors.append(floor)
    steps, (tree, files) = least(runs), least(floors).values()
    whole = min(map(total, runs), key=lambda t: t.work)
    s = Section("Issuance end to end",
                f"{n:,} documents of 12 claims through the journal (SQLite WAL, synchronous FULL), batches of "
                f"{batch_size:,}, anchored by one operator in `anchorMany`, bundles written and synced to disk once "
                "per batch, on a fresh embedded chain and journal per run. Baseline: salting and hashing the same "
                "documents into a tree in memory, no journal, chain or files. Writing bundles is set beside writing "
                "the same bytes to as many files the same way (owner-only, temporary name renamed into place, one "
                f"sync per batch). The pipeline and its floors run in turns, {RUNS} times after one untimed run; "
                "each step's figure is its run with the least CPU seconds (wall time beside; the syncs wait for the "
                "disk, which CPU seconds do not count), the total the run with the least. Goals: 10,000 in <= 10 s; "
                "bundles within 1.5x of the files.",
                ["step", "seconds (CPU)", "documents/s", "ratio"])
    for step, t in steps.items():
        ratio = f"{t / files} the files" if step == "write bundles" else ""
        s.rows.append([step, t.seconds(), f"{n / t.wall:,.0f}", ratio])
    s.rows += [["write the same bytes to files (floor)", files.seconds(), f"{n / files.wall:,.0f}", "floor"],
               ["total, the run with the least CPU", whole.seconds(), f"{n / whole.wall:,.0f}",
                f"{whole / tree} the in-memory tree"],
               ["salt and hash into a tree in memory (baseline)", tree.seconds(), f"{n / tree.wall:,.0f}",
                "baseline"]]
    return s


def _tree(docs: list[Certificate]) -> Any:
    """The baseline of issuance: ``docs`` salted and hashed into a tree in memory."""
    return seal_batch([salt_document(doc, KECCAK) for doc in docs])


def _file_floor(contents: list[bytes], per_sync: int, folder: Path) -> Sample:
    """Writing ``contents`` as delivery writes bundles, timed: each file owner-only under a temporary name,
    renamed into place, and one ``sync`` per ``per_sync`` files."""
    folder.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        for start in range(0, len(contents), per_sync):
            for i, data in enumerate(contents[start:start + per_sync], start):
                path = folder / f"file-{i:07d}.json"
                partial = path.with_name(f".{path.name}.partial")
                with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                    out.write(data)
                os.replace(partial, path)
            os.sync()

    return sample(write)[0]


def verification(n: int, root: Path) -> tuple[Section, list[Bundle]]:
    """Naive (one eth_call per document) against ``verify_many``, and ``verify_many`` against its floor."""
    w = world()
    bundles = _issued(w, n, scratch(root, "verify"))

    def naive() -> None:
        for bundle in bundles:
            status = w.registry.document_status(issuer_id_code(ISSUER), bundle.proof.batch_root,
                                                bundle.document_digest())
            assert status.anchored and bundle.leads_to_root()

    naive_run, _ = sample(naive)
    s = Section("Verification",
                f"{n:,} genuine bundles (12 claims, batches of 1,000) on the embedded chain (py-evm, in this "
                "process). The naive path reads the registry once per document; the batched path (`verify_many`) "
                "reads each batch's record once and which documents are revoked in bulk (2,000 per `eth_call`, only "
                "the revoked come back), and runs every named check. A bank receives files: `verify_many` from "
                "their texts reads, validates and checks them; its floor is `json.loads` of the same texts, raw "
                "hashing of exactly the preimages it hashes, and the node answering exactly the reads it makes (a "
                "running verifier read the batches' records at this block before: which documents are revoked, and "
                "the latest block's header), sent bare with the calldata ready and the answers not decoded. From "
                "parsed bundles, the floor leaves out `json.loads`. The naive path is timed once. "
                + in_turns(RUNS, paused=True)
                + " Goals: batched >= 10x naive, <= 2.5x its floor; off-chain <= 2x hashing.",
                ["path", "seconds (CPU)", "documents/s", "ratio"])
    s.rows.append(["naive: one call per document", naive_run.seconds(), f"{n / naive_run.wall:,.0f}", "baseline"])
    s.rows += _against_floor(w, bundles, naive_run, None, RUNS)
    return s, bundles


def verification_node(n: int, root: Path) -> Section:
    """``verify_many`` against its floor on a Hardhat node over HTTP."""
    with hardhat_node(scratch(root, "hardhat")) as url:
        w = world(w3=connect(url, chain_id=1337))
        bundles = _issued(w, n, scratch(root, "verify-node"))
        s = Section("Verification on a Hardhat node",
                    f"{n:,} genuine bundles as in *Verification*, read from a Hardhat 2 node on the loopback (HTTP, "
                    "keep-alive). The floor's reads are bare JSON-RPC (`http.client` and `json`, no web3) against "
                    "the same node, in the same run. " + in_turns(SHORT_RUNS, paused=True)
                    + " CPU seconds add the node's (its process group) to this process's. Goal: `verify_many` from "
                    "texts <= 2x its floor.",
                    ["path", "seconds (CPU)", "documents/s", "ratio"])
        s.rows += _against_floor(w, bundles, None, url, SHORT_RUNS)
        texts = [b.dumps().encode() for b in bundles]
        s.notes = _profile(lambda: VerifierClient(w.registry).verify_many(texts), "`verify_many` from texts")
    return s


def _profile(fn: Callable[[], Any], what: str = "`verify_many`", top: int = 6) -> str:
    """Where ``fn``'s time goes: the functions with the most time of their own under cProfile (which slows the
    Python code more than the C it calls)."""
    profile = cProfile.Profile()
    profile.runcall(fn)
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]  # type: ignore[attr-defined]
    parts = [f"`{name if file == '~' else f'{Path(file).name}:{line} {name}'}` {own / total:.0%}"
             for (file, line, name), (_, _, own, _, _) in rows]
    return f"Profile of one more {what} (cProfile, own time of the top {top}): " + ", ".join(parts) + "."


def _issued(w: World, n: int, folder: Path) -> list[Bundle]:
    """Issue, anchor and deliver ``n`` statements in batches of 1,000; their bundles, rebuilt from the journal."""
    client = IssuerClient(w.registry, ISSUER, w.key, w.operator, Journal(folder / "j.sqlite"), folder / "bundles")
    client.issue(statements(n, now=w.now()))
    client.run(max_batch=1000)
    bundles: list[Bundle] = []
    for b in client.journal.batches(ISSUER, *BatchState):
        entries = client.journal.batch_documents(b.id)
        batch = seal_batch([d for _, d in entries])
        bundles += batch.bundles(w.w3.eth.chain_id, w.registry.address)
    return bundles


def _against_floor(w: World, bundles: list[Bundle], naive: Sample | None, url: str | None,
                   rounds: int) -> list[list[str]]:
    """Rows: ``verify_many`` from texts and from parsed bundles (beside the naive path, if timed), their floors,
    and the floors' parts, all timed in turns for ``rounds`` rounds. ``url``: the node's, for its bare reads and
    its CPU seconds (``None``: embedded)."""
    n = len(bundles)
    node = GROUPS.get(url) if url else None
    texts = [b.dumps().encode() for b in bundles]
    client = VerifierClient(w.registry)  # a bank's running verifier: what it reads once, it read in the warm run
    preimages = _preimages(bundles)
    hasher = KECCAK.hasher()
    rpc = BareRpc(url) if url else None
    try:
        (from_texts, by_texts), (from_objects, by_objects), (parse, _), (hashing, _), (reads, _), (offline, _) = \
            interleaved([lambda: client.verify_many(texts), lambda: client.verify_many(bundles),
                         lambda: [json.loads(t) for t in texts], lambda: [hasher(x) for x in preimages],
                         _bare_reads(w, bundles, rpc), lambda: [b.leads_to_root() for b in bundles]], rounds, node,
                        paused=True)
    finally:
        if rpc is not None:
            rpc.close()
    assert all(r.valid for r in by_texts) and all(r.valid for r in by_objects)
    floor = _sum(reads, hashing)
    text_floor = _sum(floor, parse)
    versus = f"{naive.wall / from_objects.wall:.1f}x faster than naive; " if naive else ""

    def row(what: str, t: Sample, ratio: str) -> list[str]:
        return [what, t.seconds(), f"{n / t.wall:,.0f}", ratio]

    return [
        row("`verify_many` from texts, all checks", from_texts, f"{from_texts / text_floor} its floor"),
        row("floor: `json.loads` + raw hashing + the same reads, bare", text_floor, "floor"),
        row("`verify_many` from parsed bundles", from_objects, f"{versus}{from_objects / floor} its floor"),
        row("floor: raw hashing + the same reads, bare", floor, "floor"),
        row("`json.loads` of the texts", parse, f"{parse.wall / from_texts.wall:.0%} of `verify_many` from texts"),
        row("the node answering the same reads, bare", reads,
            f"{reads.wall / from_texts.wall:.0%} of `verify_many` from texts"),
        row("raw hashing of the same bytes", hashing, ""),
        row("off-chain digest + proof", offline, f"{offline / hashing} hashing"),
    ]


def _sum(a: Sample, b: Sample) -> Sample:
    return Sample(a.wall + b.wall, a.cpu + b.cpu, a.node + b.node)


def _bare_reads(w: World, bundles: list[Bundle], rpc: BareRpc | None) -> Callable[[], object]:
    """The registry reads a running ``verify_many`` makes for ``bundles`` (nothing is revoked, the batches' statuses
    were read at this block before: which documents are revoked, one ``eth_call`` per 2,000 documents, at the latest
    block, and that block's header), as bare requests with their calldata encoded beforehand and their answers left
    undecoded: in process on the embedded chain, by :class:`BareRpc` over HTTP (``rpc``) in one JSON-RPC batch."""
    issuer = issuer_id_code(ISSUER)
    digests = [b.document_digest() for b in bundles]
    contract, address = w.registry.contract, w.registry.address
    calls = [contract.encode_abi("revokedDocuments", [issuer, digests[i:i + REVOCATION_CHUNK]])
             for i in range(0, len(digests), REVOCATION_CHUNK)]
    if rpc is None:
        provider = w.w3.provider
        assert isinstance(provider, EthereumTesterProvider) and provider.ethereum_tester is not None
        tester, sender = provider.ethereum_tester, w.operator
        number = tester.get_block_by_number("latest")["number"]
        return lambda: ([tester.call({"from": sender, "to": address, "data": data}, number) for data in calls],
                        tester.get_block_by_number("latest"))
    block = {"blockHash": rpc("eth_getBlockByNumber", ["latest", False])["hash"]}
    requests: list[tuple[str, list[Any]]] = [("eth_call", [{"to": address, "data": data}, block]) for data in calls]
    requests.append(("eth_getBlockByNumber", ["latest", False]))
    return lambda: rpc.batch(requests)


def _preimages(bundles: list[Bundle], alg: HashAlgorithm = KECCAK) -> list[bytes]:
    """Every preimage ``alg`` hashes while verifying ``bundles`` (hashed with it) offline."""
    from ..format.canonical import canonical_claim
    from ..format.certificate import CLAIM_PREFIX, DOCUMENT_PREFIX, Claim
    from ..format.merkle import root_from_proof

    seen: list[bytes] = []
    hasher = alg.hasher()

    def record(data: bytes) -> bytes:
        seen.append(data)
        return hasher(data)

    for b in bundles:
        leaves = [record(CLAIM_PREFIX + c.salt + canonical_claim(c.name, c.value)) if isinstance(c, Claim)
                  else c.leaf_hash for c in b.claims]
        digest = record(DOCUMENT_PREFIX + b.header.digest(record) + b"".join(leaves))
        root_from_proof(digest, b.proof.index, b.proof.leaf_count, b.proof.path, record)
    return seen


def scaling(batch_sizes: list[int]) -> Section:
    """Verification cost per document against batch size (proof length)."""
    s = Section("Verification against batch size",
                "Off-chain verification per document as batches grow: the proof gains one hash per doubling, on "
                "top of the 14 hashes of a 12-claim document. Up to 500 documents of each batch, verified at least "
                "2,000 times in all, warm, the best of 3 runs, wall time beside CPU. Plotted in `scaling.png` with "
                "the audit report times.",
                ["documents per batch", "proof hashes", "µs per document (CPU)"])
    for n in batch_sizes:
        batch = seal_batch([salt_document(c, KECCAK) for _, c in statements(n)])
        picked = [batch.bundle(i, 1, "0x" + "11" * 20) for i in range(0, n, max(1, n // 500))]
        rounds = max(5, -(-2000 // len(picked)))
        t, _ = best(lambda p=picked, r=rounds: _verify_all(p, r))  # type: ignore[misc]
        per_doc, per_doc_cpu = (x / len(picked) / rounds * 1e6 for x in (t.wall, t.cpu))
        s.rows.append([f"{n:,}", str(len(picked[-1].proof.path)), f"{per_doc:.1f} ({per_doc_cpu:.1f} CPU)"])
        s.series["verify µs per document vs batch size"] = [*s.series.get("verify µs per document vs batch size",
                                                                          []), (float(n), per_doc)]
    return s


def _verify_all(bundles: list[Bundle], rounds: int) -> None:
    for _ in range(rounds):
        for b in bundles:
            b.leads_to_root()


def machine() -> str:
    import os
    import platform

    return (f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
            f"solc {artifact()['compiler']}, EVM `{artifact()['evmVersion']}`")
