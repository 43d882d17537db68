"""The issuer's input: certificates to issue, as JSON files that a bank's back office exports.

A file holds one object, a list of objects, or JSON lines. Each entry has a ``reference`` (the issuer's own id
for the document), ``docType``, ``notAfter``, ``claims`` (name -> JSON value), optionally ``issuedAt`` and
``asOf`` (default: now), ``attachments`` (claim name -> file path, relative to the input file) and
``holderKey`` (the file ``crossverify holder keygen --claim`` wrote for the resident, relative to the input file:
the certificate is then bound to the resident's key through its ``cnf`` claim)::

    {"reference": "DEP-2026-0001", "docType": "DEPCERT", "notAfter": 1821398400,
     "claims": {"holder_name": "CHAN Tai Man", "balance_mop": 125000},
     "attachments": {"statement_pdf": "scans/0001.pdf"}, "holderKey": "alice.cnf.json"}
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import CertificateInputError, CrossverifyError
from ..format.certificate import Certificate, DocumentHeader, attachment_claim
from ..format.holder import HOLDER_CLAIM, holder_claim, key_from_jwk


def read_certificates(paths: Iterable[Path], issuer_id: str, now: int | None = None) -> list[tuple[str, Certificate]]:
    """(reference, certificate) pairs from ``paths``, in file order, for ``issuer_id``."""
    found = []
    now = int(time.time()) if now is None else now
    for path in paths:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CertificateInputError(f"cannot read {path}: {exc}") from None
        for item in read_entries(text, str(path)):
            found.append(certificate_entry(item, issuer_id, now, path.parent, str(path)))
    return found


def read_entries(text: str, source: str) -> list[object]:
    """The entries of an input file's ``text``: one object, a list, or JSON lines. An object that names a member
    twice is refused (JSON readers differ on which one counts: which claim would be certified?)."""
    try:
        try:
            items = json.loads(text, object_pairs_hook=_members_once)
        except json.JSONDecodeError:
            try:
                items = [json.loads(line, object_pairs_hook=_members_once) for line in text.splitlines()
                         if line.strip()]
            except json.JSONDecodeError as exc:
                raise CertificateInputError(f"{source}: neither JSON nor JSON lines ({exc})") from None
    except _NamedTwice as exc:
        raise CertificateInputError(f"{source}: an object names {exc.args[0]!r} twice") from None
    return items if isinstance(items, list) else [items]


class _NamedTwice(Exception):
    """A JSON object names this member twice."""


def _members_once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        names = [name for name, _ in pairs]
        raise _NamedTwice(next(name for name in names if names.count(name) > 1))
    return members


def certificate_entry(item: object, issuer_id: str, now: int, folder: Path | None = None, source: str = "input"
                      ) -> tuple[str, Certificate]:
    """One (reference, certificate) from an entry; attachment paths are taken from ``folder`` (none: refused)."""
    try:
        if not isinstance(item, dict):
            raise TypeError(f"an entry is {type(item).__name__}, not an object")
        claims = dict(item["claims"])
        for name, file in item.get("attachments", {}).items():
            if folder is None:
                raise CertificateInputError(f"{source}: attachments are files; give them in an input file")
            data = (folder / file).read_bytes()
            claims[name] = attachment_claim(data, mimetypes.guess_type(file)[0] or "application/octet-stream")
        if "holderKey" in item:
            if folder is None:
                raise CertificateInputError(f"{source}: a holder key is a file; give it in an input file")
            if HOLDER_CLAIM in claims:
                raise CertificateInputError(f"{source}: give the holder's key as a {HOLDER_CLAIM} claim or as "
                                            "holderKey, not both")
            claims[HOLDER_CLAIM] = _holder_key(folder, item["holderKey"], source)
        header = DocumentHeader(item["docType"], issuer_id, item.get("issuedAt", now), item.get("asOf", now),
                                item["notAfter"])
        return item["reference"], Certificate(header, claims)
    except OSError as exc:
        raise CertificateInputError(f"{source}: attachment unreadable: {exc}") from None
    except CrossverifyError:
        raise  # a named problem with a value (document type, claim, time) says more than the summary below
    except (KeyError, TypeError, ValueError) as exc:
        raise CertificateInputError(
            f"{source}: each certificate needs reference, docType, notAfter, claims ({exc})") from None


def _holder_key(folder: Path, name: str, source: str) -> dict[str, object]:
    """The ``cnf`` claim of the resident's key file ``name`` (as ``crossverify holder keygen --claim`` writes it)."""
    try:
        return holder_claim(key_from_jwk(json.loads((folder / name).read_text())[HOLDER_CLAIM]["jwk"]))
    except OSError as exc:
        raise CertificateInputError(f"{source}: holderKey {name}: cannot read it ({exc.strerror})") from None
    except CrossverifyError:
        raise  # the key itself refused, by name
    except (KeyError, TypeError, ValueError):
        raise CertificateInputError(f"{source}: holderKey {name}: not the file 'crossverify holder keygen --claim' "
                                    "writes (a cnf claim with the key's JWK)") from None
