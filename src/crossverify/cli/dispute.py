"""``crossverify dispute``: a bank opens a dispute about a document it doubts and reads the answer; the issuer
concerned registers its sealing key, lists the disputes sealed to it and answers them. Everything on chain is
sealed: only the issuer concerned and the regulators read a dispute, only the bank and the regulators its answer.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..chain.connection import first_block_since, node_errors
from ..errors import ConfigError
from ..format.encoding import from_hex, to_hex, utc_time
from ..issuer.disputes import answer_dispute, received_disputes, register_sealing_key
from ..sealing import DisputeReason, DisputeStatus, RegulatorKey, issuer_answer_key
from ..verifier.disputes import OpenedDispute, open_dispute, read_answer
from ._shell import App, BadInput, command
from .regulator import KEMS


def _choice(kind: type[DisputeReason] | type[DisputeStatus]) -> click.Choice[str]:
    return click.Choice([m.name.lower().replace("_", "-") for m in kind])


def _reason(value: str) -> DisputeReason:
    return DisputeReason[value.upper().replace("-", "_")]


def _status(value: str) -> DisputeStatus:
    return DisputeStatus[value.upper().replace("-", "_")]


@click.group()
def dispute() -> None:
    """Disputes: a bank opens one and reads the answer; the issuer concerned lists and answers them."""


@dispute.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kem", type=click.Choice(list(KEMS)), default="x25519", show_default=True,
              help="The KEM of the regulators' keys, which disputes are sealed with too: SM2 in the GM suite.")
@command
def keygen(app: App, path: Path, kem: str) -> None:
    """Create the issuer's dispute sealing key in PATH (mode 0600); set [issuer] sealing_key to it."""
    key = RegulatorKey.generate(KEMS[kem])
    key.write(path)
    app.emit({"path": path, "public": key.public_key.to_json()},
             f"sealing key written to {path}; register it with: crossverify dispute register-key {path}")


def _sealing_key(app: App, path: Path | None, given: str = "--key") -> RegulatorKey:
    """The issuer's sealing key: the file ``given`` names, else ``[issuer] sealing_key``."""
    path = path or app.session.config.issuer.sealing_key
    if path is None:
        raise ConfigError(f"no sealing key: give {given} or set [issuer] sealing_key")
    return RegulatorKey.read(path)


@dispute.command("register-key")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@command
def register_key(app: App, path: Path | None) -> None:
    """Register, as the issuer's admin (the sender), the public half of the sealing key (default: [issuer]
    sealing_key) and the answer key derived from it on the circulation contract."""
    session = app.session
    key = _sealing_key(app, path, "its file (PATH)")
    register_sealing_key(session.circulation, session.issuer_id, key, session.sender)
    app.emit({"issuer": session.issuer_id, "public": key.public_key.to_json(),
              "answerKey": to_hex(issuer_answer_key(key))},
             f"disputes about {session.issuer_id}'s documents are now sealed to this key, and only this key's "
             "holder can answer them")


@dispute.command("open")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", type=_choice(DisputeReason), required=True, help="Why the bank doubts the document.")
@click.option("--receipt", help="The commitment of the receipt recorded for it (from verify --record).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to keep the dispute (mode 0600): it holds the key its answer is sealed to.")
@command
def open_(app: App, bundle: Path, reason: str, receipt: str | None, out: Path) -> None:
    """Open a dispute about the document of BUNDLE (or a presentation), as this bank."""
    if out.exists():
        raise BadInput(f"{out} exists; not overwriting a dispute file")
    session = app.session
    report = session.verifier().verify(bundle.read_bytes())
    if report.bundle is None:
        raise BadInput(f"{bundle}: not a readable bundle ({report.failed[0].detail})")
    opened = open_dispute(session.circulation, session.sender, report, _reason(reason),
                          int(time.time()), from_hex(receipt, 32) if receipt else None)
    opened.write(out)
    app.emit({"disputeId": opened.dispute_id, "file": out},
             f"dispute {to_hex(opened.dispute_id)} opened; kept in {out}")


@dispute.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@command
def show(app: App, path: Path) -> None:
    """Show a dispute this bank opened (its file) and the issuer's answer, if it came."""
    session = app.session
    opened = OpenedDispute.read(path)
    read = read_answer(session.circulation, session.registry, opened)
    data = {**opened.to_json(), "replyKey": None, "salt": None}
    data = {k: v for k, v in data.items() if v is not None}
    if read is None:
        app.emit({**data, "answer": None}, f"dispute {data['disputeId']}: not answered yet")
        return
    status = read.answer.status.name.lower()
    whose = f"a signing key of {opened.dispute.issuer_id}" if read.signed_by_issuer else "NOT a key of the issuer"
    app.emit({**data, "answer": {"status": status, "answeredAt": read.answer.answered_at, "signer": read.signer,
                                 "signedByIssuer": read.signed_by_issuer}},
             f"dispute {data['disputeId']}: {status} at {utc_time(read.answer.answered_at)}, signed by "
             f"{read.signer} ({whose})")


@dispute.command("list")
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The issuer's sealing key (default: [issuer] sealing_key).")
@click.option("--open-only", is_flag=True, help="Only disputes not answered yet.")
@click.option("--since", type=int, help="Only disputes opened at or after this Unix time (the chain is read from the "
              "first block of that time: on a long chain, far fewer log queries).")
@command
def list_(app: App, key_path: Path | None, open_only: bool, since: int | None) -> None:
    """List the disputes sealed to this issuer (oldest first), with the document and reason each concerns."""
    session = app.session
    with node_errors():
        start = 0 if since is None else first_block_since(session.circulation.w3, since)
    found = [d for d in received_disputes(session.circulation, _sealing_key(app, key_path), start)
             if not (open_only and d.answered) and (since is None or d.opened_at >= since)]
    # One block per dispute, its id whole on a line of its own: the issuer answers by it.
    said = "".join(f"dispute {to_hex(d.dispute_id)}\n  {d.dispute.reason.name.lower().replace('_', ' ')}, opened "
                   f"{utc_time(d.opened_at)} by {d.verifier}; {'answered' if d.answered else 'not answered yet'}\n"
                   f"  document {to_hex(d.dispute.document_digest)}\n" for d in found)
    app.emit([{"disputeId": d.dispute_id, "verifier": d.verifier, "openedAt": d.opened_at,
               "documentDigest": d.dispute.document_digest, "batchRoot": d.dispute.batch_root,
               "reason": d.dispute.reason.name.lower(), "receipt": d.dispute.receipt_commitment,
               "answered": d.answered} for d in found], said.rstrip("\n") or "no disputes")


@dispute.command("answer")
@click.argument("dispute_id")
@click.option("--status", type=_choice(DisputeStatus), required=True)
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The issuer's sealing key (default: [issuer] sealing_key).")
@command
def answer(app: App, dispute_id: str, status: str, key_path: Path | None) -> None:
    """Answer a dispute sealed to this issuer: signed by its signing key, sent by the sender (any account, e.g.
    an operator's relay)."""
    session = app.session
    wanted = from_hex(dispute_id, 32)
    key = _sealing_key(app, key_path)
    found = received_disputes(session.circulation, key, dispute_id=wanted)
    if not found:
        raise BadInput(f"no dispute {dispute_id} sealed to this issuer's key")
    answered = answer_dispute(session.circulation, found[0], _status(status), session.signer,
                              session.sender, int(time.time()), key)
    app.emit({"disputeId": wanted, "status": answered.status.name.lower()},
             f"dispute {dispute_id} answered: {answered.status.name.lower()}")
