"""JsonFormatter's line reads exactly as json.dumps of the record's entry
(ts, level, logger, msg, the `extra=` fields, error_type), whatever the
record holds."""

from __future__ import annotations

import enum
import json
import logging
import sys
import time
from typing import Any

import pytest

from botflow.server.logs import JsonFormatter, RequestIdFilter

# Attributes every LogRecord has; anything else came in through `extra=`.
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Colour(enum.IntEnum):
    RED = 1


class Label(str):
    pass


def reference(record: logging.LogRecord) -> str:
    """The formatter's contract, written the plain way."""
    entry: dict[str, object] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(record.created)))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in STANDARD and not key.startswith("_"):
            entry[key] = value
    if record.exc_info and record.exc_info[0] is not None:
        entry["error_type"] = record.exc_info[0].__name__
    return json.dumps(entry, default=str)


def _record(extra: dict[str, Any], **fields: Any) -> logging.LogRecord:
    logger = logging.getLogger("botflow.rpc")
    record = logger.makeRecord(
        "botflow.rpc", logging.INFO, "(unknown file)", 0, "rpc finished", (), None, extra=extra
    )
    vars(record).update(fields)
    RequestIdFilter().filter(record)
    return record


EXTRAS: list[dict[str, Any]] = [
    {},
    {"method": "/botflow.v1.FlowService/ExecuteAction", "code": "OK", "elapsed_ms": 0},
    {"text": 'quote " backslash \\ newline \n tab \t nul \x00 é ✓ 😀 \ud800'},
    {"big": 10**30, "negative": -7, "yes": True, "no": False, "nothing": None},
    {"ratio": 0.1, "huge": float("inf"), "nan": float("nan"), "whole": 2.0},
    {"items": [1, "a", None], "mapping": {"k": (1, 2)}, "kind": object},
    {"colour": Colour.RED, "label": Label("sub"), "raw": b"bytes"},
    {"error_type": "KeyError"},
    {"level": "shadowed", "code": "OK"},
    {"ts": "shadowed"},
    {"msg_text": "x", "logger_name": "y"},
]


@pytest.mark.parametrize("extra", EXTRAS)
def test_a_line_reads_as_json_dumps_of_its_entry(extra: dict[str, Any]) -> None:
    formatter = JsonFormatter()
    record = _record(extra)
    assert formatter.format(record) == reference(record)
    assert formatter.format(record) == reference(record)  # its shape now known


def test_an_exception_adds_its_class_after_the_fields() -> None:
    try:
        raise KeyError("never in the line")
    except KeyError:
        record = _record({"error_type": "ValueError", "code": "INTERNAL"}, exc_info=sys.exc_info())
    line = JsonFormatter().format(record)
    assert line == reference(record)
    assert json.loads(line)["error_type"] == "KeyError"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": None},
        {"name": 5},
        {"msg": "%s of %d", "args": ("two", 3)},
        {"msg": {"not": "a string"}},
        {"levelname": "Level 5"},
        {"_private": "hidden"},
        {"message": "set by another formatter", "asctime": "then"},
    ],
)
def test_records_made_or_touched_by_hand_read_the_same(fields: dict[str, Any]) -> None:
    record = _record({"code": "OK"}, **fields)
    assert JsonFormatter().format(record) == reference(record)
