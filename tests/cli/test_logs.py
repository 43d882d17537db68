"""``--log-json``: one JSON object per line on standard error, the HTTP server's records included, a fault's
traceback in its record."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from crossverify.cli._logs import log_as_json


@pytest.fixture
def restored() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("crossverify", "uvicorn")]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def test_every_line_is_json_with_the_servers_records_and_tracebacks(restored: None,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    log_as_json()
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("crossverify.service.middleware").exception("request failed", extra={"request_id": "r1"})
    server, failed = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert server["logger"] == "uvicorn.error" and server["level"] == "warning"
    assert failed["request_id"] == "r1" and failed["level"] == "error"
    assert failed["traceback"].startswith("Traceback") and "RuntimeError: boom" in failed["traceback"]
