"""The regulator's console: the page a regulator's service serves at ``/regulator/``, its static files, and the
short-lived sessions a supervisor's browser gets in exchange for the regulator's API key.

The key is sent once, to ``POST /regulator/session``; the browser keeps only an HttpOnly, SameSite=Strict cookie
naming a random session (the service keeps its hash), which lapses after ``IDLE`` seconds unused and ``LIFETIME``
seconds at most, and which logging out forgets on both sides. The page's data routes (``/v1/regulator/...``,
:mod:`crossverify.service.routes.regulators`) accept that cookie or the API key itself. A bundle dropped on the page
is read and hashed in the browser (the resident page's own ``bundle.js``): nothing of it is uploaded.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from .auth import Client
from .resident import PAGE, VENDORED, page_headers

CONSOLE = Path(__file__).parent / "console"
COOKIE = "crossverify_console"
#: A session lapses this many seconds after its last use, and this many after it was opened, whatever its use.
IDLE = 15 * 60
LIFETIME = 8 * 3600


@dataclass
class _Session:
    client: Client
    opened: float
    used: float


class Sessions:
    """The console's open sessions, by the SHA-256 of their token (the token itself lives only in the cookie)."""

    def __init__(self, idle: float = IDLE, lifetime: float = LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle, self.lifetime, self._clock = idle, lifetime, clock
        self._open: dict[bytes, _Session] = {}
        self._lock = threading.Lock()

    def open(self, client: Client) -> str:
        """A new session for ``client``; returns its token (256 random bits), for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._forget_lapsed(now)
            self._open[_digest(token)] = _Session(client, now, now)
        return token

    def client(self, token: str) -> Client | None:
        """Who holds the session ``token``, if it is open and has not lapsed (its idle time starts again)."""
        now = self._clock()
        with self._lock:
            found = self._open.get(_digest(token))
            if found is None or now - found.used > self.idle or now - found.opened > self.lifetime:
                self._open.pop(_digest(token), None)
                return None
            found.used = now
            return found.client

    def close(self, token: str) -> None:
        with self._lock:
            self._open.pop(_digest(token), None)

    def _forget_lapsed(self, now: float) -> None:
        for key in [k for k, s in self._open.items() if now - s.used > self.idle or now - s.opened > self.lifetime]:
            del self._open[key]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def mount(app: FastAPI) -> None:
    """Serve the console at ``/regulator/``: its files under ``/regulator/static/``, the resident page's format
    code it shares under ``/regulator/shared/``, and the packages that code runs under ``/regulator/vendor/``."""
    headers = page_headers(CONSOLE / "index.html")

    @app.get("/regulator", include_in_schema=False)
    def to_console() -> RedirectResponse:
        return RedirectResponse("/regulator/")

    @app.get("/regulator/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(CONSOLE / "index.html", headers=headers)

    app.mount("/regulator/static", StaticFiles(directory=CONSOLE), name="console-static")
    app.mount("/regulator/shared", StaticFiles(directory=PAGE), name="console-shared")
    app.mount("/regulator/vendor", StaticFiles(directory=VENDORED), name="console-vendor")
