"""Sealing certificates into a batch: salt, hash, build the tree, and hand out one bundle per document.

A batch root must never be a document digest, or anyone holding a digest could find its anchor. A batch of
one document therefore gets a second, decoy leaf ``H(0x04 || salt_1 || … || salt_n)`` over the document's own
claim salts: unpredictable without them, and the same whenever the issuer rebuilds the batch from its journal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from .bundle import Bundle, InclusionProof
from .certificate import JSON, Certificate, Claim, DocumentHeader, document_digest
from .hashing import HashAlgorithm
from .merkle import MerkleTree

DECOY_PREFIX = b"\x04"


@dataclass(frozen=True, slots=True)
class SaltedDocument:
    """A certificate with its salts drawn and its digest computed: what the issuer keeps until bundles go out."""

    header: DocumentHeader
    claims: tuple[Claim, ...]
    digest: bytes

    def to_json(self) -> dict[str, JSON]:
        """Header and salted claims in the bundle's JSON form (the digest is kept beside it, not inside)."""
        return {"header": self.header.as_json(), "claims": [c.as_json() for c in self.claims]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], digest: bytes) -> SaltedDocument:
        return cls(DocumentHeader.from_json(data["header"]), tuple(Claim.from_json(c) for c in data["claims"]),
                   digest)


@dataclass(frozen=True)
class SealedBatch:
    """Documents of one issuer and one type under one Merkle root, ready to sign and anchor."""

    documents: tuple[SaltedDocument, ...]
    tree: MerkleTree
    hash_alg: HashAlgorithm

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def leaf_count(self) -> int:
        """The tree's leaves, as anchored: the documents, plus the decoy of a one-document batch."""
        return self.tree.size

    @property
    def doc_type(self) -> str:
        return self.documents[0].header.doc_type

    @property
    def issuer_id(self) -> str:
        return self.documents[0].header.issuer_id

    @property
    def not_after(self) -> int:
        """The anchor's expiry: the latest of the documents' (each document's own still applies)."""
        return max(d.header.not_after for d in self.documents)

    def bundle(self, index: int, chain_id: int, registry: str) -> Bundle:
        """The holder's bundle for document ``index``, naming where the batch is anchored."""
        return self._bundle(index, chain_id, to_checksum_address(registry))

    def bundles(self, chain_id: int, registry: str) -> Iterator[Bundle]:
        """Every holder's bundle, in leaf order (the registry address checksummed once for all)."""
        registry = to_checksum_address(registry)
        return (self._bundle(index, chain_id, registry) for index in range(len(self.documents)))

    def _bundle(self, index: int, chain_id: int, registry: str) -> Bundle:
        doc = self.documents[index]
        proof = InclusionProof(self.hash_alg, index, self.leaf_count, tuple(self.tree.proof(index)), self.root)
        return Bundle(doc.header, doc.claims, proof, chain_id, registry)


def salt_document(certificate: Certificate, hash_alg: HashAlgorithm) -> SaltedDocument:
    """Draw fresh salts for a certificate and compute its document digest."""
    claims = tuple(certificate.salted())
    return SaltedDocument(certificate.header, claims, document_digest(certificate.header, claims,
                                                                      hash_alg.hasher()))


def seal_batch(documents: Sequence[SaltedDocument], hash_alg: HashAlgorithm = HashAlgorithm.KECCAK256, *,
               decoy: bool = True) -> SealedBatch:
    """Gather salted documents of one issuer and one document type into a batch tree. ``decoy=False`` rebuilds
    a one-document batch sealed before decoy leaves existed (its root is its document digest)."""
    if not documents:
        raise ValueError("a batch needs at least one document")
    first = documents[0].header
    for doc in documents:
        if (doc.header.issuer_id, doc.header.doc_type) != (first.issuer_id, first.doc_type):
            raise ValueError(
                f"a batch holds one issuer's documents of one type: {first.issuer_id}/{first.doc_type}, "
                f"got {doc.header.issuer_id}/{doc.header.doc_type}")
    leaves = [d.digest for d in documents]
    if len(leaves) == 1 and decoy:
        leaves.append(decoy_leaf(documents[0], hash_alg))
    return SealedBatch(tuple(documents), MerkleTree(leaves, hash_alg.hasher()), hash_alg)


def decoy_leaf(document: SaltedDocument, hash_alg: HashAlgorithm) -> bytes:
    """The second leaf of a one-document batch, so that its root is not the document digest."""
    return hash_alg.hasher()(DECOY_PREFIX + b"".join(c.salt for c in document.claims))
