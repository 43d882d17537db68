"""Signed batch anchors: the happy paths, every refusal, replay and malleability."""

from __future__ import annotations

import pytest
from web3 import Web3

from crossverify import errors
from crossverify.chain.consortium import deploy_consortium
from crossverify.chain.records import ProposalKind, Status
from crossverify.chain.typed_data import Domain, sign
from crossverify.format.codes import doc_type_code, issuer_id_code

from ..conftest import Consortium, admit_issuer, labelled_test_key
from .helpers import only_event

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ROOT = Web3.keccak(text="batch 1")


class TestAnchor:
    @pytest.mark.parametrize("by", ["operator", "admin"])
    def test_anchor_records_and_emits(self, consortium: Consortium, by: str) -> None:
        c, reg = consortium, consortium.registry
        sender = c.guangdong_operator if by == "operator" else c.issuer_admin
        request = c.anchor_request(ROOT, leaf_count=1000)
        receipt = reg.transact(lambda f: f.anchor(request.as_abi(), sign(request, c.domain, c.signing_key)), sender)
        at = c.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert only_event(reg, receipt, "BatchAnchored") == {
            "batchRoot": ROOT, "issuerId": c.issuer_id, "signingKey": c.signing_key.address,
            "docType": c.doc_type, "hashAlg": 1, "leafCount": 1000, "notAfter": request.not_after}
        status = reg.document_status(c.issuer_id, ROOT, b"\x42" * 32)
        assert (status.issuer_id, status.signing_key, status.anchored_at, status.not_after) == (
            c.issuer_id, c.signing_key.address, at, request.not_after)
        assert (status.doc_type, status.hash_alg, status.leaf_count) == (c.doc_type, 1, 1000)
        assert status.issuer_status == Status.ACTIVE and status.issuer_may_issue

    def test_anyone_may_submit_a_signed_request(self, consortium: Consortium) -> None:
        """The signature, its deadline and the issuer's cancellations decide, not who pays the gas."""
        receipt = consortium.anchor(ROOT, sender=consortium.outsider)
        assert only_event(consortium.registry, receipt, "BatchAnchored")["signingKey"] == consortium.signing_key.address

    def test_root_anchored_once(self, consortium: Consortium) -> None:
        consortium.anchor(ROOT)
        with pytest.raises(errors.RegistryRootAlreadyAnchored) as raised:
            consortium.anchor(ROOT, deadline=consortium.now() + 7200)
        assert raised.value.args_by_name == {"batchRoot": ROOT, "issuerId": consortium.issuer_id}

    @pytest.mark.parametrize(
        ("error", "overrides"),
        [
            (errors.RegistryZeroRoot, {"batch_root": b"\0" * 32}),
            (errors.RegistryUnknownHashAlgorithm, {"hash_alg": 0}),
            (errors.RegistryUnknownHashAlgorithm, {"hash_alg": 4}),
            (errors.RegistryZeroLeafCount, {"leaf_count": 0}),
            (errors.RegistryNotAfterPassed, {"not_after": 1}),
            (errors.RegistrySignatureExpired, {"deadline": 1}),
            (errors.RegistryDocTypeNotAllowed, {"doc_type": doc_type_code("INSPOL")}),
        ],
    )
    def test_invalid_requests(self, consortium: Consortium, error: type, overrides: dict) -> None:  # type: ignore[type-arg]
        root = overrides.pop("batch_root", ROOT)
        with pytest.raises(error):
            consortium.anchor(root, **overrides)
        assert not consortium.registry.document_status(consortium.issuer_id, ROOT, b"\0" * 32).anchored

    def test_accepted_hash_algorithms(self, consortium: Consortium) -> None:
        for alg in (1, 2, 3):
            consortium.anchor(Web3.keccak(alg), hash_alg=alg)
            status = consortium.registry.document_status(consortium.issuer_id, Web3.keccak(alg), b"\0" * 32)
            assert status.hash_alg == alg

    def test_suspended_issuer_cannot_anchor(self, consortium: Consortium) -> None:
        consortium.govern(ProposalKind.SUSPEND_ISSUER, consortium.issuer_id)
        with pytest.raises(errors.RegistryIssuerNotActive):
            consortium.anchor(ROOT)


