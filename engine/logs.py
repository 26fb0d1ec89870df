"""Engine logging: text or JSON lines, with session context.

Log records may carry ``session`` (the SessionID) in ``extra``; the JSON
formatter puts it in its own key, so that log pipelines can select one
session.  FIX message text is always masked before it is logged
(:func:`pyfixmsg_plus.engine.application.masked_text`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from .config import LoggingSettings

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(settings: LoggingSettings, level: str | None = None) -> None:
    """Configure the root logger once, for ``fixplus run`` and friends."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, (level or settings.level).upper(), logging.INFO))
