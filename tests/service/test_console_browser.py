"""The regulator's console in Chromium over the demo's chain: a supervisor signs in, reads the overview (each
planted incident once, explained), opens an anomaly kind, drops the resident's certificate and reads its
circulation in Simplified Chinese and in Portuguese, exports a table, signs out; a request without a session is
refused. Screenshots land in test-output/console/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from rich.console import Console

from crossverify.demo import DemoResult, regulator_demo
from crossverify.format.display import number
from crossverify.regulator.export import to_html
from crossverify.regulator.words import WORDS, Names
from crossverify.service.app import create_app
from crossverify.service.console import COOKIE
from crossverify.session import Session

from .live import serving

SHOTS = Path(__file__).parents[2] / "test-output" / "console"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, DemoResult, Session]]:
    """A regulator's service over the demo's story (40 certificates): (its address, the regulator's key, the
    story, the regulator's session)."""
    out = tmp_path_factory.mktemp("console")
    config, key, result = regulator_demo(out, 40, console=Console(file=(out / "story.txt").open("w")))
    session = Session(config, w3=result.w3)
    session.trail.sync()
    app = create_app(session, start_workers=False)
    with serving(app, config.service) as (host, port):
        yield f"http://{host}:{port}", key, result, session
    session.close()


@pytest.fixture
def console(served: tuple[str, str, DemoResult, Session]) -> tuple[str, str, DemoResult]:
    return served[:3]


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def no_alert(page: Page) -> None:
    assert page.locator("#error").inner_text() == ""


def test_a_supervisor_follows_the_circulation(console: tuple[str, str, DemoResult], browser: Browser) -> None:
    site, key, story = console
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    refused = page.request.get(f"{site}/v1/regulator/overview")
    assert refused.status == 401 and refused.json()["title"] == "Unauthenticated"

    page.goto(f"{site}/regulator/")
    page.select_option("#language", "en")
    page.fill("#key", "cvk_not-a-regulator")
    page.click("#login-form button")
    # (a locator waits in Playwright's own world: wait_for_function's string would be eval'd under the page's CSP)
    expect(page.locator("#error")).to_have_text("That is not a regulator's API key.")
    problems.clear()  # Chromium logs the refused sign-in's 401
    page.fill("#key", key)
    page.click("#login-form button")
    page.wait_for_selector("#cards .card")
    no_alert(page)
    assert page.locator("#key").input_value() == ""  # the key is gone from the page once exchanged
    assert page.locator("#freshness").inner_text().endswith("up to date with the chain.")
    kinds = page.locator("#kinds article h4 a").all_inner_texts()
    assert len(kinds) == len(story.planted) == 5
    assert [c.inner_text() for c in page.locator("#kinds .count").all()] == ["1 raised"] * 5
    assert "Guangdong Bank A" in page.locator("#charts").inner_text()  # banks by the regulator's names
    shot(page, "overview-en")
    assert page.locator("#history").is_hidden()  # one registry's history: nothing to say

    def succeeded(route: Route) -> None:  # the overview of an index that followed a registry succession
        answer = route.fetch()
        registry = answer.json()["registries"][0]
        before = {**registry, "genesis": "0x" + "77" * 32, "recordedAsPredecessorAt": 1_767_225_600}
        after = {**registry, "era": 1, "followedAt": 1_767_229_200, "reanchoredBatches": 2, "restoredRevocations": 1}
        route.fulfill(response=answer, json={**answer.json(), "registries": [before, after]})

    page.route("**/v1/regulator/overview*", succeeded)
    page.goto(f"{site}/regulator/#overview?from=2000-01-01")
    expect(page.locator("#history")).to_contain_text("This index holds the history of 2 registries: ")
    said = page.locator("#history").inner_text()
    assert "(genesis 0x77777777…777777); then" in said and "recorded by its consortium as the successor on " \
        "2026-01-01 00:00 UTC; batches anchored again there: 2, revocations restored there: 1" in said
    shot(page, "overview-succession-en")
    page.unroute("**/v1/regulator/overview*")
    page.goto(f"{site}/regulator/#overview")
    page.wait_for_selector("#cards .card")

    page.click("text=Verification recorded without consent")
    page.wait_for_selector("#table tbody tr")
    no_alert(page)
    rows = page.locator("#table tbody tr")
    assert rows.count() == 1 and "Guangdong Bank B" in rows.inner_text()
    assert page.locator("#rows-title").inner_text() == "Anomalies"
    assert page.locator("#table thead th").first.inner_text() == "When (UTC)"  # not Macao's time, nor the browser's
    export = page.request.get(site + (page.locator("#export").get_attribute("href") or ""))
    assert export.status == 200 and "circulation_without_consent" in export.text()
    shot(page, "anomaly-kind-en")

    assert story.bundle is not None
    for language, verified, consent, kind in (("zh-Hans", "核验", "居民签署的出示", "存款证明"),
                                              ("pt", "verificou-o para", "assinada pelo residente",
                                               "Certificado de depósito")):
        page.goto(f"{site}/regulator/#document")
        page.select_option("#language", language)
        page.set_input_files("#file", story.bundle)
        page.wait_for_selector("#timeline li.verified")
        no_alert(page)
        timeline = page.locator("#timeline").inner_text()
        assert verified in timeline and consent in timeline and "Guangdong Bank A" in timeline
        assert kind in timeline  # the document type by its registered display metadata, in this language
        assert page.locator("#timeline li.verified").count() == 2  # Bank A's, and Bank B's reuse of its consent
        times = page.locator("#timeline li time").all_inner_texts()
        assert times and all(t.endswith(" UTC") for t in times), times
        assert " UTC" in page.locator("#timeline li.anchored").inner_text()  # valid until, in UTC
        assert page.locator("#doc-anomalies article").count() == 1
        assert story.traced[0].document_digest.hex() in page.locator("#computed").inner_text()
        shot(page, f"document-{language}")

    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    assert not [c for c in context.cookies() if c["name"] == COOKIE]
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0  # nothing kept in the browser
    assert page.request.get(f"{site}/v1/regulator/overview").status == 401
    assert page.locator("#timeline li").count() == 0 and page.locator("#cards .card").count() == 0
    shot(page, "signed-out")
    assert problems == []
    context.close()


def signed_in(site: str, key: str, browser: Browser) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{site}/regulator/")
    page.fill("#key", key)
    page.click("#login-form button")
    page.wait_for_selector("#cards .card")
    return context, page


def test_a_sign_out_the_service_did_not_take_says_so(console: tuple[str, str, DemoResult], browser: Browser) -> None:
    site, key, _ = console
    context, page = signed_in(site, key, browser)
    page.route("**/regulator/session", lambda route: route.abort() if route.request.method == "DELETE"
               else route.continue_())
    page.click("#logout")
    expect(page.locator("#error")).to_have_text("The service could not be reached. Try again.")
    assert page.request.get(f"{site}/regulator/session").json()["name"] is not None  # the session is still open
    assert page.locator("#logout").is_visible() and page.locator("#login").is_hidden()  # and the page says so
    page.unroute("**/regulator/session")
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    assert page.request.get(f"{site}/regulator/session").json()["name"] is None
    context.close()


def test_a_sign_in_the_service_could_not_answer_is_not_called_a_wrong_key(console: tuple[str, str, DemoResult],
                                                                         browser: Browser) -> None:
    site, key, _ = console
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{site}/regulator/")
    page.wait_for_selector("#login:not([hidden])")
    page.route("**/regulator/session", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "60"}, content_type="application/problem+json",
        json={"title": "Too many requests", "status": 429, "detail": "too many requests from this address"})
        if route.request.method == "POST" else route.continue_())
    page.fill("#key", key)
    page.click("#login-form button")
    expect(page.locator("#error")).to_have_text("The service refused: too many requests from this address")
    page.unroute("**/regulator/session")
    page.fill("#key", key)
    page.click("#login-form button")
    page.wait_for_selector("#cards .card")
    context.close()


