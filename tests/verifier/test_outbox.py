"""Receipts through the outbox: each recorded exactly once, across retries, crashes and a node that is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossverify import Bundle, VerifierClient
from crossverify.errors import NodeUnavailable
from crossverify.verifier.outbox import FAULT_POINTS, ReceiptOutbox

from ..conftest import Consortium
from .test_verifier import issued  # noqa: F401 - the fixture


class Crash(Exception):
    """A process dying at a chosen point."""


def recorded(c: Consortium) -> list[tuple[bytes, bytes]]:
    logs = c.registry.contract.events.VerificationRecorded().get_logs(from_block=0)
    return [(bytes(log["args"]["batchRoot"]), bytes(log["args"]["documentDigest"])) for log in logs]


def bank(c: Consortium, path: Path, **kwargs: object) -> VerifierClient:
    return VerifierClient(c.registry, sender=c.verifier, outbox=ReceiptOutbox(path, **kwargs))  # type: ignore[arg-type]


def test_a_retried_command_records_each_receipt_once(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                      tmp_path: Path) -> None:
    c = consortium
    before = len(recorded(c))
    client = bank(c, tmp_path / "outbox.sqlite")
    reports = client.verify_many(issued)
    first = client.record(reports, "account opening")
    again = client.record(reports, "account opening")
    assert (first.recorded, first.transactions, again.recorded, again.transactions) == (8, 1, 0, 0)
    assert len(recorded(c)) == before + 8
    assert client.record(reports[:2], "account opening", reference="LOAN-2027-001").recorded == 2  # a new case
    assert client.outbox is not None and client.outbox.counts() == {"recorded": 10}


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_after_sending_neither_loses_nor_doubles(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                         tmp_path: Path, point: str) -> None:
    c = consortium
    before = len(recorded(c))

    def crash(at: str) -> None:
        if at == point:
            raise Crash(at)

    first = bank(c, tmp_path / "outbox.sqlite", faults=crash)
    with pytest.raises(Crash):
        first.record(first.verify_many(issued), "loan application")
    assert first.outbox is not None
    first.outbox.close()

    restarted = bank(c, tmp_path / "outbox.sqlite")
    report = restarted.record(restarted.verify_many(issued), "loan application")
    assert (report.settled, report.recorded, report.transactions) == (8, 0, 0)
    assert len(recorded(c)) == before + 8


def test_a_node_outage_keeps_the_receipts_queued(consortium: Consortium, issued: list[Bundle],  # noqa: F811
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = consortium
    before = len(recorded(c))
    client = bank(c, tmp_path / "outbox.sqlite")
    reports = client.verify_many(issued)

    def down(*args: object, **kwargs: object) -> bytes:
        raise ConnectionError("node down")

    monkeypatch.setattr(c.w3.eth, "send_raw_transaction", down)
    monkeypatch.setattr(c.w3.eth, "send_transaction", down)
    with pytest.raises(NodeUnavailable):
        client.record(reports, "insurance claim")
    monkeypatch.undo()
    assert client.outbox is not None and client.outbox.counts() == {"queued": 8}  # nothing reached the node
    report = client.record([], "insurance claim")  # the next run settles and sends what is left
    assert (report.settled, report.recorded, report.transactions) == (0, 8, 1)
    assert len(recorded(c)) == before + 8
