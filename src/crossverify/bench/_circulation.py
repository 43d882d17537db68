"""The regulator's sync of the circulation trail: indexing alone, against indexing and opening every sealed
receipt."""

from __future__ import annotations

import secrets
from pathlib import Path

from ..chain.records import ProposalKind
from ..consortium.operator import OperatorClient
from ..format.codes import jurisdiction_code
from ..regulator.circulation import CirculationTrail
from ..regulator.index import RegulatorReader
from ..sealing import Receipt, RegulatorKey, seal_receipts
from ._sections import Section, timed
from ._world import ISSUER, world


def regulator_sync(n: int, root: Path) -> Section:
    """``n`` receipts sealed to two regulators, recorded 100 and 10 to a transaction; the second regulator syncs a
    fresh index with and without opening them."""
    s = Section("Regulator sync with decryption",
                f"{n:,} sealed receipts (X25519, two regulators), recorded 100 or 10 to a `ReceiptsSealed` event, "
                "each event's receipts in one envelope (docs/format.md, version 4). "
                "The baseline indexes every event of the registry, consortium and circulation contracts into a "
                "fresh index without opening anything, in the same run; the full sync indexes them and opens every "
                "receipt with the second regulator's key (its part found by the key's position in the epoch's list; "
                "HPKE once per event, then AES-GCM, then each receipt's commitment check) into the "
                "trail's tables; the last row opens an index already synced. Receipts per second count sealed "
                "receipts, not log events. Indexing time is the embedded chain's block look-ups, the same for both.",
                ["receipts per event", "sync", "seconds", "receipts/s", "vs index only"])
    for per_event in (100, 10):
        t_index, t_full, t_open = _syncs(n, per_event, root / str(per_event))
        if per_event == 100:
            s.intro += (f" Goal: a full sync of at least 2,000 receipts/s; at 100 per event it reads "
                        f"{n / t_full:,.0f}/s ({'met' if n / t_full >= 2000 else 'not met'}). At 10 per event the "
                        "sync is bound by indexing, not by opening.")
        s.rows += [
            [str(per_event), "index only (baseline)", f"{t_index:.2f}", f"{n / t_index:,.0f}", "baseline"],
            ["", "index and open (full sync)", f"{t_full:.2f}", f"{n / t_full:,.0f}", f"{t_full / t_index:.2f}x"],
            ["", "open alone (already indexed)", f"{t_open:.2f}", f"{n / t_open:,.0f}", f"{t_open / t_index:.2f}x"],
        ]
    return s


def _syncs(n: int, per_event: int, root: Path) -> tuple[float, float, float]:
    w = world()
    root.mkdir(parents=True)
    guangdong = list(w.w3.eth.accounts)[1]
    circulation = w.circulation
    keys = [RegulatorKey.generate(), RegulatorKey.generate()]
    OperatorClient(w.registry, guangdong).approve(OperatorClient(w.registry, w.operator).propose(
        ProposalKind.SET_REGULATOR_KEYS, [k.public_key.raw for k in keys],
        [jurisdiction_code("MO"), jurisdiction_code("GD")]))
    receipts = [Receipt.new(secrets.token_bytes(32), ISSUER, "DEPCERT", secrets.token_bytes(32), "ACCTOPEN", w.now(),
                            presentation_hash=secrets.token_bytes(32)) for _ in range(n)]
    for start in range(0, n, per_event):
        batch = seal_receipts(receipts[start:start + per_event], [k.public_key for k in keys])
        circulation.record(batch.commitments, batch.sealed, w.verifier)
    plain = RegulatorReader(w.registry, root / "plain.sqlite", circulation=circulation)
    t_index, _ = timed(plain.sync)
    full = CirculationTrail(RegulatorReader(w.registry, root / "opened.sqlite", circulation=circulation), [keys[1]])
    t_full, (_, opened) = timed(full.sync)
    assert opened.receipts == n and opened.unreadable == 0, "a sealed receipt did not open"
    t_open, _ = timed(CirculationTrail(plain, [keys[1]]).open_new)
    return t_index, t_full, t_open