def test_an_answer_that_comes_late_is_not_shown_over_the_view_asked_for_since(
        console: tuple[str, str, DemoResult], browser: Browser) -> None:
    """A slow answer for a view the supervisor has left is dropped, not drawn under the address of the next (nor its
    cursor read on from there)."""
    site, key, _ = console
    context, page = signed_in(site, key, browser)
    held: list[Route] = []
    page.route("**/v1/regulator/tables/anchors*", lambda route: held.append(route))
    with page.expect_request("**/v1/regulator/tables/anchors*"):  # its answer held back
        page.goto(f"{site}/regulator/#anchors")
    page.goto(f"{site}/regulator/#revocations")
    expect(page.locator("#rows-title")).to_have_text("Revocations")
    shown = page.locator("#table").inner_text()
    assert len(held) == 1
    with page.expect_response("**/v1/regulator/tables/anchors*"):
        held[0].continue_()
    page.wait_for_timeout(500)  # the late answer read and (before) drawn
    assert page.locator("#rows-title").inner_text() == "Revocations" and page.locator("#table").inner_text() == shown
    assert page.url.endswith("#revocations")
    no_alert(page)  # nothing said of the answer dropped
    context.close()


def test_the_overview_s_charts_read_in_the_console_s_language_each_label_in_its_room(
        console: tuple[str, str, DemoResult], browser: Browser) -> None:
    """A bank named at length (as [regulator] bank_names may name it) is cut to its label's room, whole on hover,
    not run off the chart's edge; the charts' words are the language's, and figures are written as Macao writes
    them in it, as the static report's are."""
    site, key, _ = console
    context, page = signed_in(site, key, browser)
    long_name = "Industrial and Commercial Bank of China (Guangdong Branch)"

    def renamed(route: Route) -> None:
        answer = route.fetch()
        names, totals = answer.json()["names"], answer.json()["totals"]
        banks = {address: long_name for address in names["banks"]}
        route.fulfill(response=answer, json={**answer.json(), "names": {**names, "banks": banks},
                                             "totals": {**totals, "issued": 12345}})

    page.route("**/v1/regulator/overview*", renamed)
    page.goto(f"{site}/regulator/#overview?from=2000-01-01")
    page.select_option("#language", "zh-Hant")
    page.wait_for_function("""(name) => [...document.querySelectorAll('#charts svg title')].some(
        (title) => title.textContent.startsWith(name))""", arg=long_name)  # the renamed overview, not the one before
    expect(page.locator("#charts")).to_contain_text("最高")
    assert "max" not in page.locator("#charts").inner_text()
    labels = page.evaluate("""[...document.querySelectorAll('#charts svg text.label')].map((text) => [
        text.getBBox().x, text.textContent, text.closest('a')?.querySelector('title').textContent ?? ''])""")
    assert labels and all(x >= 0 for x, _, _ in labels), labels
    cut = [(text, title) for _, text, title in labels if long_name not in text and title.startswith(long_name)]
    assert cut and all(text.endswith("…") and long_name.startswith(text[:-1]) for text, _ in cut), cut
    page.select_option("#language", "pt")
    assert page.locator("#cards .card b").first.inner_text() == number(12345, "pt") == "12\xa0345"  # not 12.345
    context.close()


