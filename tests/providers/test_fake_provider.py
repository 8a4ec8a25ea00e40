"""The fake provider's scripted latency: odd values never reach asyncio's
timer heap (a NaN there makes other calls' timers fire late)."""

from __future__ import annotations

import asyncio
import math

import pytest

from botflow.providers.base import ChatMessage, CompletionRequest
from botflow.providers.fake import FakeProvider


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _request(latency: str) -> CompletionRequest:
    return CompletionRequest(
        model="",
        messages=(ChatMessage("user", "hi"),),
        token="t",
        options={"latency_ms": latency},
    )


@pytest.mark.parametrize(
    ("latency", "waits"),
    [("250", [0.25]), ("nan", []), ("-nan", []), ("-5", []), ("-0", []), ("soon", []), ("", [])],
)
async def test_odd_latencies_are_no_wait(
    monkeypatch: pytest.MonkeyPatch, latency: str, waits: list[float]
) -> None:
    sleeps = Sleeps()
    monkeypatch.setattr(asyncio, "sleep", sleeps)
    completion = await FakeProvider().complete(_request(latency))
    assert completion.text == "hi"
    assert sleeps.waits == waits
    assert not any(math.isnan(w) for w in sleeps.waits)


@pytest.mark.parametrize("latency", ["inf", "1e309", "1e20"])
async def test_endless_latency_waits_for_the_timeout(latency: str) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await FakeProvider().complete(_request(latency))
