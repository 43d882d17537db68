"""A consortium operator: deploy, propose and approve governance changes, read proposals as text, relay signed
requests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from web3 import Web3
from web3.types import TxReceipt

from ..chain.circulation import CirculationContract
from ..chain.connection import chain_time
from ..chain.consortium import (
    DEFAULT_PROPOSAL_LIFETIME,
    PAYLOAD_TYPES,
    ConsortiumContract,
    ProposalInfo,
    deploy_consortium,
    encode_payload,
)
from ..chain.records import ProposalKind, Role
from ..chain.registry import Registry
from ..chain.transactions import Sender, sender_address
from ..chain.typed_data import AnchorRequest, RevocationRequest
from ..errors import InvalidProposal
from ..format.codes import code_name, doc_type_code, issuer_id_code, jurisdiction_code
from ..format.encoding import to_hex, utc_time
from ..format.metadata import NONE, Display, IssuerDisplay, TypeDisplay, standard_digest
from ..format.suite import Suite

#: Proposals that start a new epoch when they pass, voiding every other proposal still open.
EPOCH_KINDS = frozenset({ProposalKind.ADD_OPERATOR, ProposalKind.REMOVE_OPERATOR, ProposalKind.REPLACE_OPERATOR,
                         ProposalKind.SET_THRESHOLD})

#: How jurisdiction codes read in proposals; other codes are shown as they are.
JURISDICTION_NAMES = {"MO": "Macao", "GD": "Guangdong", "HK": "Hong Kong", "SZ": "Shenzhen"}


def jurisdiction_name(code: bytes | str) -> str:
    text = code if isinstance(code, str) else code_name(code)
    return JURISDICTION_NAMES.get(text, text)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal as an operator reads it: what it does, in words, and how far it is from passing."""

    id: int
    kind: ProposalKind
    action: str
    proposer: str
    created_at: int
    expires_at: int
    approvals: int
    approved_by: tuple[str, ...]
    threshold: int
    missing_jurisdictions: tuple[str, ...]
    executed: bool
    stale: bool
    unlock_at: int = 0
    vetoed: bool = False
    #: Past its lifetime, or for a recovery that met its quorum, past the lifetime after its unlock: never carried out.
    expired: bool = False

    @property
    def progress(self) -> str:
        """E.g. ``"1 of 2 approvals, needs Guangdong"``."""
        if self.executed:
            return f"passed with {self.approvals} approvals"
        if self.vetoed:
            return "vetoed: the recovery will not happen"
        if self.stale:
            return "void: the operators changed since it was made; propose again"
        if self.expired:
            return "expired: it can no longer be carried out; propose again"
        if self.unlock_at:
            return f"recovery agreed; can be carried out from {utc_time(self.unlock_at)} unless vetoed"
        needs = f", needs {' and '.join(self.missing_jurisdictions)}" if self.missing_jurisdictions else ""
        return f"{self.approvals} of {self.threshold} approvals{needs}"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.name.lower(), "action": self.action, "proposer": self.proposer,
                "createdAt": self.created_at, "expiresAt": self.expires_at, "approvals": self.approvals,
                "approvedBy": list(self.approved_by), "threshold": self.threshold,
                "missingJurisdictions": list(self.missing_jurisdictions), "executed": self.executed,
                "stale": self.stale, "unlockAt": self.unlock_at or None, "vetoed": self.vetoed, "expired": self.expired,
                "progress": self.progress}


