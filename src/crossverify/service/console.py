"""The regulator's console: the page a regulator's service serves at ``/regulator/`` and its static files.

The regulator's API key is sent once, to ``POST /regulator/session``; the browser keeps only an HttpOnly,
SameSite=Strict cookie naming a random session (:mod:`crossverify.service.sessions`), which lapses after ``IDLE``
seconds unused and ``LIFETIME`` seconds at most, and which logging out forgets on both sides. The page's data
routes (``/v1/regulator/...``, :mod:`crossverify.service.routes.regulators`) accept that cookie or the API key
itself. A bundle dropped on the page is read and hashed in the browser (the resident page's own ``bundle.js``):
nothing of it is uploaded.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse

from ..regulator.words import WORDS_FILE
from .resident import PAGE, VENDORED, Revalidated, page_headers

CONSOLE = Path(__file__).parent / "console"
COOKIE = "crossverify_console"


def mount(app: FastAPI) -> None:
    """Serve the console at ``/regulator/``: its files under ``/regulator/static/``, its words at
    ``/regulator/words.json``, the resident page's format code it shares under ``/regulator/shared/``, and the
    packages that code runs under ``/regulator/vendor/``."""
    headers = page_headers(CONSOLE / "index.html")

    @app.get("/regulator", include_in_schema=False)
    def to_console() -> RedirectResponse:
        return RedirectResponse("/regulator/")

    @app.get("/regulator/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(CONSOLE / "index.html", headers=headers)

    @app.get("/regulator/words.json", include_in_schema=False)
    def words() -> FileResponse:
        """The console's words in its four languages (the static report's too)."""
        return FileResponse(WORDS_FILE, media_type="application/json", headers={"Cache-Control": "no-cache"})

    app.mount("/regulator/static", Revalidated(directory=CONSOLE), name="console-static")
    app.mount("/regulator/shared", Revalidated(directory=PAGE), name="console-shared")
    app.mount("/regulator/vendor", Revalidated(directory=VENDORED), name="console-vendor")
