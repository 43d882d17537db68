"""The resident's journeys in Debian's Chromium at phone size, in each of the four languages: collect a certificate
with the issuer's one-time code (the browser makes the key, enrols its public half, saves the bound bundle), then
present it to the bank by the clerk's code (redact, sign, verdict, sealed receipt). Claims, the issuer and the
type read through the display metadata the registry vouches for; a page served altered metadata refuses it.

One service holds the issuer's and the bank's keys (a browser keeps a key for the site that made it:
docs/resident.md); one issued world serves the whole module. Screenshots land in test-output/resident/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from crossverify.config import (
    Config,
    DisplaySettings,
    IssuerSettings,
    KeySettings,
    NetworkSettings,
    ServiceSettings,
    VerifierSettings,
)
from crossverify.format.display import claim_value
from crossverify.format.holder import key_from_jwk
from crossverify.format.metadata import LANGUAGES, read_metadata, standard_types
from crossverify.format.presentation import load_presentation
from crossverify.service.app import create_app
from crossverify.service.auth import new_key
from crossverify.session import Session
from crossverify.verifier.client import CHECKS

from ..conftest import EXAMPLES, Consortium
from .browser import Traffic, latin_words, no_alert, phone, served, shot, watched

ISSUER_KEY, ISSUER_DIGEST = new_key()
BANK_KEY, BANK_DIGEST = new_key()
BANK = {"zh-Hant": "廣東示例銀行", "zh-Hans": "广东示例银行", "pt": "Banco Exemplo de Guangdong",
        "en": "Guangdong Example Bank"}
CLAIMS = {"holder_name": "陳大文 CHAN Tai Man", "id_number": "1234567(8)", "account_no": "9-101-234567-8",
          "balance_mop": 125000.5, "term_months": 12, "opened_on": "2021-03-04", "joint": False}
WITHHELD = ["account_no", "balance_mop"]
DEPOSIT = next(t for t in standard_types() if t.doc_type == "DEPCERT")
BNU = read_metadata((EXAMPLES / "metadata" / "BNUMMOMX.json").read_bytes())


@dataclass
class Portal:
    site: str
    issuer: TestClient
    bank: TestClient
    consortium: Consortium


@pytest.fixture(scope="module")
def portal(session_consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """One service with an issuer's and a bank's keys, on a loopback port; the chain is as it was afterwards."""
    c, tmp = session_consortium, tmp_path_factory.mktemp("portal")
    snapshot = c.w3.testing.snapshot()
    config = Config(
        network=NetworkSettings(registry=c.registry.address, circulation=c.circulation.address),
        keys=KeySettings(dev_mode=True, sender_address=c.verifier,
                         signer_private_key="0x" + c.signing_key.key.hex()),
        issuer=IssuerSettings(id="BNUMMOMX", journal=tmp / "journal.sqlite", bundles=tmp / "bundles",
                              pickups=tmp / "pickups.sqlite"),
        verifier=VerifierSettings(outbox=tmp / "outbox.sqlite", audience="ICBKCNBJGDG",
                                  challenges=tmp / "challenges.sqlite", holder_binding=["DEPCERT"]),
        service=ServiceSettings(api_keys={"issuer": f"issuer {ISSUER_DIGEST}", "bank": f"bank {BANK_DIGEST}"},
                                requests_per_minute=6000, resident_requests_per_minute=6000),
        display=DisplaySettings(metadata=[EXAMPLES / "metadata"], name=BANK),
    )
    session = Session(config)
    app = create_app(session, start_workers=False)
    with served(app) as site:
        yield Portal(site, TestClient(app, headers={"Authorization": f"Bearer {ISSUER_KEY}"}),
                     TestClient(app, headers={"Authorization": f"Bearer {BANK_KEY}"}), c)
    session.close()
    c.w3.testing.revert(snapshot)


def offer(portal: Portal, reference: str) -> dict[str, str]:
    entry = {"reference": reference, "docType": "DEPCERT", "notAfter": portal.consortium.now() + 86400 * 365,
             "claims": CLAIMS}
    reply = portal.issuer.post("/v1/pickups", json={"certificate": entry})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def shown_as(language: str) -> dict[str, tuple[str, str]]:
    """Each claim's label and value as the page must show them in ``language`` (identifiers masked)."""
    return {name: (DEPOSIT.claim(name).label[language], claim_value(value, DEPOSIT.claim(name), language))
            for name, value in CLAIMS.items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_resident_collects_and_presents_in_their_language(portal: Portal, browser: Browser, language: str,
                                                            tmp_path: Path) -> None:
    offered = offer(portal, f"DEP-{language}")
    context = phone(browser, language)
    traffic = Traffic()
    page = watched(context, traffic)
    words = shown_as(language)
    raw = [*CLAIMS, "DEPCERT", "BNUMMOMX", "balance mop", "holder name"]

    # Pickup: the code from the issuer's letter (a QR code of the page's address), a new key, the bundle saved.
    page.goto(portal.site + offered["page"])
    page.wait_for_selector("body[data-ready]")
    assert page.locator("html").get_attribute("lang") == language
    assert page.input_value("#code") == offered["code"]
    assert BNU.name[language] in page.inner_text("#issuer")  # whose page this is, as the registry names it
    page.click("#collect")
    page.wait_for_selector("#wait:not([hidden])")
    portal.issuer.app.state.workers["issuer"].run_once()  # the issuer's pipeline anchors it
    page.wait_for_selector("#save:not([hidden])", timeout=15_000)
    no_alert(page)
    document = page.inner_text("#document")
    assert BNU.name[language] in document and DEPOSIT.name[language] in document, document
    assert page.locator("#labels-refused").is_hidden()
    inset = page.evaluate("""() => { const link = document.getElementById('download').getBoundingClientRect();
        const range = document.createRange();
        range.selectNodeContents(document.getElementById('download'));
        return Math.min(...[...range.getClientRects()].flatMap((line) =>
            [line.left - link.left, link.right - line.right])); }""")
    assert inset >= 8, inset  # the button's words, on one line or two, clear of its edges
    shot(page, f"{language}-1-collected")
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "certificate.json"
    download.value.save_as(saved)
    [enrol] = [json.loads(body) for url, _, body in traffic.requests if url.endswith("/pickups/enrol")]
    assert set(enrol["jwk"]) == {"kty", "crv", "x", "y"}  # no private part left the device

    # Presentation: the clerk's code, the resident's choice, the signature made on the device, the verdict.
    handed = portal.bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    started = time.perf_counter()
    page.goto(portal.site + handed["page"])
    page.wait_for_selector("body[data-ready]")
    assert page.inner_text("#bank") == {"zh-Hant": "出示對象：廣東示例銀行。", "zh-Hans": "出示对象：广东示例银行。",
                                        "pt": "Está a mostrá-lo a: Banco Exemplo de Guangdong.",
                                        "en": "You are showing it to Guangdong Example Bank."}[language]
    page.set_input_files("#file", saved)
    page.wait_for_selector("#consent:not([hidden])")
    no_alert(page)
    # what the signature consents to, as the clerk chose it, said before the resident signs
    expect(page.locator("#purpose")).to_have_text({
        "zh-Hant": "銀行要求核實的用途：開立帳戶", "zh-Hans": "银行要求核验的用途：开立账户",
        "pt": "O banco pede para o verificar para: abertura de conta",
        "en": "The bank asks to check it for: account opening"}[language])
    claims = page.inner_text("#claims")
    for name, (label, value) in words.items():
        assert label in claims and value in claims, (name, label, value, claims)
    assert "1234567(8)" not in claims  # the identity number is masked until chosen
    names = [c.get("name") for c in json.loads(saved.read_text())["claims"]]
    item = page.locator("#claims li").filter(has=page.locator(f"#claim-{names.index('id_number')}"))
    item.locator("button.reveal").click()
    assert "1234567(8)" in page.inner_text("#claims")
    for name in WITHHELD:
        page.click(f"label[for=claim-{names.index(name)}]")
    summary = page.inner_text("#summary")
    assert words["holder_name"][0] in summary and words["balance_mop"][0] not in summary
    shooting = shot(page, f"{language}-2-chosen")
    visible = page.inner_text("main")
    assert not [word for word in raw if word in visible], visible
    if language.startswith("zh"):
        assert latin_words(visible, [CLAIMS["holder_name"], "MOP", "certificate.json", ".json"]) == []

    page.click("#submit")
    page.wait_for_selector("#outcome.valid")
    elapsed = time.perf_counter() - started - shooting
    print(f"\n{language}: loaded, redacted, signed and verified in {elapsed * 1000:.0f} ms")
    no_alert(page)
    assert page.locator("#why").is_hidden() and page.locator("#checks").is_hidden()  # the full list: on request
    page.click("#all-checks summary")
    assert page.locator("#checks li").count() == len(CHECKS) and page.locator("#checks li.failed").count() == 0
    verdict = page.inner_text("#shown")
    assert words["holder_name"][0] in verdict and words["balance_mop"][0] not in verdict
    clerk = portal.bank.get(f"/v1/challenges/hand-over/{handed['code']}").json()  # the clerk's screen
    assert page.inner_text("#reference") == clerk["receipt"]["commitment"]
    assert page.locator("#receipt").is_visible()
    shot(page, f"{language}-3-verdict")
    visible = page.inner_text("main")
    assert not [word for word in raw if word in visible], visible
    if language.startswith("zh"):
        assert latin_words(visible, [CLAIMS["holder_name"], "MOP", "certificate.json", ".json",
                                     clerk["receipt"]["commitment"]]) == []

    [sent] = [body for url, method, body in traffic.requests if url.endswith("/resident/verifications")]
    presentation = load_presentation(sent)
    assert presentation.signed_by(key_from_jwk(enrol["jwk"])) and presentation.binding.aud == "ICBKCNBJGDG"
    for name in WITHHELD:
        assert json.dumps(CLAIMS[name]).strip('"').encode() not in sent
    assert all(url.startswith(portal.site) for url, _, _ in traffic.requests)
    context.close()


def test_a_page_served_altered_labels_refuses_them(portal: Portal, browser: Browser, tmp_path: Path) -> None:
    """Between the service and the phone, DEPCERT's "Deposit balance" becomes "Overdue balance": the page
    recomputes the digest, refuses the labels, and shows the names in the file, saying so."""
    now = portal.consortium.now()
    entry = {"reference": "DEP-altered", "docType": "DEPCERT", "notAfter": now + 86400, "asOf": now,
             "claims": {"holder_name": "LEI Ka Ian", "balance_mop": 88000}}
    assert portal.issuer.post("/v1/certificates", json={"certificates": [entry]}).status_code == 200
    portal.issuer.app.state.workers["issuer"].run_once()
    folder = Path(portal.issuer.app.state.session.config.issuer.bundles) / "BNUMMOMX"
    path = tmp_path / "certificate.json"
    path.write_bytes((folder / "DEP-altered.bundle.json").read_bytes())

    def relabel(route: Route) -> None:
        reply = route.fetch()
        body = reply.json()
        for claim in body["docType"]["metadata"]["claims"]:
            if claim["name"] == "balance_mop":
                claim["label"]["en"] = "Overdue balance"
        route.fulfill(response=reply, json=body)

    context = phone(browser, "en")
    page = watched(context)
    page.route("**/resident/metadata?*", relabel)
    page.goto(f"{portal.site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", path)
    page.wait_for_selector("#labels-refused:not([hidden])")
    no_alert(page)  # a notice, not an error: the certificate itself is fine
    claims = page.inner_text("#claims")
    assert "Overdue balance" not in claims and "Deposit balance" not in claims
    assert "balance_mop (as named in the file)" in claims and "BNUMMOMX" in page.inner_text("#document")
    shot(page, "en-4-labels-refused")
    context.close()


def test_a_copied_certificate_cannot_be_presented_from_another_device(portal: Portal, browser: Browser,
                                                                      tmp_path: Path) -> None:
    """Someone holding a copy of the file, but not the resident's browser, is stopped before anything is sent;
    without the bank's code nothing is sent either."""
    from crossverify.format.holder import public_jwk
    from crossverify.keys.holder import generate_holder_key

    code = offer(portal, "DEP-copy")["code"]
    anonymous = TestClient(portal.issuer.app)
    jwk = public_jwk(generate_holder_key().public_key())
    token = anonymous.post("/resident/pickups/enrol", json={"code": code, "jwk": jwk}).json()["collectToken"]
    portal.issuer.app.state.workers["issuer"].run_once()
    copy = tmp_path / "copy.json"
    copy.write_bytes(anonymous.post("/resident/pickups/collect", json={"collectToken": token}).content)

    traffic = Traffic()
    context = phone(browser, "pt")
    page = watched(context, traffic)
    page.goto(f"{portal.site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", copy)
    page.click("#submit")
    page.wait_for_selector("#error:not(:empty)")
    assert "Introduza o código" in page.inner_text("#error")
    page.fill("#code", portal.bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()["code"])
    page.click("#submit")
    page.wait_for_selector("#error:has-text('outro dispositivo')")  # (the page's CSP forbids wait_for_function)
    assert traffic.posts() == [] and page.locator("#verdict").is_hidden()
    shot(page, "pt-5-another-device")
    context.close()


#: The titles of the problem answers :func:`troubled` gives.
PROBLEM_TITLES = {429: "Too many requests", 503: "Service unavailable"}


def troubled(*troubles: str | int, retry_after: int = 1) -> Callable[[Route], None]:
    """A route handler that meets its first requests with ``troubles`` in turn (``"offline"``: the connection
    lost; a status: that problem answer, with ``Retry-After``), then lets requests through."""
    left = iter(troubles)

    def handle(route: Route) -> None:
        trouble = next(left, None)
        if trouble == "offline":
            route.abort("internetdisconnected")
        elif isinstance(trouble, int):
            route.fulfill(status=trouble, headers={"Retry-After": str(retry_after)},
                          content_type="application/problem+json",
                          body=json.dumps({"title": PROBLEM_TITLES[trouble], "status": trouble}))
        else:
            route.continue_()

    return handle


def pickup_page(portal: Portal, browser: Browser, reference: str,
                routes: dict[str, Callable[[Route], None]] | None = None) -> tuple[BrowserContext, Traffic, Page]:
    """The pickup page of a certificate offered as ``reference``, opened on a phone in English (its requests met by
    ``routes``, by URL pattern), ready: its context, what it sent, and the page."""
    offered = offer(portal, reference)
    context = phone(browser, "en")
    traffic = Traffic()
    page = watched(context, traffic)
    for pattern, handler in (routes or {}).items():
        page.route(pattern, handler)
    page.goto(portal.site + offered["page"])
    page.wait_for_selector("body[data-ready]")
    return context, traffic, page


def test_a_pickup_waits_through_a_lost_connection(portal: Portal, browser: Browser) -> None:
    """Once the key is enrolled the code is spent and the collection token lives only in the page: waiting for the
    certificate, the page keeps asking through a lost connection and a service briefly unavailable, saying so,
    and offers the certificate once it is anchored."""
    context, _, page = pickup_page(portal, browser, "DEP-offline",
                                   {"**/resident/pickups/collect": troubled("offline", 503)})
    page.click("#collect")
    page.wait_for_selector("#error:has-text('keeps trying')", timeout=10_000)
    assert page.locator("#wait").is_visible()
    shot(page, "en-6-pickup-retrying")
    portal.issuer.app.state.workers["issuer"].run_once()
    page.wait_for_selector("#save:not([hidden])", timeout=15_000)
    no_alert(page)
    context.close()


def collected(portal: Portal, page: Page, reference: str, saved: Path) -> Path:
    """Collect ``reference`` on the pickup page in ``page``'s browser (its key stays there) and save it."""
    page.goto(portal.site + offer(portal, reference)["page"])
    page.wait_for_selector("body[data-ready]")
    page.click("#collect")
    page.wait_for_selector("#wait:not([hidden])")
    portal.issuer.app.state.workers["issuer"].run_once()
    page.wait_for_selector("#save:not([hidden])", timeout=15_000)
    no_alert(page)
    with page.expect_download() as download:
        page.click("#download")
    download.value.save_as(saved)
    return saved


def test_a_phone_whose_clock_is_off_presents(portal: Portal, browser: Browser, tmp_path: Path) -> None:
    """A phone's clock two minutes fast (set by hand, or never synchronised): the consent is timed by the bank's
    clock, as its reply says, so the bank finds it valid, not 'not yet valid' or 'expired' every time."""
    context = phone(browser, "en")
    page = watched(context)
    saved = collected(portal, page, "DEP-clock", tmp_path / "certificate.json")
    handed = portal.bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    page.clock.install(time=time.time() + 120)
    page.goto(portal.site + handed["page"])
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", saved)
    expect(page.locator("#purpose")).to_have_text("The bank asks to check it for: account opening")  # read first
    page.click("#submit")
    page.wait_for_selector("#outcome:not(:empty)")
    page.click("#all-checks summary")
    assert page.locator("#checks li.failed").count() == 0, page.inner_text("#failed")
    assert page.get_attribute("#outcome", "class") == "valid"
    no_alert(page)
    context.close()


def test_a_bank_briefly_unavailable_is_not_a_wrong_code(portal: Portal, browser: Browser, tmp_path: Path) -> None:
    """The bank's service answers the code 503 (its store briefly away): the page says to try again, not that the
    bank does not know the code. Trying again reads the purpose the page could not show before: it shows it and
    signs nothing until the resident, having read it, sends again, which sends what they chose. A later send that
    the bank cannot take (a second code, the bank away) leaves no earlier 'Accepted' on screen, nor brings it into
    view."""
    context = phone(browser, "en")
    traffic = Traffic()
    page = watched(context, traffic)
    saved = collected(portal, page, "DEP-unavailable", tmp_path / "certificate.json")
    handed = portal.bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()
    # both readings of the code: the page's, to say its purpose, and the send's
    page.route("**/resident/challenges", troubled(503, 503, retry_after=5))
    page.goto(portal.site + handed["page"])
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", saved)
    names = [c.get("name") for c in json.loads(saved.read_text())["claims"]]
    for name in WITHHELD:
        page.click(f"label[for=claim-{names.index(name)}]")
    page.click("#submit")
    page.wait_for_selector("#error:not(:empty)")
    assert "try again" in page.inner_text("#error") and "new one" not in page.inner_text("#error")
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("The bank asks to check it for: account opening. Nothing was sent")
    assert page.inner_text("#purpose") == "The bank asks to check it for: account opening"
    assert not [url for url, _, _ in traffic.requests if url.endswith("/resident/verifications")]
    page.click("#submit")
    page.wait_for_selector("#outcome.valid")
    no_alert(page)  # the refusal's words are gone once the bank took the code
    [sent] = [body for url, method, body in traffic.requests if url.endswith("/resident/verifications")]
    assert not set(WITHHELD) & set(load_presentation(sent).binding.disclosed)
    again = portal.bank.post("/v1/challenges/hand-over", params={"purpose": "LOAN"}).json()
    page.route("**/resident/verifications", troubled(503))
    page.evaluate("(code) => { location.hash = `code=${code}`; }", again["code"])
    expect(page.locator("#purpose")).to_have_text("The bank asks to check it for: loan application")
    page.click("#submit")
    page.wait_for_selector("#error:not(:empty)")
    assert "try again" in page.inner_text("#error") and page.locator("#verdict").is_hidden()
    context.close()


def test_a_pickup_page_on_plain_http_says_so(portal: Portal, browser: Browser) -> None:
    """Served over plain HTTP at a name (not a secure context), the browser offers no WebCrypto to make the key: the
    page says so and keeps the code unspent, instead of 'your issuer could not be reached' at every try."""
    from .browser import ARGS, CHROMIUM

    offered = offer(portal, "DEP-plain-http")
    port = portal.site.rsplit(":", 1)[1]
    plain = browser.browser_type.launch(executable_path=CHROMIUM,
                                        args=[*ARGS, "--host-resolver-rules=MAP pickup.test 127.0.0.1"])
    try:
        page = watched(phone(plain, "en"))
        page.goto(f"http://pickup.test:{port}{offered['page']}")
        page.wait_for_selector("body[data-ready]")
        assert page.evaluate("isSecureContext") is False
        page.wait_for_selector("#error:not(:empty)", timeout=10_000)
        assert "secure connection" in page.inner_text("#error") and page.is_disabled("#collect")
        shot(page, "en-7-pickup-plain-http")
    finally:
        plain.close()
    assert portal.issuer.get("/v1/pickups/DEP-plain-http").json()["state"] == "offered"


def test_enter_pressed_twice_enrols_once(portal: Portal, browser: Browser) -> None:
    """The phone keyboard's Go key pressed twice (or once after the button): the page makes and enrols one key, and
    does not tell the resident that their code 'was used already: if it was not you, call your issuer'."""
    context, traffic, page = pickup_page(portal, browser, "DEP-enter-twice")
    page.press("#code", "Enter")
    page.press("#code", "Enter")
    page.wait_for_selector("#wait:not([hidden])")
    portal.issuer.app.state.workers["issuer"].run_once()
    page.wait_for_selector("#save:not([hidden])", timeout=15_000)
    no_alert(page)
    assert len([url for url, _, _ in traffic.requests if url.endswith("/pickups/enrol")]) == 1
    context.close()


def test_a_pickup_page_reloaded_while_it_waits_collects(portal: Portal, browser: Browser) -> None:
    """The phone drops the waiting tab (it reloads when the resident comes back) or the resident reopens the link: the
    code is spent, but the page knows what it enrolled with it and collects the certificate, instead of 'This code
    was used already' and a certificate nobody can collect."""
    context, traffic, page = pickup_page(portal, browser, "DEP-reloaded")
    page.click("#collect")
    page.wait_for_selector("#wait:not([hidden])")
    link = page.url
    page.close()
    page = watched(context, traffic)
    page.goto(link)
    page.wait_for_selector("body[data-ready]")
    portal.issuer.app.state.workers["issuer"].run_once()
    page.wait_for_selector("#save:not([hidden])", timeout=15_000)
    no_alert(page)
    assert len([url for url, _, _ in traffic.requests if url.endswith("/pickups/enrol")]) == 1
    with page.expect_download():
        page.click("#download")
    assert "collectToken" not in page.evaluate("localStorage.getItem('pickup')")  # saved: the token is not kept
    # the link opened again once saved: this device's own collection, not 'used already: if it was not you, call'
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#error")).to_have_text(
        "You saved this certificate on this device already, as DEP-reloaded.json: open that file. A code works once.")
    assert len([url for url, _, _ in traffic.requests if url.endswith("/pickups/enrol")]) == 1
    context.close()


