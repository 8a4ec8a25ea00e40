"""The anthropic provider through the real SDK against a scripted loopback
Messages API server: the same fault cases as the openai adapter."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from botflow.providers.anthropic import AnthropicProvider, split_messages
from botflow.providers.base import ChatMessage, CompletionRequest
from botflow.providers.egress import EgressPolicy
from botflow.providers.errors import (
    BadResponseError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    ServerError,
)
from botflow.providers.retry import CallOutcome, RetryPolicy, complete_with_retries
from tests.support.anthropic_stub import AnthropicStub, MessageReply, message_body
from tests.support.openai_stub import Drip, Drop, Fail, Flood, Malformed, RawJson, Stall
from tests.support.provider_context import provider_context

LOOPBACK_ALLOWED = EgressPolicy.from_entries(["127.0.0.1/32"])
TOKEN = "sk-ant-api03-SECRET-0123456789abcdefXYZ"
PROMPT = "You are a helpful florist."
QUESTION = "Do you deliver on Sundays?"
FAST = RetryPolicy(max_attempts=3, attempt_timeout=1.0, backoff_initial=0.001, backoff_max=0.001)

_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_PROFILE")


@pytest.fixture(autouse=True)
def _no_vendor_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _token_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text


@pytest.fixture
async def provider() -> AsyncIterator[AnthropicProvider]:
    instance = AnthropicProvider(provider_context("anthropic", egress=LOOPBACK_ALLOWED))
    yield instance
    await instance.aclose()


class Sleeps:
    """An injected sleep: records the waits the retry layer chose, waits none."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def request(base_url: str, **changes: Any) -> CompletionRequest:
    fields: dict[str, Any] = {
        "model": "claude-test",
        "messages": (
            ChatMessage("system", PROMPT),
            ChatMessage("user", "Hello"),
            ChatMessage("user", QUESTION),
            ChatMessage("assistant", "Let me check."),
        ),
        "token": TOKEN,
        "base_url": base_url,
    }
    return CompletionRequest(**(fields | changes))


async def run(
    provider: AnthropicProvider,
    stub: AnthropicStub,
    policy: RetryPolicy = FAST,
    *,
    sleep: Sleeps | None = None,
    deadline: float | None = None,
) -> CallOutcome:
    return await complete_with_retries(
        provider, request(stub.base_url), policy, sleep=sleep or Sleeps(), deadline=deadline
    )


def failed(outcome: CallOutcome) -> ProviderError:
    assert outcome.completion is None
    assert outcome.error is not None
    return outcome.error


# -- the request ----------------------------------------------------------------


async def test_messages_api_request_and_answer(provider: AnthropicProvider) -> None:
    async with AnthropicStub(MessageReply("Yes, we do.", prompt_tokens=11)) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "Yes, we do."
    assert outcome.completion.finish_reason == "stop"
    assert outcome.completion.usage.total_tokens == 16
    [sent] = stub.chat_requests
    assert sent.headers["x-api-key"] == TOKEN
    assert "authorization" not in sent.headers
    assert sent.body["system"] == PROMPT
    assert sent.body["messages"] == [
        {"role": "user", "content": f"Hello\n\n{QUESTION}"},
        {"role": "assistant", "content": "Let me check."},
    ]
    assert sent.body["max_tokens"] == 1024  # the API requires one
    assert "temperature" not in sent.body


async def test_max_tokens_and_temperature_are_sent(provider: AnthropicProvider) -> None:
    async with AnthropicStub() as stub:
        await complete_with_retries(
            provider, request(stub.base_url, max_tokens=77, temperature=0.5), FAST
        )
    assert stub.chat_requests[0].body["max_tokens"] == 77
    assert stub.chat_requests[0].body["temperature"] == 0.5


async def test_truncated_answer_reports_length(provider: AnthropicProvider) -> None:
    async with AnthropicStub(MessageReply("Yes, we", stop_reason="max_tokens")) as stub:
        outcome = await run(provider, stub)
    assert outcome.completion is not None
    assert outcome.completion.finish_reason == "length"


def test_split_messages_merges_neighbours_and_keeps_system_apart() -> None:
    system, messages = split_messages(
        (
            ChatMessage("system", "rules"),
            ChatMessage("assistant", "a1"),
            ChatMessage("assistant", "a2"),
            ChatMessage("user", "u1"),
        )
    )
    assert system == "rules"
    assert messages == [
        {"role": "assistant", "content": "a1\n\na2"},
        {"role": "user", "content": "u1"},
    ]


async def test_settings_give_the_default_endpoint_and_max_tokens() -> None:
    async with AnthropicStub() as stub:
        context = provider_context(
            "anthropic",
            egress=LOOPBACK_ALLOWED,
            settings={"base_url": stub.base_url, "max_tokens": "333", "model": "claude-x"},
        )
        instance = AnthropicProvider(context)
        try:
            outcome = await complete_with_retries(instance, request(""), FAST)
        finally:
            await instance.aclose()
    assert outcome.completion is not None
    assert instance.default_model == "claude-x"
    assert stub.chat_requests[0].body["max_tokens"] == 333


# -- faults ---------------------------------------------------------------------


async def test_stall_before_headers_times_out(provider: AnthropicProvider) -> None:
    policy = RetryPolicy(max_attempts=2, attempt_timeout=0.2, backoff_initial=0.001)
    async with AnthropicStub(default=Stall(5.0)) as stub:
        outcome = await run(provider, stub, policy)
    assert failed(outcome).text() == "Timeout: no answer within 200 ms"
    assert outcome.attempts == 2


