"""Structured logs: one JSON object per line, with the request id of the call.

Only fields botflow chooses reach a record (never tokens or message texts); the
HTTP and SDK loggers are held at WARNING because their debug output carries
request bodies and headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from botflow.server import defaults

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# json.dumps(entry, default=str) without building an encoder for every line.
_ENCODER = json.JSONEncoder(default=str)
NOISY_LOGGERS = ("openai", "httpx2", "httpx", "httpcore", "httpcore2", "grpc", "asyncio")


def quiet_sensitive_loggers() -> None:
    """Hold the HTTP and SDK loggers at WARNING unless the operator set a level:
    their INFO/DEBUG records carry full URLs, headers and bodies (a webhook
    URL's query, a Location or Set-Cookie header may hold a secret)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, then the `extra=`
    fields in order, then error_type (the exception's class)."""

    def __init__(self) -> None:
        super().__init__()
        # The timestamp up to its seconds, for the second it was made in: a
        # busy server logs many lines a second, and strftime is not cheap.
        self._second = -1
        self._stamp = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": f"{self._timestamp(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
        return _ENCODER.encode(entry)


class TurnBatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the lines logged during one turn of the event loop together,
    after the turn's other callbacks (answers already on their way): one
    write instead of one per line, and none on a call's own path. A record
    from outside the event loop is written at once, after what is pending."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        if len(self._pending) > 1:
            return  # a write is already scheduled
        try:
            asyncio.get_running_loop().call_soon(self._write_pending)
        except RuntimeError:  # no event loop in this thread
            self._write_pending_locked()

    def _write_pending(self) -> None:
        with self.lock or contextlib.nullcontext():
            self._write_pending_locked()

    def _write_pending_locked(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except Exception:  # stderr closed or full: nothing else to tell
            pass

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            self._write_pending_locked()
            super().flush()


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def _log_uncaught(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    logging.getLogger("botflow").critical("uncaught exception", exc_info=(kind, error, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def configure_logging(
    fmt: str = defaults.DEFAULT_LOG_FORMAT, level: str = defaults.DEFAULT_LOG_LEVEL
) -> None:
    """JSON (or text) lines on stderr, written once per event-loop turn. (A
    writer thread measured slower than both: it takes the GIL from the event
    loop and grpc's threads for every line.)"""
    # No format of ours shows where a record was made, nor the thread or the
    # process: the logging HOWTO's "Optimization" switches skip collecting
    # them for every record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = TurnBatchingHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_sensitive_loggers()
    if fmt == "json":
        # Python prints an uncaught exception as a raw traceback: keep stderr JSON.
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
