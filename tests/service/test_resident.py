"""The resident's page as the bank's service serves it: files, packages, headers and its own verification route."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils import keccak
from fastapi.testclient import TestClient

from crossverify.chain.metadata import MetadataReader
from crossverify.config import DisplaySettings
from crossverify.errors import MetadataMismatch, UnsupportedHashAlgorithm
from crossverify.format.bundle import load_bundle
from crossverify.format.encoding import to_hex
from crossverify.format.hashing import HashAlgorithm
from crossverify.format.presentation import load_challenge, load_presentation, present
from crossverify.regulator.words import purpose_names
from crossverify.service.resident import VENDOR, VENDORED
from crossverify.session import Session

from ..conftest import EXAMPLES, Consortium
from .test_api import bank_api, issue, issuer_api, service  # noqa: F401  (fixtures)

ROOT = Path(__file__).parents[2]
VECTORS = json.loads((ROOT / "docs" / "vectors" / "v1.1.json").read_text())


def test_the_javascript_matches_the_vectors_under_node() -> None:
    run = subprocess.run(["node", "--test", "tests/service/js/"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 27" in run.stdout


def test_every_fault_the_pages_name_has_words_in_every_language() -> None:
    """A page shows a fault by its code's words: a code without them would show the resident a bare key."""
    pages = ROOT / "src" / "crossverify" / "service" / "page"
    codes = set(re.findall(r'BundleError\("(\w+)"', "".join(p.read_text() for p in pages.glob("*.js"))))
    script = "import { STRINGS } from './src/crossverify/service/page/strings.js'; console.log(JSON.stringify(STRINGS))"
    run = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    strings = json.loads(run.stdout)
    assert len(codes) >= 15
    assert [(language, code) for language, words in strings.items() for code in sorted(codes)
            if f"error.{code}" not in words] == []


def test_the_page_redacts_byte_for_byte_as_the_library_does() -> None:
    script = """
        import { createRequire } from "node:module";
        import { dumps, redact } from "./src/crossverify/service/page/bundle.js";
        globalThis.sm3 = createRequire(import.meta.url)("sm-crypto/dist/sm3.js");
        const cases = JSON.parse(process.argv[1]);
        console.log(JSON.stringify(cases.map(([bundle, names]) => dumps(redact(bundle, names)))));
    """
    cases, expected = [], []
    for alg, v in VECTORS["hashAlgorithms"].items():
        for case in v["bundles"]:
            bundle = case["bundle"]
            names = [c["name"] for c in bundle["claims"] if "name" in c][1::2]
            cases.append([bundle, names])
            try:
                HashAlgorithm.from_label(alg).hasher()
            except UnsupportedHashAlgorithm:
                expected.append(None)  # this Python has no SM3: the vectors above still hold the JavaScript
                continue
            expected.append(load_bundle(json.dumps(bundle, ensure_ascii=False)).redact(names).dumps())
    run = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(cases)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    produced = json.loads(run.stdout)
    assert len(produced) == len(expected) >= 30
    for got, want in zip(produced, expected, strict=True):
        if want is not None:
            assert got == want


