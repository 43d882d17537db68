"""Reading bundle files strictly, against the plain JSON parse of the same bytes, and refusing hostile input."""

from __future__ import annotations

import json

from ..errors import BundleError
from ..format.batch import salt_document, seal_batch
from ..format.bundle import load_bundle
from ..format.certificate import MAX_BUNDLE_BYTES
from ..format.hashing import HashAlgorithm
from ..format.strict_json import read_json
from ._clock import SHORT_RUNS, in_turns, interleaved
from ._sections import Section, timed
from ._world import statements


def _refused(data: bytes) -> None:
    try:
        load_bundle(data)
    except BundleError:
        return
    raise AssertionError("hostile input was accepted")


def reading(n: int) -> Section:
    s = Section("Reading bundle files",
                f"{n:,} genuine bundle files (12 claims each). The baseline is Python's `json.loads` of the same "
                "bytes, in the same run; strict reading adds the size, UTF-8 and depth checks and I-JSON numbers "
                "and strings; `load_bundle` adds the schema and the format's rules. Hostile files at the 4 MiB cap "
                "are refused before (nesting) or after (many objects) the parse (one run each). "
                + in_turns(SHORT_RUNS),
                ["step", "seconds (CPU)", "files/s", "vs json.loads"])
    batch = seal_batch([salt_document(c, HashAlgorithm.KECCAK256) for _, c in statements(n)])
    files = [batch.bundle(i, 1, "0x" + "12" * 20).dumps().encode() for i in range(n)]
    (plain, _), (strict, _), (loaded, _) = interleaved(
        [lambda: [json.loads(f) for f in files], lambda: [read_json(f, MAX_BUNDLE_BYTES) for f in files],
         lambda: [load_bundle(f) for f in files]], SHORT_RUNS)
    s.rows += [
        ["`json.loads`", plain.seconds(), f"{n / plain.wall:,.0f}", "baseline"],
        ["strict reading (`read_json`)", strict.seconds(), f"{n / strict.wall:,.0f}", strict / plain],
        ["`load_bundle`, all rules", loaded.seconds(), f"{n / loaded.wall:,.0f}", loaded / plain],
    ]
    per_file = plain.wall / n
    for name, data in [("refuse 4 MiB nested arrays", b"[" * MAX_BUNDLE_BYTES),
                       ("refuse 4 MiB of `{}` in claims",
                        b'{"version":"1.1","claims":[' + b",".join([b"{}"] * (MAX_BUNDLE_BYTES // 3 - 20)) + b"]}"),
                       ("refuse a file over the cap", b" " * (MAX_BUNDLE_BYTES + 1))]:
        t, _ = timed(lambda d=data: _refused(d))  # type: ignore[misc]
        s.rows.append([name, f"{t:.3f}", "", f"{t / per_file:,.0f}x one genuine file"])
    return s