def test_a_pickup_page_that_could_not_learn_the_suite_asks_again(portal: Portal, browser: Browser) -> None:
    """The service could not say the consortium's suite when the page loaded (its node briefly away: 503): the page
    does not guess the standard suite's P-256 key, which a GM consortium's banks refuse for the certificate's whole
    life, but asks again before it makes the key (here, a consortium of the GM suite: SM2)."""
    asked = []

    def institution(route: Route) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:
            troubled(503, retry_after=5)(route)
        else:
            route.fulfill(json={"name": None, "issuer": None, "suite": "gm"})

    context, traffic, page = pickup_page(portal, browser, "DEP-suite", {"**/resident/institution": institution})
    page.click("#collect")
    page.wait_for_selector("#wait:not([hidden]), #error:not(:empty)")
    [enrol] = [json.loads(body) for url, _, body in traffic.requests if url.endswith("/pickups/enrol")]
    assert enrol["jwk"]["crv"] == "SM2"
    context.close()


def test_a_busy_issuer_is_named_as_the_issuer(portal: Portal, browser: Browser) -> None:
    """The pickup page limited (429): the resident is told their issuer is busy (not 'the bank'), and trying again
    collects."""
    context, _, page = pickup_page(portal, browser, "DEP-busy", {"**/resident/pickups/enrol": troubled(429)})
    page.click("#collect")
    page.wait_for_selector("#error:not(:empty)")
    assert page.inner_text("#error") == "Your issuer is busy. Please wait a minute and try again."
    page.click("#collect")
    page.wait_for_selector("#wait:not([hidden])")
    no_alert(page)
    context.close()


