"""The CLI for operators and issuers, configured by TOML and the environment, on the embedded chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from crossverify import load_bundle
from crossverify.chain.consortium import encode_payload
from crossverify.chain.records import ProposalKind
from crossverify.cli import main
from crossverify.errors import RegistrySignatureCancelled
from crossverify.keys.keystore import write_keystore

from ..conftest import Consortium

PASSWORD = "correct horse battery staple (test only)"


@pytest.fixture
def config(consortium: Consortium, tmp_path: Path) -> Path:
    write_keystore(consortium.signing_key, tmp_path / "keys" / "signer.json", PASSWORD)
    path = tmp_path / "crossverify.toml"
    path.write_text(f"""
[network]
rpc = "embedded"
registry = "{consortium.registry.address}"

[keys]
sender_address = "{consortium.macao_operator}"
signer_keystore = "keys/signer.json"
password_env = "TEST_KEYSTORE_PASSWORD"

[issuer]
id = "BNUMMOMX"
journal = "var/journal.sqlite"
bundles = "var/bundles"
max_batch = 40
""")
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"TEST_KEYSTORE_PASSWORD": PASSWORD, **(env or {})}
    return CliRunner().invoke(main, ["--config", str(config), *args], env=environment, catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_issue_run_status_from_files(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    (tmp_path / "statement.pdf").write_bytes(b"%PDF-1.7 monthly statement")
    certs = [{"reference": f"stmt-{i}", "docType": "DEPCERT", "asOf": consortium.now(),
              "notAfter": consortium.now() + 86400 * 90, "claims": {"holder": f"LEI Ka Ian {i}", "mop": i},
              "attachments": {"statement": "statement.pdf"}} for i in range(100)]
    (tmp_path / "batch.json").write_text(json.dumps(certs))
    assert as_json(run(config, "--json", "issuer", "issue", str(tmp_path / "batch.json"))) == {"journalled": 100}
    report = as_json(run(config, "--json", "issuer", "run"))
    assert (report["sealed"], report["anchored"], report["delivered"], report["transactions"]) == (3, 3, 100, 1)
    assert as_json(run(config, "--json", "issuer", "status")) == {"pending": 0, "delivered": 100}
    bundle = load_bundle((tmp_path / "var" / "bundles" / "BNUMMOMX" / "stmt-7.bundle.json").read_bytes(),
                         attachments={"statement": b"%PDF-1.7 monthly statement"})
    assert bundle.leads_to_root() and bundle.disclosed()["holder"] == "LEI Ka Ian 7"


def test_the_key_the_configuration_signs_with_is_not_retired(consortium: Consortium, config: Path) -> None:
    """Retiring is for ever: the key this configuration signs with is refused before anything is sent (the key
    ceremony switches the configuration to the successor first)."""
    refused = run(config, "issuer", "key", "retire", consortium.signing_key.address.lower())
    assert refused.exit_code == 2 and "switch the configuration to its successor first" in refused.output
    assert consortium.registry.call(lambda f: f.signingKey(consortium.signing_key.address))[2] == 0  # not retired


@pytest.mark.parametrize("command", [["retire"], ["compromised", "--since", "1"]])
def test_retiring_or_reporting_a_key_needs_no_signing_key(config: Path, command: list[str]) -> None:
    """The admin sends these: the signing key was loaded all the same, asking its password (or the HSM's PIN) of
    an operator who may not hold it. Without the password, the command reaches the registry (which knows no such
    key here)."""
    refused = run(config, "issuer", "key", command[0], "0x" + "22" * 20, *command[1:],
                  env={"TEST_KEYSTORE_PASSWORD": None})  # type: ignore[dict-item]
    assert "RegistryUnknownKey" in refused.output and "password" not in refused.output, refused.output


def test_operators_govern_across_invocations(consortium: Consortium, config: Path) -> None:
    created = as_json(run(config, "--json", "operator", "propose", "admit-member", consortium.outsider,
                          "--role", "verifier"))
    listed = as_json(run(config, "--json", "operator", "proposals"))
    assert listed[0]["id"] == created["proposal"] and listed[0]["approvals"] == 1
    assert listed[0]["action"] == f"admit {consortium.outsider} as verifier"
    assert listed[0]["progress"] == "1 of 2 approvals, needs Guangdong"
    guangdong = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": consortium.guangdong_operator}
    approved = as_json(run(config, "--json", "operator", "approve", str(created["proposal"]), env=guangdong))
    assert approved == {str(created["proposal"]): {"executed": True}}
    assert consortium.registry.call(lambda f: f.member(consortium.outsider))[:2] == (1, 1)
    bare = run(config, "operator", "propose", "admit-member", consortium.hong_kong_operator, "--role", "regulator")
    assert bare.exit_code == 2 and "--jurisdiction" in bare.output  # a regulator supervises one jurisdiction
    regulator = as_json(run(config, "--json", "operator", "propose", "admit-member", consortium.hong_kong_operator,
                            "--role", "regulator", "--jurisdiction", "GD"))
    shown = as_json(run(config, "--json", "operator", "show", str(regulator["proposal"])))
    assert shown["action"] == f"admit {consortium.hong_kong_operator} as regulator of Guangdong (GD)"


def test_approving_several_proposals_sends_nothing_if_one_is_refused(consortium: Consortium, config: Path) -> None:
    """'approve 7 999' (an unknown id) or 'approve 7 7' approved 7 and then failed, reporting no approval."""
    proposal = str(as_json(run(config, "--json", "operator", "propose", "admit-member", consortium.outsider,
                               "--role", "verifier"))["proposal"])
    guangdong = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": consortium.guangdong_operator}
    unknown = run(config, "--json", "operator", "approve", proposal, "999", env=guangdong)
    assert unknown.exit_code == 1 and "999" in unknown.output
    assert as_json(run(config, "--json", "operator", "show", proposal))["approvals"] == 1
    twice = run(config, "--json", "operator", "approve", proposal, proposal, env=guangdong)
    assert twice.exit_code == 2 and "twice" in twice.output
    assert as_json(run(config, "--json", "operator", "show", proposal))["approvals"] == 1
    assert as_json(run(config, "--json", "operator", "approve", proposal, env=guangdong)) == {
        proposal: {"executed": True}}


def test_an_operator_change_is_not_approved_among_others_it_would_void(consortium: Consortium, config: Path) -> None:
    """'approve A B', A adding an operator: A's approval passed it, the new epoch voided B, and the command failed on
    B (ConsortiumProposalStale), reporting a refusal though it had changed the operators."""
    c = consortium
    add = str(as_json(run(config, "--json", "operator", "propose", "add-operator", c.hong_kong_operator,
                          "--jurisdiction", "HK"))["proposal"])
    member = str(as_json(run(config, "--json", "operator", "propose", "admit-member", c.outsider, "--role",
                             "verifier"))["proposal"])
    guangdong = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.guangdong_operator}
    refused = run(config, "--json", "operator", "approve", add, member, env=guangdong)
    assert refused.exit_code == 2 and f"proposal {add} changes the operators" in refused.output
    assert [as_json(run(config, "--json", "operator", "show", p))["approvals"] for p in (add, member)] == [1, 1]
    assert as_json(run(config, "--json", "operator", "approve", member, env=guangdong)) == {member: {"executed": True}}


@pytest.mark.parametrize("args", [("compromised-key", "--since", "-1"), ("compromised-key", "--since", str(2**40)),
                                  ("threshold", "300"), ("predecessor", str(2**64)),
                                  ("replace-issuer-admin", "--compromised-from", "-1")])
def test_a_proposal_value_out_of_its_range_is_bad_input(consortium: Consortium, config: Path,
                                                          args: tuple[str, ...]) -> None:
    """A time before 1970 or past uint40, a threshold past 255, a chain id past uint64 crashed in eth-abi
    (ValueOutOfBounds, a traceback) while the payload was encoded."""
    account = consortium.outsider
    kind, *rest = args
    arguments = {"compromised-key": [account, *rest], "threshold": rest, "predecessor": [*rest, account],
                 "replace-issuer-admin": ["BNUMMOMX", account, *rest]}[kind]
    refused = run(config, "operator", "propose", kind, *arguments)
    assert refused.exit_code == 2 and "out of range" in refused.output


@pytest.mark.parametrize("args", [("approve", str(2**256)), ("veto", str(2**256)), ("execute-recovery", str(2**256)),
                                  ("show", str(2**256)), ("deploy", "--threshold", "300"),
                                  ("deploy", "--lifetime", str(2**40))])
def test_an_operator_number_past_its_type_is_bad_input(consortium: Consortium, config: Path,
                                                       args: tuple[str, ...]) -> None:
    """A proposal id past uint256, a threshold past uint8, a lifetime past uint40 crashed in web3's encoding
    (MismatchedABI, Web3TypeError: a traceback)."""
    c = consortium
    operators = ("--operator", f"{c.outsider}@MO", "--operator", f"{c.verifier}@GD") if args[0] == "deploy" else ()
    refused = run(config, "operator", *args, *operators)
    assert refused.exit_code == 2 and "range" in refused.output


def test_showing_an_unknown_proposal_is_a_named_refusal(config: Path) -> None:
    """'operator show 999' (a mistyped id) decoded the empty record as an admission and crashed in eth-abi."""
    shown = run(config, "operator", "show", "999")
    assert shown.exit_code == 1 and "ConsortiumUnknownProposal(proposalId=999)" in shown.output


def test_a_proposal_past_its_time_reads_as_expired(consortium: Consortium, config: Path) -> None:
    """A proposal past its lifetime, or a recovery past its window, can never be carried out; 'show' read "1 of 2
    approvals, needs Guangdong" and "recovery agreed; can be carried out from ..." as if they still could."""
    c = consortium
    member = str(as_json(run(config, "--json", "operator", "propose", "admit-member", c.outsider, "--role",
                             "verifier"))["proposal"])
    recovery = str(as_json(run(config, "--json", "operator", "propose", "recover-operator", c.guangdong_operator,
                               c.w3.eth.accounts[9]))["proposal"])
    passed = str(as_json(run(config, "--json", "operator", "propose", "admit-member", c.w3.eth.accounts[8], "--role",
                             "verifier"))["proposal"])
    run(config, "--json", "operator", "approve", passed, env={"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.guangdong_operator})
    c.travel(7 * 86400 + 10)
    shown = [as_json(run(config, "--json", "operator", "show", p)) for p in (member, recovery, passed)]
    assert [(s["progress"].split(";")[0], s["expired"]) for s in shown] == [
        ("expired: it can no longer be carried out", True), ("recovery agreed", False), ("passed with 2 approvals",
                                                                                      False)]
    c.travel(30 * 86400)
    assert as_json(run(config, "--json", "operator", "show", recovery))["progress"].startswith("expired")


def test_a_jurisdiction_reads_as_its_code(consortium: Consortium, config: Path) -> None:
    """A proposal for jurisdiction code "Macao" (a new jurisdiction, whose only operator would then block every
    proposal) does not read as one for Macao's code MO."""
    c = consortium
    for code in ("MO", "Macao", "MO\u200b"):
        created = as_json(run(config, "--json", "operator", "propose", "add-operator", c.hong_kong_operator,
                              "--jurisdiction", code))
        shown = as_json(run(config, "--json", "operator", "show", str(created["proposal"])))["action"]
        assert shown == f"add operator {c.hong_kong_operator} for " + {
            "MO": "Macao (MO)", "Macao": "'Macao'", "MO\u200b": "'MO\\u200b'"}[code]


def test_an_issuer_id_reads_as_its_bytes(consortium: Consortium, config: Path) -> None:
    """The contract takes any bytes11 for an issuer id: one the command line would not make (a zero-width space, a
    NUL inside) does not read as the issuer it mimics."""
    c = consortium
    lookalike = "BNUMMOMX\u200b".encode()
    c.consortium.transact(lambda f: f.propose(int(ProposalKind.ADMIT_ISSUER), encode_payload(
        ProposalKind.ADMIT_ISSUER, lookalike, b"MO".ljust(32, b"\0"), c.outsider, [], b"\0" * 32, []
    )), c.macao_operator)
    listed = as_json(run(config, "--json", "operator", "proposals"))
    assert listed[0]["action"] == f"admit issuer 'BNUMMOMX\\u200b' in Macao (MO), admin {c.outsider}, may issue no " \
                                  "document types"


def test_the_consortium_grows_from_the_command_line(consortium: Consortium, config: Path) -> None:
    c = consortium
    assert "no proposal is open" in run(config, "operator", "proposals").output  # not an empty table
    created = as_json(run(config, "--json", "operator", "propose", "add-operator", c.hong_kong_operator,
                          "--jurisdiction", "HK"))
    shown = as_json(run(config, "--json", "operator", "show", str(created["proposal"])))
    assert shown["action"] == f"add operator {c.hong_kong_operator} for Hong Kong (HK)"
    assert (shown["approvedBy"], shown["missingJurisdictions"]) == ([c.macao_operator], ["Guangdong"])
    guangdong = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.guangdong_operator}
    run(config, "--json", "operator", "approve", str(created["proposal"]), env=guangdong)
    assert [a for a, _ in c.consortium.operators()] == [c.macao_operator, c.guangdong_operator, c.hong_kong_operator]
    listed = as_json(run(config, "--json", "operator", "proposals", "--all"))
    assert listed[0]["progress"] == "passed with 2 approvals"


def test_the_operators_recover_a_stolen_admin_and_a_lost_operator(consortium: Consortium, config: Path) -> None:
    """The trust rules from the command line: an admin replaced and declared compromised, a predecessor recorded,
    a lost operator's seat recovered after its public wait, and a recovery vetoed."""
    c = consortium
    guangdong = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.guangdong_operator}
    c.travel(3600)
    since = c.now() - 60
    created = as_json(run(config, "--json", "operator", "propose", "replace-issuer-admin", "BNUMMOMX", c.outsider,
                          "--compromised-from", str(since)))
    assert as_json(run(config, "--json", "operator", "show", str(created["proposal"])))["action"].startswith(
        f"replace the admin of issuer BNUMMOMX with {c.outsider}, the old admin compromised from ")
    run(config, "--json", "operator", "approve", str(created["proposal"]), env=guangdong)
    assert c.registry.call(lambda f: f.issuer(c.issuer_id))[2] == c.outsider
    elsewhere = "0x" + "ab" * 20
    created = as_json(run(config, "--json", "operator", "propose", "predecessor", "8853", elsewhere))
    run(config, "--json", "operator", "approve", str(created["proposal"]), env=guangdong)
    assert [tuple(p)[:2] for p in c.registry.call(lambda f: f.predecessors())] == [
        (8853, c.w3.to_checksum_address(elsewhere))]

    new_guangdong = c.w3.eth.accounts[9]
    created = as_json(run(config, "--json", "operator", "propose", "recover-operator", c.guangdong_operator,
                          new_guangdong))
    shown = as_json(run(config, "--json", "operator", "show", str(created["proposal"])))
    assert shown["progress"].startswith("recovery agreed; can be carried out from") and shown["unlockAt"]
    assert shown["approvedBy"] == [c.macao_operator]  # the lost seat counts, but did not approve
    assert run(config, "operator", "execute-recovery", str(created["proposal"])).exit_code == 1
    vetoed = as_json(run(config, "--json", "operator", "veto", str(created["proposal"]), env=guangdong))
    assert vetoed == {"proposalId": created["proposal"], "vetoed": True}
    created = as_json(run(config, "--json", "operator", "propose", "recover-operator", c.guangdong_operator,
                          new_guangdong))
    c.travel(30 * 86400)
    assert as_json(run(config, "--json", "operator", "execute-recovery", str(created["proposal"]))) == {
        "proposalId": created["proposal"], "executed": True}
    assert [a for a, _ in c.consortium.operators()] == [c.macao_operator, new_guangdong]


def test_an_issuer_cancels_its_signed_requests(consortium: Consortium, config: Path) -> None:
    c = consortium
    up_to = c.now() + 3600
    admin = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": c.issuer_admin}
    assert as_json(run(config, "--json", "issuer", "cancel-requests", "--up-to", str(up_to), env=admin)) == {
        "cancelledUpTo": up_to}
    assert c.registry.call(lambda f: f.issuer(c.issuer_id))[5] == up_to
    with pytest.raises(RegistrySignatureCancelled):
        c.anchor(b"\x07" * 32, deadline=up_to)


def test_exit_codes(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    assert run(config, "operator", "approve", "999").exit_code == 1  # the registry refused: named error
    assert "ConsortiumUnknownProposal" in run(config, "operator", "approve", "999").output
    assert run(tmp_path / "missing.toml", "issuer", "status").exit_code == 2
    assert run(config, "issuer", "run", "--max-batch", "-1").exit_code == 2  # not a run that seals nothing
    plain = {"CROSSVERIFY_KEYS_SIGNER_KEYSTORE": "", "CROSSVERIFY_KEYS_SIGNER_PRIVATE_KEY": "0x" + "11" * 32}
    result = run(config, "issuer", "run", env=plain)
    assert result.exit_code == 2 and "development only" in result.output
    wrong = run(config, "issuer", "run", env={"TEST_KEYSTORE_PASSWORD": "wrong"})
    assert wrong.exit_code == 2 and "wrong password" in wrong.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[network]\nrcp = 'typo'\n")
    assert "unknown setting [network] rcp" in run(bad, "issuer", "status").output


def test_keys_new(config: Path, tmp_path: Path) -> None:
    out = as_json(run(config, "--json", "keys", "new", str(tmp_path / "new.json"),
                      env={"CROSSVERIFY_PASSWORD": "x" * 12}))
    assert out["address"].startswith("0x") and (tmp_path / "new.json").exists()
    assert run(config, "keys", "new", str(tmp_path / "new.json"), env={"CROSSVERIFY_PASSWORD": "x"}).exit_code == 2


def test_revoke_by_reference_backup_and_export(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    certs = [{"reference": f"dep-{i}", "docType": "DEPCERT", "notAfter": consortium.now() + 86400,
              "claims": {"holder": f"HO Weng {i}"}} for i in range(5)]
    (tmp_path / "in.json").write_text(json.dumps(certs))
    as_json(run(config, "--json", "issuer", "issue", str(tmp_path / "in.json")))
    as_json(run(config, "--json", "issuer", "run"))
    admin = {"CROSSVERIFY_KEYS_SENDER_ADDRESS": consortium.issuer_admin}

    mistyped = run(config, "issuer", "revoke", "--document", "0x" + "ab" * 32, "--reason", "withdrawn", env=admin)
    assert mistyped.exit_code == 2 and "not in BNUMMOMX's journal; nothing was revoked" in mistyped.output
    assert as_json(run(config, "--json", "issuer", "revoke", "--reference", "dep-2", "--reason", "fraud",
                       env=admin)) == {"revoked": "dep-2", "reason": "fraud"}

    changed = [{**certs[0], "claims": {"holder": "someone else"}}]
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    refused = run(config, "issuer", "issue", str(tmp_path / "changed.json"))
    assert refused.exit_code == 2 and "issued before with other content" in refused.output

    backup = as_json(run(config, "--json", "issuer", "backup", str(tmp_path / "backups" / "journal.sqlite")))
    assert Path(backup["backup"]).stat().st_size > 0
    exported = as_json(run(config, "--json", "issuer", "export-bundles", str(tmp_path / "again")))
    assert exported["exported"] == 5
    original = tmp_path / "var" / "bundles" / "BNUMMOMX" / "dep-3.bundle.json"
    assert (tmp_path / "again" / "dep-3.bundle.json").read_bytes() == original.read_bytes()


def test_structured_logs_carry_no_personal_data(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    certs = [{"reference": f"log-{i}", "docType": "DEPCERT", "notAfter": consortium.now() + 86400,
              "claims": {"holder": f"SIO Man Kit {i}", "account": f"9-101-{i:06d}"}} for i in range(4)]
    (tmp_path / "in.json").write_text(json.dumps(certs))
    run(config, "issuer", "issue", str(tmp_path / "in.json"))
    result = run(config, "--log-json", "issuer", "run")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # JSON lines only: no progress bars
    assert {"anchors sent", "anchors mined", "bundles delivered"} <= {line["message"] for line in lines}
    assert all({"time", "level", "logger"} <= set(line) for line in lines)
    salts = [c["salt"] for p in (tmp_path / "var" / "bundles" / "BNUMMOMX").glob("*.json")
             for c in json.loads(p.read_text())["claims"]]
    for secret in ["SIO Man Kit", "9-101-", *salts]:
        assert secret not in result.stderr


def test_pickup_offer_and_status(consortium: Consortium, config: Path, tmp_path: Path) -> None:
    entry = {"reference": "DEP-PICK", "docType": "DEPCERT", "notAfter": consortium.now() + 86400,
             "claims": {"holder_name": "LEI Ka Ian"}}
    (tmp_path / "pickup.json").write_text(json.dumps([entry]))
    [offered] = as_json(run(config, "--json", "issuer", "pickup", "offer", str(tmp_path / "pickup.json")))
    assert offered["reference"] == "DEP-PICK" and len(offered["code"]) == 19
    assert as_json(run(config, "--json", "issuer", "pickup", "status", "DEP-PICK"))["state"] == "offered"
    assert run(config, "issuer", "pickup", "status", "NOPE").exit_code == 2
    (tmp_path / "bound.json").write_text(json.dumps({**entry, "reference": "DEP-B",
                                                     "claims": {"cnf": {"jwk": {}}}}))
    refused = run(config, "issuer", "pickup", "offer", str(tmp_path / "bound.json"))
    assert refused.exit_code == 2 and "resident's key" in refused.output


def test_an_issuer_rebinds_its_journal_to_a_recorded_successor(consortium: Consortium, config: Path,
                                                               tmp_path: Path) -> None:
    from ..issuer.test_succession import successor

    certs = [{"reference": f"dep-{i}", "docType": "DEPCERT", "asOf": consortium.now(),
              "notAfter": consortium.now() + 86400 * 90, "claims": {"holder": f"HO Sin Ieng {i}"}} for i in range(3)]
    (tmp_path / "batch.json").write_text(json.dumps(certs))
    as_json(run(config, "--json", "issuer", "issue", str(tmp_path / "batch.json")))
    as_json(run(config, "--json", "issuer", "run"))
    stranger, new = successor(consortium, record=False), successor(consortium)
    moved = tmp_path / "moved.toml"
    moved.write_text(config.read_text().replace(consortium.registry.address, stranger.registry.address))
    refused = run(moved, "issuer", "rebind")
    assert refused.exit_code == 1 and "SuccessionNotRecorded" in refused.output
    moved.write_text(config.read_text().replace(consortium.registry.address, new.registry.address))
    report = as_json(run(moved, "--json", "issuer", "rebind"))
    assert report["from"]["registry"] == consortium.registry.address
    assert (report["to"]["registry"], report["anchored"], report["delivered"]) == (new.registry.address, 1, 3)
    said = run(moved, "issuer", "rebind").output
    assert said.startswith("journal already belongs to this registry: 0 batches anchored"), said
