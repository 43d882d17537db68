"""The consortium contract as Python sees it, and the deployment of a consortium with its registry.

The consortium is deployed first, naming the addresses its registry and circulation contract will have (the
deployer's next contracts); the registry's governance half follows, then the registry and the circulation
contract, each checking at deployment that the consortium names it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import rlp
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput

from .. import gm
from ..errors import ConfigError, ConsortiumUnknownProposal, InvalidProposal, TransactionFailed
from ..format.codes import jurisdiction_code
from ..format.suite import Suite
from .circulation import CirculationContract
from .connection import node_errors
from .records import ProposalKind
from .registry import Deployed, Registry, artifact, deploy_contract, registry_errors
from .transactions import Sender, sender_address

DEFAULT_PROPOSAL_LIFETIME = 7 * 86400
ZERO_ADDRESS = "0x" + "00" * 20

#: ABI types of each proposal kind's payload, in the order the contracts decode them.
PAYLOAD_TYPES: dict[ProposalKind, tuple[str, ...]] = {
    ProposalKind.ADMIT_ISSUER: ("bytes11", "bytes32", "address", "bytes8[]", "bytes32", "bytes32[]"),
    ProposalKind.SUSPEND_ISSUER: ("bytes11",),
    ProposalKind.REINSTATE_ISSUER: ("bytes11",),
    ProposalKind.SET_DOC_TYPES: ("bytes11", "bytes8[]", "bool", "bytes32[]"),
    ProposalKind.ADMIT_MEMBER: ("address", "uint8", "bytes32"),
    ProposalKind.SUSPEND_MEMBER: ("address",),
    ProposalKind.REINSTATE_MEMBER: ("address",),
    ProposalKind.COMPROMISE_KEY: ("address", "uint40"),
    ProposalKind.REPLACE_ISSUER_ADMIN: ("bytes11", "address", "uint40"),
    ProposalKind.RECORD_PREDECESSOR: ("uint64", "address"),
    ProposalKind.ADD_OPERATOR: ("address", "bytes32"),
    ProposalKind.REMOVE_OPERATOR: ("address",),
    ProposalKind.REPLACE_OPERATOR: ("address", "address"),
    ProposalKind.SET_THRESHOLD: ("uint8",),
    ProposalKind.SET_REGULATOR_KEYS: ("bytes[]", "bytes32[]"),
    ProposalKind.RECOVER_OPERATOR: ("address", "address"),
}


def encode_payload(kind: ProposalKind, *values: Any) -> bytes:
    """ABI-encode a proposal's payload as the contracts decode it; :class:`~crossverify.errors.InvalidProposal` for
    a value its type cannot hold."""
    try:
        return abi_encode(list(PAYLOAD_TYPES[kind]), list(values))
    except EncodingError as exc:
        raise InvalidProposal(f"a {kind.name.lower()} proposal takes no such value (out of range, or of another "
                              f"type): {exc}") from None


@dataclass(frozen=True, slots=True)
class ProposalInfo:
    """A proposal as the consortium stores it; ``approved_by`` has bit ``i`` for operator ``i``. A recovery that
    reached its quorum can be carried out from ``unlock_at`` unless ``vetoed``."""

    id: int
    kind: ProposalKind
    proposer: str
    created_at: int
    expires_at: int
    epoch: int
    approved_by: int
    executed: bool
    unlock_at: int
    vetoed: bool
    payload: bytes


@dataclass(frozen=True)
class ConsortiumContract(Deployed):
    """A deployed consortium contract."""

    NAME: ClassVar[str] = "Consortium"

    def operators(self) -> list[tuple[str, bytes]]:
        """The operators and their jurisdiction codes, in approval-bit order."""
        return [(str(a), bytes(j)) for a, j in self.call(lambda f: f.operators())]

    def proposal(self, proposal_id: int) -> ProposalInfo:
        """Proposal ``proposal_id``; :class:`~crossverify.errors.ConsortiumUnknownProposal` if none was made."""
        kind, proposer, created, expires, epoch, approved_by, executed, unlock_at, vetoed, payload = self.call(
            lambda f: f.proposal(proposal_id))
        if created == 0:
            raise ConsortiumUnknownProposal(proposalId=proposal_id)
        return ProposalInfo(proposal_id, ProposalKind(kind), str(proposer), created, expires, epoch, approved_by,
                            executed, unlock_at, vetoed, bytes(payload))

    def circulation_address(self) -> str:
        """The circulation contract fixed at deployment."""
        return str(self.call(lambda f: f.circulation()))

    def propose(self, kind: ProposalKind, payload: bytes, sender: Sender) -> int:
        """Propose and return the new proposal's id (the proposer's approval counts)."""
        receipt = self.transact(lambda f: f.propose(int(kind), payload), sender)
        created = next(e for e in self.decode_logs(receipt["logs"]) if e.name == "ProposalCreated")
        return int(created.args["proposalId"])


def _next_contract_address(sender: str, nonce: int) -> str:
    """The address a contract created by ``sender`` with ``nonce`` gets (CREATE)."""
    digest = Web3.keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))
    return str(Web3.to_checksum_address(digest[12:]))


def _require_sm2_verifier(w3: Web3, address: str) -> None:
    """Refuse ``address`` (:class:`~crossverify.errors.ConfigError`) unless it answers as an SM2 verifier does, with
    SM3 of GB/T 32905's example ``abc``: before anything is deployed for a registry that would refuse it."""
    verifier = w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("SM2Verifier")["abi"])
    try:
        with registry_errors(), node_errors():
            answered = bytes(verifier.functions.sm3(b"abc").call())
    except (TransactionFailed, BadFunctionCallOutput):  # an account, or a contract without sm3
        answered = b""
    if answered != gm.sm3(b"abc"):
        raise ConfigError(f"{address} is not an SM2 verifier on this chain (it does not answer SM3): give the address "
                          "of an SM2Verifier or SM2PrecompileVerifier, or none to deploy an SM2Verifier")


