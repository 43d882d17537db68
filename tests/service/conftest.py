"""One Chromium for every browser test of the session; a still clock for the rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, sync_playwright

from crossverify.service import auth

from .browser import ARGS, CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: ./scripts/setup installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def still_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate limits' clock stands still: no token comes back while the test runs, however slowly its
    requests go on a loaded machine, so that the request past a burst is refused."""
    now = time.time()
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: now, monotonic=lambda: 1000.0))
