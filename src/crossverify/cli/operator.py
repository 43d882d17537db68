"""``crossverify operator``: deploy the registry, propose and approve membership changes."""

from __future__ import annotations

import click
from rich.table import Table
from web3 import Web3

from ..chain.records import Role
from ..consortium.operator import OperatorClient
from ..format.encoding import utc_minute
from ._shell import App, command


@click.group()
def operator() -> None:
    """Consortium operator: deploy, propose, approve, relay."""


@operator.command("deploy")
@click.option("--operator", "operators", multiple=True, required=True, help="Operator address (2 to 6).")
@click.option("--quorum", type=int, default=0, show_default=True, help="Approvals needed; 0 = all operators.")
@click.option("--lifetime", type=int, default=7 * 86400, show_default=True, help="Proposal lifetime, seconds.")
@command
def operator_deploy(app: App, operators: tuple[str, ...], quorum: int, lifetime: int) -> None:
    """Deploy a registry."""
    session = app.session
    client = OperatorClient.deploy(session.w3, session.sender, [Web3.to_checksum_address(o) for o in operators],
                                   quorum, lifetime, session.tx_params)
    address = client.registry.address
    app.emit({"registry": address, "chainId": session.w3.eth.chain_id}, f"registry deployed at {address}")


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
    _proposed(app, app.session.operator().propose_admit_issuer(
        issuer_id, jurisdiction, Web3.to_checksum_address(admin), doc_types,
        [Web3.to_checksum_address(k) for k in keys_]))


@propose.command("admit-member")
@click.argument("account")
@click.option("--role", type=click.Choice(["verifier", "regulator"]), required=True)
@command
def propose_admit_member(app: App, account: str, role: str) -> None:
    """Admit a verifier or a regulator."""
    _proposed(app, app.session.operator().propose_admit_member(Web3.to_checksum_address(account), Role[role.upper()]))


@propose.command("suspend-issuer")
@click.argument("issuer_id")
@command
def propose_suspend_issuer(app: App, issuer_id: str) -> None:
    """Suspend an issuer."""
    _proposed(app, app.session.operator().propose_suspend_issuer(issuer_id))


@propose.command("reinstate-issuer")
@click.argument("issuer_id")
@command
def propose_reinstate_issuer(app: App, issuer_id: str) -> None:
    """Reinstate a suspended issuer."""
    _proposed(app, app.session.operator().propose_reinstate_issuer(issuer_id))


@propose.command("doc-types")
@click.argument("issuer_id")
@click.option("--doc-type", "doc_types", multiple=True, required=True)
@click.option("--disallow", is_flag=True)
@command
def propose_doc_types(app: App, issuer_id: str, doc_types: tuple[str, ...], disallow: bool) -> None:
    """Allow (or disallow) document types for an issuer."""
    _proposed(app, app.session.operator().propose_doc_types(issuer_id, doc_types, not disallow))


@propose.command("suspend-member")
@click.argument("account")
@command
def propose_suspend_member(app: App, account: str) -> None:
    """Suspend a verifier or regulator."""
    _proposed(app, app.session.operator().propose_suspend_member(Web3.to_checksum_address(account)))


@propose.command("reinstate-member")
@click.argument("account")
@command
def propose_reinstate_member(app: App, account: str) -> None:
    """Reinstate a suspended verifier or regulator."""
    _proposed(app, app.session.operator().propose_reinstate_member(Web3.to_checksum_address(account)))


@propose.command("compromised-key")
@click.argument("key")
@click.option("--since", type=int, required=True, help="Unix time from which the key counts as compromised.")
@command
def propose_compromised_key(app: App, key: str, since: int) -> None:
    """Mark an issuer's signing key compromised from a time."""
    _proposed(app, app.session.operator().propose_compromised_key(Web3.to_checksum_address(key), since))


@operator.command("approve")
@click.argument("proposal_ids", type=int, nargs=-1, required=True)
@command
def operator_approve(app: App, proposal_ids: tuple[int, ...]) -> None:
    """Approve proposals; the approval that reaches the quorum executes."""
    client = app.session.operator()
    results = {pid: client.approve(pid) for pid in proposal_ids}
    app.emit({str(k): {"executed": v} for k, v in results.items()},
             "\n".join(f"proposal {k}: {'executed' if v else 'approved'}" for k, v in results.items()))


@operator.command("proposals")
@click.option("--all", "show_all", is_flag=True, help="Include executed and expired proposals.")
@command
def operator_proposals(app: App, show_all: bool) -> None:
    """List proposals, newest first."""
    found = app.session.operator().proposals(open_only=not show_all)
    table = Table("id", "kind", "proposer", "approvals", "expires", "executed")
    for p in found:
        table.add_row(str(p.id), p.kind.name.lower(), p.proposer, str(p.approvals),
                      utc_minute(p.expires_at), "yes" if p.executed else "")
    app.emit([{"id": p.id, "kind": p.kind.name.lower(), "proposer": p.proposer, "approvals": p.approvals,
               "expiresAt": p.expires_at, "executed": p.executed} for p in found], table)
