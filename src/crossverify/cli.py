"""The ``crossverify`` command: a thin shell over the role clients, configured by TOML and the environment.

Exit codes: 0 success (for ``verify``: every bundle valid), 1 a registry, node or verification failure,
2 unusable input or configuration.
"""

from __future__ import annotations

import json
import mimetypes
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from web3 import Web3

from .chain.connection import connect
from .chain.records import RevocationReason, Role
from .chain.registry import Registry, Sender
from .config import Config
from .consortium.operator import OperatorClient
from .demo import run_demo
from .errors import BundleError, ConfigError, CrossverifyError, InvalidClaim, KeyLoadError
from .format.certificate import Certificate, DocumentHeader, attachment_claim
from .format.hashing import HashAlgorithm
from .issuer.client import IssuerClient
from .issuer.journal import Journal
from .keys.keystore import load_keystore, plain_key, write_keystore
from .regulator.export import to_csv, to_html, to_json
from .regulator.index import RegulatorReader
from .verifier.client import Outcome, Policy, VerifierClient

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """A registry, node or verification failure (exit 1)."""

    exit_code = 1


class BadInput(click.ClickException):
    """Unusable input or configuration (exit 2)."""

    exit_code = 2


@dataclass
class App:
    """What every command shares: configuration, output mode, and the lazily built connection and clients."""

    config: Config
    as_json: bool
    console: Console = field(default_factory=lambda: Console(stderr=True))

    @cached_property
    def w3(self) -> Web3:
        return connect(self.config.get("network", "rpc"), poa=self.config.get("network", "poa"),
                       chain_id=self.config.get("network", "chain_id"))

    @cached_property
    def tx_params(self) -> dict[str, Any]:
        gas_price = self.config.get("network", "gas_price")
        return {} if gas_price is None else {"gasPrice": gas_price}

    @cached_property
    def registry(self) -> Registry:
        return Registry.at(self.w3, self.config.require("network", "registry"), self.tx_params)

    @cached_property
    def sender(self) -> Sender:
        keys = self._key("sender")
        if keys is not None:
            return keys
        address = self.config.get("keys", "sender_address")
        if address is None:
            raise ConfigError("no sender: set [keys] sender_keystore (or sender_address for a node-managed account)")
        return Web3.to_checksum_address(address)

    @cached_property
    def signer(self) -> LocalAccount:
        key = self._key("signer")
        if key is None:
            raise ConfigError("no signing key: set [keys] signer_keystore")
        return key

    def _key(self, role: str) -> LocalAccount | None:
        keystore = self.config.get("keys", f"{role}_keystore")
        if keystore is not None:
            return load_keystore(keystore, self.config.get("keys", "password_env"),
                                 lambda text: click.prompt(text, hide_input=True))
        private = self.config.get("keys", f"{role}_private_key")
        if private is not None:
            return plain_key(private, self.config.get("keys", "dev_mode"))
        return None

    def issuer(self) -> IssuerClient:
        return IssuerClient(
            self.registry, self.config.require("issuer", "id"), self.signer, self.sender,
            Journal(self.config.get("issuer", "journal")), self.config.get("issuer", "bundles"),
            hash_alg=HashAlgorithm.from_label(self.config.get("issuer", "hash_alg")),
            receipt_timeout=self.config.get("network", "receipt_timeout"))

    def operator(self) -> OperatorClient:
        return OperatorClient(self.registry, self.sender)

    def emit(self, data: Any, human: str | Table) -> None:
        """Print ``data`` as JSON with ``--json``, else the human form."""
        if self.as_json:
            click.echo(json.dumps(data, indent=1, default=_jsonable))
        else:
            Console().print(human)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot show {type(value).__name__}")


@contextmanager
def _failures() -> Iterator[None]:
    try:
        yield
    except (ConfigError, KeyLoadError, BundleError, InvalidClaim, ValueError) as exc:
        raise BadInput(str(exc)) from exc
    except CrossverifyError as exc:
        raise Failure(f"{type(exc).__name__}: {exc}") from exc


