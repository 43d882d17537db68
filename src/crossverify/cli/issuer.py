"""``crossverify issuer``: journal certificates, anchor batches, deliver bundles, revoke, manage keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from ..chain.records import RevocationReason
from ..format.display import counted
from ..format.encoding import from_hex, to_hex
from ..format.metadata import TypeDisplay, read_metadata
from ..issuer.client import (
    export_bundles,
    journal_certificates,
    register_metadata,
    report_compromised,
    retire_key,
)
from ..issuer.inputs import read_certificates, read_entries
from ..issuer.pickup import DEFAULT_CODE_TTL, NOT_KEPT
from ._shell import ADDRESS, App, BadInput, command


@click.group()
def issuer() -> None:
    """Macao issuer: journal certificates, anchor batches, deliver bundles, revoke, manage keys."""


@issuer.command("issue")
@click.argument("files", type=click.Path(exists=True, dir_okay=False, path_type=Path), nargs=-1, required=True)
@click.option("--supersede", is_flag=True, help="Re-issue references whose content changed; the earlier revision "
              "is revoked on chain as superseded by the next run.")
@command
def issuer_issue(app: App, files: tuple[Path, ...], supersede: bool) -> None:
    """Salt certificates from FILES and commit them to the journal (no node, no key needed).

    Each file holds one certificate, a list of them, or JSON lines: its reference (the issuer's own id), docType,
    notAfter (Unix time) and claims (name: JSON value); optionally issuedAt and asOf (Unix times, default now),
    attachments (claim name: file) and holderKey (the resident's file from 'crossverify holder keygen --claim',
    which binds the certificate to their key), files relative to the input file. examples/certificates.json is
    one. A certificate expired by this machine's clock (or within a minute) is refused: none is journalled."""
    session = app.session
    now = int(time.time())
    ids = journal_certificates(session.journal, session.issuer_id, read_certificates(files, session.issuer_id, now),
                               session.hash_alg, supersede=supersede, now=now)
    app.emit({"journalled": len(ids)}, f"{counted(len(ids), 'certificate')} journalled")


@issuer.command("run")
@click.option("--max-batch", type=click.IntRange(min=1), help="Documents per batch (default: [issuer] max_batch).")
@click.option("--max-age", type=float, help="Seal a partial batch only when older than this many seconds.")
@command
def issuer_run(app: App, max_batch: int | None, max_age: float | None) -> None:
    """Seal, sign, anchor and deliver everything pending (resumes an interrupted run)."""
    client = app.session.issuer()
    with Progress(console=app.console, transient=app.as_json, disable=not app.console.is_terminal) as bars:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        report = client.run(max_batch or app.session.config.issuer.max_batch,
                            max_age if max_age is not None else app.session.config.issuer.max_age, progress)
    data = {"sealed": report.sealed, "signed": report.signed, "anchored": report.anchored,
            "delivered": len(report.delivered), "awaitingConfirmations": report.awaiting,
            "reanchored": report.reanchored, "supersededRevoked": report.superseded,
            "revocationsRestored": report.restored, "lapsed": report.lapsed, "transactions": report.transactions,
            "gasUsed": report.gas_used}
    app.emit(data, ", ".join(f"{k}: {v}" for k, v in data.items()))


@issuer.command("rebind")
@command
def issuer_rebind(app: App) -> None:
    """Move the journal to the configured registry, which the operators recorded as the successor of the one the
    journal belongs to (a rebuilt network, or a new version); anchor the same roots there, send the revocations
    again and write the bundles anew. Residents keep the files they hold: banks verify them through the
    succession."""
    client = app.session.issuer()
    old = client.rebind()
    report = client.run(app.session.config.issuer.max_batch, app.session.config.issuer.max_age)
    new = client.registry.identity()
    data = {"from": old or None, "to": new, "anchored": report.anchored, "delivered": len(report.delivered),
            "revocationsRestored": report.restored, "transactions": report.transactions}
    human = (f"journal moved from registry {old['registry']} on chain {old['chain_id']} to {new['registry']} on chain "
             f"{new['chain_id']}: " if old else "journal already belongs to this registry: ")
    app.emit(data, human + f"{counted(report.anchored, 'batch')} anchored, {counted(len(report.delivered), 'bundle')} "
                           f"written, {counted(report.restored, 'revocation')} sent again")


@issuer.group("pickup")
def issuer_pickup() -> None:
    """Certificates the resident collects with a one-time code, binding them to their own key."""


@issuer_pickup.command("offer")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ttl", type=int, default=DEFAULT_CODE_TTL, show_default=True,
              help="Seconds each code works (never past a minute before the certificate's notAfter).")
@command
def pickup_offer(app: App, file: Path, ttl: int) -> None:
    """Offer the certificates in FILE (one entry or a list, as for 'issue'; no attachments) for pickup and print
    each one's code, once: hand it to the resident out of band. Offering a reference again gives a new code. All
    or none: one entry refused leaves every pickup as it was."""
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {file}: {exc}") from None
    desk, now = app.session.pickups, int(time.time())
    offers = desk.offer_many(read_entries(text, str(file)), now, ttl)  # type: ignore[arg-type]
    app.emit([{"reference": o.reference, "code": o.code, "expiresAt": o.expires_at} for o in offers],
             "\n".join(f"{o.reference}: {o.code}" for o in offers))


@issuer_pickup.command("status")
@click.argument("reference")
@command
def pickup_status(app: App, reference: str) -> None:
    """Where the pickup of REFERENCE stands: offered, locked, enrolled, journalled, then the certificate's batch
    state (sealed ... delivered), or lapsed, revoked, withdrawn or other (another certificate journalled under
    it)."""
    state = app.session.pickups_read_only.state(reference)
    if state is None:
        raise BadInput(f"no pickup is kept for {reference}: {NOT_KEPT}")
    app.emit({"reference": reference, "state": state}, f"{reference}: {state}")


