"""TurnBatchingHandler: the lines of one event-loop turn are written
together after the turn; a line logged outside the loop is written at once."""

from __future__ import annotations

import asyncio
import io
import logging
import threading

import pytest

from botflow.server.logs import JsonFormatter, TurnBatchingHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logged() -> tuple[logging.Logger, CountingStream, TurnBatchingHandler]:
    stream = CountingStream()
    handler = TurnBatchingHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.batching.{id(stream)}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    return logger, stream, handler


async def test_lines_of_one_turn_are_written_once_after_it(
    logged: tuple[logging.Logger, CountingStream, TurnBatchingHandler],
) -> None:
    logger, stream, _ = logged
    logger.info("first", extra={"n": 1})
    logger.info("second", extra={"n": 2})
    assert stream.getvalue() == ""  # still this turn
    await asyncio.sleep(0)
    lines = stream.getvalue().splitlines()
    assert [line.count('"msg"') for line in lines] == [1, 1]
    assert '"first"' in lines[0]
    assert '"second"' in lines[1]
    assert stream.writes == 1


async def test_each_turn_writes_its_own_lines(
    logged: tuple[logging.Logger, CountingStream, TurnBatchingHandler],
) -> None:
    logger, stream, _ = logged
    for n in range(3):
        logger.info("turn", extra={"n": n})
        await asyncio.sleep(0)
    assert len(stream.getvalue().splitlines()) == 3
    assert stream.writes == 3


def test_a_line_outside_an_event_loop_is_written_at_once(
    logged: tuple[logging.Logger, CountingStream, TurnBatchingHandler],
) -> None:
    logger, stream, _ = logged
    thread = threading.Thread(target=lambda: logger.warning("from a thread"))
    thread.start()
    thread.join()
    assert '"from a thread"' in stream.getvalue()


async def test_flush_writes_what_is_pending(
    logged: tuple[logging.Logger, CountingStream, TurnBatchingHandler],
) -> None:
    logger, stream, handler = logged
    logger.info("pending")
    handler.flush()  # what logging.shutdown() does at exit
    assert '"pending"' in stream.getvalue()
    await asyncio.sleep(0)  # the scheduled write finds nothing more to write
    assert stream.getvalue().count('"pending"') == 1


@pytest.mark.parametrize(
    ("created", "stamp"),
    [
        (1700000000.5, "2023-11-14T22:13:20.500Z"),
        (1700000000.999, "2023-11-14T22:13:20.999Z"),
        (1700000001.25, "2023-11-14T22:13:21.250Z"),
        (1700000000.0, "2023-11-14T22:13:20.000Z"),
    ],
)
def test_each_line_has_its_own_timestamp(created: float, stamp: str) -> None:
    """The formatter keeps the seconds part between lines: a line of another
    second (later or earlier) must not reuse it."""
    formatter = JsonFormatter()
    for earlier in (created - 1, created):
        record = logging.makeLogRecord({"msg": "m", "created": earlier})
        record.msecs = (earlier - int(earlier)) * 1000
        line = formatter.format(record)
    assert f'"ts": "{stamp}"' in line