def command(fn: F) -> F:
    """Turn crossverify errors into exit codes and pass the :class:`App`."""

    @click.pass_obj
    @wraps(fn)
    def wrapper(app: App, *args: Any, **kwargs: Any) -> Any:
        with _failures():
            return fn(app, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CROSSVERIFY_CONFIG",
              help="TOML configuration (env: CROSSVERIFY_CONFIG). Any setting can be overridden as "
                   "CROSSVERIFY_<SECTION>_<KEY>.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, as_json: bool) -> None:
    """crossverify: anchor, verify and audit cross-border certificates."""
    with _failures():
        ctx.obj = App(Config.load(config_path), as_json)


# ------------------------------------------------------------------------------------------------------------
# keys
# ------------------------------------------------------------------------------------------------------------

@main.group()
def keys() -> None:
    """Create encrypted keystore files."""


@keys.command("new")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.password_option(envvar="CROSSVERIFY_PASSWORD", help="Keystore password (env: CROSSVERIFY_PASSWORD).")
@command
def keys_new(app: App, path: Path, password: str) -> None:
    """Generate a key and write it encrypted to PATH."""
    if path.exists():
        raise BadInput(f"{path} exists; not overwriting a key")
    account = Account.create()
    write_keystore(account, path, password)
    app.emit({"address": account.address, "keystore": path}, f"{account.address} -> {path}")


# ------------------------------------------------------------------------------------------------------------
# operator
# ------------------------------------------------------------------------------------------------------------

@main.group()
def operator() -> None:
    """Consortium operator: deploy, propose, approve, relay."""


@operator.command("deploy")
@click.option("--operator", "operators", multiple=True, required=True, help="Operator address (2 to 6).")
@click.option("--quorum", type=int, default=0, show_default=True, help="Approvals needed; 0 = all operators.")
@click.option("--lifetime", type=int, default=7 * 86400, show_default=True, help="Proposal lifetime, seconds.")
@command
def operator_deploy(app: App, operators: tuple[str, ...], quorum: int, lifetime: int) -> None:
    """Deploy a registry."""
    client = OperatorClient.deploy(app.w3, app.sender, [Web3.to_checksum_address(o) for o in operators], quorum,
                                   lifetime, app.tx_params)
    address = client.registry.address
    app.emit({"registry": address, "chainId": app.w3.eth.chain_id}, f"registry deployed at {address}")


@operator.group("propose")
def propose() -> None:
    """Propose a membership change (your approval counts)."""


def _proposed(app: App, proposal_id: int) -> None:
    app.emit({"proposal": proposal_id}, f"proposal {proposal_id} created")


@propose.command("admit-issuer")
@click.argument("issuer_id")
@click.option("--admin", required=True)
@click.option("--jurisdiction", default="MO", show_default=True)
@click.option("--doc-type", "doc_types", multiple=True, required=True)
@click.option("--key", "keys_", multiple=True, help="Signing key address.")
@command
def propose_admit_issuer(app: App, issuer_id: str, admin: str, jurisdiction: str, doc_types: tuple[str, ...],
                         keys_: tuple[str, ...]) -> None:
    """Admit an issuer with its admin, document types and signing keys."""
    _proposed(app, app.operator().propose_admit_issuer(
        issuer_id, jurisdiction, Web3.to_checksum_address(admin), doc_types,
        [Web3.to_checksum_address(k) for k in keys_]))


@propose.command("admit-member")
@click.argument("account")
@click.option("--role", type=click.Choice(["verifier", "regulator"]), required=True)
@command
def propose_admit_member(app: App, account: str, role: str) -> None:
    """Admit a verifier or a regulator."""
    _proposed(app, app.operator().propose_admit_member(Web3.to_checksum_address(account), Role[role.upper()]))


@propose.command("suspend-issuer")
@click.argument("issuer_id")
@command
def propose_suspend_issuer(app: App, issuer_id: str) -> None:
    """Suspend an issuer."""
    _proposed(app, app.operator().propose_suspend_issuer(issuer_id))


@propose.command("reinstate-issuer")
@click.argument("issuer_id")
@command
def propose_reinstate_issuer(app: App, issuer_id: str) -> None:
    """Reinstate a suspended issuer."""
    _proposed(app, app.operator().propose_reinstate_issuer(issuer_id))


@propose.command("doc-types")
@click.argument("issuer_id")
@click.option("--doc-type", "doc_types", multiple=True, required=True)
@click.option("--disallow", is_flag=True)
@command
def propose_doc_types(app: App, issuer_id: str, doc_types: tuple[str, ...], disallow: bool) -> None:
    """Allow (or disallow) document types for an issuer."""
    _proposed(app, app.operator().propose_doc_types(issuer_id, doc_types, not disallow))


@propose.command("suspend-member")
@click.argument("account")
@command
def propose_suspend_member(app: App, account: str) -> None:
    """Suspend a verifier or regulator."""
    _proposed(app, app.operator().propose_suspend_member(Web3.to_checksum_address(account)))


@propose.command("reinstate-member")
@click.argument("account")
@command
def propose_reinstate_member(app: App, account: str) -> None:
    """Reinstate a suspended verifier or regulator."""
    _proposed(app, app.operator().propose_reinstate_member(Web3.to_checksum_address(account)))


@propose.command("compromised-key")
@click.argument("key")
@click.option("--since", type=int, required=True, help="Unix time from which the key counts as compromised.")
@command
def propose_compromised_key(app: App, key: str, since: int) -> None:
    """Mark an issuer's signing key compromised from a time."""
    _proposed(app, app.operator().propose_compromised_key(Web3.to_checksum_address(key), since))


@operator.command("approve")
@click.argument("proposal_ids", type=int, nargs=-1, required=True)
@command
def operator_approve(app: App, proposal_ids: tuple[int, ...]) -> None:
    """Approve proposals; the approval that reaches the quorum executes."""
    client = app.operator()
    results = {pid: client.approve(pid) for pid in proposal_ids}
    app.emit({str(k): {"executed": v} for k, v in results.items()},
             "\n".join(f"proposal {k}: {'executed' if v else 'approved'}" for k, v in results.items()))


@operator.command("proposals")
@click.option("--all", "show_all", is_flag=True, help="Include executed and expired proposals.")
@command
def operator_proposals(app: App, show_all: bool) -> None:
    """List proposals, newest first."""
    found = app.operator().proposals(open_only=not show_all)
    table = Table("id", "kind", "proposer", "approvals", "expires", "executed")
    for p in found:
        table.add_row(str(p.id), p.kind.name.lower(), p.proposer, str(p.approvals),
                      time.strftime("%Y-%m-%d %H:%M", time.gmtime(p.expires_at)), "yes" if p.executed else "")
    app.emit([{"id": p.id, "kind": p.kind.name.lower(), "proposer": p.proposer, "approvals": p.approvals,
               "expiresAt": p.expires_at, "executed": p.executed} for p in found], table)


# ------------------------------------------------------------------------------------------------------------
# issuer
# ------------------------------------------------------------------------------------------------------------

@main.group()
def issuer() -> None:
    """Macao issuer: journal certificates, anchor batches, deliver bundles, revoke, manage keys."""


def read_certificates(paths: tuple[Path, ...], issuer_id: str) -> list[tuple[str, Certificate]]:
    """Certificates from JSON files (an object, a list of objects, or JSON lines), each with a ``reference``."""
    found = []
    now = int(time.time())
    for path in paths:
        text = path.read_text()
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        for item in items if isinstance(items, list) else [items]:
            try:
                claims = dict(item["claims"])
                for name, file in item.get("attachments", {}).items():
                    data = (path.parent / file).read_bytes()
                    claims[name] = attachment_claim(data, mimetypes.guess_type(file)[0] or "application/octet-stream")
                header = DocumentHeader(item["docType"], issuer_id, item.get("issuedAt", now),
                                        item.get("asOf", now), item["notAfter"])
                found.append((item["reference"], Certificate(header, claims)))
            except (KeyError, TypeError) as exc:
                raise BadInput(f"{path}: each certificate needs reference, docType, notAfter, claims ({exc})") \
                    from None
    return found


@issuer.command("issue")
@click.argument("files", type=click.Path(exists=True, dir_okay=False, path_type=Path), nargs=-1, required=True)
@command
def issuer_issue(app: App, files: tuple[Path, ...]) -> None:
    """Salt certificates from FILES and commit them to the journal."""
    client = app.issuer()
    ids = client.issue(read_certificates(files, client.issuer_id))
    app.emit({"journalled": len(ids)}, f"{len(ids)} certificates journalled")


@issuer.command("run")
@click.option("--max-batch", type=int, help="Documents per batch (default: [issuer] max_batch).")
@click.option("--max-age", type=float, help="Seal a partial batch only when older than this many seconds.")
@command
def issuer_run(app: App, max_batch: int | None, max_age: float | None) -> None:
    """Seal, sign, anchor and deliver everything pending (resumes an interrupted run)."""
    client = app.issuer()
    with Progress(console=app.console, transient=app.as_json) as bars:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        report = client.run(max_batch or app.config.get("issuer", "max_batch"),
                            max_age if max_age is not None else app.config.get("issuer", "max_age"), progress)
    data = {"sealed": report.sealed, "signed": report.signed, "anchored": report.anchored,
            "delivered": len(report.delivered), "transactions": report.transactions, "gasUsed": report.gas_used}
    app.emit(data, ", ".join(f"{k}: {v}" for k, v in data.items()))


@issuer.command("status")
@command
def issuer_status(app: App) -> None:
    """Documents pending and in each batch state."""
    counts = app.issuer().journal.counts(app.config.require("issuer", "id"))
    app.emit(counts, ", ".join(f"{k}: {v}" for k, v in counts.items()))


@issuer.command("revoke")
@click.option("--document", help="Document digest (0x…).")
@click.option("--batch", help="Batch root (0x…).")
@click.option("--reason", type=click.Choice([r.name.lower() for r in RevocationReason if r]), required=True)
@command
def issuer_revoke(app: App, document: str | None, batch: str | None, reason: str) -> None:
    """Revoke one document or a whole batch (final)."""
    if (document is None) == (batch is None):
        raise BadInput("give exactly one of --document and --batch")
    client, why = app.issuer(), RevocationReason[reason.upper()]
    if document:
        client.revoke_document(_hex32(document), why)
    else:
        client.revoke_batch(_hex32(batch or ""), why)
    app.emit({"revoked": document or batch, "reason": reason}, f"revoked ({reason})")


@issuer.group("key")
def issuer_key() -> None:
    """Signing keys of this issuer (the sender must be its admin)."""


@issuer_key.command("add")
@click.argument("address")
@command
def key_add(app: App, address: str) -> None:
    """Add a signing key."""
    app.issuer().add_key(Web3.to_checksum_address(address))
    app.emit({"added": address}, f"added {address}")


@issuer_key.command("retire")
@click.argument("address")
@command
def key_retire(app: App, address: str) -> None:
    """Retire a signing key (its earlier anchors stay valid)."""
    app.issuer().retire_key(Web3.to_checksum_address(address))
    app.emit({"retired": address}, f"retired {address}")


@issuer_key.command("compromised")
@click.argument("address")
@click.option("--since", type=int, required=True, help="Unix time from which anchors by the key are invalid.")
@command
def key_compromised(app: App, address: str, since: int) -> None:
    """Report a signing key compromised from a time."""
    app.issuer().report_compromised(Web3.to_checksum_address(address), since)
    app.emit({"compromised": address, "since": since}, f"{address} compromised from {since}")


# ------------------------------------------------------------------------------------------------------------
# verify
# ------------------------------------------------------------------------------------------------------------

@main.command("verify")
@click.argument("bundles", type=click.Path(dir_okay=False, path_type=Path), nargs=-1, required=True)
@click.option("--attachment", "attachments", multiple=True, metavar="NAME=PATH",
              help="An attachment's file, by claim name (for every bundle given).")
@click.option("--record", is_flag=True, help="Record a receipt on chain for each valid bundle.")
@click.option("--purpose", help="Why the documents were verified (only its hash goes on chain).")
@command
def verify(app: App, bundles: tuple[Path, ...], attachments: tuple[str, ...], record: bool,
           purpose: str | None) -> None:
    """Check bundles a resident handed over. Exit 0: all valid; 1: any invalid; 2: unusable input."""
    if record and not purpose:
        raise BadInput("--record needs --purpose")
    files = {}
    for item in attachments:
        name, _, file = item.partition("=")
        if not file:
            raise BadInput(f"--attachment takes NAME=PATH, got {item!r}")
        files[name] = Path(file).read_bytes()
    try:
        texts = [p.read_bytes() for p in bundles]
    except OSError as exc:
        raise BadInput(str(exc)) from None
    max_age = app.config.get("verifier", "max_age_days") or {}
    client = VerifierClient(app.registry, Policy({k: int(v * 86400) for k, v in max_age.items()}),
                            sender=app.sender if record else None)
    reports = client.verify_many(texts, [files or None] * len(texts) if files else None)
    if record:
        client.record([r for r in reports if r.valid], purpose or "")
    if app.as_json:
        app.emit([{"file": str(p), **r.as_json()} for p, r in zip(bundles, reports, strict=True)], "")
    else:
        for path, report in zip(bundles, reports, strict=True):
            table = Table(title=f"{path.name}: {'[green]VALID' if report.valid else '[red]INVALID'}[/]",
                          title_justify="left")
            table.add_column("check")
            table.add_column("result")
            table.add_column("detail", overflow="fold")
            colours = {Outcome.PASSED: "green", Outcome.FAILED: "red", Outcome.NOT_APPLICABLE: "dim"}
            for c in report.checks:
                table.add_row(c.name, f"[{colours[c.outcome]}]{c.outcome.value}[/]", c.detail)
            Console().print(table)
    if any(r.check("bundle_well_formed").outcome is Outcome.FAILED for r in reports):
        sys.exit(2)
    sys.exit(0 if all(r.valid for r in reports) else 1)


# ------------------------------------------------------------------------------------------------------------
# audit
# ------------------------------------------------------------------------------------------------------------

@main.group()
def audit() -> None:
    """Regulator: index the registry's events and report on them."""


def _reader(app: App) -> RegulatorReader:
    return RegulatorReader(app.registry, app.config.get("audit", "index"), chunk=app.config.get("audit", "chunk"),
                           from_block=app.config.get("audit", "from_block"))


@audit.command("sync")
@command
def audit_sync(app: App) -> None:
    """Read new events into the local index (resumes where the last sync stopped)."""
    reader = _reader(app)
    with Progress(console=app.console, transient=True) as progress:
        task = progress.add_task("reading events", total=None)
        report = reader.sync(lambda done, total: progress.update(task, completed=done, total=total))
    app.emit({"fromBlock": report.from_block, "toBlock": report.to_block, "events": report.events},
             f"indexed {report.events} events from blocks {report.from_block}-{report.to_block}")


@audit.command("report")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@command
def audit_report(app: App, fmt: str, out: Path | None) -> None:
    """Issued, revoked and verified per issuer, verifier, type and day; anomalies; governance changes."""
    report = _reader(app).report()
    text = {"html": to_html, "csv": to_csv, "json": to_json}[fmt](report)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text)
        app.console.print(f"{fmt} report written to {out}")


# ------------------------------------------------------------------------------------------------------------
# demo
# ------------------------------------------------------------------------------------------------------------

@main.command("demo")
@click.option("--certificates", type=int, default=1000, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True)
@command
def demo(app: App, certificates: int, out: Path) -> None:
    """Run the whole story on the embedded chain: admit, issue, redact, verify, fail, audit."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    run_demo(out, certificates, Console(width=None if sys.stdout.isatty() else 120))


def _hex32(value: str) -> bytes:
    raw = value[2:] if value.startswith("0x") else value
    try:
        out = bytes.fromhex(raw)
    except ValueError:
        raise BadInput(f"not hex: {value!r}") from None
    if len(out) != 32:
        raise BadInput(f"expected 32 bytes of hex, got {len(out)}: {value!r}")
    return out


if __name__ == "__main__":
    sys.exit(main())
