"""``crossverify operator``: deploy the consortium, its registry and the circulation contract, propose and approve
changes, read proposals."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..chain.records import Role
from ..chain.registry import deploy_contract
from ..consortium.operator import OperatorClient
from ..errors import MalformedMetadata
from ..format.encoding import utc_minute
from ..format.metadata import Display, TypeDisplay, read_metadata
from ..format.suite import Suite
from ..sealing import RegulatorPublicKey
from ._shell import ADDRESS, App, BadInput, command

#: A proposal id: any the consortium could have made (a uint256).
PROPOSAL_ID = click.IntRange(0, 2**256 - 1)


@click.group()
def operator() -> None:
    """Consortium operator: deploy, propose, approve, relay."""


def _operator_spec(value: str) -> tuple[str, str]:
    account, sep, jurisdiction = value.partition("@")
    if not sep or not jurisdiction:
        raise click.BadParameter(f"expected ADDRESS@JURISDICTION (e.g. 0xAb…@MO), got {value!r}")
    return ADDRESS.convert(account, None, None), jurisdiction


@operator.command("deploy")
@click.option("--operator", "operators", multiple=True, required=True,
              help="Operator as ADDRESS@JURISDICTION (e.g. …@MO); at least two jurisdictions.")
@click.option("--threshold", type=click.IntRange(0, 255), default=0, show_default=True,
              help="Approvals needed besides one per jurisdiction; 0 = all operators.")
@click.option("--lifetime", type=click.IntRange(0, 2**40 - 1), default=7 * 86400, show_default=True,
              help="Proposal lifetime, seconds: an hour to ninety days.")
@click.option("--suite", type=click.Choice(["standard", "gm"]), default="standard", show_default=True,
              help="The crypto suite, for ever: keccak-256, secp256k1, P-256 and X25519 + AES-GCM; or GM (SM3, SM2, "
                   "SM4).")
@click.option("--sm2-verifier", type=ADDRESS,
              help="GM: an SM2 verifier already deployed on the chain (default: deploy an SM2Verifier first).")
@click.option("--fisco-precompile", type=click.Choice(["national", "standard"]),
              help="GM on FISCO BCOS 3.x: verify SM2 through the chain's precompile (deploy the adapter first), "
                   "for a node in national-cryptography mode or not.")
@command
def operator_deploy(app: App, operators: tuple[str, ...], threshold: int, lifetime: int, suite: str,
                    sm2_verifier: str | None, fisco_precompile: str | None) -> None:
    """Deploy a consortium, the registry it governs, and the circulation contract beside it (then propose the
    regulators' keys with 'operator propose regulator-keys')."""
    specs = [_operator_spec(o) for o in operators]
    session = app.session
    chosen = Suite.named(suite)
    if chosen is Suite.STANDARD and (sm2_verifier or fisco_precompile):
        raise BadInput("--sm2-verifier and --fisco-precompile choose how a GM registry verifies SM2: add --suite gm")
    if sm2_verifier and fisco_precompile:
        raise BadInput("give --sm2-verifier or --fisco-precompile, not both")
    if fisco_precompile:
        sm2_verifier = deploy_contract(session.w3, "SM2PrecompileVerifier", [fisco_precompile == "national"],
                                       session.sender, session.tx_params)
    client = OperatorClient.deploy(session.w3, session.sender, specs, threshold, lifetime, session.tx_params, chosen,
                                   sm2_verifier)
    address = client.registry.address
    assert client.circulation is not None
    verifier = client.registry.call(lambda f: f.sm2Verifier())
    app.emit({"registry": address, "consortium": client.consortium.address,
              "circulation": client.circulation.address, "chainId": session.w3.eth.chain_id,
              "suite": chosen.label, **({"sm2Verifier": verifier} if chosen is Suite.GM else {})},
             f"registry deployed at {address} ({chosen.label} suite"
             + (f", SM2 verified by {verifier}" if chosen is Suite.GM else "")
             + f"), governed by consortium {client.consortium.address}; circulation contract at "
             f"{client.circulation.address}")


@operator.group("propose")
def propose() -> None:
    """Propose a membership change (your approval counts)."""


def _proposed(app: App, proposal_id: int) -> None:
    app.emit({"proposal": proposal_id}, f"proposal {proposal_id} created")


@propose.command("admit-issuer")
@click.argument("issuer_id")
@click.option("--admin", type=ADDRESS, required=True)
@click.option("--jurisdiction", default="MO", show_default=True)
@click.option("--doc-type", "doc_types", multiple=True, required=True)
@click.option("--metadata", "metadata", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Display metadata the issuer published: its name, or a type's labels (a standard type's ship "
              "with crossverify and are registered unless another file is given).")
@command
def propose_admit_issuer(app: App, issuer_id: str, admin: str, jurisdiction: str, doc_types: tuple[str, ...],
                         metadata: tuple[Path, ...]) -> None:
    """Admit an issuer with its admin, document types and display metadata (the admin then adds its signing
    keys)."""
    _proposed(app, app.session.operator().propose_admit_issuer(
        issuer_id, jurisdiction, admin, doc_types, [_metadata(f) for f in metadata]))


def _metadata(file: Path) -> Display:
    try:
        return read_metadata(file.read_bytes())
    except MalformedMetadata as exc:
        raise BadInput(f"{file}: {exc}") from None


@propose.command("admit-member")
@click.argument("account", type=ADDRESS)
@click.option("--role", type=click.Choice(["verifier", "regulator"]), required=True)
@click.option("--jurisdiction", help="The jurisdiction the member answers to (e.g. MO); required of a regulator, "
              "which may veto only that jurisdiction's operator recoveries.")
@command
def propose_admit_member(app: App, account: str, role: str, jurisdiction: str | None) -> None:
    """Admit a verifier or a regulator (a regulator with its jurisdiction)."""
    if role == "regulator" and not jurisdiction:
        raise BadInput("a regulator is admitted with --jurisdiction, the jurisdiction it supervises")
    _proposed(app, app.session.operator().propose_admit_member(account, Role[role.upper()], jurisdiction))


@propose.command("regulator-keys")
@click.option("--key", "keys", multiple=True, required=True, metavar="FILE.json@JURISDICTION",
              help="A regulator's public sealing key file ({\"kem\": ..., \"public\": ...}) and its jurisdiction; "
              "one per regulator, all of one KEM.")
@command
def propose_regulator_keys(app: App, keys: tuple[str, ...]) -> None:
    """Replace the regulators' sealing keys on the circulation contract (a new key epoch once it passes)."""
    parsed = []
    for spec in keys:
        file, sep, jurisdiction = spec.rpartition("@")
        if not sep or not file or not jurisdiction:
            raise BadInput(f"--key takes FILE.json@JURISDICTION, got {spec!r}")
        try:
            data = json.loads(Path(file).read_text())
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read regulator key {file}: {exc}") from None
        if isinstance(data, dict) and "private" in data:
            raise BadInput(f"{file} holds a private key: give the regulator's public key file")
        parsed.append((RegulatorPublicKey.from_json(data).raw, jurisdiction))
    _proposed(app, app.session.operator().propose_regulator_keys(parsed))


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
@click.option("--metadata", "metadata", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A type's display metadata as the issuer published it (standard types': shipped).")
@command
def propose_doc_types(app: App, issuer_id: str, doc_types: tuple[str, ...], disallow: bool,
                      metadata: tuple[Path, ...]) -> None:
    """Allow (or disallow) document types for an issuer, with their labels."""
    labels = [_metadata(f) for f in metadata]
    if any(not isinstance(d, TypeDisplay) for d in labels):
        raise BadInput("--metadata takes document types' metadata here (an issuer's name: issuer metadata)")
    _proposed(app, app.session.operator().propose_doc_types(
        issuer_id, doc_types, not disallow, [d for d in labels if isinstance(d, TypeDisplay)]))


@propose.command("suspend-member")
@click.argument("account", type=ADDRESS)
@command
def propose_suspend_member(app: App, account: str) -> None:
    """Suspend a verifier or regulator."""
    _proposed(app, app.session.operator().propose_suspend_member(account))


@propose.command("reinstate-member")
@click.argument("account", type=ADDRESS)
@command
def propose_reinstate_member(app: App, account: str) -> None:
    """Reinstate a suspended verifier or regulator."""
    _proposed(app, app.session.operator().propose_reinstate_member(account))


@propose.command("compromised-key")
@click.argument("key", type=ADDRESS)
@click.option("--since", type=int, required=True, help="Unix time from which the key counts as compromised.")
@command
def propose_compromised_key(app: App, key: str, since: int) -> None:
    """Mark an issuer's signing key compromised from a time."""
    _proposed(app, app.session.operator().propose_compromised_key(key, since))


@propose.command("replace-issuer-admin")
@click.argument("issuer_id")
@click.argument("new_admin", type=ADDRESS)
@click.option("--compromised-from", type=int, default=0,
              help="Unix time from which the old admin was in a thief's hands: its revocations, compromise marks, "
                   "key additions and cancellations from then on stop counting (at most 30 days back).")
@command
def propose_replace_issuer_admin(app: App, issuer_id: str, new_admin: str, compromised_from: int) -> None:
    """Replace an issuer's admin account (lost, or stolen: then say since when)."""
    _proposed(app, app.session.operator().propose_replace_issuer_admin(issuer_id, new_admin, compromised_from))


@propose.command("predecessor")
@click.argument("chain_id", type=int)
@click.argument("registry", type=ADDRESS)
@command
def propose_predecessor(app: App, chain_id: int, registry: str) -> None:
    """Record that this registry succeeds REGISTRY on chain CHAIN_ID (a rebuilt network or an earlier version)."""
    _proposed(app, app.session.operator().propose_predecessor(chain_id, registry))


@propose.command("recover-operator")
@click.argument("lost", type=ADDRESS)
@click.argument("replacement", type=ADDRESS)
@command
def propose_recover_operator(app: App, lost: str, replacement: str) -> None:
    """Replace operator LOST, whose key is lost, without its approval: after the other jurisdictions' quorum it
    waits 30 days in public; its jurisdiction's operators (itself included) and its regulators may veto."""
    _proposed(app, app.session.operator().propose_recovery(lost, replacement))


@propose.command("add-operator")
@click.argument("account", type=ADDRESS)
@click.option("--jurisdiction", required=True, help="Code of the jurisdiction it answers for, e.g. HK.")
@command
def propose_add_operator(app: App, account: str, jurisdiction: str) -> None:
    """Add an operator (a new jurisdiction's approval is then needed for every proposal)."""
    _proposed(app, app.session.operator().propose_add_operator(account, jurisdiction))


@propose.command("remove-operator")
@click.argument("account", type=ADDRESS)
@command
def propose_remove_operator(app: App, account: str) -> None:
    """Remove an operator (at least two jurisdictions must keep operators)."""
    _proposed(app, app.session.operator().propose_remove_operator(account))


@propose.command("replace-operator")
@click.argument("old_account", type=ADDRESS)
@click.argument("new_account", type=ADDRESS)
@command
def propose_replace_operator(app: App, old_account: str, new_account: str) -> None:
    """Replace an operator's account, keeping its jurisdiction."""
    _proposed(app, app.session.operator().propose_replace_operator(old_account, new_account))


@propose.command("threshold")
@click.argument("threshold", type=int)
@command
def propose_threshold(app: App, threshold: int) -> None:
    """Change how many approvals a proposal needs (besides one per jurisdiction)."""
    _proposed(app, app.session.operator().propose_threshold(threshold))


@operator.command("approve")
@click.argument("proposal_ids", type=PROPOSAL_ID, nargs=-1, required=True)
@command
def operator_approve(app: App, proposal_ids: tuple[int, ...]) -> None:
    """Approve proposals; the approval that reaches the quorum executes. None is approved if one would be refused."""
    if len(set(proposal_ids)) < len(proposal_ids):
        raise BadInput(f"a proposal is given twice: {' '.join(map(str, proposal_ids))}")
    results = app.session.operator().approve_many(proposal_ids)
    app.emit({str(k): {"executed": v} for k, v in results.items()},
             "\n".join(f"proposal {k}: {'executed' if v else 'approved'}" for k, v in results.items()))


@operator.command("veto")
@click.argument("proposal_id", type=PROPOSAL_ID)
@command
def operator_veto(app: App, proposal_id: int) -> None:
    """Veto a recovery (as an operator of the lost operator's jurisdiction, or as a regulator's account)."""
    app.session.operator().veto(proposal_id)
    app.emit({"proposalId": proposal_id, "vetoed": True}, f"recovery {proposal_id} vetoed")


@operator.command("execute-recovery")
@click.argument("proposal_id", type=PROPOSAL_ID)
@command
def operator_execute_recovery(app: App, proposal_id: int) -> None:
    """Carry out a recovery whose 30-day time lock has passed without a veto."""
    app.session.operator().execute_recovery(proposal_id)
    app.emit({"proposalId": proposal_id, "executed": True}, f"recovery {proposal_id} carried out")


@operator.command("proposals")
@click.option("--all", "show_all", is_flag=True, help="Every proposal ever made, not only the open ones.")
@command
def operator_proposals(app: App, show_all: bool) -> None:
    """List proposals, newest first, with what each does and still needs."""
    found = app.session.operator().proposals(open_only=not show_all)
    table = Table("id", "action", "approvals", "expires")
    for p in found:
        table.add_row(str(p.id), p.action, p.progress, utc_minute(p.expires_at))
    app.emit([p.as_json() for p in found], table if found else
             "no proposal was ever made" if show_all else "no proposal is open (--all lists every one ever made)")


@operator.command("show")
@click.argument("proposal_id", type=PROPOSAL_ID)
@command
def operator_show(app: App, proposal_id: int) -> None:
    """One proposal: its action, proposer, approvals and what it still needs."""
    p = app.session.operator().show(proposal_id)
    table = Table("field", "value")
    for name, value in (("action", p.action), ("kind", p.kind.name.lower()), ("proposer", p.proposer),
                        ("created", utc_minute(p.created_at)), ("expires", utc_minute(p.expires_at)),
                        ("approved by", ", ".join(p.approved_by) or "nobody"), ("status", p.progress)):
        table.add_row(name, value)
    app.emit(p.as_json(), table)
