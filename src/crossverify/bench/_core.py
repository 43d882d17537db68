"""The certificate core alone: build a batch and verify every proof, against raw hashing of the same bytes."""

from __future__ import annotations

from collections.abc import Callable

from ..format import hashing as _hashing
from ..format.batch import salt_document, seal_batch
from ..format.bundle import Bundle
from ..format.hashing import HashAlgorithm
from ._clock import RUNS, in_turns, interleaved
from ._sections import Section
from ._world import statements


def _recorded(alg: HashAlgorithm, run: Callable[[], object]) -> list[bytes]:
    """Every preimage the hasher sees while ``run`` runs."""
    seen: list[bytes] = []
    inner = alg.hasher()

    def recording(data: bytes) -> bytes:
        seen.append(data)
        return inner(data)

    original = _hashing._hasher
    _hashing._hasher = lambda a: recording  # type: ignore[assignment]
    try:
        run()
    finally:
        _hashing._hasher = original
    return seen


def _floor(alg: HashAlgorithm, preimages: list[bytes]) -> Callable[[], object]:
    hasher = alg.hasher()
    return lambda: [hasher(x) for x in preimages]


def core(n: int) -> Section:
    s = Section("Certificate core: build and verify",
                f"{n:,} documents of 12 claims in one batch, no chain. The floor is the time the same hash "
                "function takes over exactly the preimages the step hashes (recorded from a run of it), in the same "
                "run. " + in_turns(RUNS) + " Goal: verifying within 2x of the floor.",
                ["hash", "build docs/s", "build / floor", "verify docs/s", "verify / floor"])
    certs = [c for _, c in statements(n)]
    for alg in HashAlgorithm:
        bundles: list[Bundle] = []

        def build(a: HashAlgorithm = alg, out: list[Bundle] = bundles) -> None:
            batch = seal_batch([salt_document(c, a) for c in certs], a)
            out[:] = [batch.bundle(i, 1, "0x" + "ab" * 20) for i in range(n)]

        def verify(out: list[Bundle] = bundles) -> None:
            if not all(b.leads_to_root() for b in out):
                raise AssertionError("a genuine bundle failed")

        build_floor = _floor(alg, _recorded(alg, build))
        verify_floor = _floor(alg, _recorded(alg, verify))
        (t_build, _), (f_build, _), (t_verify, _), (f_verify, _) = interleaved(
            [build, build_floor, verify, verify_floor])
        s.rows.append([alg.label, f"{n / t_build.wall:,.0f}", f"{t_build / f_build}", f"{n / t_verify.wall:,.0f}",
                       f"{t_verify / f_verify}"])
    return s
