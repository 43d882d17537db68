"""The resident's journey in Debian's Chromium, driven by Playwright, against the bank's service on the embedded
chain: open the certificate, withhold claims, send, read the verdict. Screenshots land in test-output/resident/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route

from crossverify.format.bundle import load_bundle
from crossverify.verifier.client import CHECKS

from ..conftest import Consortium
from .browser import PHONE, Traffic, no_alert, served, shot
from .test_api import bank_api, issuer_api  # noqa: F401  (fixtures)

CLAIMS = {"holder_name": "陳大文 CHAN Tai Man", "account_no": "9-101-234567-8", "balance_mop": 125000.5,
          "address": "Avenida de Almeida Ribeiro 22, Macau", "joint": False}
WITHHELD = ["account_no", "balance_mop", "address"]


@pytest.fixture
def site(bank_api: TestClient) -> Iterator[str]:  # noqa: F811
    """The bank's service on a free loopback port, in a thread."""
    with served(bank_api.app) as url:
        yield url


def issued(consortium: Consortium, issuer_api: TestClient, tmp_path: Path, **claims: object) -> Path:  # noqa: F811
    now = consortium.now()
    entry = {"reference": "DEP-R", "docType": "DEPCERT", "notAfter": now + 86400 * 365, "asOf": now,
             "claims": {**CLAIMS, **claims}}
    assert issuer_api.post("/v1/certificates", json={"certificates": [entry]}).status_code == 200
    issuer_api.app_state.workers["issuer"].run_once()  # type: ignore[attr-defined]
    folder = Path(issuer_api.app_state.session.config.issuer.bundles) / "BNUMMOMX"  # type: ignore[attr-defined]
    path = tmp_path / "my-certificate.json"
    path.write_bytes((folder / "DEP-R.bundle.json").read_bytes())
    return path