@pytest.mark.parametrize("path", ["/resident/", "/resident/pickup/"])
def test_a_browser_that_cannot_run_the_page_is_told_so(portal: Portal, browser: Browser, path: str) -> None:
    """A browser too old for the pages' scripts (Safari before 16.4 has no import maps: an iPhone 7 stays on iOS 15)
    fails to load them: instead of a blank page, it says so in the four languages after a few seconds. A browser
    that runs them never shows it."""
    page = browser.new_page()
    page.route("**/vendor/canonicalize/canonicalize.js", lambda route: route.abort())
    page.goto(portal.site + path)
    page.wait_for_selector("#unsupported", state="visible", timeout=10_000)
    text = page.inner_text("#unsupported")
    assert all(word in text for word in ("瀏覽器", "浏览器", "navegador", "browser")), text
    shot(page, f"unsupported{path.replace('/', '-').rstrip('-')}")
    page.close()
    page = browser.new_page()
    page.goto(portal.site + path)
    page.wait_for_selector("body[data-ready]")
    page.wait_for_timeout(5_000)
    assert page.locator("#unsupported").count() == 0
    no_alert(page)
    page.close()


@pytest.mark.parametrize("path", ["/resident/", "/resident/pickup/"])
def test_a_browser_that_keeps_no_site_data_still_opens_the_pages(portal: Portal, browser: Browser, path: str) -> None:
    """A browser set to keep no site data throws on every use of its storage: the pages still open and speak the
    language chosen (not kept for the next visit), where they stayed blank."""
    context = phone(browser, "en")
    context.add_init_script("Object.defineProperty(window, 'localStorage', "
                            "{ get() { throw new DOMException('site data is blocked', 'SecurityError'); } });")
    page = watched(context)
    page.goto(portal.site + path)
    page.wait_for_selector("body[data-ready]")
    page.select_option("#language", "pt")
    assert page.locator("html").get_attribute("lang") == "pt"
    no_alert(page)
    context.close()


