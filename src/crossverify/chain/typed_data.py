"""EIP-712 typed data for the registry's signed requests and key proofs, with the domain read from the contract
(ERC-5267)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.base import BaseAccount

from .registry import Registry

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
    def of(cls, registry: Registry) -> Domain:
        _fields, name, version, chain_id, contract, _salt, _ext = registry.call(lambda f: f.eip712Domain())
        return cls(name, version, chain_id, contract)

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
