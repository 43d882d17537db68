"""The circulation contract: sealed receipts, sealed disputes, and the keys they are sealed to, role by role."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from web3 import Web3

from crossverify import errors
from crossverify.chain.consortium import encode_payload
from crossverify.chain.records import ProposalKind, Role
from crossverify.format.codes import jurisdiction_code
from crossverify.sealing import Kem, RegulatorKey, issuer_answer_key

from ..conftest import Consortium, labelled_regulator_key

C1, C2 = Web3.keccak(text="commitment 1"), Web3.keccak(text="commitment 2")
SEALED = b"\x03" + bytes(200)
X25519_KEY = bytes(range(32))
ANSWER_KEY = issuer_answer_key(labelled_regulator_key("BNU sealing"))


def _events(c: Consortium, receipt: object, name: str) -> list[dict[str, object]]:
    """The circulation events of a receipt named ``name``, arrays as lists."""
    return [{k: list(v) if isinstance(v, tuple) else v for k, v in e.args.items()}
            for e in c.circulation.decode_logs(receipt["logs"]) if e.name == name]  # type: ignore[index]


def test_deployed_beside_the_registry_under_its_consortium(consortium: Consortium) -> None:
    c = consortium
    assert c.circulation.registry_address() == c.registry.address
    assert c.circulation.call(lambda f: f.consortium()) == c.consortium.address
    keys = c.circulation.regulator_keys()
    assert keys.epoch == 1
    assert keys.keys == tuple(k.public_key.raw for k in c.regulator_keys)
    assert keys.jurisdictions == (jurisdiction_code("MO"), jurisdiction_code("GD"))


def test_zero_registry_is_refused(consortium: Consortium) -> None:
    from crossverify.chain.registry import deploy_contract

    with pytest.raises(errors.CirculationZeroAddress):
        deploy_contract(consortium.w3, "Circulation", ["0x" + "00" * 20], consortium.macao_operator, {})


# ----------------------------------------------------------------------------------------------------------
# Regulator keys: by consortium quorum only
# ----------------------------------------------------------------------------------------------------------


def test_keys_change_by_quorum_with_a_new_epoch(consortium: Consortium) -> None:
    c = consortium
    new = [labelled_regulator_key("AMCM 2"), labelled_regulator_key("PBoC 2"), labelled_regulator_key("HKMA")]
    receipt = c.set_regulator_keys(new, ["MO", "GD", "HK"])
    [changed] = _events(c, receipt, "RegulatorKeysChanged")
    assert changed["epoch"] == 2
    assert changed["keys"] == [k.public_key.raw for k in new]
    assert changed["jurisdictions"] == [jurisdiction_code(j) for j in ("MO", "GD", "HK")]
    assert changed["proposalId"] == c.consortium.call(lambda f: f.proposalCount())
    assert c.circulation.regulator_keys().epoch == 2


def test_one_jurisdiction_alone_cannot_change_keys(consortium: Consortium) -> None:
    c = consortium
    c.propose(ProposalKind.SET_REGULATOR_KEYS, [X25519_KEY], [jurisdiction_code("MO")])
    assert c.circulation.regulator_keys().epoch == 1  # proposed, not carried out


@pytest.mark.parametrize("who", ["macao_operator", "verifier", "outsider", "issuer_admin"])
def test_nobody_but_the_consortium_sets_keys(consortium: Consortium, who: str) -> None:
    c = consortium
    with pytest.raises(errors.CirculationNotConsortium):
        c.circulation.transact(lambda f: f.setRegulatorKeys([X25519_KEY], [jurisdiction_code("MO")], 1),
                               getattr(c, who))


@pytest.mark.parametrize(("keys", "jurisdictions", "error"), [
    ([], [], errors.CirculationInvalidRegulatorKeys),
    ([X25519_KEY], ["MO", "GD"], errors.CirculationInvalidRegulatorKeys),
    ([X25519_KEY, X25519_KEY], ["MO", "GD"], errors.CirculationInvalidRegulatorKeys),
    ([X25519_KEY], [None], errors.CirculationInvalidRegulatorKeys),
    ([bytes(31)], ["MO"], errors.CirculationInvalidKey),
    ([X25519_KEY, bytes(1216)], ["MO", "GD"], errors.CirculationInvalidKey),
    ([bytes([i]) * 32 for i in range(17)], ["MO"] * 17, errors.CirculationInvalidRegulatorKeys),
])
def test_bad_key_sets_are_refused_when_proposed(consortium: Consortium, keys: list[bytes],
                                                jurisdictions: list[str | None], error: type[Exception]) -> None:
    c = consortium
    codes = [jurisdiction_code(j) if j else bytes(32) for j in jurisdictions]
    with pytest.raises(error):
        c.propose(ProposalKind.SET_REGULATOR_KEYS, keys, codes)


def test_the_circulation_contract_is_fixed_at_deployment(consortium: Consortium) -> None:
    """The consortium sets regulator keys on the one circulation contract it was deployed with, never on an
    address a proposal names; a circulation contract the consortium does not name cannot be deployed beside it."""
    from crossverify.chain.registry import deploy_contract

    c = consortium
    assert c.consortium.circulation_address() == c.circulation.address
    assert c.circulation.call(lambda f: f.consortium()) == c.consortium.address
    with pytest.raises(errors.CirculationConsortiumMismatch):
        deploy_contract(c.w3, "Circulation", [c.registry.address], c.outsider, {})
    with pytest.raises(errors.ConsortiumZeroAddress):
        deploy_contract(c.w3, "Consortium", [c.registry.address, "0x" + "00" * 20,
                                             [(c.macao_operator, jurisdiction_code("MO"))], 0, 86400], c.outsider, {})
    stale = encode_payload(ProposalKind.ADMIT_MEMBER, c.outsider, 1, bytes(32))  # any payload but keys and codes
    with pytest.raises(errors.TransactionFailed):
        c.consortium.transact(lambda f: f.propose(int(ProposalKind.SET_REGULATOR_KEYS), stale), c.macao_operator)


def test_hybrid_keys_are_accepted(consortium: Consortium) -> None:
    c = consortium
    keys = [RegulatorKey.generate(Kem.MLKEM768_X25519) for _ in range(2)]
    c.set_regulator_keys(keys, ["MO", "GD"])
    assert [len(k) for k in c.circulation.regulator_keys().keys] == [1216, 1216]


# ----------------------------------------------------------------------------------------------------------
# Issuer sealing keys: by the issuer's admin only
# ----------------------------------------------------------------------------------------------------------


def test_issuer_admin_registers_the_issuers_keys(consortium: Consortium) -> None:
    c = consortium
    receipt = c.circulation.set_issuer_keys(c.issuer_id, X25519_KEY, ANSWER_KEY, c.issuer_admin)
    assert _events(c, receipt, "IssuerKeysSet") == [
        {"issuerId": c.issuer_id, "sealingKey": X25519_KEY, "answerKey": ANSWER_KEY}]
    assert c.circulation.issuer_sealing_key(c.issuer_id) == X25519_KEY
    assert c.circulation.issuer_answer_key(c.issuer_id) == ANSWER_KEY


@pytest.mark.parametrize("who", ["outsider", "verifier", "macao_operator"])
def test_only_the_issuers_admin_registers_its_key(consortium: Consortium, who: str) -> None:
    c = consortium
    with pytest.raises(errors.CirculationNotIssuerAdmin):
        c.circulation.set_issuer_keys(c.issuer_id, X25519_KEY, ANSWER_KEY, getattr(c, who))


def test_a_suspended_issuer_cannot_register_a_key(consortium: Consortium) -> None:
    c = consortium
    c.govern(ProposalKind.SUSPEND_ISSUER, c.issuer_id)
    with pytest.raises(errors.CirculationNotIssuerAdmin):
        c.circulation.set_issuer_keys(c.issuer_id, X25519_KEY, ANSWER_KEY, c.issuer_admin)


@pytest.mark.parametrize(("sealing", "answer"), [
    (bytes(33), ANSWER_KEY), (X25519_KEY, ANSWER_KEY[:63]), (X25519_KEY, bytes(64)),
    (X25519_KEY, ANSWER_KEY[:63] + bytes([ANSWER_KEY[63] ^ 1])), (X25519_KEY, b"\xff" * 64),
])
def test_issuer_keys_are_checked(consortium: Consortium, sealing: bytes, answer: bytes) -> None:
    """A sealing key of a known length, an answer key on secp256k1 (not zero, not off the curve, not beyond the
    field)."""
    with pytest.raises(errors.CirculationInvalidKey):
        consortium.circulation.set_issuer_keys(consortium.issuer_id, sealing, answer, consortium.issuer_admin)


# ----------------------------------------------------------------------------------------------------------
# Sealed receipts
# ----------------------------------------------------------------------------------------------------------


def test_verifier_records_sealed_receipts_in_one_event(consortium: Consortium) -> None:
    c = consortium
    receipt = c.circulation.record([C1, C2], SEALED, c.verifier)
    assert _events(c, receipt, "ReceiptsSealed") == [{
        "verifier": c.verifier, "keyEpoch": 1, "commitments": [C1, C2], "ciphertext": SEALED}]
    assert len(receipt["logs"]) == 1


@pytest.mark.parametrize("who", ["outsider", "regulator", "macao_operator", "issuer_admin"])
def test_only_active_verifiers_record(consortium: Consortium, who: str) -> None:
    c = consortium
    with pytest.raises(errors.CirculationNotVerifier):
        c.circulation.record([C1], SEALED, getattr(c, who))


def test_a_suspended_verifier_cannot_record_or_dispute(consortium: Consortium) -> None:
    c = consortium
    c.govern(ProposalKind.SUSPEND_MEMBER, c.verifier)
    with pytest.raises(errors.CirculationNotVerifier):
        c.circulation.record([C1], SEALED, c.verifier)
    with pytest.raises(errors.CirculationNotVerifier):
        c.circulation.open_dispute(Account.create().address, SEALED, c.verifier)


@pytest.mark.parametrize(("commitments", "ciphertext", "error"), [
    ([], SEALED, errors.CirculationBatchShape),
    ([C1, C2], b"", errors.CirculationBatchShape),
    ([C1, bytes(32)], SEALED, errors.CirculationEmptyReceipt),
])
def test_malformed_batches_are_refused(consortium: Consortium, commitments: list[bytes], ciphertext: bytes,
                                       error: type[Exception]) -> None:
    with pytest.raises(error):
        consortium.circulation.record(commitments, ciphertext, consortium.verifier)


def test_nothing_is_sealed_before_regulator_keys_exist(consortium: Consortium) -> None:
    from crossverify.chain.consortium import deploy_consortium
    from crossverify.consortium.operator import OperatorClient

    c = consortium
    council, registry, fresh = deploy_consortium(c.w3, c.outsider, [(c.macao_operator, "MO"),
                                                                    (c.guangdong_operator, "GD")])
    proposal = OperatorClient(registry, c.macao_operator, council).propose_admit_member(c.verifier, Role.VERIFIER)
    OperatorClient(registry, c.guangdong_operator, council).approve(proposal)
    assert fresh.regulator_keys().epoch == 0
    with pytest.raises(errors.CirculationNoRegulatorKeys):
        fresh.record([C1], SEALED, c.verifier)
    with pytest.raises(errors.CirculationNoRegulatorKeys):
        fresh.open_dispute(Account.create().address, SEALED, c.verifier)


def test_receipts_write_no_storage(consortium: Consortium) -> None:
    """Recording the same commitment twice is not refused: receipts are events only (see the contract's notes);
    the regulators keep the earlier of two records of one commitment."""
    c = consortium
    c.circulation.record([C1], SEALED, c.verifier)
    receipt = c.circulation.record([C1], SEALED, c.verifier)
    assert receipt["gasUsed"] < 45_000


# ----------------------------------------------------------------------------------------------------------
# Disputes
# ----------------------------------------------------------------------------------------------------------


def test_dispute_opened_and_answered_once_by_its_answer_key(consortium: Consortium) -> None:
    c = consortium
    key = Account.create()
    dispute_id, receipt = c.circulation.open_dispute(key.address, SEALED, c.verifier)
    assert dispute_id == Web3.keccak(abi_encode(["address", "address"], [c.verifier, key.address]))
    assert _events(c, receipt, "DisputeOpened") == [
        {"disputeId": dispute_id, "verifier": c.verifier, "keyEpoch": 1, "ciphertext": SEALED}]
    info = c.circulation.dispute(dispute_id)
    assert info.answer_key == key.address and info.opened_at > 0 and not info.answered
    # anyone may relay the answer: here the outsider, so the issuer's own accounts stay out of it
    answered = c.circulation.answer_dispute(dispute_id, b"answer", key, c.outsider)
    assert _events(c, answered, "DisputeAnswered") == [
        {"disputeId": dispute_id, "keyEpoch": 1, "ciphertext": b"answer"}]
    assert c.circulation.dispute(dispute_id).answered
    with pytest.raises(errors.CirculationDisputeAnswered):
        c.circulation.answer_dispute(dispute_id, b"second answer", key, c.outsider)


def test_an_answer_signed_by_another_key_is_refused(consortium: Consortium) -> None:
    c = consortium
    key, intruder = Account.create(), Account.create()
    dispute_id, _ = c.circulation.open_dispute(key.address, SEALED, c.verifier)
    with pytest.raises(errors.CirculationAnswerNotAuthorised):
        c.circulation.answer_dispute(dispute_id, b"forged", intruder, c.issuer_admin)


def test_a_front_runner_cannot_swap_the_answer(consortium: Consortium) -> None:
    """The signature covers the ciphertext: a copy of the signed answer with other bytes does not pass."""
    c = consortium
    key = Account.create()
    dispute_id, _ = c.circulation.open_dispute(key.address, SEALED, c.verifier)
    signature = c.circulation.answer_signature(dispute_id, b"genuine answer", key)
    with pytest.raises(errors.CirculationAnswerNotAuthorised):
        c.circulation.transact(lambda f: f.answerDispute(dispute_id, b"swapped", signature), c.outsider)
    other_id, _ = c.circulation.open_dispute(Account.create().address, SEALED, c.verifier)
    with pytest.raises(errors.CirculationAnswerNotAuthorised):  # nor for another dispute
        c.circulation.transact(lambda f: f.answerDispute(other_id, b"genuine answer", signature), c.outsider)


def test_unknown_dispute_and_empty_inputs(consortium: Consortium) -> None:
    c = consortium
    key = Account.create()
    with pytest.raises(errors.CirculationUnknownDispute):
        c.circulation.answer_dispute(Web3.keccak(text="nothing"), b"answer", key, c.outsider)
    with pytest.raises(errors.CirculationEmptyDispute):
        c.circulation.open_dispute(key.address, b"", c.verifier)
    with pytest.raises(errors.CirculationEmptyDispute):
        c.circulation.open_dispute("0x" + "00" * 20, SEALED, c.verifier)
    dispute_id, _ = c.circulation.open_dispute(key.address, SEALED, c.verifier)
    with pytest.raises(errors.CirculationEmptyDispute):
        c.circulation.answer_dispute(dispute_id, b"", key, c.outsider)


def test_a_dispute_cannot_be_opened_twice_or_squatted(consortium: Consortium) -> None:
    """The id binds the opening verifier: another verifier replaying the answer key opens its own dispute."""
    c = consortium
    key = Account.create()
    dispute_id, _ = c.circulation.open_dispute(key.address, SEALED, c.verifier)
    with pytest.raises(errors.CirculationDisputeExists):
        c.circulation.open_dispute(key.address, SEALED, c.verifier)
    from crossverify.chain.records import Role

    c.govern(ProposalKind.ADMIT_MEMBER, c.outsider, Role.VERIFIER, bytes(32))
    other_id, _ = c.circulation.open_dispute(key.address, SEALED, c.outsider)
    assert other_id != dispute_id


@pytest.mark.parametrize("who", ["outsider", "regulator", "issuer_admin"])
def test_only_active_verifiers_open_disputes(consortium: Consortium, who: str) -> None:
    c = consortium
    with pytest.raises(errors.CirculationNotVerifier):
        c.circulation.open_dispute(Account.create().address, SEALED, getattr(c, who))


def test_keys_changed_after_a_dispute_tag_the_answer_with_the_new_epoch(consortium: Consortium) -> None:
    c = consortium
    key = Account.create()
    dispute_id, _ = c.circulation.open_dispute(key.address, SEALED, c.verifier)
    c.set_regulator_keys([labelled_regulator_key("AMCM 2"), labelled_regulator_key("PBoC 2")], ["MO", "GD"])
    answered = c.circulation.answer_dispute(dispute_id, b"answer", key, c.outsider)
    assert _events(c, answered, "DisputeAnswered")[0]["keyEpoch"] == 2