def test_a_browser_that_cannot_keep_the_key_says_so_and_spends_no_code(portal: Portal, browser: Browser) -> None:
    """A private window, or a browser keeping no data for the site, refuses the page its key store (IndexedDB): the
    pickup page says so and what to do, not that the issuer could not be reached (trying again never helps), and
    enrols nothing, so the code still collects from a window that keeps the key."""
    offered = offer(portal, "DEP-no-key-store")
    context = phone(browser, "en")
    context.add_init_script("IDBFactory.prototype.open = () => { "
                            "throw new DOMException('The user denied permission to access the database.', "
                            "'UnknownError'); };")
    traffic = Traffic()
    page = watched(context, traffic)
    page.goto(portal.site + offered["page"])
    page.wait_for_selector("body[data-ready]")
    page.click("#collect")
    page.wait_for_selector("#error:not(:empty)")
    assert "private window" in page.inner_text("#error") and "reached" not in page.inner_text("#error")
    assert not [url for url, _, _ in traffic.requests if url.endswith("/pickups/enrol")]
    assert portal.issuer.get("/v1/pickups/DEP-no-key-store").json()["state"] == "offered"
    context.close()


@pytest.mark.parametrize(("path", "title"), [("/resident/", "Show your certificate to the bank"),
                                             ("/resident/pickup/", "Collect your certificate")])
