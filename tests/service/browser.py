"""What the browser tests share: Debian's Chromium at phone size, the requests a page makes, screenshots kept in
test-output/resident/, a service on a loopback port, and what a person must not meet on a page."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Request

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).parents[2] / "test-output" / "resident"
#: The narrowest phone screens in common use (many Android phones): what fits here fits every phone.
PHONE = {"width": 360, "height": 780}
#: A browser locale for each of the pages' languages.
LOCALES = {"zh-Hant": "zh-MO", "zh-Hans": "zh-CN", "pt": "pt-PT", "en": "en-GB"}


@dataclass
class Traffic:
    """Every request the page makes: URL, method and body."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    def record(self, request: Request) -> None:
        self.requests.append((request.url, request.method, request.post_data_buffer or b""))

    def posts(self) -> list[bytes]:
        return [body for _, method, body in self.requests if method == "POST"]


def phone(browser: Browser, language: str) -> BrowserContext:
    """A phone whose browser speaks ``language`` (one profile: the keys it makes stay in it)."""
    return browser.new_context(viewport=PHONE, locale=LOCALES[language], device_scale_factor=2, is_mobile=True,
                               has_touch=True, accept_downloads=True)


def watched(context: BrowserContext, traffic: Traffic | None = None) -> Page:
    """A new page that fails the test if its JavaScript raises, recording its requests into ``traffic``."""
    page = context.new_page()
    if traffic is not None:
        page.on("request", traffic.record)
    page.on("pageerror", lambda error: pytest.fail(f"the page raised {error}"))
    return page


def shot(page: Page, name: str) -> float:
    """Keep a screenshot of the page as it stands; returns the seconds it took, to leave out of timings."""
    started = time.perf_counter()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    return time.perf_counter() - started


def no_alert(page: Page) -> None:
    """No error is shown: the alert is empty and takes no room."""
    assert page.inner_text("#error") == "" and page.locator("#error").is_hidden(), page.inner_text("#error")


def latin_words(text: str, allowed: list[str]) -> list[str]:
    """Words in Latin letters in ``text`` once every ``allowed`` value (a name, a currency) is taken out: on a
    Chinese page, what a resident who reads no English would meet."""
    for value in sorted(allowed, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port, in a thread, for as long as the block runs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
