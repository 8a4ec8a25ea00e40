"""Structured logs: one JSON object per line, with the request id of the call.

Only fields botflow chooses reach a record (never tokens or message texts); the
HTTP and SDK loggers are held at WARNING because their debug output carries
request bodies and headers.
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import queue
import sys
import threading
import time
from logging.handlers import QueueHandler, QueueListener
from types import TracebackType

from botflow.server import defaults

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
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
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


class _HandOff(QueueHandler):
    """Puts records on the writer thread's queue untouched: formatting and
    the write to stderr happen there, off the event loop that serves calls.
    (QueueHandler's own `prepare` formats here, to make records picklable for
    other processes; these never leave this one.)"""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


# The writer thread of configure_logging, stopped (its queue drained) at exit.
_writer: QueueListener | None = None


def _stop_writer() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None


atexit.register(_stop_writer)


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
    """Log lines go to stderr from a writer thread; the request id is read
    where the record is made, since it lives in the call's context."""
    global _writer
    _stop_writer()
    # No format of ours shows where a record was made, nor the thread or the
    # process: the logging HOWTO's "Optimization" switches skip collecting
    # them for every record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _HandOff(records)
    handler.addFilter(RequestIdFilter())
    _writer = QueueListener(records, stream)
    _writer.start()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_sensitive_loggers()
    if fmt == "json":
        # Python prints an uncaught exception as a raw traceback: keep stderr JSON.
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
