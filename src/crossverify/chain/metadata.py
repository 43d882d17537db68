"""Display metadata as the registry vouches for it: the digest the registry holds for an issuer's name or a
document type's labels, and the metadata with exactly that digest from a :class:`~crossverify.format.metadata.
Catalogue`. Every reader of names and labels (the verify output, the pages, the regulator's reports) goes through
:class:`MetadataReader`, so none shows a label the issuer did not publish."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import MetadataError
from ..format.codes import doc_type_code, issuer_id_code
from ..format.metadata import Catalogue, IssuerDisplay, TypeDisplay
from ..format.suite import Suite
from .registry import Registry

#: Seconds a digest read from the registry is reused (an admin's change shows within this time).
DIGEST_TTL = 60.0


class MetadataReader:
    """Names and labels by the registry's digests, each read once per :data:`DIGEST_TTL`."""

    def __init__(self, registry: Registry, catalogue: Catalogue | None = None, ttl: float = DIGEST_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.catalogue = catalogue if catalogue is not None else Catalogue.standard()
        self._ttl, self._clock = ttl, clock
        self._digests: dict[tuple[str, str], tuple[float, bytes]] = {}
        self._suite: Suite | None = None

    @property
    def suite(self) -> Suite:
        """The deployment's suite, whose hash the registry's digests are (read once)."""
        if self._suite is None:
            self._suite = self.registry.crypto_suite()
        return self._suite

    def digest(self, issuer_id: str, doc_type: str = "") -> bytes:
        """The registry's digest for ``issuer_id``'s ``doc_type`` (``""``: its own name)."""
        now = self._clock()
        cached = self._digests.get((issuer_id, doc_type))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        code = doc_type_code(doc_type) if doc_type else bytes(8)
        digest = self.registry.metadata_digest(issuer_id_code(issuer_id), code)
        self._digests[issuer_id, doc_type] = (now, digest)
        return digest

    def doc_type(self, issuer_id: str, doc_type: str) -> TypeDisplay | None:
        """The labels the registry names for ``issuer_id``'s ``doc_type``: ``None`` when none is registered;
        :class:`~crossverify.errors.MetadataMismatch` or ``MetadataUnavailable`` when they cannot be had."""
        return self.catalogue.doc_type(issuer_id, doc_type, self.digest(issuer_id, doc_type), self.suite)

    def issuer(self, issuer_id: str) -> IssuerDisplay | None:
        """The issuer's name as the registry names it (``None``: none registered); errors as :meth:`doc_type`."""
        return self.catalogue.issuer(issuer_id, self.digest(issuer_id), self.suite)

    def issuer_name(self, issuer_id: str, language: str) -> str:
        """The issuer's name in ``language``, or its id when no checked name is to be had."""
        try:
            found = self.issuer(issuer_id)
        except MetadataError:
            found = None
        return found.name[language] if found is not None else issuer_id

    def doc_type_name(self, issuer_id: str, doc_type: str, language: str) -> str:
        """The document type's name in ``language``, or its code when no checked metadata is to be had."""
        try:
            found = self.doc_type(issuer_id, doc_type)
        except MetadataError:
            found = None
        return found.name[language] if found is not None else doc_type