@issuer.command("status")
@command
def issuer_status(app: App) -> None:
    """Documents pending and in each batch state."""
    counts = app.session.journal_read_only.counts(app.session.issuer_id)
    app.emit(counts, ", ".join(f"{k}: {v}" for k, v in counts.items()))


@issuer.command("revoke")
@click.option("--reference", help="The document's reference, as issued.")
@click.option("--document", help="Document digest (0x…).")
@click.option("--batch", help="Batch root (0x…).")
@click.option("--reason", type=click.Choice([r.name.lower() for r in RevocationReason if r]), required=True)
@command
def issuer_revoke(app: App, reference: str | None, document: str | None, batch: str | None, reason: str) -> None:
    """Revoke one document or a whole batch (final). Only what this journal anchored can be named."""
    if sum(x is not None for x in (reference, document, batch)) != 1:
        raise BadInput("give exactly one of --reference, --document and --batch")
    app.session.issuer().revoke(
        RevocationReason[reason.upper()], reference=reference,
        document=None if document is None else from_hex(document, 32),
        batch=None if batch is None else from_hex(batch, 32))
    target = reference or document or batch
    app.emit({"revoked": target, "reason": reason}, f"revoked {target} ({reason})")


@issuer.command("withdraw")
@click.argument("reference")
@command
def issuer_withdraw(app: App, reference: str) -> None:
    """Withdraw a certificate journalled by mistake while it waits for a batch: it is deleted from the journal,
    salts and all, and never anchored (no node needed). One sealed into a batch is refused: let it be anchored, then
    revoke it."""
    app.session.journal.withdraw(app.session.issuer_id, reference)
    app.emit({"withdrawn": reference}, f"withdrew {reference}: it was never anchored")


@issuer.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@command
def issuer_backup(app: App, target: Path) -> None:
    """Copy the journal (salts of every document included) to TARGET while it stays in use."""
    if app.session.config.storage.url is not None:
        raise BadInput("the journal lives in PostgreSQL ([storage] url): back it up with pg_dump or continuous "
                       "archiving (docs/deploy.md)")
    if target.exists():
        raise BadInput(f"{target} exists; not overwriting it")
    path = app.session.journal_read_only.store.backup(target)
    app.emit({"backup": path}, f"journal backed up to {path}")


@issuer.command("export-bundles")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@command
def issuer_export_bundles(app: App, folder: Path) -> None:
    """Write every anchored document's bundle again into FOLDER, from the journal alone (no node, no key)."""
    written = export_bundles(app.session.journal_read_only, app.session.issuer_id, folder)
    app.emit({"exported": len(written), "folder": folder}, f"{counted(len(written), 'bundle')} written to {folder}")


@issuer.group("key")
def issuer_key() -> None:
    """Signing keys of this issuer (the sender must be its admin)."""


@issuer_key.command("add")
@command
def key_add(app: App) -> None:
    """Register the configured signing key, with its proof of possession (the key signs, so it must be at hand)."""
    client = app.session.issuer()
    client.add_key(client.signer)
    app.emit({"added": client.signer.address}, f"added {client.signer.address}")


@issuer.command("metadata")
@click.argument("files", type=click.Path(exists=True, dir_okay=False, path_type=Path), nargs=-1, required=True)
@command
def issuer_metadata(app: App, files: tuple[Path, ...]) -> None:
    """Register the digests of display metadata this issuer publishes: its name in four languages, or the labels
    of a document type it may issue (the sender must be its admin). Verifiers keep the files themselves."""
    session = app.session
    issuer_id = session.issuer_id
    done: list[tuple[Path, str, bytes]] = []
    for file in files:
        display = read_metadata(file.read_bytes())
        register_metadata(session.registry, session.sender, issuer_id, display)
        done.append((file, display.doc_type if isinstance(display, TypeDisplay) else "name",
                     display.digest_in(session.registry.crypto_suite())))
    app.emit([{"file": file, "for": what, "digest": digest} for file, what, digest in done],
             "\n".join(f"registered {what} metadata {to_hex(digest)} ({file})" for file, what, digest in done))


@issuer.command("cancel-requests")
@click.option("--up-to", "up_to", type=int, required=True,
              help="Unix time: every request this issuer signed with a deadline at or before it is void.")
@command
def issuer_cancel_requests(app: App, up_to: int) -> None:
    """Void signed anchor and revocation requests not yet submitted (the sender must be the issuer's admin)."""
    app.session.issuer().cancel_signed_requests(up_to)
    app.emit({"cancelledUpTo": up_to}, f"signed requests with a deadline up to {up_to} are void")


@issuer_key.command("retire")
@click.argument("address", type=ADDRESS)
@command
def key_retire(app: App, address: str) -> None:
    """Retire a signing key (its earlier anchors stay valid); not the one the configuration signs with."""
    session = app.session
    signer = session.describe_key("signer")  # its address only: the signing key itself is not needed
    if signer is not None and address.lower() == signer["address"].lower():
        raise BadInput(f"this configuration signs with {address}, and a retired key never signs again: switch the "
                       "configuration to its successor first, then retire it")
    retire_key(session.registry, session.sender, address)
    app.emit({"retired": address}, f"retired {address}")


@issuer_key.command("compromised")
@click.argument("address", type=ADDRESS)
@click.option("--since", type=int, required=True, help="Unix time from which anchors by the key are invalid.")
@command
def key_compromised(app: App, address: str, since: int) -> None:
    """Report a signing key compromised from a time."""
    report_compromised(app.session.registry, app.session.sender, address, since)
    app.emit({"compromised": address, "since": since}, f"{address} compromised from {since}")