def deploy_consortium(
    w3: Web3,
    sender: Sender,
    operators: Sequence[tuple[str, str]],
    threshold: int = 0,
    proposal_lifetime: int = DEFAULT_PROPOSAL_LIFETIME,
    tx_params: dict[str, Any] | None = None,
    suite: Suite = Suite.STANDARD,
    sm2_verifier: str | None = None,
) -> tuple[ConsortiumContract, Registry, CirculationContract]:
    """Deploy a consortium of ``(account, jurisdiction)`` operators, the registry it governs (both halves) and the
    circulation contract beside it: four transactions from ``sender``, nothing else may be sent from it between.

    ``threshold=0`` means every operator must approve; whatever the threshold, an operator of every
    jurisdiction must approve too. ``suite`` is the deployment's crypto suite, for ever. A GM registry verifies
    SM2 through ``sm2_verifier`` (an ``SM2Verifier``, or an ``SM2PrecompileVerifier`` on a chain with SM2 built
    in; refused before anything is deployed if it does not answer as one); without one, an ``SM2Verifier`` is
    deployed first.
    """
    params = dict(tx_params or {})
    address = sender_address(sender)
    if suite is Suite.GM and sm2_verifier is None:
        sm2_verifier = deploy_contract(w3, "SM2Verifier", [], sender, params)
    elif suite is Suite.GM and sm2_verifier is not None:
        _require_sm2_verifier(w3, sm2_verifier)
    verifier = Web3.to_checksum_address(sm2_verifier) if suite is Suite.GM and sm2_verifier else ZERO_ADDRESS
    nonce = w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")
    registry_at, circulation_at = _next_contract_address(address, nonce + 2), _next_contract_address(address, nonce + 3)
    members = [(Web3.to_checksum_address(a), jurisdiction_code(j)) for a, j in operators]
    consortium_address = deploy_contract(
        w3, "Consortium", [registry_at, circulation_at, members, threshold, proposal_lifetime], sender, params)
    governance = deploy_contract(w3, "RegistryGovernance", [consortium_address, int(suite), verifier], sender, params)
    deployed = [deploy_contract(w3, "DocumentRegistry", [consortium_address, governance], sender, params)]
    deployed.append(deploy_contract(w3, "Circulation", [deployed[0]], sender, params))
    if deployed != [registry_at, circulation_at]:
        raise TransactionFailed(f"the registry and circulation contract landed at {', '.join(deployed)}, not "
                                f"{registry_at}, {circulation_at}: the sender sent another transaction in between; "
                                "deploy again")
    return (ConsortiumContract.at(w3, consortium_address, params), Registry.at(w3, registry_at, params),
            CirculationContract.at(w3, circulation_at, params))
