"""The one retry loop every provider call goes through.

- Attempts and the per-attempt timeout come from the action (capped by the
  server before they get here).
- Between attempts: exponential backoff with full jitter; when the provider
  said how long to wait (retry-after-ms / retry-after) that wait is honoured,
  capped at `RetryPolicy.max_retry_after`.
- The whole loop never outlives `deadline` (the caller's gRPC deadline): each
  attempt's timeout is clipped to the time left, and no attempt starts when the
  wait before it would leave less than `min_attempt_time`.
- Every error leaves here without its exception chain (`__cause__`,
  `__context__`, traceback): an SDK exception in it holds the request and its
  Authorization header, so no provider has to remember to raise outside
  `except`. Anything but a ProviderError becomes one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from botflow.providers.base import Completion, CompletionRequest, Provider
from botflow.providers.defaults import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_MIN_ATTEMPT_TIME,
)
from botflow.providers.errors import ProviderError, ProviderTimeoutError


@dataclass(frozen=True)
class RetryPolicy:
    """How one action retries. Every duration is in seconds."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    attempt_timeout: float = DEFAULT_ATTEMPT_TIMEOUT
    # Full jitter: the wait before retry n is uniform in
    # [0, min(backoff_max, backoff_initial * 2**(n-1))].
    backoff_initial: float = DEFAULT_BACKOFF_INITIAL
    backoff_max: float = DEFAULT_BACKOFF_MAX
    # A provider's retry-after is honoured up to this; beyond it we wait this.
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    # Not worth starting an attempt with less time than this before the deadline.
    min_attempt_time: float = DEFAULT_MIN_ATTEMPT_TIME


@dataclass(frozen=True)
class CallOutcome:
    """What the loop ended with: exactly one of completion and error is set."""

    completion: Completion | None
    error: ProviderError | None
    attempts: int
    elapsed: float


class _Schedule:
    """Decides each wait once, so `stop` and `wait` agree on the same value."""

    def __init__(
        self, policy: RetryPolicy, deadline: float | None, rng: Callable[[], float]
    ) -> None:
        self.policy = policy
        self.deadline = deadline
        self._rng = rng
        self._waits: dict[int, float] = {}

    def wait(self, state: RetryCallState) -> float:
        number = state.attempt_number
        if number not in self._waits:
            self._waits[number] = self._compute(number, _last_error(state))
        return self._waits[number]

    def _compute(self, number: int, error: ProviderError | None) -> float:
        policy = self.policy
        if error is not None and error.retry_after is not None:
            return max(0.0, min(error.retry_after, policy.max_retry_after))
        ceiling = min(policy.backoff_max, policy.backoff_initial * 2 ** (number - 1))
        return float(self._rng() * ceiling)

    def stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        if self.deadline is None:
            return False
        left = self.deadline - time.monotonic()
        return left - self.wait(state) < self.policy.min_attempt_time

    def attempt_timeout(self) -> float:
        if self.deadline is None:
            return self.policy.attempt_timeout
        return max(0.0, min(self.policy.attempt_timeout, self.deadline - time.monotonic()))


def _last_error(state: RetryCallState) -> ProviderError | None:
    if state.outcome is None:
        return None
    error = state.outcome.exception()
    return error if isinstance(error, ProviderError) else None


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retryable


async def _one_attempt(provider: Provider, request: CompletionRequest) -> Completion:
    timeout = request.timeout
    error: ProviderError
    try:
        async with asyncio.timeout(timeout):
            return await provider.complete(request)
    except TimeoutError:
        error = ProviderTimeoutError(f"no answer within {round(timeout * 1000)} ms")
    except ProviderError as failure:
        error = failure
    except Exception as exc:
        # A plug-in bug must not escape as a gRPC error: it is a failed action.
        error = ProviderError(f"the provider failed unexpectedly ({type(exc).__name__})")
    # Raised outside the except block, so nothing new is chained either.
    raise _unchained(error)


def _unchained(error: ProviderError) -> ProviderError:
    """The error without what it was raised from or during."""
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    error.__traceback__ = None
    return error


async def complete_with_retries(
    provider: Provider,
    request: CompletionRequest,
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> CallOutcome:
    """Run `request` through `provider` under `policy`; never raises ProviderError.

    `deadline` is a time.monotonic() value. Cancellation propagates.
    """
    schedule = _Schedule(policy, deadline, rng)
    retrying = AsyncRetrying(
        stop=schedule.stop,
        wait=schedule.wait,
        retry=retry_if_exception(_is_retryable),
        sleep=sleep,
        reraise=True,
    )
    started = time.monotonic()
    completion: Completion | None = None
    error: ProviderError | None = None
    try:
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                this_try = replace(request, attempt=number, timeout=schedule.attempt_timeout())
                completion = await _one_attempt(provider, this_try)
    except ProviderError as failure:
        error = _unchained(failure)
    attempts = int(retrying.statistics.get("attempt_number", 1))
    return CallOutcome(completion, error, attempts, time.monotonic() - started)