def describe(kind: ProposalKind, payload: bytes) -> str:
    """A proposal's action in words: which account, which role, which types, which keys and metadata digests (whole,
    as the issuer publishes them)."""
    v = abi_decode(list(PAYLOAD_TYPES[kind]), payload)
    if kind is ProposalKind.ADMIT_ISSUER:
        types = ", ".join(_code(t) for t in v[3]) or "no document types"
        name = f"; its name {to_hex(v[4])}" if v[4] != NONE else ""
        return (f"admit issuer {_code(v[0])} in {_jurisdiction(v[1])}, admin {_addr(v[2])}, may issue {types}"
                f"{name}{_labels(v[5], v[3])}")
    if kind in (ProposalKind.SUSPEND_ISSUER, ProposalKind.REINSTATE_ISSUER):
        return f"{kind.name.split('_')[0].lower()} issuer {_code(v[0])}"
    if kind is ProposalKind.SET_DOC_TYPES:
        verb = "allow" if v[2] else "disallow"
        return f"{verb} issuer {_code(v[0])} to issue {', '.join(_code(t) for t in v[1])}{_labels(v[3], v[1])}"
    if kind is ProposalKind.ADMIT_MEMBER:
        of = f" of {_jurisdiction(v[2])}" if v[2] != NONE else ""
        return f"admit {_addr(v[0])} as {Role(v[1]).name.lower()}{of}"
    if kind in (ProposalKind.SUSPEND_MEMBER, ProposalKind.REINSTATE_MEMBER):
        return f"{kind.name.split('_')[0].lower()} member {_addr(v[0])}"
    if kind is ProposalKind.COMPROMISE_KEY:
        return f"mark signing key {_addr(v[0])} compromised from {utc_time(v[1])}"
    if kind is ProposalKind.REPLACE_ISSUER_ADMIN:
        stolen = f", the old admin compromised from {utc_time(v[2])}" if v[2] else ""
        return f"replace the admin of issuer {_code(v[0])} with {_addr(v[1])}{stolen}"
    if kind is ProposalKind.RECORD_PREDECESSOR:
        return f"record that this registry succeeds registry {_addr(v[1])} on chain {v[0]}"
    if kind is ProposalKind.RECOVER_OPERATOR:
        return (f"recover the seat of operator {_addr(v[0])}, which cannot approve, for {_addr(v[1])} (after a "
                "public time lock; its jurisdiction's operators and regulators may veto)")
    if kind is ProposalKind.ADD_OPERATOR:
        return f"add operator {_addr(v[0])} for {_jurisdiction(v[1])}"
    if kind is ProposalKind.REMOVE_OPERATOR:
        return f"remove operator {_addr(v[0])}"
    if kind is ProposalKind.REPLACE_OPERATOR:
        return f"replace operator {_addr(v[0])} with {_addr(v[1])}"
    if kind is ProposalKind.SET_REGULATOR_KEYS:
        keys = ", ".join(f"{_jurisdiction(j)} key 0x{k.hex()}" for k, j in zip(v[0], v[1], strict=False))
        return f"set the regulators' sealing keys: {keys}"
    return f"require {v[0]} approvals (and one from every jurisdiction)"


def metadata_digests(issuer_id: str, doc_types: Sequence[str], metadata: Iterable[Display],
                     suite: Suite = Suite.STANDARD) -> tuple[bytes, list[bytes]]:
    """The digests (in the deployment's ``suite``) an admission registers: the issuer's name's (zero: none given)
    and one per document type (the given metadata's, else the standard type's, else zero). Metadata for another
    issuer or type is refused."""
    name, types = NONE, {t: standard_digest(t, suite) for t in doc_types}
    for display in metadata:
        if isinstance(display, IssuerDisplay):
            if display.issuer != issuer_id:
                raise ValueError(f"the metadata names issuer {display.issuer}, not {issuer_id}")
            name = display.digest_in(suite)
        elif display.doc_type not in types:
            raise ValueError(f"metadata for {display.doc_type}, which is not among {', '.join(doc_types)}")
        else:
            types[display.doc_type] = display.digest_in(suite)
    return name, [types[t] for t in doc_types]


def _labels(digests: Sequence[bytes], doc_types: Sequence[bytes]) -> str:
    named = [f"{_code(t)} {to_hex(d)}" for t, d in zip(doc_types, digests, strict=True) if d != NONE]
    return f"; labels for {', '.join(named)}" if named else ""


def _code(code: bytes) -> str:
    """An issuer id or document type in a proposal's action, so that no code reads as another: as it is if printable
    ASCII (as the command line makes them), else quoted with the unprintable escaped, or in hex if not UTF-8."""
    return _shown(code, lambda text: text if text.isascii() and text.isprintable() and not {" ", "'"} & set(text)
                  else None)


def _jurisdiction(code: bytes) -> str:
    """A jurisdiction in a proposal's action, so that no code reads as another: its name and code (``Macao (MO)``),
    else the code quoted with anything unprintable escaped (``'Macao'`` is not MO), or in hex if not UTF-8."""
    return _shown(code, lambda text: f"{JURISDICTION_NAMES[text]} ({text})" if text in JURISDICTION_NAMES else None)


