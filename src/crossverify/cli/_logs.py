"""Structured logs for long-running commands: one JSON object per line on standard error.

The library logs through :mod:`logging` under ``crossverify.*`` with the facts of each step in ``extra``
(counts, batch ids, roots, transaction hashes, block numbers): never a claim value, a salt or a name.
"""

from __future__ import annotations

import json
import logging
import sys
import time

#: The attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    """A record as one JSON line: time (UTC, ISO 8601), level, logger, message, and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **{k: v for k, v in vars(record).items() if k not in _STANDARD},
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def log_as_json(level: int = logging.INFO) -> None:
    """Send crossverify's logs, and those of the HTTP server under ``crossverify serve`` (uvicorn's: start-up,
    refused requests), to standard error as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    for name in ("crossverify", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