async def test_dripping_body_is_stopped_by_the_attempt_timeout(
    provider: AnthropicProvider,
) -> None:
    body = json.dumps(message_body(MessageReply("eventually"), "claude-test")).encode()
    policy = RetryPolicy(max_attempts=1, attempt_timeout=0.3)
    async with AnthropicStub(default=Drip(body, interval=0.02)) as stub:
        outcome = await run(provider, stub, policy)
        sent = stub.streamed[0]
    assert failed(outcome).text() == "Timeout: no answer within 300 ms"
    assert sent < len(body)


@pytest.mark.parametrize(
    "headers", [{"retry-after": "0.3"}, {"retry-after-ms": "300"}], ids=["s", "ms"]
)
async def test_rate_limit_waits_retry_after(
    provider: AnthropicProvider, headers: dict[str, str]
) -> None:
    sleeps = Sleeps()
    async with AnthropicStub(Fail(429, type="rate_limit_error", headers=headers)) as stub:
        outcome = await run(provider, stub, sleep=sleeps)
    assert outcome.completion is not None
    assert outcome.attempts == 2
    assert sleeps.waits == [pytest.approx(0.3)]


async def test_overloaded_is_retried_with_retry_after(provider: AnthropicProvider) -> None:
    sleeps = Sleeps()
    overloaded = Fail(529, type="overloaded_error", headers={"retry-after": "2"})
    async with AnthropicStub(overloaded, MessageReply("back")) as stub:
        outcome = await run(provider, stub, sleep=sleeps)
    assert outcome.completion is not None
    assert outcome.completion.text == "back"
    assert sleeps.waits == [pytest.approx(2.0)]


async def test_exhausted_overload_says_so(provider: AnthropicProvider) -> None:
    async with AnthropicStub(default=Fail(529, type="overloaded_error")) as stub:
        outcome = await run(provider, stub)
    error = failed(outcome)
    assert isinstance(error, ServerError)
    assert error.text() == (
        "ProviderError: the provider is overloaded (HTTP 529), provider code overloaded_error"
    )
    assert outcome.attempts == 3


async def test_unauthorized_never_echoes_the_key(provider: AnthropicProvider) -> None:
    leaky = f"invalid x-api-key: {TOKEN}; you asked {QUESTION}"
    async with AnthropicStub(default=Fail(401, type="authentication_error", message=leaky)) as stub:
        outcome = await run(provider, stub)
    error = failed(outcome)
    assert error.kind == "Unauthorized"
    assert outcome.attempts == 1
    for text in (error.text(), repr(error), str(error)):
        assert TOKEN not in text
        assert QUESTION not in text
    # The retry layer strips the chain: the SDK error (holding the request) is gone.
    assert error.__cause__ is None
    assert error.__context__ is None


@pytest.mark.parametrize(
    "step",
    [
        Malformed(body='{"type": "message", "content": [{"ty'),
        RawJson({"type": "message", "content": "not a list"}),
        RawJson({"type": "message", "content": [{"type": "text", "text": 5}]}),
        RawJson([1, 2]),
    ],
    ids=["invalid-json", "content-not-list", "text-not-string", "a-list"],
)
async def test_malformed_answer_is_retried_then_provider_error(
    provider: AnthropicProvider, step: Malformed | RawJson
) -> None:
    policy = RetryPolicy(max_attempts=2, attempt_timeout=1.0, backoff_initial=0.001)
    async with AnthropicStub(default=step) as stub:
        outcome = await run(provider, stub, policy)
    assert isinstance(failed(outcome), MalformedResponseError)
    assert outcome.attempts == 2


@pytest.mark.parametrize("drop", [Drop(), Drop(send_headers=False)], ids=["mid-body", "no-reply"])
async def test_connection_reset_is_retried(provider: AnthropicProvider, drop: Drop) -> None:
    async with AnthropicStub(drop, MessageReply("recovered")) as stub:
        outcome = await run(provider, stub)
    assert outcome.completion is not None
    assert outcome.completion.text == "recovered"
    assert outcome.attempts == 2


async def test_connection_reset_every_time_fails(provider: AnthropicProvider) -> None:
    async with AnthropicStub(default=Drop()) as stub:
        outcome = await run(provider, stub)
    assert isinstance(failed(outcome), ProviderConnectionError)
    assert outcome.attempts == 3


async def test_deadline_ends_the_retries(provider: AnthropicProvider) -> None:
    policy = RetryPolicy(max_attempts=5, attempt_timeout=10.0, backoff_initial=0.001)
    async with AnthropicStub(default=Stall(5.0)) as stub:
        outcome = await run(provider, stub, policy, deadline=time.monotonic() + 0.3)
    assert failed(outcome).kind == "Timeout"
    assert outcome.attempts == 1  # no time was left for a second attempt


async def test_answer_past_the_cap_is_bad_response() -> None:
    small = EgressPolicy.from_entries(["127.0.0.1/32"], max_response_bytes=64 * 1024)
    instance = AnthropicProvider(provider_context("anthropic", egress=small))
    try:
        async with AnthropicStub(default=Flood(decoded_bytes=1024 * 1024)) as stub:
            outcome = await run(instance, stub)
    finally:
        await instance.aclose()
    error = failed(outcome)
    assert isinstance(error, BadResponseError)
    assert outcome.attempts == 1


async def test_loopback_is_blocked_under_the_default_policy() -> None:
    instance = AnthropicProvider(provider_context("anthropic"))
    try:
        async with AnthropicStub() as stub:
            outcome = await run(instance, stub)
    finally:
        await instance.aclose()
    assert failed(outcome).kind == "Blocked"
    assert stub.requests == []