def test_a_page_speaks_while_its_service_is_slow_to_say_whose_it_is(portal: Portal, browser: Browser, path: str,
                                                                    title: str, tmp_path: Path) -> None:
    """The service is slow to say whose page it is (it asks the chain its suite): the page shows its words at once,
    not empty boxes and an unlabelled button, and names the bank or issuer once it is told. A certificate opened
    meanwhile has its labels checked by the suite's hash once it is known, not by a guess."""
    context = phone(browser, "en")
    traffic = Traffic()
    page = watched(context, traffic)
    held: list[Route] = []
    page.route("**/resident/institution", lambda route: held.append(route))
    page.goto(portal.site + path)
    expect(page.locator("h1")).to_have_text(title)
    assert page.inner_text("label[for=file], #collect").strip()
    if path == "/resident/":
        vectors = json.loads((EXAMPLES.parent / "docs" / "vectors" / "v1.1.json").read_text())
        bundle = vectors["hashAlgorithms"]["keccak256"]["bundles"][0]["bundle"]
        (tmp_path / "certificate.json").write_text(json.dumps(bundle))
        page.set_input_files("#file", tmp_path / "certificate.json")
        page.wait_for_timeout(300)
        assert not [url for url, _, _ in traffic.requests if "/resident/metadata" in url]
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_selector("body[data-ready]")
    assert page.locator(".institution").is_visible()
    if path == "/resident/":
        page.wait_for_selector("#document:not([hidden])")
        assert [url for url, _, _ in traffic.requests if "/resident/metadata" in url]
    no_alert(page)
    context.close()


