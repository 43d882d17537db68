"""EIP-712 typed data for the registry's signed requests and key proofs, with the domain read from the contract
(ERC-5267); and the GM suite's digest of the same structures (SM3, signed with SM2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.base import BaseAccount

from .. import gm
from ..errors import DomainMismatch
from .connection import quantity, rpc
from .registry import Deployed

ANCHOR_TYPE = [
    {"name": "batchRoot", "type": "bytes32"},
    {"name": "docType", "type": "bytes8"},
    {"name": "hashAlg", "type": "uint8"},
    {"name": "leafCount", "type": "uint24"},
    {"name": "notAfter", "type": "uint40"},
    {"name": "deadline", "type": "uint40"},
]
SIGNING_KEY_TYPE = [
    {"name": "issuerId", "type": "bytes11"},
    {"name": "key", "type": "address"},
]
REVOCATION_TYPE = [
    {"name": "batchRoot", "type": "bytes32"},
    {"name": "documentDigest", "type": "bytes32"},
    {"name": "reason", "type": "uint8"},
    {"name": "deadline", "type": "uint40"},
]


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain a registry signs under: binds a signature to one chain and one registry."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @classmethod
    def of(cls, contract: Deployed) -> Domain:
        """``contract``'s domain, as it answers it: refused (:class:`DomainMismatch`) unless it names the node's
        chain and ``contract`` itself, for a signature under it would count at the contract it names."""
        _fields, name, version, chain_id, verifying, _salt, _ext = contract.call(lambda f: f.eip712Domain())
        node_chain = quantity(rpc(contract.w3)("eth_chainId", []))
        if chain_id != node_chain or str(verifying).lower() != contract.address.lower():
            raise DomainMismatch(f"the contract at {contract.address} on chain {node_chain} signs under the domain of "
                                 f"{verifying} on chain {chain_id}: check [network] registry and rpc; nothing was "
                                 "signed")
        return cls(name, version, chain_id, verifying)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True, slots=True)
class AnchorRequest:
    """What an issuer signs to anchor a batch root (the registry's ``AnchorRequest``)."""

    batch_root: bytes
    doc_type: bytes
    hash_alg: int
    leaf_count: int
    not_after: int
    deadline: int

    PRIMARY: ClassVar[str] = "Anchor"
    FIELDS: ClassVar[list[dict[str, str]]] = ANCHOR_TYPE

    def packed(self) -> bytes:
        """The fields at their types' widths, big-endian, in order (54 bytes)."""
        return (_fixed(self.batch_root, 32) + _fixed(self.doc_type, 8) + _uint(self.hash_alg, 1)
                + _uint(self.leaf_count, 3) + _uint(self.not_after, 5) + _uint(self.deadline, 5))

    def as_abi(self) -> tuple[bytes, bytes, int, int, int, int]:
        return (self.batch_root, self.doc_type, self.hash_alg, self.leaf_count, self.not_after, self.deadline)

    def typed_data(self, domain: Domain) -> SignableMessage:
        return _typed(domain, "Anchor", ANCHOR_TYPE, {
            "batchRoot": self.batch_root, "docType": self.doc_type, "hashAlg": self.hash_alg,
            "leafCount": self.leaf_count, "notAfter": self.not_after, "deadline": self.deadline,
        })


@dataclass(frozen=True, slots=True)
class RevocationRequest:
    """What an issuer signs to revoke a batch (``document_digest`` zero) or one document."""

    batch_root: bytes
    document_digest: bytes
    reason: int
    deadline: int

    PRIMARY: ClassVar[str] = "Revocation"
    FIELDS: ClassVar[list[dict[str, str]]] = REVOCATION_TYPE

    def packed(self) -> bytes:
        """The fields at their types' widths, big-endian, in order (70 bytes)."""
        return (_fixed(self.batch_root, 32) + _fixed(self.document_digest, 32) + _uint(self.reason, 1)
                + _uint(self.deadline, 5))

    def as_abi(self) -> tuple[bytes, bytes, int, int]:
        return (self.batch_root, self.document_digest, self.reason, self.deadline)

    def typed_data(self, domain: Domain) -> SignableMessage:
        return _typed(domain, "Revocation", REVOCATION_TYPE, {
            "batchRoot": self.batch_root, "documentDigest": self.document_digest,
            "reason": self.reason, "deadline": self.deadline,
        })


@dataclass(frozen=True, slots=True)
class KeyProof:
    """What a signing key signs to prove its issuer holds it: the registry (domain), the issuer and the key."""

    issuer_id: bytes
    key: str

    PRIMARY: ClassVar[str] = "SigningKey"
    FIELDS: ClassVar[list[dict[str, str]]] = SIGNING_KEY_TYPE

    def packed(self) -> bytes:
        """The fields at their types' widths, big-endian, in order (31 bytes)."""
        return _fixed(self.issuer_id, 11) + _fixed(bytes.fromhex(self.key[2:]), 20)

    def typed_data(self, domain: Domain) -> SignableMessage:
        return _typed(domain, "SigningKey", SIGNING_KEY_TYPE, {"issuerId": self.issuer_id, "key": self.key})


def key_proof(issuer_id: bytes, key: BaseAccount, domain: Domain) -> tuple[bytes, bytes]:
    """``key``'s proof of possession for joining ``issuer_id`` in the registry of ``domain``, as ``(r, vs)``."""
    return sign(KeyProof(issuer_id, key.address), domain, key)


def _typed(domain: Domain, primary: str, fields: list[dict[str, str]], message: dict[str, Any]) -> SignableMessage:
    return encode_typed_data(full_message={
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: fields,
        },
        "primaryType": primary,
        "domain": domain.as_dict(),
        "message": message,
    })


