"""``python -m crossverify.bench [--smoke] [--only SECTION ...] [--no-write]``."""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from ._audit import audit
from ._circulation import regulator_sync
from ._clock import load
from ._consent import presentations, sealing
from ._console import console as console_section
from ._core import core
from ._gas import operations, sealed_receipts
from ._gm import gas as gm_gas
from ._gm import presentations as gm_presentations
from ._gm import primitives as gm_primitives
from ._hsm import issuance_in_token, signing, token_keys
from ._reading import reading
from ._sections import Section, anchoring_gas, issuance, machine, scaling, verification, verification_node
from ._service import LEVELS, service_load
from ._sharing import sharing
from ._storage import storage_index, storage_outbox, storage_replicas

DOCS = Path(__file__).resolve().parents[3] / "docs"
@dataclass(frozen=True)
class Sizes:
    batches: list[int]
    documents: int
    audit_embedded: list[int]
    audit_node: list[int]
    scaling: list[int]
    signatures: int
    presentations: int
    receipts: int
    index_receipts: int = 1_000_000
    outbox_receipts: int = 2_000
    replica_requests: int = 1_280
    console: tuple[int, int] = (1_000_000, 100_000)  # receipts, documents
    gm_presentations: int = 500
    outbox_history: int = 1_000_000
    live_batches: int = 10_000


FULL = Sizes([1, 10, 100, 1000, 10_000], 10_000, [25_000, 50_000, 100_000], [50_000, 100_000, 150_000, 200_000],
             [2, 32, 512, 8192, 65_536], 2_000, 2_000, 2_000)
SMOKE = Sizes([1, 10], 50, [500, 1_000], [500, 1_000, 1_500], [2, 32], 20, 20, 20, 1_000, 200, 128, (3_000, 400),
              gm_presentations=10, outbox_history=5_000, live_batches=50)
SECTIONS = ("gas", "anchoring", "issuance", "hsm_issuance", "verification", "verification_node", "sharing", "core",
            "hsm_signing", "reading", "audit", "scaling", "service", "presentations", "sealing", "sealed_receipts",
            "regulator_sync", "storage_index", "storage_outbox", "storage_replicas", "gm_primitives", "gm_gas",
            "gm_presentations", "console")


def run(sizes: Sizes, only: list[str], work: Path, console: Console) -> list[Section]:
    measure: dict[str, Callable[[], Section]] = {
        "gas": lambda: operations(measure_cap=sizes is FULL),
        "anchoring": lambda: anchoring_gas(sizes.batches),
        "issuance": lambda: issuance(sizes.documents, 1000, work),
        "verification": lambda: verification(sizes.documents, work)[0],
        "verification_node": lambda: verification_node(sizes.documents, work),
        "core": lambda: core(sizes.documents),
        "reading": lambda: reading(sizes.documents),
        "audit": lambda: audit(sizes.audit_embedded, sizes.audit_node, work),
        "scaling": lambda: scaling(sizes.scaling),
        "service": lambda: service_load(sizes.documents, max(sizes.documents // 4, 2 * LEVELS[-1])),
        "hsm_signing": lambda: signing(token_keys(work)[0], sizes.signatures),
        "hsm_issuance": lambda: issuance_in_token(*token_keys(work), sizes.documents, 1000, work),
        "presentations": lambda: presentations(sizes.presentations, work),
        "sealing": lambda: sealing(sizes.receipts),
        "sealed_receipts": sealed_receipts,
        "regulator_sync": lambda: regulator_sync(sizes.receipts, work),
        "storage_index": lambda: storage_index(sizes.index_receipts, work / "storage_index"),
        "storage_outbox": lambda: storage_outbox(sizes.outbox_receipts, sizes.outbox_history,
                                                        work / "storage_outbox"),
        "storage_replicas": lambda: storage_replicas(sizes.replica_requests, work / "storage_replicas"),
        "gm_primitives": lambda: gm_primitives(sizes.signatures),
        "gm_gas": gm_gas,
        "gm_presentations": lambda: gm_presentations(sizes.gm_presentations, work),
        "console": lambda: console_section(*sizes.console, work / "console"),
        "sharing": lambda: sharing(sizes.live_batches, work),
    }
    out = []
    for name in only:
        console.print(f"[bold]measuring {name}…")
        out.append(measure[name]())
        out[-1].load = out[-1].load or load()
        console.print(Markdown(out[-1].markdown()))
    return out


def plot(sections: list[Section], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {k: v for s in sections for k, v in s.series.items()}
    axes_labels = {
        "gas per document": ("documents per batch", "anchor gas per document"),
        "verify µs per document vs batch size": ("documents per batch", "µs per document (off-chain)"),
        "audit report seconds vs events": ("indexed events", "seconds per report"),
        "audit full sync seconds vs events (Hardhat)": ("events", "seconds per full sync"),
    }
    present = [k for k in axes_labels if k in series]
    if not present:
        return
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 4))
    for ax, key in zip([axes] if len(present) == 1 else axes, present, strict=True):
        xs, ys = zip(*series[key], strict=True)
        ax.plot(xs, ys, marker="o")
        if key.endswith(")") and (fit := key[:-1] + ", linear fit)") in series:
            fx, fy = zip(*series[fit], strict=True)
            ax.plot(fx, fy, linestyle="--", label="linear fit, extrapolated")
            ax.legend()
        ax.set_xscale("log")
        if key == "gas per document":
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel(axes_labels[key][0])
        ax.set_ylabel(axes_labels[key][1])
        ax.grid(True, alpha=0.3)
    fig.suptitle("crossverify scaling (" + machine() + ")", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description="crossverify benchmarks against same-run baselines")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md and the plot alone")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as work:
        sections = run(SMOKE if args.smoke else FULL, args.only, Path(work), console)
    if args.no_write:
        return
    write(dict(zip(args.only, sections, strict=True)), smoke=args.smoke)
    if {"anchoring", "audit", "scaling"} <= set(args.only):
        plot(sections, DOCS / "scaling.png")
    console.print(f"wrote {DOCS / 'benchmarks.md'}")


def write(sections: dict[str, Section], smoke: bool) -> None:
    """Replace the measured sections in docs/benchmarks.md, keeping the others, in the order of SECTIONS."""
    path = DOCS / "benchmarks.md"
    text = path.read_text() if path.exists() else ""
    kept = dict(re.findall(r"<!-- section:(\w+) -->\n(.*?)\n<!-- /section -->", text, re.S))
    kept.update({name: s.markdown() + f"\n\n_Measured {time.strftime('%Y-%m-%d')} on {machine()}"
                 f"{' with --smoke sizes' if smoke else ''}._" for name, s in sections.items()})
    body = "\n\n".join(f"<!-- section:{name} -->\n{kept[name]}\n<!-- /section -->" for name in SECTIONS
                         if name in kept)
    path.write_text(
        "# Benchmarks\n\nWritten by `python -m crossverify.bench` (`--only SECTION` re-measures one part). Every "
        "figure stands beside a baseline measured in the same run; no test asserts a time.\n\n"
        "![scaling](scaling.png)\n\n" + body + "\n")


if __name__ == "__main__":
    main()