def test_a_retry_after_given_as_a_date_is_not_a_busy_loop(portal: Portal, browser: Browser) -> None:
    """A gateway before the issuer answers 503 with Retry-After as an HTTP date (RFC 9110 allows either form): the
    waiting page asks again after its usual pause, not as fast as the connection allows."""
    asked = []

    def away(route: Route) -> None:
        asked.append(route.request.url)
        route.fulfill(status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
                      content_type="application/problem+json", body=json.dumps({"title": PROBLEM_TITLES[503]}))

    context, _, page = pickup_page(portal, browser, "DEP-dated", {"**/resident/pickups/collect": away})
    page.click("#collect")
    page.wait_for_selector("#error:has-text('keeps trying')", timeout=10_000)
    page.wait_for_timeout(1_500)
    assert 1 <= len(asked) <= 2, len(asked)
    context.close()


def test_a_connection_lost_while_sending_says_the_bank_may_have_it(portal: Portal, browser: Browser,
                                                                  tmp_path: Path) -> None:
    """The phone's connection drops after the presentation left it, before the verdict came back: the bank has it
    and its code is spent, so the page says the bank may have received it and to ask, not that the bank could not
    be reached (trying again would then be told the code was used or unknown)."""
    context = phone(browser, "en")
    page = watched(context)
    saved = collected(portal, page, "DEP-lost-reply", tmp_path / "certificate.json")
    handed = portal.bank.post("/v1/challenges/hand-over", params={"purpose": "ACCTOPEN"}).json()

    def lost(route: Route) -> None:
        route.fetch()  # the bank receives and answers it
        route.abort("internetdisconnected")

    page.route("**/resident/verifications", lost)
    page.goto(portal.site + handed["page"])
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", saved)
    expect(page.locator("#purpose")).not_to_be_empty()
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("the bank may have received it")
    assert portal.bank.get(f"/v1/challenges/hand-over/{handed['code']}").json()["state"] == "answered"
    context.close()
