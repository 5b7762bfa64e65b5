"""JSON logs: every line names its service and carries the correlation ID of the request or event
being handled (and the trace and span IDs while a trace is recorded)."""
from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.orjson import OrjsonFormatter

from shared import context, tracing


class _ContextFilter(logging.Filter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "service"):
            record.service = context.service.get() or self._process
        if not hasattr(record, "correlation_id"):
            record.correlation_id = context.correlation_id.get()
        if not hasattr(record, "causation_id"):
            causation = context.causation_id.get()
            record.causation_id = str(causation) if causation else None
        for name, value in tracing.log_fields().items():
            setattr(record, name, value)
        return True


def configure_logging(level: str = "INFO", *, json_output: bool = True, process: str = "repitbot") -> None:
    """One handler on the root logger; `process` names lines logged outside any service's work."""
    root = logging.getLogger()
    root.handlers[:] = [log_handler(sys.stderr, json_output=json_output, process=process)]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "httpx", "httpcore", "sqlalchemy.engine", "aiosqlite", "asyncio",
                  "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True


def log_handler(stream: TextIO, *, json_output: bool = True, process: str = "repitbot") -> logging.Handler:
    """A handler that writes this platform's log lines to `stream`."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(_ContextFilter(process))
    if json_output:
        # orjson: a line costs about two thirds of what the standard json module makes it cost
        handler.setFormatter(OrjsonFormatter(
            "%(asctime)s %(levelname)s %(service)s %(name)s %(message)s %(correlation_id)s %(causation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        ))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)-7s %(service)s %(name)s [%(correlation_id)s] %(message)s"))
    return handler
