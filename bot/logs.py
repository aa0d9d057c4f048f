"""The logs of `serve` and `worker`: text or one JSON object a line, with the context of the work at hand."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# The context fields a log line may carry, in the order they are written.
FIELDS = ("delivery_id", "event", "request_id", "installation_id", "repo", "pr", "check")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

_EMPTY: Mapping[str, Any] = {}
_context: ContextVar[Mapping[str, Any]] = ContextVar("falco_rules_bot_log_context", default=_EMPTY)


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Within the block, every log line of this thread (or task) carries these fields (None values are left out)."""
    given = {key: value for key, value in fields.items() if value is not None}
    token = _context.set({**_context.get(), **given})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the context in force until the enclosing `context()` block ends (None values are left out)."""
    given = {key: value for key, value in fields.items() if value is not None}
    _context.set({**_context.get(), **given})


def current() -> dict[str, Any]:
    """The context fields in force here."""
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Copies the context in force where a line is logged onto its record (`record.context`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "context"):
            record.context = _context.get()
        return True


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    found = getattr(record, "context", None)
    return found if isinstance(found, Mapping) else _context.get()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, then the context as ` [key=value ...]` when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if not fields:
            return text
        shown = " ".join(f"{key}={fields[key]}" for key in FIELDS if key in fields)
        head, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{head} [{shown}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, the context, and `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z"
        line: dict[str, Any] = {"time": stamp, "level": record.levelname, "logger": record.name,
                                "message": record.getMessage()}  # fmt: skip
        fields = _fields(record)
        for key in FIELDS:
            if key in fields:
                line[key] = fields[key]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(form: str) -> logging.Formatter:
    """The formatter of LOG_FORMAT `form` (text or json)."""
    return JsonFormatter() if form == "json" else TextFormatter()


def configure(level: str, form: str = "text", stream: Any = None) -> None:
    """Route every log line of the process (uvicorn's and Huey's too) to one handler on stderr in `form`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(form))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if form == "json":  # uvicorn's own handlers would print plain text: its lines go through the root's instead
        for name in UVICORN_LOGGERS:
            logger = logging.getLogger(name)
            for old in list(logger.handlers):
                logger.removeHandler(old)
            logger.propagate = True
