"""A consortium operator: deploy the registry, propose and approve membership changes, relay signed requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.types import TxReceipt

from ..chain.connection import chain_time
from ..chain.records import ProposalKind, Role
from ..chain.registry import Registry
from ..chain.transactions import Sender
from ..chain.typed_data import AnchorRequest, RevocationRequest
from ..format.codes import doc_type_code, issuer_id_code, jurisdiction_code


@dataclass(frozen=True, slots=True)
class Proposal:
    """A governance proposal as the registry holds it."""

    id: int
    kind: ProposalKind
    proposer: str
    created_at: int
    expires_at: int
    approvals: int
    executed: bool


class OperatorClient:
    """What one operator does. Proposals execute in the approval that reaches the quorum."""

    def __init__(self, registry: Registry, sender: Sender) -> None:
        self.registry = registry
        self.sender = sender

    @classmethod
    def deploy(cls, w3: Web3, sender: Sender, operators: Sequence[str], quorum: int = 0,
               proposal_lifetime: int = 7 * 86400, tx_params: dict[str, Any] | None = None) -> OperatorClient:
        """Deploy a new registry with these operators (``quorum=0``: all must approve)."""
        registry, _ = Registry.deploy(w3, sender, operators, quorum, proposal_lifetime, tx_params)
        return cls(registry, sender)

    def propose_admit_issuer(self, issuer_id: str, jurisdiction: str, admin: str, doc_types: Sequence[str],
                             signing_keys: Sequence[str]) -> int:
        return self._propose(lambda f: f.proposeAdmitIssuer(
            issuer_id_code(issuer_id), jurisdiction_code(jurisdiction), admin,
            [doc_type_code(t) for t in doc_types], list(signing_keys)))

    def propose_suspend_issuer(self, issuer_id: str) -> int:
        return self._propose(lambda f: f.proposeSuspendIssuer(issuer_id_code(issuer_id)))

    def propose_reinstate_issuer(self, issuer_id: str) -> int:
        return self._propose(lambda f: f.proposeReinstateIssuer(issuer_id_code(issuer_id)))

    def propose_doc_types(self, issuer_id: str, doc_types: Sequence[str], allowed: bool) -> int:
        return self._propose(lambda f: f.proposeSetDocTypes(
            issuer_id_code(issuer_id), [doc_type_code(t) for t in doc_types], allowed))

    def propose_admit_member(self, account: str, role: Role) -> int:
        return self._propose(lambda f: f.proposeAdmitMember(account, role))

    def propose_suspend_member(self, account: str) -> int:
        return self._propose(lambda f: f.proposeSuspendMember(account))

    def propose_reinstate_member(self, account: str) -> int:
        return self._propose(lambda f: f.proposeReinstateMember(account))

    def propose_compromised_key(self, key: str, since: int) -> int:
        return self._propose(lambda f: f.proposeCompromiseKey(key, since))

    def approve(self, proposal_id: int) -> bool:
        """Approve a proposal; returns whether this approval executed it."""
        receipt = self.registry.transact(lambda f: f.approve(proposal_id), self.sender)
        return any(e.name == "ProposalExecuted" for e in self.registry.decode_logs(receipt["logs"]))

    def proposals(self, open_only: bool = True) -> list[Proposal]:
        """Proposals, newest first; ``open_only`` leaves out executed and expired ones."""
        count = self.registry.call(lambda f: f.proposalCount())
        now = chain_time(self.registry.w3)
        found = []
        for pid in range(count, 0, -1):
            kind, proposer, created, expires, approvals, executed, _payload = self._read(pid)
            if open_only and (executed or expires < now):
                continue
            found.append(Proposal(pid, ProposalKind(kind), proposer, created, expires, approvals, executed))
        return found

    def _read(self, proposal_id: int) -> Any:
        return self.registry.call(lambda f: f.proposal(proposal_id))

    def relay_anchors(self, signed: Sequence[tuple[AnchorRequest, tuple[bytes, bytes]]]) -> TxReceipt:
        """Submit issuers' signed anchors in one transaction."""
        return self.registry.transact(lambda f: f.anchorMany(
            [r.as_abi() for r, _ in signed], [s for _, s in signed]), self.sender)

    def relay_revocation(self, request: RevocationRequest, signature: tuple[bytes, bytes]) -> TxReceipt:
        return self.registry.transact(lambda f: f.revokeBySignature(request.as_abi(), signature), self.sender)

    def _propose(self, build: Callable[[Any], Any]) -> int:
        receipt = self.registry.transact(build, self.sender)
        created = next(e for e in self.registry.decode_logs(receipt["logs"]) if e.name == "ProposalCreated")
        return int(created.args["proposalId"])
