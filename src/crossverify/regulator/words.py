"""What a supervisor reads, in the four languages: the words of the console and the static report (``words.json``,
one table per language with the same keys; the console's page is served the same file), and the names both give
to the codes the index holds. Issuers and document types are named by the display metadata the registry vouches
for (:class:`~crossverify.chain.metadata.MetadataReader`), banks by the regulator's own list (``[regulator]
bank_names``: the chain names no bank); a code without a checked name is shown as it is."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..chain.metadata import MetadataReader
from ..errors import MetadataError
from ..format.metadata import LANGUAGES

T = TypeVar("T")
#: The file of words, as the service serves it to the console's page.
WORDS_FILE = Path(__file__).with_name("words.json")
#: Every word, by language and key.
WORDS: dict[str, dict[str, str]] = json.loads(WORDS_FILE.read_text(encoding="utf-8"))


def words(language: str) -> Callable[..., str]:
    """The word for a key in ``language`` (English where a key has none, the key itself where English has none
    either), its ``{placeholders}`` filled from the keyword arguments."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    table, english = WORDS[language], WORDS["en"]

    def word(key: str, **values: Any) -> str:
        text = table.get(key) or english.get(key) or key
        return text.format(**values) if values else text

    return word


def purpose_names() -> dict[str, dict[str, str]]:
    """The purpose codes the words name, each with its name in every language (code -> language -> name): as
    supervisors read them, and as a resident reads what their signature consents to."""
    return {key.removeprefix("purpose."): {language: WORDS[language][key] for language in LANGUAGES}
            for key in WORDS["en"] if key.startswith("purpose.")}


@dataclass(frozen=True, slots=True)
class Names:
    """The names of the codes a report or a page shows: ``issuers`` and ``doc_types`` in every language (code ->
    language -> name), ``banks`` as the regulator named them (lower-case address -> name)."""

    issuers: dict[str, dict[str, str]] = field(default_factory=dict)
    doc_types: dict[str, dict[str, str]] = field(default_factory=dict)
    banks: dict[str, str] = field(default_factory=dict)

    @classmethod
    def registered(cls, reader: MetadataReader, issued: Iterable[tuple[str, str]],
                   bank_names: Mapping[str, str]) -> Names:
        """The names the registry vouches for, of each (issuer, document type) pair in ``issued`` (a document
        type is named by the first issuer that registered metadata for it), and the regulator's names of banks."""
        issuers: dict[str, dict[str, str]] = {}
        types: dict[str, dict[str, str]] = {}
        for issuer, doc_type in issued:
            if issuer not in issuers and (found := _checked(partial(reader.issuer, issuer))) is not None:
                issuers[issuer] = found.name.as_json()
            if doc_type not in types and (kind := _checked(partial(reader.doc_type, issuer, doc_type))) is not None:
                types[doc_type] = kind.name.as_json()
        return cls(issuers, types, {address.lower(): name for address, name in bank_names.items()})

    def as_json(self) -> dict[str, Any]:
        return {"banks": self.banks, "issuers": self.issuers, "docTypes": self.doc_types}

    def issuer(self, code: str, language: str) -> str:
        return self.issuers.get(code, {}).get(language, code)

    def doc_type(self, code: str, language: str) -> str:
        return self.doc_types.get(code, {}).get(language, code)

    def bank(self, address: str) -> str | None:
        """The regulator's name for the bank at ``address``, if it gave one."""
        return self.banks.get(address.lower())


def _checked(read: Callable[[], T]) -> T | None:
    """What ``read`` finds, or ``None`` when the registered metadata cannot be had (the code is shown instead)."""
    try:
        return read()
    except MetadataError:
        return None
