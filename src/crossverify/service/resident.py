"""The resident's page: its static files, the JavaScript packages it runs (served from ``node_modules``), and
the security headers that keep it to its own origin. Redaction happens in the browser; the page's verification
route lives in :func:`crossverify.service.app.create_app`."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..errors import ConfigError

PAGE = Path(__file__).parent / "page"

#: What the page loads from npm packages (pinned in package.json): URL folder -> folder in node_modules.
VENDOR = {"canonicalize": "canonicalize/lib", "noble-hashes": "@noble/hashes", "sm-crypto": "sm-crypto/dist"}


def node_modules(start: Path = Path(__file__)) -> Path:
    """The ``node_modules`` folder holding the page's packages: the checkout's, or the working directory's."""
    for folder in [*start.resolve().parents, Path.cwd()]:
        candidate = folder / "node_modules"
        if all((candidate / path).is_dir() for path in VENDOR.values()):
            return candidate
    raise ConfigError("the resident page needs its npm packages: run 'npm ci' in the crossverify checkout")


def _headers() -> dict[str, str]:
    html = (PAGE / "index.html").read_text()
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert found is not None, "index.html carries its import map inline"
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
    return {
        "Content-Security-Policy": (f"default-src 'self'; script-src 'self' 'sha256-{digest}'; connect-src 'self'; "
                                    "img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; "
                                    "frame-ancestors 'none'"),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


def mount(app: FastAPI) -> None:
    """Serve the page at ``/resident/``, its files under ``/resident/static/`` and its packages under
    ``/resident/vendor/``."""
    modules = node_modules()
    headers = _headers()

    @app.get("/resident", include_in_schema=False)
    def to_page() -> RedirectResponse:
        return RedirectResponse("/resident/")

    @app.get("/resident/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE / "index.html", headers=headers)

    app.mount("/resident/static", StaticFiles(directory=PAGE), name="resident-static")
    for name, path in VENDOR.items():
        app.mount(f"/resident/vendor/{name}", StaticFiles(directory=modules / path), name=f"resident-{name}")