class TestSignatures:
    def test_unknown_signer(self, consortium: Consortium) -> None:
        with pytest.raises(errors.RegistryUnknownKey) as raised:
            consortium.anchor(ROOT, signer=labelled_test_key("not an issuer key"))
        assert raised.value.args_by_name["key"] == labelled_test_key("not an issuer key").address

    def test_signature_for_another_root_fails(self, consortium: Consortium) -> None:
        c = consortium
        signed = c.anchor_request(ROOT)
        tampered = c.anchor_request(Web3.keccak(text="other"), not_after=signed.not_after, deadline=signed.deadline)
        signature = sign(signed, c.domain, c.signing_key)
        with pytest.raises(errors.RegistryUnknownKey):
            c.registry.transact(lambda f: f.anchor(tampered.as_abi(), signature), c.macao_operator)

    def test_replay_on_second_registry_fails(self, consortium: Consortium) -> None:
        c = consortium
        council, other, _ = deploy_consortium(c.w3, c.macao_operator, [(c.macao_operator, "MO"),
                                                                    (c.guangdong_operator, "GD")])
        twin = Consortium(**{**c.__dict__, "consortium": council, "registry": other, "domain": Domain.of(other)})
        admit_issuer(twin, "BNUMMOMX", c.issuer_admin, [c.signing_key], ["DEPCERT"])
        request = c.anchor_request(ROOT)
        signature = sign(request, c.domain, c.signing_key)  # signed for the first registry
        with pytest.raises(errors.RegistryUnknownKey):
            other.transact(lambda f: f.anchor(request.as_abi(), signature), c.macao_operator)
        other.transact(lambda f: f.anchor(request.as_abi(), sign(request, twin.domain, c.signing_key)),
                       c.macao_operator)

    def test_signature_for_another_chain_fails(self, consortium: Consortium) -> None:
        c = consortium
        foreign = Domain(c.domain.name, c.domain.version, c.domain.chain_id + 1, c.domain.verifying_contract)
        request = c.anchor_request(ROOT)
        with pytest.raises(errors.RegistryUnknownKey):
            c.registry.transact(lambda f: f.anchor(request.as_abi(), sign(request, foreign, c.signing_key)),
                                c.macao_operator)

    def test_high_s_signature_refused(self, consortium: Consortium) -> None:
        """An s in the upper half of the curve order is refused before recovery (OpenZeppelin's check)."""
        c = consortium
        request = c.anchor_request(ROOT)
        r, _ = sign(request, c.domain, c.signing_key)
        high_s = (SECP256K1_N // 2 + 1).to_bytes(32, "big")  # top bit clear, so v stays 27
        with pytest.raises(errors.RegistryMalleableSignature) as raised:
            c.registry.transact(lambda f: f.anchor(request.as_abi(), (r, high_s)), c.macao_operator)
        assert raised.value.args_by_name["s"] == high_s

    def test_malleated_twin_does_not_verify(self, consortium: Consortium) -> None:
        """The classic twin (n - s, other v) of a valid signature is not accepted as the issuer's."""
        c = consortium
        request = c.anchor_request(ROOT)
        raw = c.signing_key.sign_message(request.typed_data(c.domain))
        twin_s, twin_v = SECP256K1_N - raw.s, 1 - (raw.v - 27)
        vs = ((twin_v << 255) | twin_s) % 2**256
        with pytest.raises((errors.RegistryMalleableSignature, errors.RegistryUnknownKey)):
            c.registry.transact(
                lambda f: f.anchor(request.as_abi(), (raw.r.to_bytes(32, "big"), vs.to_bytes(32, "big"))),
                c.macao_operator)
        assert not c.registry.document_status(c.issuer_id, ROOT, b"\0" * 32).anchored

    def test_garbage_signature_refused(self, consortium: Consortium) -> None:
        c = consortium
        request = c.anchor_request(ROOT)
        with pytest.raises(errors.RegistryInvalidSignature):
            c.registry.transact(lambda f: f.anchor(request.as_abi(), (b"\0" * 32, b"\0" * 32)), c.macao_operator)


class TestAnchorMany:
    def test_many_in_one_transaction(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        requests = [c.anchor_request(Web3.keccak(i)) for i in range(10)]
        receipt = reg.transact(lambda f: f.anchorMany(
            [r.as_abi() for r in requests], [sign(r, c.domain, c.signing_key) for r in requests]), c.macao_operator)
        assert len(reg.decode_logs(receipt["logs"])) == 10
        triples = [(c.issuer_id, r.batch_root, b"\0" * 32) for r in requests]
        assert all(s.anchored for s in reg.document_statuses(triples))

    def test_gas_grows_in_a_straight_line(self, consortium: Consortium) -> None:
        """Memory an anchor used is reused by the next: without that, expansion adds ~0.4·N² gas, a second
        difference of ~1,300 gas over steps of 40 anchors. Calldata is left out (its cost, 4 gas a zero byte and 16
        any other, follows the signatures' bytes, which change with the chain's time in each request)."""
        c, reg = consortium, consortium.registry

        def estimate(n: int) -> int:
            requests = [c.anchor_request(Web3.keccak(text=f"line {n} {i}")) for i in range(n)]
            receipt = reg.transact(lambda f: f.anchorMany(
                [r.as_abi() for r in requests], [sign(r, c.domain, c.signing_key) for r in requests]),
                c.macao_operator)
            data = bytes(c.w3.eth.get_transaction(receipt["transactionHash"])["input"])
            return int(receipt["gasUsed"]) - sum(4 if byte == 0 else 16 for byte in data)

        few, some, many = estimate(10), estimate(50), estimate(90)
        assert abs((many - some) - (some - few)) < 400

    def test_any_other_failure_reverts_them_all(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        requests = [c.anchor_request(Web3.keccak(i)) for i in range(3)]
        signatures = [sign(r, c.domain, c.signing_key) for r in requests]
        signatures[2] = sign(requests[2], c.domain, labelled_test_key("stranger"))
        with pytest.raises(errors.RegistryUnknownKey):
            reg.transact(lambda f: f.anchorMany([r.as_abi() for r in requests], signatures), c.macao_operator)
        triples = [(c.issuer_id, r.batch_root, b"\0" * 32) for r in requests]
        assert not any(s.anchored for s in reg.document_statuses(triples))

    def test_length_mismatch(self, consortium: Consortium) -> None:
        c = consortium
        request = c.anchor_request(ROOT)
        with pytest.raises(errors.RegistryLengthMismatch):
            c.registry.transact(lambda f: f.anchorMany([request.as_abi()], []), c.macao_operator)

    def test_each_request_anchors_under_its_own_signers_issuer(self, consortium: Consortium) -> None:
        c, reg = consortium, consortium.registry
        other_key = labelled_test_key("other issuer key")
        admit_issuer(c, "OTHERMOMX", c.outsider, [other_key], ["DEPCERT"])
        mine, theirs = c.anchor_request(Web3.keccak(1)), c.anchor_request(Web3.keccak(2))
        receipt = reg.transact(lambda f: f.anchorMany(
            [mine.as_abi(), theirs.as_abi()],
            [sign(mine, c.domain, c.signing_key), sign(theirs, c.domain, other_key)]), c.issuer_admin)
        assert [e.args["issuerId"] for e in reg.decode_logs(receipt["logs"])] == [
            c.issuer_id, issuer_id_code("OTHERMOMX")]
