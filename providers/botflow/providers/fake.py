"""The `fake` provider: deterministic, no network, scripted by the request.

A product feature for tests in any language. It reads the action's
`provider_options` (already rendered as templates by the server):

- `reply`: the answer; default echoes the last `user` message. With a
  structured answer (`request.output_schema`) the reply is the JSON text;
  without one the default is a schema-valid object built from the last
  `user` message (see `structured_default`).
- `latency_ms`: how long each attempt takes before answering or failing;
  `inf` (or more than a year) never answers, NaN, negatives and text are 0.
- `fail`: comma-separated outcomes of successive attempts (`timeout`,
  `rate_limit`, `quota`, `unauthorized`, `bad_request`, `server_error`, `ok`);
  attempts past the list succeed. `timeout` fails at once as if the attempt's
  timeout had passed, so scripted runs stay fast; use `latency_ms` for a real
  wait.
- `finish_reason`: reported as the answer's finish reason (e.g. `length` to
  script a truncated answer); default `stop`.

`check_options` refuses an unknown outcome in `fail` before the action runs.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from botflow.providers import defaults
from botflow.providers.base import (
    FINISH_STOP,
    ChatMessage,
    Completion,
    CompletionRequest,
    OptionProblem,
    OutputSchema,
    Usage,
)
from botflow.providers.context import ProviderContext
from botflow.providers.errors import (
    BadRequestError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)

FAKE_RETRY_AFTER = defaults.FAKE_RETRY_AFTER
# Past a year, a scripted latency means "never answers".
_FOREVER = 365 * 24 * 3600.0
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
_UNKNOWN_OUTCOME = (
    "unknown outcome; use timeout, rate_limit, quota, unauthorized, bad_request, server_error or ok"
)


def parse_script(fail: str) -> list[str]:
    """The `fail` option as a list of outcomes ("" → no scripted failures)."""
    return [part.strip().lower() for part in fail.split(",") if part.strip()]


def invalid_outcomes(fail: str) -> list[str]:
    return [o for o in parse_script(fail) if o not in OUTCOMES]


def check_options(options: Mapping[str, str]) -> list[OptionProblem]:
    # Most actions script nothing: no "fail" is nothing to parse.
    if "fail" in options and invalid_outcomes(options["fail"]):
        return [("fail", _UNKNOWN_OUTCOME)]
    return []


def _latency(value: str) -> float:
    """Seconds to wait. NaN must never reach asyncio's timer heap: it breaks
    the ordering, and other calls' timers then fire late. NaN, negatives and
    text are no wait; anything past a float is forever."""
    try:
        seconds = float(value or 0) / 1000
    except ValueError:
        return 0.0
    if math.isnan(seconds) or seconds <= 0:
        return 0.0
    return seconds if seconds < _FOREVER else math.inf


def _outcome(options: Mapping[str, str], attempt: int) -> str:
    script = parse_script(options["fail"]) if "fail" in options else []
    return script[attempt - 1] if attempt <= len(script) else "ok"


def _count_tokens(text: str) -> int:
    return len(text.split())


def _echo(messages: tuple[ChatMessage, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


def _mentions(text: str, choice: str) -> bool:
    """Whether `choice` appears in `text` as a whole word (case ignored)."""
    words = choice.strip()
    if not words:
        return False
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text, re.IGNORECASE) is not None


def _default_value(prop: Mapping[str, Any], said: str) -> object:
    kind = prop.get("type")
    choices = prop.get("enum")
    if isinstance(choices, list) and choices:
        mentioned = [c for c in choices if isinstance(c, str) and _mentions(said, c)]
        return mentioned[0] if mentioned else choices[0]
    if kind == "number":
        return 0
    if kind == "array":
        return []
    return said


def structured_default(schema: OutputSchema, messages: tuple[ChatMessage, ...]) -> str:
    """A deterministic answer matching `schema`, from the last user message:
    a field with choices takes the first choice that the message mentions as
    a whole word (case ignored), else the first choice; a text field the
    message itself; a number 0; a list no items."""
    said = _echo(messages)
    properties = schema.schema.get("properties", {})
    answer = {name: _default_value(prop, said) for name, prop in properties.items()}
    return json.dumps(answer, ensure_ascii=False)


class FakeProvider:
    name = "fake"
    declared_model = defaults.FAKE_DEFAULT_MODEL

    def __init__(self, context: ProviderContext | None = None) -> None:
        """No network: the context only contributes the default model."""
        self.default_model = context.default_model if context else self.declared_model

    def check_options(self, options: Mapping[str, str]) -> list[OptionProblem]:
        return check_options(options)

    async def complete(self, request: CompletionRequest) -> Completion:
        options = request.options
        latency = _latency(options["latency_ms"]) if "latency_ms" in options else 0.0
        outcome = _outcome(options, request.attempt)
        if latency == math.inf:
            await asyncio.Event().wait()  # until the attempt's timeout cancels it
        elif latency:
            await asyncio.sleep(latency)
        if outcome == "timeout":
            raise ProviderTimeoutError(f"no answer within {round(request.timeout * 1000)} ms")
        if outcome in _FAILURES:
            raise _FAILURES[outcome]()
        text = options["reply"] if "reply" in options else self._default(request)
        # Words never span two messages, so one split counts them all.
        prompt_tokens = _count_tokens(" ".join([m.content for m in request.messages]))
        completion_tokens = _count_tokens(text)
        usage = Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens)
        finish = options.get("finish_reason", "") or FINISH_STOP
        return Completion(
            text=text, usage=usage, model=request.model or self.default_model, finish_reason=finish
        )

    @staticmethod
    def _default(request: CompletionRequest) -> str:
        if request.output_schema is not None:
            return structured_default(request.output_schema, request.messages)
        return _echo(request.messages)

    async def aclose(self) -> None:
        return None
