"""``/docs`` in Chromium with every request off the service's own origin refused, as on a bank's closed
network: Swagger UI loads from the service itself and lists the bank's operations."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Route

from .browser import served
from .test_api import bank_api  # noqa: F401  (fixture)

SHOTS = Path(__file__).parents[2] / "test-output" / "docs"


def test_the_api_documentation_needs_nothing_outside_the_service(bank_api: TestClient,  # noqa: F811
                                                                  browser: Browser) -> None:
    with served(bank_api.app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        refused: list[str] = []

        def own_origin_only(route: Route) -> None:
            if route.request.url.startswith(base):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        context.route("**/*", own_origin_only)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/docs")
        page.wait_for_selector("#operations-banks-verifyOne", timeout=20_000)
        assert page.locator(".opblock").count() >= len(bank_api.get("/openapi.json").json()["paths"])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "docs.png")
        context.close()
    assert refused == [] and errors == []