def test_the_page_presents_byte_for_byte_as_the_library_does() -> None:
    """A presentation the page's module signs with WebCrypto (the vectors' holder key, imported) reads in Python,
    carries a valid signature, and is byte for byte the library's ``present`` but for the (randomised) signature."""
    v = json.loads((ROOT / "docs" / "vectors" / "presentation-v1.json").read_text())
    script = """
        import { dumps, present } from "./src/crossverify/service/page/presentation.js";
        const [bundle, challenge, jwk, d, now] = JSON.parse(process.argv[1]);
        const P256 = { name: "ECDSA", namedCurve: "P-256" };
        const keys = {
          privateKey: await crypto.subtle.importKey("jwk", { ...jwk, d }, P256, false, ["sign"]),
          publicKey: await crypto.subtle.importKey("jwk", jwk, P256, true, ["verify"]),
        };
        const made = [];
        for (const withheld of [[], ["holder_name"]]) {
          const { redact } = await import("./src/crossverify/service/page/bundle.js");
          made.push(dumps(await present(redact(bundle, withheld), challenge, keys, now)));
        }
        console.log(JSON.stringify(made));
    """
    private = ec.derive_private_key(int(v["holder"]["privateKey"], 16), ec.SECP256R1())
    d = base64.urlsafe_b64encode(private.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=").decode()
    bundle, challenge, now = v["presentation"]["bundle"], load_challenge(json.dumps(v["challenge"])), 1790000100
    run = subprocess.run(["node", "--input-type=module", "-e", script,
                          json.dumps([bundle, v["challenge"], v["holder"]["jwk"], d, now])],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    for text, withheld in zip(json.loads(run.stdout), [[], ["holder_name"]], strict=True):
        made = load_presentation(text)
        assert made.signed_by(private.public_key())
        expected = present(load_bundle(json.dumps(bundle, ensure_ascii=False)).redact(withheld), challenge,
                           private, now)
        assert text == expected.dumps().replace(to_hex(expected.signature), to_hex(made.signature))


def test_the_page_and_its_packages_are_served_to_its_own_origin(bank_api: TestClient) -> None:  # noqa: F811
    anonymous = TestClient(bank_api.app)
    page = anonymous.get("/resident/")
    assert page.status_code == 200 and '<script type="importmap">' in page.text
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "script-src 'self' 'sha256-" in policy and "unsafe" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert anonymous.get("/resident", follow_redirects=False).headers["location"] == "/resident/"
    for path in ["static/page.js", "static/bundle.js", "static/strings.js", "static/page.css",
                 "vendor/canonicalize/canonicalize.js", "vendor/noble-hashes/sha3.js", "vendor/sm-crypto/sm3.js"]:
        reply = anonymous.get(f"/resident/{path}")
        assert reply.status_code == 200, path
        # asked about again before each use (unchanged: 304), so that a resident's phone runs an upgrade's scripts
        # (how values read, which checks run) at once, not those it kept under heuristic freshness for days
        assert reply.headers["cache-control"] == "no-cache", path
    page_js = anonymous.get("/resident/static/page.js")
    again = anonymous.get("/resident/static/page.js", headers={"If-None-Match": page_js.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    assert "javascript" in page_js.headers["content-type"]
    assert anonymous.get("/resident/vendor/solc/soljson.js").status_code == 404  # only the page's packages
    assert anonymous.get("/resident/vendor/noble-hashes/../../solc/package.json").status_code == 404


def test_the_page_verifies_without_a_key_and_records_no_receipt(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                                 bank_api: TestClient) -> None:  # noqa: F811
    [bundle] = issue(consortium, issuer_api, 1)
    redacted = load_bundle(json.dumps(bundle)).redact(["balance_mop"]).dumps()
    anonymous = TestClient(bank_api.app)
    verdict = anonymous.post("/resident/verifications", content=redacted,
                             params={"purpose": "account opening", "case": "A-1"}).json()
    assert verdict["valid"] and verdict["disclosed"] == {"holder_name": "LAM Sio 0"}
    assert verdict["receipt"] is None
    assert bank_api.app_state.session.outbox.counts() == {}  # type: ignore[attr-defined]
    tampered = redacted.replace("LAM Sio 0", "LAM Sio 9")
    assert not anonymous.post("/resident/verifications", content=tampered).json()["valid"]
    twice = anonymous.post("/resident/verifications", content='{"version": 1, "version": 1}',
                           headers={"Content-Type": "application/json"}).json()  # a verdict, as for a bank
    assert not twice["valid"] and "DuplicateKey" in twice["checks"][0]["detail"]
    largest = bank_api.app_state.session.config.verifier.max_bundle_bytes  # type: ignore[attr-defined]
    too_big = anonymous.post("/resident/verifications", content=b"{" + b" " * largest + b"}")
    assert too_big.status_code == 413 and too_big.headers["content-type"] == "application/problem+json"
    assert "/resident/verifications" in anonymous.get("/openapi.json").json()["paths"]


@pytest.mark.usefixtures("still_limits")
def test_the_page_is_limited_per_address(consortium: Consortium, tmp_path: Path) -> None:
    from crossverify.config import Config, NetworkSettings, ServiceSettings, VerifierSettings
    from crossverify.service.app import create_app
    from crossverify.service.auth import new_key
    from crossverify.session import Session

    _, digest = new_key()
    app = create_app(Session(Config(network=NetworkSettings(registry=consortium.registry.address),
                                    verifier=VerifierSettings(outbox=tmp_path / "o.sqlite"),
                                    service=ServiceSettings(api_keys={"b": f"bank {digest}"},
                                                            resident_requests_per_minute=30))), start_workers=False)
    visitor = TestClient(app)
    codes = [visitor.post("/resident/verifications", content=b"{}").status_code for _ in range(5)]
    assert codes[:3] == [200] * 3 and codes[-1] == 429  # a burst of a tenth of the minute's allowance
    assert visitor.get("/resident/").status_code == 200  # the page itself is static and always served
    # an IPv6 subscriber picks any address of its /64 at will: one limit for the /64, not one per address (else a
    # single machine guesses pickup codes, locks every pickup or floods verifications without limit)
    rotating = [TestClient(app, client=(f"2001:db8:0:7::{n:x}", 50000)) for n in range(1, 6)]
    codes = [client.post("/resident/verifications", content=b"{}").status_code for client in rotating]
    assert codes[:3] == [200] * 3 and codes[-1] == 429
    assert TestClient(app, client=("2001:db8:0:8::1", 50000)).post("/resident/verifications",
                                                                   content=b"{}").status_code == 200
    app.state.session.close()


def test_only_a_bank_serves_the_page(issuer_api: TestClient) -> None:  # noqa: F811
    assert TestClient(issuer_api.app).get("/resident/").status_code == 404
    assert TestClient(issuer_api.app).post("/resident/verifications", content=b"{}").status_code == 404


def test_the_vendored_packages_are_what_the_lock_file_installs(tmp_path: Path) -> None:
    """The page's packages ship inside crossverify (an installed copy needs no npm): each copy is byte for byte
    the file ``npm ci`` installs, at the version and integrity package-lock.json pins."""
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    manifest = json.loads((VENDORED / "packages.json").read_text())
    assert set(manifest) == set(VENDOR)
    for folder, (package, files) in VENDOR.items():
        pinned = lock[f"node_modules/{package}"]
        assert manifest[folder] == {"package": package, "version": pinned["version"],
                                    "integrity": pinned["integrity"], "files": files}
        assert json.loads((ROOT / "node_modules" / package / "package.json").read_text())["version"] == \
            pinned["version"]
        for name in files:
            copy = VENDORED / folder / Path(name).name
            assert copy.read_bytes() == (ROOT / "node_modules" / package / name).read_bytes(), copy
    shipped = {p.relative_to(VENDORED).as_posix() for p in VENDORED.rglob("*") if p.is_file()}
    assert shipped == {"packages.json"} | {f"{f}/{Path(n).name}" for f, (_, names) in VENDOR.items() for n in names}


def test_the_pages_read_names_and_labels_by_the_registrys_digests(consortium: Consortium,
                                                                   bank_api: TestClient,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    found = bank_api.get("/resident/metadata", params={"issuer": "BNUMMOMX", "docType": "DEPCERT"}).json()
    for part in ("issuer", "docType"):
        assert to_hex(keccak(rfc8785.dumps(found[part]["metadata"]))) == found[part]["digest"]
    assert found["issuer"]["metadata"]["name"]["zh-Hant"] == "大西洋銀行"
    assert found["docType"]["metadata"]["docType"] == "DEPCERT"
    none = bank_api.get("/resident/metadata", params={"issuer": "BNUMMOMX", "docType": "INSPOL"}).json()
    assert none["docType"] == {"digest": "0x" + "00" * 32, "metadata": None, "problem": None}
    assert bank_api.get("/resident/metadata", params={"issuer": "bnu", "docType": "DEPCERT"}).status_code == 422
    institution = bank_api.get("/resident/institution").json()
    assert institution == {"name": None, "issuer": None, "suite": "standard", "purposes": purpose_names()}
    assert institution["purposes"]["ACCTOPEN"] == {"zh-Hant": "開立帳戶", "zh-Hans": "开立账户",
                                                   "pt": "abertura de conta", "en": "account opening"}

    altered = json.loads((EXAMPLES / "metadata" / "BNUMMOMX.json").read_text())
    altered["name"]["en"] = "Another Bank"
    (tmp_path / "BNUMMOMX.json").write_text(json.dumps(altered))
    config = bank_api.app_state.session.config  # type: ignore[attr-defined]
    relabelled = Session(replace(config, display=DisplaySettings(metadata=[tmp_path])))
    refused = MetadataReader(relabelled.registry, relabelled.catalogue)
    with pytest.raises(MetadataMismatch):
        refused.issuer("BNUMMOMX")
    relabelled.close()
