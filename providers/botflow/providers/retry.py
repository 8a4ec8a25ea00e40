"""The one retry loop every provider call goes through.

- Attempts and the per-attempt timeout come from the action (capped by the
  server before they get here).
- Between attempts: exponential backoff with full jitter; when the provider
  said how long to wait (retry-after-ms / retry-after) that wait is honoured,
  capped at `RetryPolicy.max_retry_after`.
- The whole loop never outlives `deadline` (the caller's gRPC deadline): each
  attempt's timeout is clipped to the time left, and no attempt starts when the
  wait before it would leave less than `min_attempt_time`.
- The first attempt runs without tenacity: most calls succeed at once, and
  building its loop costs several times a plain call. Only a retryable
  failure enters tenacity, whose `stop` and `wait` combinators decide the rest.
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
from typing import NamedTuple

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

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


class CallOutcome(NamedTuple):
    """What the loop ended with: exactly one of completion and error is set.
    A NamedTuple: as immutable as a frozen dataclass, built at half the
    cost, and every provider call ends with one."""

    completion: Completion | None
    error: ProviderError | None
    attempts: int
    elapsed: float


class wait_full_jitter(wait_exponential):  # noqa: N801 - tenacity's naming
    """Uniform in [0, min(maximum, initial * 2**(n-1))] before retry n:
    tenacity's `wait_random_exponential`, with the random source injectable."""

    def __init__(self, initial: float, maximum: float, rng: Callable[[], float]) -> None:
        super().__init__(multiplier=initial, max=maximum)
        self._rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        return float(self._rng() * super().__call__(retry_state))


class wait_retry_after_or(wait_base):  # noqa: N801 - tenacity's naming
    """The provider's retry-after (capped at `cap`) when it said one, else `fallback`."""

    def __init__(self, cap: float, fallback: wait_base) -> None:
        self._cap = cap
        self._fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        error = _last_error(retry_state)
        if error is not None and error.retry_after is not None:
            return max(0.0, min(error.retry_after, self._cap))
        return self._fallback(retry_state)


def _last_error(state: RetryCallState) -> ProviderError | None:
    if state.outcome is None:
        return None
    error = state.outcome.exception()
    return error if isinstance(error, ProviderError) else None


def _attempt_timeout(policy: RetryPolicy, deadline: float | None) -> float:
    """The policy's timeout, clipped to the time left before `deadline`."""
    if deadline is None:
        return policy.attempt_timeout
    return max(0.0, min(policy.attempt_timeout, deadline - time.monotonic()))


def _stop(policy: RetryPolicy, deadline: float | None) -> stop_base:
    """Out of attempts, or the wait would leave less than `min_attempt_time`
    before the deadline (tenacity counts from when its loop starts: now)."""
    attempts = stop_after_attempt(policy.max_attempts)
    if deadline is None:
        return attempts
    budget = deadline - policy.min_attempt_time - time.monotonic()
    return attempts | stop_before_delay(budget)


def _attempt(request: CompletionRequest, number: int, timeout: float) -> CompletionRequest:
    """The request of attempt `number`. A caller that already set both (the
    usual first attempt) shares its request: a frozen copy costs more than
    the attempt's own bookkeeping."""
    if request.attempt == number and request.timeout == timeout:
        return request
    return replace(request, attempt=number, timeout=timeout)


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

    `deadline` is a time.monotonic() value. Cancellation propagates. The
    first attempt runs on its own: one that succeeds, or fails for good,
    never builds the retry machinery.
    """
    started = time.monotonic()
    first = _attempt(request, 1, _attempt_timeout(policy, deadline))
    try:
        completion = await _one_attempt(provider, first)
    except ProviderError as failure:
        error = _unchained(failure)
    else:
        return CallOutcome(completion, None, 1, time.monotonic() - started)
    if not _is_retryable(error) or policy.max_attempts <= 1:
        return CallOutcome(None, error, 1, time.monotonic() - started)
    return await _retried(provider, request, policy, error, deadline, sleep, rng, started)


async def _retried(
    provider: Provider,
    request: CompletionRequest,
    policy: RetryPolicy,
    first_error: ProviderError,
    deadline: float | None,
    sleep: Callable[[float], Awaitable[None]],
    rng: Callable[[], float],
    started: float,
) -> CallOutcome:
    """Attempts 2.. under tenacity. Its attempt 1 is the failed first attempt,
    replayed, so its numbering, waits and statistics count every attempt."""
    jitter = wait_full_jitter(policy.backoff_initial, policy.backoff_max, rng)
    retrying = AsyncRetrying(
        stop=_stop(policy, deadline),
        wait=wait_retry_after_or(policy.max_retry_after, jitter),
        retry=retry_if_exception(_is_retryable),
        sleep=sleep,
        reraise=True,
    )
    completion: Completion | None = None
    error: ProviderError | None = None
    try:
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first_error
                this_try = _attempt(request, number, _attempt_timeout(policy, deadline))
                completion = await _one_attempt(provider, this_try)
    except ProviderError as failure:
        error = _unchained(failure)
    attempts = int(retrying.statistics.get("attempt_number", 1))
    return CallOutcome(completion, error, attempts, time.monotonic() - started)
