"""Logging for `closetchat serve`: uvicorn's loggers and the app's own ("closetchat") to standard
output, as text for a terminal or as one JSON object a line for a log collector (CLOSETCHAT_LOG_FORMAT
or --log-format json), each line carrying the request id (backend/core/request_id.py). The stdlib
does the JSON: a dozen lines here spare a dependency."""

from __future__ import annotations

import json
import logging
import time

from backend.core import request_id

TEXT = "%(levelname)s:     [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.current.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", "-")}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(fmt: str = "text", level: str = "info") -> dict:
    """A logging.config dict for uvicorn's log_config: one stdout handler for every logger we write."""
    formatter = {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT}
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "main",
               "filters": ["request_id"]}
    loggers = {name: {"handlers": ["stdout"], "level": level.upper(), "propagate": False}
               for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "closetchat")}
    return {"version": 1, "disable_existing_loggers": False,
            "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
            "formatters": {"main": formatter}, "handlers": {"stdout": handler}, "loggers": loggers}
