"""The issuer's input files: objects, lists or JSON lines of certificates, with attachments beside them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossverify.errors import CertificateInputError, InvalidDocType
from crossverify.issuer.inputs import read_certificates

NOW = 1_790_000_000
ENTRY = {"reference": "DEP-1", "docType": "DEPCERT", "notAfter": NOW + 86400, "claims": {"holder_name": "CHAN"}}


def test_object_list_and_json_lines(tmp_path: Path) -> None:
    one, many, lines = tmp_path / "one.json", tmp_path / "many.json", tmp_path / "lines.jsonl"
    one.write_text(json.dumps(ENTRY))
    many.write_text(json.dumps([{**ENTRY, "reference": "DEP-2"}, {**ENTRY, "reference": "DEP-3", "asOf": NOW - 5}]))
    lines.write_text("\n".join(json.dumps({**ENTRY, "reference": f"DEP-{i}"}) for i in (4, 5)) + "\n\n")
    found = read_certificates([one, many, lines], "BNUMMOMX", now=NOW)
    assert [ref for ref, _ in found] == ["DEP-1", "DEP-2", "DEP-3", "DEP-4", "DEP-5"]
    header = found[2][1].header
    assert (header.issuer_id, header.issued_at, header.as_of) == ("BNUMMOMX", NOW, NOW - 5)


def test_attachments_are_read_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.7 statement")
    path = tmp_path / "in.json"
    path.write_text(json.dumps({**ENTRY, "attachments": {"statement": "scan.pdf"}}))
    [(_, certificate)] = read_certificates([path], "BNUMMOMX", now=NOW)
    attachment = certificate.claims["statement"]["attachment"]  # type: ignore[index]
    assert attachment["mediaType"] == "application/pdf" and attachment["size"] == 18


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "neither JSON nor JSON lines"),
    (json.dumps({k: v for k, v in ENTRY.items() if k != "notAfter"}), "needs reference, docType, notAfter"),
    (json.dumps([1]), "not an object"),
    ('{"reference": "DEP-1", "docType": "DEPCERT", "notAfter": 1790086400, '
     '"claims": {"holder_name": "CHAN", "holder_name": "WONG"}}', "names 'holder_name' twice"),
    (json.dumps({**ENTRY, "claims": "holder"}), "needs reference"),
    (json.dumps({**ENTRY, "attachments": {"scan": "absent.pdf"}}), "attachment unreadable"),
])
def test_unusable_entries_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    with pytest.raises(CertificateInputError, match=message):
        read_certificates([path], "BNUMMOMX", now=NOW)


def test_a_bad_value_keeps_its_own_error(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps({**ENTRY, "docType": "deposit certificate"}))
    with pytest.raises(InvalidDocType):
        read_certificates([path], "BNUMMOMX", now=NOW)


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CertificateInputError, match="cannot read"):
        read_certificates([tmp_path / "absent.json"], "BNUMMOMX", now=NOW)
