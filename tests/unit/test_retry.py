"""The shared retry loop: backoff, retry-after, deadline, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from botflow.providers import retry
from botflow.providers.base import ChatMessage, Completion, CompletionRequest, Usage
from botflow.providers.errors import (
    BadRequestError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from botflow.providers.retry import RetryPolicy, complete_with_retries

# An exception is raised, a str is answered, a float is slept before answering "slow".
Step = BaseException | str | float

REQUEST = CompletionRequest(
    model="m", messages=(ChatMessage("user", "hi"),), token="sk-unit", timeout=99.0
)


class ScriptedProvider:
    """Raises or answers per attempt from a script; attempts past it answer "ok".

    `cut` lists the attempts cancelled while still waiting to answer: a
    timeout is proven by that and by the outcome, never by how long it took.
    """

    name = "scripted"

    def __init__(self, *script: Step, delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.requests: list[CompletionRequest] = []
        self.cut: list[int] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        if self.delay:
            await self._wait(self.delay, request.attempt)
        step = (
            self.script[len(self.requests) - 1] if len(self.requests) <= len(self.script) else "ok"
        )
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, float):
            await self._wait(step, request.attempt)
            step = "slow"
        return Completion(text=step, usage=Usage(1, 2, 3), model="m-1")

    async def _wait(self, seconds: float, attempt: int) -> None:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cut.append(attempt)
            raise

    async def aclose(self) -> None:
        return None


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(float(seconds))


async def test_first_attempt_success() -> None:
    provider = ScriptedProvider("answer")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(provider, REQUEST, RetryPolicy(), sleep=sleep)
    assert outcome.error is None
    assert outcome.completion is not None
    assert outcome.completion.text == "answer"
    assert outcome.attempts == 1
    assert sleep.waits == []
    assert [r.attempt for r in provider.requests] == [1]
    assert provider.requests[0].timeout == 15.0
    assert provider.requests[0].token == "sk-unit"


@pytest.mark.parametrize(
    ("rng_value", "expected"),
    [
        # ceiling = min(8, 0.5 * 2**(n-1)) for n = 1..6
        (1.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]),
        (0.5, [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]),
        (0.0, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ],
)
async def test_full_jitter_backoff_sequence(rng_value: float, expected: list[float]) -> None:
    provider = ScriptedProvider(*[ServerError("boom") for _ in range(7)])
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(max_attempts=7), sleep=sleep, rng=lambda: rng_value
    )
    assert sleep.waits == pytest.approx(expected)
    assert outcome.attempts == 7
    assert isinstance(outcome.error, ServerError)
    assert outcome.completion is None
    assert [r.attempt for r in provider.requests] == [1, 2, 3, 4, 5, 6, 7]


async def test_backoff_uses_policy_initial_and_max() -> None:
    provider = ScriptedProvider(*[ProviderTimeoutError("slow") for _ in range(4)])
    policy = RetryPolicy(max_attempts=4, backoff_initial=0.1, backoff_max=0.3)
    sleep = SleepRecorder()
    await complete_with_retries(provider, REQUEST, policy, sleep=sleep, rng=lambda: 1.0)
    assert sleep.waits == pytest.approx([0.1, 0.2, 0.3])


async def test_success_after_retries_reports_attempts() -> None:
    provider = ScriptedProvider(ServerError("a"), RateLimitedError("b"), "third time")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(max_attempts=5), sleep=sleep, rng=lambda: 0.5
    )
    assert outcome.error is None
    assert outcome.completion is not None
    assert outcome.completion.text == "third time"
    assert outcome.attempts == 3
    assert sleep.waits == pytest.approx([0.25, 0.5])


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(3.0, 3.0), (0.0, 0.0), (100.0, 30.0), (-1.0, 0.0)],
)
async def test_retry_after_is_honoured_and_capped(retry_after: float, expected: float) -> None:
    provider = ScriptedProvider(RateLimitedError("429", retry_after=retry_after), "ok")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(), sleep=sleep, rng=lambda: 0.0
    )
    assert sleep.waits == [expected]
    assert outcome.attempts == 2
    assert outcome.error is None


async def test_retry_after_cap_comes_from_the_policy() -> None:
    provider = ScriptedProvider(ServerError("503", retry_after=7.0), "ok")
    sleep = SleepRecorder()
    await complete_with_retries(
        provider, REQUEST, RetryPolicy(max_retry_after=2.0), sleep=sleep, rng=lambda: 0.0
    )
    assert sleep.waits == [2.0]


@pytest.mark.parametrize(
    "error",
    [
        QuotaExceededError("quota"),
        UnauthorizedError("401"),
        BadRequestError("400"),
        ProviderError("generic"),
    ],
)
async def test_non_retryable_errors_stop_after_one_attempt(error: ProviderError) -> None:
    provider = ScriptedProvider(error, "never reached")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(provider, REQUEST, RetryPolicy(), sleep=sleep)
    assert outcome.error is error
    assert outcome.completion is None
    assert outcome.attempts == 1
    assert sleep.waits == []
    assert len(provider.requests) == 1


async def test_near_deadline_stops_further_attempts() -> None:
    provider = ScriptedProvider(ServerError("a"), "ok")
    sleep = SleepRecorder()
    deadline = time.monotonic() + 0.02  # less than min_attempt_time (0.05) left
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(), deadline=deadline, sleep=sleep, rng=lambda: 0.0
    )
    assert isinstance(outcome.error, ServerError)
    assert outcome.attempts == 1
    assert sleep.waits == []
    assert provider.requests[0].timeout <= 0.02


async def test_wait_that_would_pass_the_deadline_stops() -> None:
    provider = ScriptedProvider(RateLimitedError("429", retry_after=10.0), "ok")
    sleep = SleepRecorder()
    deadline = time.monotonic() + 5.0
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(), deadline=deadline, sleep=sleep
    )
    assert isinstance(outcome.error, RateLimitedError)
    assert outcome.attempts == 1
    assert sleep.waits == []


async def test_far_deadline_allows_retries_and_clips_attempt_timeout() -> None:
    provider = ScriptedProvider(ServerError("a"), "ok")
    sleep = SleepRecorder()
    deadline = time.monotonic() + 5.0
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(), deadline=deadline, sleep=sleep, rng=lambda: 0.0
    )
    assert outcome.error is None
    assert outcome.attempts == 2
    assert all(4.0 < r.timeout <= 5.0 for r in provider.requests)


async def test_past_deadline_gives_a_zero_timeout() -> None:
    # Were the attempt not cut at once, the provider would answer "late".
    provider = ScriptedProvider("late", delay=1.0)
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(), deadline=time.monotonic() - 1.0, sleep=sleep
    )
    assert provider.cut == [1]
    assert outcome.completion is None
    assert isinstance(outcome.error, ProviderTimeoutError)
    assert outcome.error.kind == "Timeout"
    assert outcome.attempts == 1
    assert provider.requests[0].timeout == 0.0
    assert sleep.waits == []


async def test_attempt_timeout_turns_a_slow_attempt_into_timeout() -> None:
    provider = ScriptedProvider("too late", delay=2.0)
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(max_attempts=1, attempt_timeout=0.05)
    )
    assert provider.cut == [1]
    assert outcome.completion is None
    assert isinstance(outcome.error, ProviderTimeoutError)
    assert outcome.error.kind == "Timeout"
    assert outcome.error.text() == "Timeout: no answer within 50 ms"
    assert outcome.attempts == 1
    assert provider.requests[0].timeout == 0.05


async def test_timed_out_attempt_is_retried() -> None:
    provider = ScriptedProvider(2.0, "fast")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(attempt_timeout=0.05), sleep=sleep, rng=lambda: 0.0
    )
    assert provider.cut == [1]
    assert [r.timeout for r in provider.requests] == [0.05, 0.05]
    assert outcome.completion is not None
    assert outcome.completion.text == "fast"
    assert outcome.attempts == 2
    assert sleep.waits == [0.0]


async def test_unexpected_exception_becomes_provider_error() -> None:
    provider = ScriptedProvider(RuntimeError("secret sk-unit leaked in message"), "ok")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(provider, REQUEST, RetryPolicy(), sleep=sleep)
    assert outcome.completion is None
    assert outcome.error is not None
    assert type(outcome.error) is ProviderError
    assert outcome.error.kind == "ProviderError"
    assert outcome.error.text() == (
        "ProviderError: the provider failed unexpectedly (RuntimeError)"
    )
    assert "sk-unit" not in outcome.error.text()
    assert outcome.attempts == 1
    assert sleep.waits == []


async def test_cancelled_error_from_provider_propagates() -> None:
    provider = ScriptedProvider(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await complete_with_retries(provider, REQUEST, RetryPolicy(), sleep=SleepRecorder())
    assert len(provider.requests) == 1


class BlockingProvider:
    name = "blocking"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def complete(self, request: CompletionRequest) -> Completion:
        self.started.set()
        await asyncio.sleep(5.0)
        return Completion(text="never")

    async def aclose(self) -> None:
        return None


async def test_cancelling_the_task_propagates() -> None:
    provider = BlockingProvider()
    task = asyncio.create_task(complete_with_retries(provider, REQUEST, RetryPolicy()))
    await asyncio.wait_for(provider.started.wait(), timeout=1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_cancellation_during_backoff_propagates() -> None:
    provider = ScriptedProvider(ServerError("a"), "ok")

    async def cancelled_sleep(seconds: float) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await complete_with_retries(provider, REQUEST, RetryPolicy(), sleep=cancelled_sleep)
    assert len(provider.requests) == 1


class ChainingProvider:
    """Raises the way a careless plug-in would: inside `except`, chained to an
    exception that holds a secret (as an SDK error holds the request)."""

    name = "chaining"

    async def complete(self, request: CompletionRequest) -> Completion:
        try:
            raise RuntimeError("Authorization: Bearer sk-chained-secret")
        except RuntimeError as sdk_error:
            raise UnauthorizedError("the provider refused the token (HTTP 401)") from sdk_error

    async def aclose(self) -> None:
        return None


async def test_exception_chains_are_stripped_centrally() -> None:
    outcome = await complete_with_retries(ChainingProvider(), REQUEST, RetryPolicy())
    error = outcome.error
    assert isinstance(error, UnauthorizedError)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert error.__suppress_context__


async def test_an_unexpected_exception_is_not_chained_either() -> None:
    provider = ScriptedProvider(RuntimeError("secret sk-unit leaked in message"))
    outcome = await complete_with_retries(provider, REQUEST, RetryPolicy(max_attempts=1))
    assert outcome.error is not None
    assert outcome.error.__cause__ is None
    assert outcome.error.__context__ is None


class NoRetryMachinery:
    """Stands in for tenacity's loop where a test proves it is never built."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the retry machinery was built")


