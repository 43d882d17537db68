"""The resident's pages: the presentation page a bank serves at ``/resident/`` and the pickup page an issuer
serves at ``/resident/pickup/``, their static files, the JavaScript packages they run, and the security headers
that keep them to their own origin. Redaction, keys and signatures stay in the browser; the pages' routes live
in :mod:`crossverify.service.routes.residents`.

The packages (pinned in package.json and package-lock.json) are copied into this package by
``scripts/vendor_page.py``, so an installed crossverify serves them with no checkout, npm or network; a test
keeps the copies equal to what ``npm ci`` installs from the lock file.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Set
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

PAGE = Path(__file__).parent / "page"
VENDORED = PAGE / "vendor"

#: What the pages load from npm packages: URL folder under vendor/ -> (package, files copied from it).
VENDOR: dict[str, tuple[str, list[str]]] = {
    "canonicalize": ("canonicalize", ["lib/canonicalize.js", "LICENSE"]),
    "noble-hashes": ("@noble/hashes", ["sha2.js", "sha3.js", "_md.js", "_u64.js", "utils.js", "LICENSE"]),
    "sm-crypto": ("sm-crypto", ["dist/sm3.js", "dist/sm2.js", "LICENCE_MIT"]),
    "swagger-ui": ("swagger-ui-dist", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"]),
}
#: Page file and path, by the role whose service serves it.
PAGES = {"bank": ("index.html", "/resident/"), "issuer": ("pickup.html", "/resident/pickup/")}


def page_headers(html_file: Path) -> dict[str, str]:
    """The headers a page is served with: a Content-Security-Policy that runs only the origin's own scripts and the
    page's inline import map (by its hash), and nothing else from anywhere."""
    html = html_file.read_text()
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert found is not None, f"{html_file.name} carries its import map inline"
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
    return {
        "Content-Security-Policy": (f"default-src 'self'; script-src 'self' 'sha256-{digest}'; connect-src 'self'; "
                                    "img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; "
                                    "frame-ancestors 'none'"),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


def mount(app: FastAPI, roles: Set[str]) -> None:
    """Serve the pages ``roles`` call for, their files under ``/resident/static/`` and packages under
    ``/resident/vendor/``."""
    for role, (html_file, path) in PAGES.items():
        if role in roles:
            _serve(app, html_file, path)
    app.mount("/resident/static", Revalidated(directory=PAGE), name="resident-static")
    app.mount("/resident/vendor", Revalidated(directory=VENDORED), name="resident-vendor")


class Revalidated(StaticFiles):
    """Static files the browser asks about again before each use (answered 304 while unchanged): after an upgrade
    a page runs the new scripts at once, not those the browser kept for days under heuristic freshness."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _serve(app: FastAPI, html_file: str, path: str) -> None:
    headers = page_headers(PAGE / html_file)

    @app.get(path.rstrip("/"), include_in_schema=False)
    def to_page() -> RedirectResponse:
        return RedirectResponse(path)

    @app.get(path, include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE / html_file, headers=headers)
