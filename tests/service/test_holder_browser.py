"""The holder's journeys in Debian's Chromium: collect a certificate with the issuer's one-time code (the browser
makes the key, enrols its public half, saves the bound bundle), then present it to the bank by the clerk's code
(redact, sign, verdict with the presentation checks); a replayed presentation is refused in the verdict. Both
pages are served from one origin, as a browser keeps a key for the site that made it (docs/resident.md).
Screenshots land in test-output/resident/."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Route

from crossverify.config import (
    Config,
    IssuerSettings,
    KeySettings,
    NetworkSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.format.holder import key_from_jwk, public_jwk
from crossverify.format.presentation import load_presentation
from crossverify.keys.holder import generate_holder_key
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session
from crossverify.verifier.client import CHECKS

from ..conftest import Consortium
from .test_resident_browser import CHROMIUM, PHONE, Traffic, browser, shot  # noqa: F401  (fixture)

ISSUER_KEY, ISSUER_DIGEST = new_key()
BANK_KEY, BANK_DIGEST = new_key()
CLAIMS = {"holder_name": "陳大文 CHAN Tai Man", "account_no": "9-101-234567-8", "balance_mop": 125000.5}
WITHHELD = ["account_no", "balance_mop"]


@pytest.fixture
def portal(consortium: Consortium, tmp_path: Path) -> Iterator[tuple[str, TestClient, TestClient]]:
    """One service holding an issuer's and a bank's keys on a free loopback port: (site, issuer API, bank API)."""
    config = Config(
        network=NetworkSettings(registry=consortium.registry.address),
        keys=KeySettings(dev_mode=True, sender_address=consortium.macao_operator,
                         signer_private_key="0x" + consortium.signing_key.key.hex()),
        issuer=IssuerSettings(id="BNUMMOMX", journal=tmp_path / "journal.sqlite", bundles=tmp_path / "bundles",
                              pickups=tmp_path / "pickups.sqlite"),
        verifier=VerifierSettings(outbox=tmp_path / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=tmp_path / "challenges.sqlite", holder_binding=["DEPCERT"]),
        service=ServiceSettings(api_keys={"issuer": f"issuer {ISSUER_DIGEST}", "bank": f"bank {BANK_DIGEST}"},
                                requests_per_minute=6000, resident_requests_per_minute=6000),
    )
    session = Session(config)
    app = create_app(session, start_workers=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield (f"http://127.0.0.1:{sock.getsockname()[1]}",
           TestClient(app, headers={"Authorization": f"Bearer {ISSUER_KEY}"}),
           TestClient(app, headers={"Authorization": f"Bearer {BANK_KEY}"}))
    server.should_exit = True
    thread.join(10)
    sock.close()
    session.close()


@pytest.fixture
def device(browser: Browser) -> Iterator[BrowserContext]:  # noqa: F811
    """The resident's phone: one browser profile, so the key made at pickup is there to sign with."""
    context = browser.new_context(viewport=PHONE, locale="zh-MO", device_scale_factor=2, is_mobile=True,
                                  has_touch=True, accept_downloads=True)
    yield context
    context.close()