@pytest.mark.parametrize("first", ["ok", BadRequestError("no")])
async def test_a_first_attempt_that_settles_the_call_builds_no_retry_loop(
    monkeypatch: pytest.MonkeyPatch, first: Step
) -> None:
    monkeypatch.setattr(retry, "AsyncRetrying", NoRetryMachinery)
    provider = ScriptedProvider(first)
    outcome = await complete_with_retries(provider, REQUEST, RetryPolicy(), sleep=SleepRecorder())
    assert outcome.attempts == 1
    assert (outcome.completion is None) == isinstance(first, ProviderError)


async def test_a_retryable_first_failure_enters_the_retry_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retry, "AsyncRetrying", NoRetryMachinery)
    with pytest.raises(AssertionError, match="retry machinery"):
        await complete_with_retries(
            ScriptedProvider(ServerError("a")), REQUEST, RetryPolicy(), sleep=SleepRecorder()
        )


async def test_every_attempt_is_numbered_once_in_order() -> None:
    provider = ScriptedProvider(ServerError("a"), RateLimitedError("b", retry_after=0.5), "ok")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider, REQUEST, RetryPolicy(), sleep=sleep, rng=lambda: 1.0
    )
    assert [r.attempt for r in provider.requests] == [1, 2, 3]
    assert outcome.attempts == 3
    # Full jitter's ceiling before retry 1, then the provider's retry-after.
    assert sleep.waits == pytest.approx([RetryPolicy().backoff_initial, 0.5])


async def test_the_deadline_stops_a_later_retry_too() -> None:
    # The second failure's retry-after (2 s) would pass the deadline (1 s away).
    provider = ScriptedProvider(ServerError("a"), RateLimitedError("b", retry_after=2.0), "ok")
    sleep = SleepRecorder()
    outcome = await complete_with_retries(
        provider,
        REQUEST,
        RetryPolicy(),
        deadline=time.monotonic() + 1.0,
        sleep=sleep,
        rng=lambda: 0.0,
    )
    assert isinstance(outcome.error, RateLimitedError)
    assert outcome.attempts == 2
    assert sleep.waits == [0.0]