def sign(request: AnchorRequest | RevocationRequest | KeyProof, domain: Domain, signer: BaseAccount
         ) -> tuple[bytes, bytes]:
    """Sign a request (or a key proof) as EIP-712 typed data with any eth-account signer (local key, HSM, ...).

    Returns the signature in the registry's EIP-2098 compact form ``(r, vs)``.
    """
    return compact(bytes(signer.sign_message(request.typed_data(domain)).signature))


def compact(signature: bytes) -> tuple[bytes, bytes]:
    """Turn a 65-byte ``r || s || v`` signature into EIP-2098 ``(r, vs)``: ``vs = s | (v - 27) << 255``."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ValueError("expected a 65-byte r || s || v signature with v in {27, 28}")
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r, ((v - 27) << 255 | s).to_bytes(32, "big")


# ------------------------------------------------------------------------------------------------------------
# The GM suite: the same domain, types and fields, hashed with SM3 and signed with SM2 (docs/format.md).
# ------------------------------------------------------------------------------------------------------------

GM_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


class SM2Signer(Protocol):
    """What signs GM requests: an SM2 key held locally or in a token (:mod:`crossverify.keys.sm2`)."""

    @property
    def address(self) -> str:
        """The key's address: the last 20 bytes of SM3(x || y), as FISCO BCOS names SM2 accounts."""
        ...

    @property
    def public_key(self) -> bytes:
        """The 64 bytes x || y."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The SM2 signature r || s over ``message`` (e = SM3(Z || message), default ID)."""
        ...


def type_string(primary: str, fields: list[dict[str, str]]) -> str:
    """EIP-712's ``encodeType`` of a structure without nested types: ``SigningKey(bytes11 issuerId,address key)``."""
    members = ",".join(f"{f['type']} {f['name']}" for f in fields)
    return f"{primary}({members})"


def gm_domain_separator(domain: Domain) -> bytes:
    """EIP-712's domain separator with SM3 for keccak-256: SM3(SM3(domainType) || SM3(name) || SM3(version) ||
    chainId || verifyingContract), each number and address as a 32-byte word."""
    return gm.sm3(gm.sm3(GM_DOMAIN_TYPE.encode()) + gm.sm3(domain.name.encode()) + gm.sm3(domain.version.encode())
                  + domain.chain_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(domain.verifying_contract[2:]))


def gm_type_prefix(domain: Domain, primary: str, fields: list[dict[str, str]]) -> bytes:
    """SM3(domainSeparator || SM3(typeString)): one 32-byte value per registry and structure type, which the
    registry computes once, at deployment."""
    return gm.sm3(gm_domain_separator(domain) + gm.sm3(type_string(primary, fields).encode()))


def gm_message(request: AnchorRequest | RevocationRequest | KeyProof, domain: Domain) -> bytes:
    """The 32-byte message M an SM2 key signs for ``request``: SM3(0x19 || 0x01 || typePrefix || packed fields).
    Two SM3 blocks for each structure, so that the registry's EVM code hashes little (docs/format.md)."""
    return gm.sm3(b"\x19\x01" + gm_type_prefix(domain, request.PRIMARY, request.FIELDS) + request.packed())


#: The structure a dispute's answer key signs on the circulation contract (its ciphertext as a hash).
ANSWER_TYPE = [{"name": "disputeId", "type": "bytes32"}, {"name": "ciphertextHash", "type": "bytes32"}]


def gm_answer_message(domain: Domain, dispute_id: bytes, sealed: bytes) -> bytes:
    """The 32-byte message M an SM2 answer key signs for a dispute's sealed answer: SM3(0x19 || 0x01 ||
    typePrefix(Answer) || disputeId || SM3(sealed)), under the circulation contract's ``domain``."""
    return gm.sm3(b"\x19\x01" + gm_type_prefix(domain, "Answer", ANSWER_TYPE) + dispute_id + gm.sm3(sealed))


def sign_gm(request: AnchorRequest | RevocationRequest | KeyProof, domain: Domain, signer: SM2Signer) -> bytes:
    """Sign a request (or a key proof) in the GM suite: SM2's ``r || s`` over :func:`gm_message`."""
    return signer.sign(gm_message(request, domain))


def gm_key_proof(issuer_id: bytes, key: SM2Signer, domain: Domain) -> bytes:
    """An SM2 key's proof of possession for joining ``issuer_id`` in the registry of ``domain``: ``r || s``."""
    return sign_gm(KeyProof(issuer_id, key.address), domain, key)


def _fixed(value: bytes, size: int) -> bytes:
    if len(value) != size:
        raise ValueError(f"expected {size} bytes, got {len(value)}")
    return bytes(value)


def _uint(value: int, size: int) -> bytes:
    return int(value).to_bytes(size, "big")
