"""The `fake` provider: deterministic, no network, scripted by the request.

A product feature for tests in any language (SPEC §6). It reads the action's
`provider_options` (already rendered as templates by the server):

- `reply`: the answer; default echoes the last `user` message.
- `latency_ms`: how long each attempt takes before answering or failing.
- `fail`: comma-separated outcomes of successive attempts (`timeout`,
  `rate_limit`, `quota`, `unauthorized`, `bad_request`, `server_error`, `ok`);
  attempts past the list succeed. `timeout` fails at once as if the attempt's
  timeout had passed, so scripted runs stay fast; use `latency_ms` for a real
  wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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

FAKE_MODEL = "fake-1"
# Scripted rate limits ask for a short retry-after so tests stay fast.
FAKE_RETRY_AFTER = 0.01

_FAILURES: dict[str, Callable[[], ProviderError]] = {
    "rate_limit": lambda: RateLimitedError(
        "too many requests (HTTP 429)", status=429, retry_after=FAKE_RETRY_AFTER
    ),
    "quota": lambda: QuotaExceededError("the account is out of quota (HTTP 429)", status=429),
    "unauthorized": lambda: UnauthorizedError(
        "the provider refused the token (HTTP 401)", status=401
    ),
    "bad_request": lambda: BadRequestError(
        "the provider refused the request (HTTP 400)", status=400
    ),
    "server_error": lambda: ServerError("the provider failed (HTTP 500)", status=500),
}
OUTCOMES = frozenset({*_FAILURES, "timeout", "ok"})


def parse_script(fail: str) -> list[str]:
    """The `fail` option as a list of outcomes ("" → no scripted failures)."""
    return [part.strip().lower() for part in fail.split(",") if part.strip()]


def invalid_outcomes(fail: str) -> list[str]:
    return [o for o in parse_script(fail) if o not in OUTCOMES]


def _count_tokens(text: str) -> int:
    return len(text.split())


def _echo(messages: tuple[ChatMessage, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


class FakeProvider:
    name = "fake"

    async def complete(self, request: CompletionRequest) -> Completion:
        options = request.options
        latency = float(options.get("latency_ms", "0") or 0) / 1000
        script = parse_script(options.get("fail", ""))
        outcome = script[request.attempt - 1] if request.attempt <= len(script) else "ok"
        if latency:
            await asyncio.sleep(latency)
        if outcome == "timeout":
            raise ProviderTimeoutError(f"no answer within {round(request.timeout * 1000)} ms")
        if outcome in _FAILURES:
            raise _FAILURES[outcome]()
        text = options["reply"] if "reply" in options else _echo(request.messages)
        prompt_tokens = sum(_count_tokens(m.content) for m in request.messages)
        completion_tokens = _count_tokens(text)
        usage = Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens)
        return Completion(text=text, usage=usage, model=request.model or FAKE_MODEL)

    async def aclose(self) -> None:
        return None