def test_a_resident_collects_then_presents_with_their_own_key(consortium: Consortium, portal: tuple[str, TestClient,
                                                              TestClient], device: BrowserContext, tmp_path: Path
                                                              ) -> None:
    site, issuer, bank = portal
    entry = {"reference": "DEP-H", "docType": "DEPCERT", "notAfter": consortium.now() + 86400 * 365,
             "claims": CLAIMS}
    offered = issuer.post("/v1/pickups", json={"certificate": entry}).json()
    traffic = Traffic()
    page = device.new_page()
    page.on("request", traffic.record)
    page.on("pageerror", lambda error: pytest.fail(f"the page raised {error}"))

    # Pickup: the code from the issuer's letter (a QR code of the page's address), a new key, the bundle saved.
    page.goto(site + offered["page"])
    page.wait_for_selector("body[data-ready]")
    assert page.input_value("#code") == offered["code"]
    shot(page, "6-pickup-code")
    page.focus("#collect")
    page.keyboard.press("Enter")
    page.wait_for_selector("#wait:not([hidden])")
    shot(page, "7-pickup-waiting")
    issuer.app.state.workers["issuer"].run_once()  # the issuer's pipeline anchors it
    page.wait_for_selector("#save:not([hidden])", timeout=15_000)
    shot(page, "8-pickup-saved")
    assert page.inner_text("#error") == "" and page.locator("#error").is_hidden()  # no alert beside success
    assert "BNUMMOMX" in page.inner_text("#document") and "DEPCERT" in page.inner_text("#document")
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "saved.json"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "DEP-H.json"
    [enrol] = [json.loads(body) for url, _, body in traffic.requests if url.endswith("/pickups/enrol")]
    assert set(enrol) == {"code", "jwk"} and set(enrol["jwk"]) == {"kty", "crv", "x", "y"}  # no private part
    bundle = json.loads(saved.read_text())
    assert {"name": "cnf", "value": {"jwk": enrol["jwk"]}}.items() <= next(
        c for c in bundle["claims"] if c.get("name") == "cnf").items()
    stored = page.evaluate("""new Promise((done) => { indexedDB.open("crossverify-holder").onsuccess = (e) => {
        e.target.result.transaction("keys").objectStore("keys").getAll().onsuccess = (r) => done(r.target.result
        .map((k) => [k.jwk.x, k.keys.privateKey.extractable, k.keys.privateKey.type])); }; })""")
    assert stored == [[enrol["jwk"]["x"], False, "private"]]

    # Presentation: the clerk's code, the resident's choice, the signature made on the device, the verdict.
    handed = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    started = time.perf_counter()
    page.goto(site + handed["page"])
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", saved)
    page.wait_for_selector("#consent:not([hidden])")
    assert page.input_value("#code") == handed["code"]
    names = [c.get("name") for c in bundle["claims"]]
    assert page.is_disabled(f"#claim-{names.index('cnf')}")  # the key is always shown: it is what signs
    for name in WITHHELD:
        page.focus(f"#claim-{names.index(name)}")
        page.keyboard.press("Space")
    assert page.inner_text("#error") == ""
    shooting = shot(page, "9-present-chosen")
    page.click("#submit")
    page.wait_for_selector("#outcome.valid")
    elapsed = time.perf_counter() - started - shooting
    shot(page, "10-present-verdict")
    print(f"\nholder page: loaded, redacted, signed and verified in {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0
    checks = page.locator("#checks li")
    assert checks.count() == len(CHECKS)
    for name, words in [("holder_signed", "持有人以自己的金鑰簽署"), ("audience_matches", "提交給本銀行"),
                        ("challenge_fresh", "回應本銀行的請求，僅此一次")]:
        item = checks.nth(CHECKS.index(name))
        assert "passed" in (item.get_attribute("class") or "") and words in item.inner_text(), name
    assert page.locator("#checks li.failed").count() == 0 and page.inner_text("#error") == ""

    posts = [(url, body) for url, method, body in traffic.requests if method == "POST"]
    [(_, sent)] = [(u, b) for u, b in posts if u.endswith("/resident/verifications")]
    presentation = load_presentation(sent)
    assert presentation.signed_by(key_from_jwk(enrol["jwk"]))
    assert presentation.binding.aud == "ICBKCNBJGDG" and presentation.binding.purpose == "ACCTOPEN"
    secrets = [s for c in bundle["claims"] if c.get("name") in WITHHELD
               for s in (c["salt"][2:], json.dumps(c["value"], ensure_ascii=False).strip('"'), c["name"])]
    for url, body in posts:
        for secret in secrets:
            assert secret not in url and secret.encode() not in body, (url, secret)
        assert b'"d"' not in body and len(body) <= len(sent), url
    assert all(url.startswith(site) for url, _, _ in traffic.requests)
    clerk = bank.get(f"/v1/challenges/hand-over/{handed['code']}").json()  # the clerk's screen
    assert clerk["state"] == "answered" and clerk["verdict"]["presentationHash"] == "0x" + presentation.hash().hex()
    assert clerk["receipt"]["state"] == "queued"  # one sealed receipt, its reference shown (no outbox worker here)
    assert bank.get(f"/v1/receipts/{clerk['receipt']['commitment']}").status_code == 200

    # A replay: the same presentation sent again (here, in place of a new one) is refused in the verdict.
    again = bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    page.route("**/resident/verifications", lambda route: _replay(route, sent))
    page.goto(site + again["page"])
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", saved)
    page.click("#submit")
    page.wait_for_selector("#outcome.invalid")
    failed = page.locator("#checks li.failed")
    assert failed.count() == 1 and "回應本銀行的請求，僅此一次" in failed.inner_text()
    assert "replayed presentation" in failed.inner_text()  # the bank's reason, in English, under the check
    assert bank.app.state.session.outbox.counts() == {"queued": 1}  # the replay queued no second receipt
    shot(page, "11-replay-refused")


def _replay(route: Route, body: bytes) -> None:
    route.continue_(post_data=body)



def test_a_copied_certificate_cannot_be_presented_from_another_device(
        consortium: Consortium, portal: tuple[str, TestClient, TestClient], device: BrowserContext,
        tmp_path: Path) -> None:
    """Someone holding a copy of the file, but not the resident's browser, is stopped before anything is sent;
    without the bank's code nothing is sent either."""
    site, issuer, bank = portal
    holder = generate_holder_key()
    entry = {"reference": "DEP-C", "docType": "DEPCERT", "notAfter": consortium.now() + 86400, "claims": CLAIMS}
    code = issuer.post("/v1/pickups", json={"certificate": entry}).json()["code"]
    anonymous = TestClient(issuer.app)
    token = anonymous.post("/resident/pickups/enrol", json={"code": code, "jwk": public_jwk(holder.public_key())}
                           ).json()["collectToken"]
    issuer.app.state.workers["issuer"].run_once()
    copy = tmp_path / "copy.json"
    copy.write_bytes(anonymous.post("/resident/pickups/collect", json={"collectToken": token}).content)

    traffic = Traffic()
    page = device.new_page()
    page.on("request", traffic.record)
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.select_option("#language", "en")
    page.set_input_files("#file", copy)
    page.click("#submit")
    page.wait_for_selector("#error:not(:empty)")
    assert "Enter the code" in page.inner_text("#error")
    page.fill("#code", bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()["code"])
    page.click("#submit")
    page.wait_for_selector("#error:has-text('another device')")  # (the page's CSP forbids wait_for_function's eval)
    assert traffic.posts() == [] and page.locator("#verdict").is_hidden()
    shot(page, "12-another-device")
