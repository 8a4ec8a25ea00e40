"""An attempt's timeout: its own cancellation becomes a timeout, anyone
else's stays a cancellation, and nothing is left pending on the task."""

from __future__ import annotations

import asyncio

import pytest

from botflow.providers.base import ChatMessage, Completion, CompletionRequest
from botflow.providers.errors import ProviderTimeoutError
from botflow.providers.retry import RetryPolicy, complete_with_retries

ONCE = RetryPolicy(max_attempts=1, attempt_timeout=0.0)
REQUEST = CompletionRequest(model="m", messages=(ChatMessage("user", "hi"),), token="t")


class Waiting:
    """Never answers: only a cancellation ends its attempt."""

    name = "waiting"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def complete(self, request: CompletionRequest) -> Completion:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


class RaisesTimeout(Waiting):
    async def complete(self, request: CompletionRequest) -> Completion:
        raise TimeoutError


async def test_an_expired_attempt_is_a_timeout_and_leaves_no_pending_cancel() -> None:
    outcome = await complete_with_retries(Waiting(), REQUEST, ONCE)
    assert isinstance(outcome.error, ProviderTimeoutError)
    assert outcome.error.text() == "Timeout: no answer within 0 ms"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_providers_own_timeout_error_is_a_timeout() -> None:
    outcome = await complete_with_retries(RaisesTimeout(), REQUEST, ONCE)
    assert isinstance(outcome.error, ProviderTimeoutError)


async def test_the_callers_cancellation_stays_a_cancellation() -> None:
    provider = Waiting()
    long = RetryPolicy(max_attempts=1, attempt_timeout=3600.0)
    call = asyncio.ensure_future(complete_with_retries(provider, REQUEST, long))
    await provider.started.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