def phone(browser: Browser, locale: str, traffic: Traffic) -> Page:
    page = browser.new_page(viewport=PHONE, locale=locale, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.on("request", traffic.record)
    page.on("pageerror", lambda error: pytest.fail(f"the page raised {error}"))
    return page


def test_a_resident_shows_only_what_they_choose(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                site: str, browser: Browser, tmp_path: Path) -> None:
    path = issued(consortium, issuer_api, tmp_path)
    original = path.read_text()
    traffic = Traffic()
    page = phone(browser, "zh-MO", traffic)

    started = time.perf_counter()
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    loaded = time.perf_counter() - started
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    page.set_input_files("#file", path)
    page.wait_for_selector("#choose:not([hidden])")
    assert "my-certificate.json" in page.inner_text("#opened") and "大西洋銀行" in page.inner_text("#document")
    shooting = shot(page, "1-opened")

    names = [c.get("name") for c in json.loads(original)["claims"]]
    for name in WITHHELD:  # by keyboard: focus each box and press Space
        page.focus(f"#claim-{names.index(name)}")
        page.keyboard.press("Space")
    assert page.inner_text("#count").startswith("銀行將看到 5 項中的 2 項")
    shooting += shot(page, "2-chosen")
    page.focus("#submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#outcome.valid")
    elapsed = time.perf_counter() - started - shooting
    shot(page, "3-verdict")

    print(f"\nresident page: loaded in {loaded * 1000:.0f} ms; loaded, redacted and verified in "
          f"{elapsed * 1000:.0f} ms")
    checks = page.locator("#checks li")
    assert checks.count() == len(CHECKS) and page.locator("#checks li.failed").count() == 0
    assert page.inner_text("#shown").split("\n") == ["持有人姓名", CLAIMS["holder_name"], "聯名帳戶", "否"]
    assert page.evaluate("document.activeElement.id") == "verdict-title"
    no_alert(page)

    page.click("#again")  # the next file is damaged: nothing of the previous certificate stays on screen
    damaged = tmp_path / "damaged.json"
    damaged.write_text(original.replace("125000.5", "925000.5"))
    page.set_input_files("#file", damaged)
    page.wait_for_selector("#error:not(:empty)")
    assert page.locator("#document").is_hidden() and page.locator("#verdict").is_hidden()
    assert "大西洋銀行" not in page.inner_text("main")

    expected = load_bundle(original).redact(WITHHELD).dumps().encode()
    [sent] = traffic.posts()
    assert sent == expected  # the page redacts exactly as the library does
    secrets = [s for c in json.loads(original)["claims"] if c["name"] in WITHHELD
               for s in (c["salt"][2:], json.dumps(c["value"], ensure_ascii=False).strip('"'), c["name"])]
    for url, _, body in traffic.requests:
        for secret in secrets:
            assert secret not in url and secret.encode() not in body, (url, secret)
        assert len(body) <= len(expected)
    assert all(url.startswith(site) for url, _, _ in traffic.requests)


def test_a_file_opened_again_before_the_first_s_labels_came_keeps_its_own(
        consortium: Consortium, issuer_api: TestClient, site: str, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    """Two files opened in quick succession: the first one's labels, arriving late, are not put on the second."""
    path = issued(consortium, issuer_api, tmp_path)
    page = phone(browser, "en", Traffic())
    held: list[Route] = []
    page.route("**/resident/metadata?*", lambda route: route.continue_() if held else held.append(route))
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", path)
    while not held:
        page.wait_for_timeout(20)
    page.set_input_files("#file", {"name": "again.json", "mimeType": "application/json", "buffer": path.read_bytes()})
    page.wait_for_selector("#choose:not([hidden])")
    labelled = page.inner_text("#document")
    assert "again.json" in page.inner_text("#opened") and page.locator("#labels-refused").is_hidden()
    held[0].fulfill(status=503, body="")  # the first file's labels, late: the service was busy
    page.wait_for_timeout(300)
    assert page.inner_text("#document") == labelled and page.locator("#labels-refused").is_hidden()
    no_alert(page)


def test_the_page_speaks_four_languages_and_fits_a_phone(site: str, browser: Browser) -> None:
    page = phone(browser, "pt-PT", Traffic())
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    assert page.locator("html").get_attribute("lang") == "pt"
    strings = page.evaluate("import('./static/strings.js').then((m) => m.STRINGS)")
    keys = set(strings["en"])
    assert all(set(table) == keys for table in strings.values())
    assert {f"check.{name}" for name in CHECKS} | {f"reason.{name}" for name in CHECKS} <= keys
    words = [(language, key, text) for language, table in strings.items() for key, text in table.items()]
    assert [w for w in words if "crossverify" in w[2]] == []  # no product name: the resident meets their documents
    assert [w for w in words if w[0] == "zh-Hant" and "發出" in w[2]] == []  # one word for the issuer: 簽發機構
    assert [w for w in words if w[0] == "zh-Hant" and "密鑰" in w[2]] == []  # one word for a key: 金鑰
    chinese = [w for w in words if w[0].startswith("zh")]
    assert [w for w in chinese if re.findall(r"[A-Za-z]{2,}", re.sub(r"\{\w+\}|\.json", "", w[2]))] == []  # nor "JSON"
    for language, table in strings.items():
        page.select_option("#language", language)
        assert page.locator("html").get_attribute("lang") == language
        assert page.inner_text("h1") == table["title"] == page.title()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    labelled = page.evaluate("""[...document.querySelectorAll('input, select')]
                                .every((c) => c.labels.length && c.labels[0].textContent.trim())""")
    assert labelled
    page.reload()
    page.wait_for_selector("body[data-ready]")
    assert page.locator("html").get_attribute("lang") == list(strings)[-1]  # the choice is remembered
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "language"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file"


def test_a_changed_certificate_is_refused_on_the_device(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                        site: str, browser: Browser, tmp_path: Path) -> None:
    path = issued(consortium, issuer_api, tmp_path)
    path.write_text(path.read_text().replace("125000.5", "925000.5"))
    traffic = Traffic()
    page = phone(browser, "en-GB", traffic)
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", path)
    page.wait_for_selector("#error:not(:empty)")
    assert "changed or damaged" in page.inner_text("#error")
    page.select_option("#language", "pt")
    assert "alterado ou danificado" in page.inner_text("#error")  # messages follow the language too
    page.select_option("#language", "en")
    assert page.locator("#choose").is_hidden() and traffic.posts() == []
    shot(page, "4-damaged")
    # changed again, with a proof of its own to a root of its own: whole as written, which the page can tell, but
    # whether it is genuine only the ledger tells, which the bank reads: the page does not call it unchanged
    forged = page.evaluate("""(text) => import('./static/bundle.js').then(({ documentDigest, toHex }) => {
        const b = JSON.parse(text);
        b.proof = { ...b.proof, index: 0, leafCount: 1, path: [] };
        b.proof.batchRoot = toHex(documentDigest(b));
        return JSON.stringify(b); })""", path.read_text())
    page.set_input_files("#file", {"name": "forged.json", "mimeType": "application/json", "buffer": forged.encode()})
    page.wait_for_selector("#choose:not([hidden])")
    opened = page.inner_text("#opened")
    assert "unchanged" not in opened and "the bank checks" in opened, opened


def test_a_withdrawn_certificate_is_explained_check_by_check(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                             site: str, browser: Browser, tmp_path: Path) -> None:
    path = issued(consortium, issuer_api, tmp_path)
    assert issuer_api.post("/v1/revocations", json={"reference": "DEP-R", "reason": "withdrawn"}).status_code == 200
    page = phone(browser, "zh-CN", Traffic())
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", path)
    page.click("#none")
    assert page.inner_text("#summary") == "将会发送：不含任何信息，只有证明的指纹"
    page.click("#submit")
    page.wait_for_selector("#outcome.invalid")
    # What went wrong, not the check's name (which says what holds when it passes: "not withdrawn")
    assert page.inner_text("#failed") == "签发机构已撤回这份证明：请向签发机构索取新证明。"
    assert page.locator("#checks").is_hidden()  # every check: behind the disclosure
    page.click("#all-checks summary")
    assert page.locator("#checks li.failed").count() == 1
    assert page.inner_text("#shown") == "不含任何信息，只有证明的指纹"
    shot(page, "5-withdrawn")


def test_long_names_and_values_stay_in_their_place_on_a_phone(consortium: Consortium, issuer_api: TestClient,  # noqa: F811
                                                             site: str, browser: Browser, tmp_path: Path) -> None:
    """A claim the metadata does not label shows by its name, which may run to 128 letters with no space: it wraps
    in its place, as values do, and overlaps no value nor widens the page past the phone's screen."""
    name = "overdraft_" + "x" * 118
    path = issued(consortium, issuer_api, tmp_path, **{name: "MOP 1,000,000", "note": "y" * 300})
    page = phone(browser, "en-GB", Traffic())
    page.goto(f"{site}/resident/")
    page.wait_for_selector("body[data-ready]")
    page.set_input_files("#file", path)
    page.wait_for_selector("#choose:not([hidden])")
    shot(page, "long-names-chosen")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("#submit")
    page.wait_for_selector("#outcome.valid")
    shot(page, "long-names-verdict")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    overlapping = page.evaluate("""[...document.querySelectorAll('#shown dt')].some((dt) =>
        dt.scrollWidth > dt.clientWidth + 1)""")
    assert not overlapping


def test_a_malformed_code_in_the_address_leaves_the_page_working(site: str, browser: Browser) -> None:
    """A link whose code is not valid percent-encoding (mistyped, or sent to break the page) is shown as written
    for the bank to refuse; the page still opens certificates."""
    page = phone(browser, "en-GB", Traffic())
    page.goto(f"{site}/resident/#code=7K2MX%E0%A4%A")
    page.wait_for_selector("body[data-ready]", timeout=10_000)
    assert page.input_value("#code") == "7K2MX%E0%A4%A" and page.inner_text("h1") == "Show your certificate to the bank"