def _shown(code: bytes, plainly: Callable[[str], str | None]) -> str:
    """A code (zero-padded bytes) as ``plainly`` writes its text, else that text quoted with the unprintable escaped,
    or in hex if it is not UTF-8."""
    raw = code.rstrip(b"\0")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return to_hex(raw)
    return plainly(text) or ascii(text)


def _addr(value: str) -> str:
    return str(Web3.to_checksum_address(value))


#: A signed request's signature: EIP-2098 ``(r, vs)``, or SM2's ``(r, s, key address)`` in the GM suite.
Signed = tuple[bytes, bytes] | tuple[bytes, bytes, str]


class OperatorClient:
    """What one operator does. Proposals pass in the approval that meets the quorum: the threshold, and an
    approval from every jurisdiction that has an operator."""

    def __init__(self, registry: Registry, sender: Sender, consortium: ConsortiumContract | None = None,
                 circulation: CirculationContract | None = None) -> None:
        self.registry = registry
        self.sender = sender
        self.consortium = consortium or ConsortiumContract.at(registry.w3, registry.consortium_address(),
                                                              registry.tx_params)
        self.circulation = circulation

    @classmethod
    def deploy(cls, w3: Web3, sender: Sender, operators: Sequence[tuple[str, str]], threshold: int = 0,
               proposal_lifetime: int = DEFAULT_PROPOSAL_LIFETIME,
               tx_params: dict[str, Any] | None = None, suite: Suite = Suite.STANDARD,
               sm2_verifier: str | None = None) -> OperatorClient:
        """Deploy a consortium of ``(account, jurisdiction)`` operators, its registry and the circulation contract
        beside it (``threshold=0``: all), in crypto ``suite``, for ever (a GM registry verifies SM2 through
        ``sm2_verifier``, or through an ``SM2Verifier`` deployed first)."""
        consortium, registry, circulation = deploy_consortium(w3, sender, operators, threshold, proposal_lifetime,
                                                              tx_params, suite, sm2_verifier)
        return cls(registry, sender, consortium, circulation)

    # -------------------------------------------------------------------------------------------------------
    # Proposing and approving
    # -------------------------------------------------------------------------------------------------------

    def propose(self, kind: ProposalKind, *values: Any) -> int:
        """Propose ``kind`` with its payload values; returns the proposal id (this operator's approval counts)."""
        return self.consortium.propose(kind, encode_payload(kind, *values), self.sender)

    def propose_admit_issuer(self, issuer_id: str, jurisdiction: str, admin: str, doc_types: Sequence[str],
                             metadata: Iterable[Display] = ()) -> int:
        """Admit an issuer with its admin and document types; its admin then adds its signing keys. ``metadata``:
        the issuer's name and its types' display metadata, whose digests the registry keeps; a type given none
        gets the standard metadata crossverify ships for it, if any."""
        name, digests = metadata_digests(issuer_id, doc_types, metadata, self.registry.crypto_suite())
        return self.propose(ProposalKind.ADMIT_ISSUER, issuer_id_code(issuer_id), jurisdiction_code(jurisdiction),
                            admin, [doc_type_code(t) for t in doc_types], name, digests)

    def propose_suspend_issuer(self, issuer_id: str) -> int:
        return self.propose(ProposalKind.SUSPEND_ISSUER, issuer_id_code(issuer_id))

    def propose_reinstate_issuer(self, issuer_id: str) -> int:
        return self.propose(ProposalKind.REINSTATE_ISSUER, issuer_id_code(issuer_id))

    def propose_doc_types(self, issuer_id: str, doc_types: Sequence[str], allowed: bool,
                          metadata: Iterable[TypeDisplay] = ()) -> int:
        """Allow or disallow document types; an allowed type's display metadata is registered as in
        :meth:`propose_admit_issuer` (a disallowed type keeps its labels: residents still hold its documents)."""
        _, digests = (metadata_digests(issuer_id, doc_types, metadata, self.registry.crypto_suite()) if allowed
                      else (NONE, [NONE] * len(doc_types)))
        return self.propose(ProposalKind.SET_DOC_TYPES, issuer_id_code(issuer_id),
                            [doc_type_code(t) for t in doc_types], allowed, digests)

    def propose_admit_member(self, account: str, role: Role, jurisdiction: str | None = None) -> int:
        """Admit a verifier or a regulator; a regulator names the jurisdiction it supervises (the only
        jurisdiction whose operator recoveries it may veto), a verifier may name its own."""
        code = jurisdiction_code(jurisdiction) if jurisdiction is not None else NONE
        return self.propose(ProposalKind.ADMIT_MEMBER, account, int(role), code)

    def propose_suspend_member(self, account: str) -> int:
        return self.propose(ProposalKind.SUSPEND_MEMBER, account)

    def propose_reinstate_member(self, account: str) -> int:
        return self.propose(ProposalKind.REINSTATE_MEMBER, account)

    def propose_compromised_key(self, key: str, since: int) -> int:
        return self.propose(ProposalKind.COMPROMISE_KEY, key, since)

    def propose_replace_issuer_admin(self, issuer_id: str, new_admin: str, compromised_from: int = 0) -> int:
        """Replace an issuer's admin account; with ``compromised_from``, the old admin's revocations, compromise
        marks, key additions and cancellations from that moment on stop counting (at most 30 days back)."""
        return self.propose(ProposalKind.REPLACE_ISSUER_ADMIN, issuer_id_code(issuer_id), new_admin, compromised_from)

    def propose_predecessor(self, chain_id: int, registry: str) -> int:
        """Record that this registry succeeds ``registry`` on chain ``chain_id`` (a rebuilt network, or an earlier
        version): bundles naming it verify here once their roots are anchored here."""
        return self.propose(ProposalKind.RECORD_PREDECESSOR, chain_id, Web3.to_checksum_address(registry))

    def propose_recovery(self, lost: str, replacement: str) -> int:
        """Propose to replace operator ``lost``, whose key is lost, by ``replacement`` without its approval: once
        the other jurisdictions approve, it waits ``RECOVERY_DELAY`` in public for a veto."""
        return self.propose(ProposalKind.RECOVER_OPERATOR, lost, replacement)

    def veto(self, proposal_id: int) -> TxReceipt:
        """Veto a recovery (as an operator of the lost operator's jurisdiction, or as an active regulator)."""
        return self.consortium.transact(lambda f: f.veto(proposal_id), self.sender)

    def execute_recovery(self, proposal_id: int) -> TxReceipt:
        """Carry out a recovery whose time lock has passed without a veto."""
        return self.consortium.transact(lambda f: f.executeRecovery(proposal_id), self.sender)

    def propose_add_operator(self, account: str, jurisdiction: str) -> int:
        return self.propose(ProposalKind.ADD_OPERATOR, account, jurisdiction_code(jurisdiction))

    def propose_remove_operator(self, account: str) -> int:
        return self.propose(ProposalKind.REMOVE_OPERATOR, account)

    def propose_replace_operator(self, old_account: str, new_account: str) -> int:
        return self.propose(ProposalKind.REPLACE_OPERATOR, old_account, new_account)

    def propose_threshold(self, threshold: int) -> int:
        return self.propose(ProposalKind.SET_THRESHOLD, threshold)

    def propose_regulator_keys(self, keys: Sequence[tuple[bytes, str]]) -> int:
        """Propose the regulators' sealing keys (raw public keys), each with its jurisdiction, for the circulation
        contract."""
        return self.propose(ProposalKind.SET_REGULATOR_KEYS, [k for k, _ in keys],
                            [jurisdiction_code(j) for _, j in keys])

    def approve(self, proposal_id: int) -> bool:
        """Approve a proposal; returns whether this approval passed (and so executed) it."""
        receipt = self.consortium.transact(lambda f: f.approve(proposal_id), self.sender)
        return any(e.name == "ProposalExecuted" for e in self.consortium.decode_logs(receipt["logs"]))

    def approve_many(self, proposal_ids: Sequence[int]) -> dict[int, bool]:
        """Approve proposals in turn, each first tried without sending, so that none is approved if the consortium
        would refuse one now (unknown, expired, passed, already approved, ...); returns whether each passed. One
        that changes the operators or the threshold, and that this approval would pass, voids the others: it is
        refused among others (:class:`~crossverify.errors.InvalidProposal`)."""
        for proposal_id in proposal_ids:
            self.try_approval(proposal_id)
        if len(proposal_ids) > 1:
            for proposal_id in proposal_ids:
                if self._passes_with_mine(proposal_id, EPOCH_KINDS):
                    raise InvalidProposal(f"proposal {proposal_id} changes the operators or the threshold and this "
                                          "approval passes it, which voids every other open proposal: approve it "
                                          "alone")
        return {proposal_id: self.approve(proposal_id) for proposal_id in proposal_ids}

    def _passes_with_mine(self, proposal_id: int, kinds: frozenset[ProposalKind]) -> bool:
        """Whether proposal ``proposal_id`` is of one of ``kinds`` and this operator's approval would meet its
        quorum (the threshold, and an approval from every jurisdiction)."""
        info = self.consortium.proposal(proposal_id)
        if info.kind not in kinds:
            return False
        operators = self.consortium.operators()
        me = sender_address(self.sender).lower()
        approved = info.approved_by | sum(1 << i for i, (a, _) in enumerate(operators) if a.lower() == me)
        covered = {j for i, (_, j) in enumerate(operators) if approved >> i & 1}
        threshold = int(self.consortium.call(lambda f: f.threshold()))
        return bin(approved).count("1") >= threshold and covered == {j for _, j in operators}

    def try_approval(self, proposal_id: int) -> None:
        """Raise the named error the consortium would refuse this operator's approval with now; sends nothing."""
        self.consortium.call(lambda f: f.approve(proposal_id), sender_address(self.sender))

    # -------------------------------------------------------------------------------------------------------
    # Reading proposals
    # -------------------------------------------------------------------------------------------------------

    def proposals(self, open_only: bool = True) -> list[Proposal]:
        """Proposals, newest first. Open ones come from the consortium's list of open proposals (a recovery that
        reached its quorum stays there until it is carried out, vetoed or its window closes); ``open_only=False``
        lists every proposal ever made."""
        if open_only:
            ids = [int(i) for i in self.consortium.call(lambda f: f.openProposals())]
        else:
            ids = list(range(int(self.consortium.call(lambda f: f.proposalCount())), 0, -1))
        return [self.show(i) for i in ids]

    def show(self, proposal_id: int) -> Proposal:
        """One proposal, with its action decoded and what it still needs."""
        info: ProposalInfo = self.consortium.proposal(proposal_id)
        operators = self.consortium.operators()
        threshold = int(self.consortium.call(lambda f: f.threshold()))
        epoch = int(self.consortium.call(lambda f: f.epoch()))
        stale = info.epoch != epoch
        lifetime = int(self.consortium.call(lambda f: f.proposalLifetime()))
        closes = info.unlock_at + lifetime if info.unlock_at else info.expires_at
        approved = [(a, j) for i, (a, j) in enumerate(operators) if not stale and info.approved_by >> i & 1]
        covered = {j for _, j in approved}
        missing = tuple(dict.fromkeys(jurisdiction_name(j) for _, j in operators if j not in covered))
        lost = abi_decode(["address"], info.payload[:32])[0] if info.kind is ProposalKind.RECOVER_OPERATOR else None
        return Proposal(
            id=info.id, kind=info.kind, action=describe(info.kind, info.payload), proposer=info.proposer,
            created_at=info.created_at, expires_at=info.expires_at, approvals=bin(info.approved_by).count("1"),
            approved_by=tuple(a for a, _ in approved if lost is None or a.lower() != lost.lower()),
            threshold=threshold, missing_jurisdictions=() if info.executed else missing, executed=info.executed,
            stale=stale, unlock_at=info.unlock_at, vetoed=info.vetoed,
            expired=not info.executed and chain_time(self.registry.w3) > closes)

    # -------------------------------------------------------------------------------------------------------
    # Relaying
    # -------------------------------------------------------------------------------------------------------

    def relay_anchors(self, signed: Sequence[tuple[AnchorRequest, Signed]]) -> TxReceipt:
        """Submit issuers' signed anchors in one transaction (a root already anchored identically is skipped):
        EIP-2098 ``(r, vs)`` signatures, or in the GM suite SM2's ``(r, s, key address)``."""
        requests, signatures = [r.as_abi() for r, _ in signed], [s for _, s in signed]
        if signatures and all(len(s) == 3 for s in signatures):
            return self.registry.transact(lambda f: f.anchorManySM2(requests, signatures), self.sender)
        return self.registry.transact(lambda f: f.anchorMany(requests, signatures), self.sender)

    def relay_revocation(self, request: RevocationRequest, signature: Signed) -> TxReceipt:
        """Submit an issuer's signed revocation, as :meth:`relay_anchors`."""
        if len(signature) == 3:
            return self.registry.transact(lambda f: f.revokeBySM2Signature(request.as_abi(), signature), self.sender)
        return self.registry.transact(lambda f: f.revokeBySignature(request.as_abi(), signature), self.sender)