@pytest.mark.parametrize(("kind", "time"), [("circulation_of_revoked", "Revoked"),
                                           ("circulation_of_expired", "Valid until")])
def test_an_anomaly_s_times_read_as_the_table_s_times(console: tuple[str, str, DemoResult], browser: Browser,
                                                      kind: str, time: str) -> None:
    """A revoked or expired document accepted: the supervisor compares when it was verified with when it was revoked
    or expired, so that time in the details reads as the row's own does (UTC, to the minute), not as Unix seconds."""
    site, key, _ = console
    context, page = signed_in(site, key, browser)
    page.goto(f"{site}/regulator/#anomalies?kind={kind}")
    page.wait_for_selector("#table tbody tr .details")
    details = page.locator("#table .details").inner_text()
    assert re.search(time + r"\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", details), details
    assert not re.search(r"\d{9}", details), details
    context.close()


def test_anomalies_details_read_in_the_console_s_language(console: tuple[str, str, DemoResult],
                                                          browser: Browser) -> None:
    """Every planted anomaly's details, in Traditional Chinese: each named in Chinese, a purpose and a scope in words,
    not the index's field names and codes (commitment, firstPurpose, LOAN, document)."""
    site, key, story = console
    context, page = signed_in(site, key, browser)
    page.select_option("#language", "zh-Hant")
    page.goto(f"{site}/regulator/#anomalies")
    expect(page.locator("#table tbody tr")).to_have_count(len(story.planted))
    names = page.locator("#table .details dt").all_inner_texts()
    values = page.locator("#table .details dd").all_inner_texts()
    assert names and not [n for n in names if re.search("[A-Za-z]{2,}", n)], names
    assert "貸款申請" in values and "文件" in values and not {"LOAN", "ACCTOPEN", "document"} & set(values), values
    shot(page, "anomalies-zh-Hant")
    context.close()


def test_the_static_report_reads_in_the_regulators_language(served: tuple[str, str, DemoResult, Session],
                                                            browser: Browser, tmp_path: Path) -> None:
    """The same story as a page the supervisor keeps: each planted incident once, explained in Traditional Chinese
    and in Portuguese; issuers, document types and banks by name, each bar's label in its room."""
    _, _, story, session = served
    supervision = session.supervision
    report = supervision.report()
    names = Names.registered(session.metadata, supervision.issued_types(), session.config.regulator.bank_names)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    for language, issuer, kind in (("zh-Hant", "大西洋銀行", "存款證明"), ("pt", "Banco Nacional Ultramarino",
                                                                         "Certificado de depósito")):
        path = tmp_path / f"report-{language}.html"
        path.write_text(to_html(report, language, names), encoding="utf-8")
        page.goto(path.as_uri())
        assert page.locator(".kind").count() == len(story.planted) == 5
        assert page.locator(".kind .count").all_inner_texts() == ["×1"] * 5
        titles = page.locator(".kind h3").all_inner_texts()
        assert all(WORDS[language][f"kind.{k}.title"] in " ".join(titles) for k in story.planted), titles
        text = page.locator("body").inner_text()
        assert issuer in text and kind in text and "Guangdong Bank A" in text and "Guangdong Bank B" in text
        assert "UTC" in page.locator(".sub").inner_text() and "UTC" in page.locator("th").first.inner_text()
        assert page.evaluate("""() => [...document.querySelectorAll('svg g')].every((bar) => {
            const box = bar.querySelector('text').getBBox();
            return box.x + box.width < Number(bar.querySelector('rect').getAttribute('x')); })""")  # nor into its bar
        shot(page, f"report-{language}")
    context.close()
