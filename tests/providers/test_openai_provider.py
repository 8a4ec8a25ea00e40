"""OpenAIProvider through the one retry loop, against the scripted stub.

The real SDK over real HTTP on 127.0.0.1: what the stub received (arrival
times, headers, bodies) is the evidence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx2
import openai
import pytest

from botflow.providers.base import ChatMessage, CompletionRequest, OutputSchema
from botflow.providers.egress import EgressPolicy
from botflow.providers.errors import (
    MalformedResponseError,
    MissingParameterError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
)
from botflow.providers.openai import OpenAIProvider
from botflow.providers.retry import CallOutcome, RetryPolicy, complete_with_retries
from botflow.providers.retry_after import parse_retry_after
from tests.support.openai_stub import (
    Drop,
    Fail,
    Malformed,
    OpenAIStub,
    RawJson,
    Reply,
    Stall,
    Step,
    completion_body,
)
from tests.support.provider_context import provider_context

# The stubs listen on loopback, which the egress policy refuses by default.
LOOPBACK_ALLOWED = EgressPolicy.from_entries(["127.0.0.1/32"])

TOKEN = "sk-test-SECRET-0123456789abcdefXYZ"
OTHER_TOKEN = "sk-other-SECRET-9876543210zyxwvuQRS"
MASKED = f"{TOKEN[:6]}***{TOKEN[-4:]}"  # how OpenAI's own 401 message quotes a key
PROMPT = "You are a helpful florist."
QUESTION = "Do you deliver on Sundays?"

# Backoff so small that any wait of 0.3 s comes from retry-after.
FAST = RetryPolicy(max_attempts=3, attempt_timeout=1.0, backoff_initial=0.001, backoff_max=0.001)

_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
    "OPENAI_LOG",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def _hermetic_and_no_secret_in_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Every test: no ambient OpenAI/proxy settings, everything logged at DEBUG
    (SDK, httpx2, httpcore2, aiohttp, botflow), and afterwards neither token
    nor message text in any record."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx2", "httpcore2", "aiohttp", "botflow", "tenacity"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        text = f"{formatter.format(record)} {record.args!r} {vars(record)!r}"
        for secret in (TOKEN, OTHER_TOKEN, MASKED, QUESTION):
            assert secret not in text, f"{secret!r} leaked into a log record of {record.name}"


@pytest.fixture
async def provider() -> AsyncIterator[OpenAIProvider]:
    instance = OpenAIProvider(provider_context(egress=LOOPBACK_ALLOWED))
    yield instance
    await instance.aclose()


def chat_request(
    base_url: str | None,
    *,
    token: str = TOKEN,
    model: str = "gpt-test",
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> CompletionRequest:
    return CompletionRequest(
        model=model,
        messages=(
            ChatMessage("system", PROMPT),
            ChatMessage("assistant", "Hello! How can I help?"),
            ChatMessage("user", QUESTION),
        ),
        token=token,
        base_url=base_url,
        temperature=temperature,
        max_tokens=max_tokens,
    )


async def run(
    provider: OpenAIProvider,
    stub: OpenAIStub,
    policy: RetryPolicy = FAST,
    *,
    deadline: float | None = None,
) -> CallOutcome:
    return await complete_with_retries(
        provider, chat_request(stub.base_url), policy, deadline=deadline
    )


def failed(outcome: CallOutcome) -> ProviderError:
    assert outcome.completion is None, "expected a failure"
    assert outcome.error is not None
    return outcome.error


# -- success ----------------------------------------------------------------------


async def test_success_returns_text_usage_and_model(provider: OpenAIProvider) -> None:
    reply = Reply("We deliver every day.", model="gpt-test-2026", prompt_tokens=21)
    async with OpenAIStub(reply) as stub:
        outcome = await complete_with_retries(
            provider,
            chat_request(stub.base_url, temperature=0.25, max_tokens=64),
            FAST,
        )

    assert outcome.error is None
    assert outcome.completion is not None
    assert outcome.completion.text == "We deliver every day."
    assert outcome.completion.model == "gpt-test-2026"
    usage = outcome.completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (21, 5, 26)
    assert outcome.attempts == 1

    [seen] = stub.chat_requests
    assert seen.bearer == TOKEN
    assert seen.body == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": QUESTION},
        ],
        "temperature": 0.25,
        "max_tokens": 64,
    }
    # The SDK's own retry loop is off and saw no retry.
    assert seen.headers["x-stainless-retry-count"] == "0"


async def test_the_request_is_the_one_create_would_send(provider: OpenAIProvider) -> None:
    """The provider builds its body and sends it with the SDK's `post`
    (bench/RESULTS.md: `create`'s transform costs milliseconds): the request
    on the wire must be what `chat.completions.create` sends for the same
    parameters, headers included."""
    schema = OutputSchema("triage", {"type": "object", "properties": {}, "required": []})
    ours = replace(chat_request(None, temperature=0.5, max_tokens=32), output_schema=schema)
    async with OpenAIStub(default=Reply("{}")) as stub:
        outcome = await complete_with_retries(provider, replace(ours, base_url=stub.base_url), FAST)
        assert outcome.completion is not None
        sdk = openai.AsyncOpenAI(api_key=TOKEN, base_url=stub.base_url, max_retries=0)
        await sdk.chat.completions.create(
            model="gpt-test",
            messages=[
                {"role": "system", "content": PROMPT},
                {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": QUESTION},
            ],
            temperature=0.5,
            max_tokens=32,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "triage", "strict": True, "schema": dict(schema.schema)},
            },
        )
        await sdk.close()

    sent, by_create = stub.chat_requests
    assert (sent.method, sent.path, sent.body) == (by_create.method, by_create.path, by_create.body)
    assert set(sent.headers) == set(by_create.headers)
    assert sent.bearer == TOKEN


async def test_unset_options_are_not_sent(provider: OpenAIProvider) -> None:
    async with OpenAIStub() as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    body = stub.chat_requests[0].body
    assert "temperature" not in body
    assert "max_tokens" not in body


async def test_missing_usage_counts_zero(provider: OpenAIProvider) -> None:
    body = completion_body(Reply("fine"), "gpt-test")
    del body["usage"]
    async with OpenAIStub(RawJson(body)) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "fine"
    usage = outcome.completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (0, 0, 0)


# -- retry-after ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"retry-after": "0.3"}, {"retry-after-ms": "300"}],
    ids=["retry-after", "retry-after-ms"],
)
async def test_rate_limit_waits_retry_after(
    provider: OpenAIProvider, headers: dict[str, str]
) -> None:
    async with OpenAIStub(Fail(429, code="rate_limit_exceeded", headers=headers)) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.attempts == 2
    [gap] = stub.gaps()
    assert gap >= 0.3
    assert FAST.backoff_max < 0.01  # backoff alone would not have waited


async def test_rate_limit_without_retry_after_uses_backoff(provider: OpenAIProvider) -> None:
    async with OpenAIStub(Fail(429)) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.attempts == 2
    [gap] = stub.gaps()
    assert gap < 0.25  # the control for the test above: only the 1 ms backoff


async def test_retry_after_ms_wins_over_retry_after(provider: OpenAIProvider) -> None:
    headers = {"retry-after-ms": "300", "retry-after": "20"}
    policy = RetryPolicy(max_attempts=2, attempt_timeout=1.0, backoff_initial=0.001)
    async with OpenAIStub(Fail(429, headers=headers)) as stub:
        outcome = await run(provider, stub, policy)

    assert outcome.completion is not None
    [gap] = stub.gaps()
    assert 0.3 <= gap < 2.0


async def test_exhausted_rate_limit_is_rate_limited(provider: OpenAIProvider) -> None:
    policy = RetryPolicy(max_attempts=2, attempt_timeout=1.0, backoff_initial=0.001)
    async with OpenAIStub(default=Fail(429, headers={"retry-after-ms": "10"})) as stub:
        outcome = await run(provider, stub, policy)

    error = failed(outcome)
    assert error.kind == "RateLimited"
    assert error.status == 429
    assert error.retry_after == pytest.approx(0.01)
    assert outcome.attempts == 2
    assert len(stub.chat_requests) == 2


# -- statuses that are not retried -----------------------------------------------


async def test_insufficient_quota_is_not_retried(provider: OpenAIProvider) -> None:
    quota = Fail(429, code="insufficient_quota", type="insufficient_quota")
    async with OpenAIStub(quota, Reply()) as stub:
        outcome = await run(provider, stub)

    error = failed(outcome)
    assert isinstance(error, QuotaExceededError)
    assert error.kind == "QuotaExceeded"
    assert error.text().startswith("QuotaExceeded: ")
    assert outcome.attempts == 1
    assert len(stub.chat_requests) == 1
    assert stub.pending == 1  # the success after it was never asked for


async def test_quota_code_in_type_only_is_quota(provider: OpenAIProvider) -> None:
    async with OpenAIStub(Fail(429, code=None, type="insufficient_quota")) as stub:
        outcome = await run(provider, stub)

    assert failed(outcome).kind == "QuotaExceeded"
    assert outcome.attempts == 1


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "invalid_api_key", "Unauthorized"),
        (403, "unsupported_country_region_territory", "Unauthorized"),
        (400, None, "BadRequest"),
        (404, "model_not_found", "BadRequest"),
        (422, None, "BadRequest"),
    ],
)
async def test_client_errors_are_not_retried(
    provider: OpenAIProvider, status: int, code: str | None, kind: str
) -> None:
    # OpenAI's own 401 message quotes part of the key; a bad server may quote it all.
    message = f"Incorrect API key provided: {MASKED} (full: {TOKEN}) for {QUESTION}"
    async with OpenAIStub(Fail(status, code=code, message=message), Reply()) as stub:
        outcome = await run(provider, stub)

    error = failed(outcome)
    assert error.kind == kind
    assert error.status == status
    assert f"HTTP {status}" in error.text()
    if code is not None:
        assert f"provider code {code}" in error.text()
    assert "Incorrect API key" not in error.text()
    assert outcome.attempts == 1
    assert len(stub.chat_requests) == 1


async def test_odd_provider_code_is_not_shown(provider: OpenAIProvider) -> None:
    async with OpenAIStub(Fail(400, code=f"bad key {TOKEN}")) as stub:
        outcome = await run(provider, stub)

    error = failed(outcome)
    assert error.text() == "BadRequest: the provider refused the request (HTTP 400)"


# -- retried failures -------------------------------------------------------------


async def test_server_error_then_success(provider: OpenAIProvider) -> None:
    async with OpenAIStub(Fail(500, type="server_error"), Reply("second time lucky")) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "second time lucky"
    assert outcome.attempts == 2
    assert len(stub.chat_requests) == 2


async def test_stall_longer_than_attempt_timeout_times_out(provider: OpenAIProvider) -> None:
    policy = RetryPolicy(max_attempts=3, attempt_timeout=0.2, backoff_initial=0.001)
    async with OpenAIStub(default=Stall(1.5)) as stub:
        started = time.monotonic()
        outcome = await run(provider, stub, policy)
        elapsed = time.monotonic() - started

    error = failed(outcome)
    assert error.kind == "Timeout"
    assert error.text() == "Timeout: no answer within 200 ms"
    assert outcome.attempts == 3
    assert len(stub.chat_requests) == 3
    # A lower bound only (upper bounds are noise on a shared machine): the
    # stall would have answered after 1.5 s, so Timeout proves the cut-off.
    assert elapsed >= 0.6


async def test_stall_shorter_than_attempt_timeout_succeeds(provider: OpenAIProvider) -> None:
    async with OpenAIStub(Stall(0.1, then=Reply("slow but fine"))) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "slow but fine"
    assert outcome.attempts == 1


@pytest.mark.parametrize("drop", [Drop(), Drop(send_headers=False)], ids=["mid-body", "no-reply"])
async def test_dropped_connection_is_retried_then_fails(
    provider: OpenAIProvider, drop: Drop
) -> None:
    async with OpenAIStub(default=drop) as stub:
        outcome = await run(provider, stub)

    error = failed(outcome)
    assert isinstance(error, ProviderConnectionError)
    assert error.kind == "ProviderError"
    assert outcome.attempts == 3
    assert len(stub.chat_requests) == 3


async def test_dropped_connection_then_success_recovers(provider: OpenAIProvider) -> None:
    async with OpenAIStub(Drop(), Reply("recovered")) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "recovered"
    assert outcome.attempts == 2


def _completion_with(**changes: Any) -> dict[str, Any]:
    body = completion_body(Reply(), "gpt-test")
    body["choices"][0]["message"].update(changes)
    return body


@pytest.mark.parametrize(
    "step",
    [
        Malformed(),
        Malformed(body="<html>bad gateway</html>", content_type="text/html"),
        RawJson({"object": "chat.completion", "choices": []}),
        RawJson({"unexpected": True}),
        RawJson([1, 2, 3]),
        RawJson(_completion_with(content=None)),
    ],
    ids=["invalid-json", "html", "no-choices", "not-a-completion", "a-list", "null-content"],
)
async def test_malformed_answer_is_provider_error(provider: OpenAIProvider, step: Step) -> None:
    policy = RetryPolicy(max_attempts=2, attempt_timeout=1.0, backoff_initial=0.001)
    async with OpenAIStub(default=step) as stub:
        outcome = await run(provider, stub, policy)

    error = failed(outcome)
    assert isinstance(error, MalformedResponseError)
    assert error.kind == "ProviderError"
    assert outcome.attempts == 2  # a gateway glitch may pass: retried


async def test_refusal_is_provider_error_not_retried(provider: OpenAIProvider) -> None:
    refusal = RawJson(_completion_with(content=None, refusal="I cannot help with that."))
    async with OpenAIStub(default=refusal) as stub:
        outcome = await run(provider, stub)

    error = failed(outcome)
    assert error.text() == "ProviderError: the model refused to answer"
    assert outcome.attempts == 1


# -- deadline ---------------------------------------------------------------------


async def test_deadline_shorter_than_retries_is_kept(provider: OpenAIProvider) -> None:
    policy = RetryPolicy(max_attempts=5, attempt_timeout=10.0, backoff_initial=0.001)
    async with OpenAIStub(default=Stall(5.0)) as stub:
        started = time.monotonic()
        outcome = await run(provider, stub, policy, deadline=started + 0.4)
        elapsed = time.monotonic() - started

    # The stall answers after 5 s: Timeout proves the attempt was cut to the
    # deadline, and no second attempt started after it.
    assert failed(outcome).kind == "Timeout"
    assert outcome.attempts == 1
    assert elapsed >= 0.3


async def test_retry_after_beyond_deadline_stops_early(provider: OpenAIProvider) -> None:
    async with OpenAIStub(default=Fail(429, headers={"retry-after": "3"})) as stub:
        started = time.monotonic()
        outcome = await run(provider, stub, FAST, deadline=started + 0.5)

    # One attempt: the 3 s retry-after would pass the deadline, so none follows.
    assert failed(outcome).kind == "RateLimited"
    assert outcome.attempts == 1
    assert len(stub.chat_requests) == 1


# -- secrets ----------------------------------------------------------------------


async def test_token_never_in_errors(provider: OpenAIProvider) -> None:
    leaky = f"Incorrect API key provided: {MASKED}; you sent {TOKEN}; they asked {QUESTION}"
    steps: list[Step] = [
        Fail(401, code="invalid_api_key", message=leaky),
        Fail(403, message=leaky),
        Fail(400, code=TOKEN, message=leaky),
        Fail(429, code="insufficient_quota", message=leaky),
        Fail(500, message=leaky),
        Malformed(body=leaky),
        Drop(partial=leaky.encode()),
        Stall(1.0),
    ]
    policy = RetryPolicy(max_attempts=1, attempt_timeout=0.2)
    errors: list[ProviderError] = []
    async with OpenAIStub(*steps) as stub:
        for _ in steps:
            errors.append(failed(await run(provider, stub, policy)))

    assert [e.kind for e in errors] == [
        "Unauthorized",
        "Unauthorized",
        "BadRequest",
        "QuotaExceeded",
        "ProviderError",
        "ProviderError",
        "ProviderError",
        "Timeout",
    ]
    for error in errors:
        shown = f"{error.text()} {error} {error!r} {error.args!r} {vars(error)!r}"
        for secret in (TOKEN, MASKED, QUESTION, "Incorrect API key"):
            assert secret not in shown
        # Nothing chains back to the SDK's exception, which holds the request headers.
        link: BaseException | None = error
        while link is not None:
            assert not isinstance(link, openai.OpenAIError | httpx2.HTTPError)
            assert TOKEN not in str(link)
            link = link.__cause__ or link.__context__
    assert repr(chat_request(stub.base_url)).count(TOKEN) == 0


async def test_empty_token_is_refused_before_any_request(provider: OpenAIProvider) -> None:
    async with OpenAIStub() as stub:
        outcome = await complete_with_retries(provider, chat_request(stub.base_url, token=""), FAST)

    error = failed(outcome)
    assert isinstance(error, MissingParameterError)
    assert stub.requests == []


async def test_server_environment_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OTHER_TOKEN)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-operator")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-operator")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", f"Authorization: Bearer {OTHER_TOKEN}")
    async with OpenAIStub() as stub:
        provider = OpenAIProvider(
            provider_context(egress=LOOPBACK_ALLOWED, settings={"base_url": stub.base_url})
        )
        try:
            outcome = await complete_with_retries(provider, chat_request(None), FAST)
        finally:
            await provider.aclose()

    assert outcome.completion is not None  # reached the default base URL, not the env's
    [seen] = stub.chat_requests
    assert seen.bearer == TOKEN
    assert "openai-organization" not in seen.headers
    assert "openai-project" not in seen.headers


# -- base URL ---------------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["ftp://127.0.0.1/v1", "not a url", "http:///v1"])
async def test_bad_base_url_is_bad_request(provider: OpenAIProvider, base_url: str) -> None:
    outcome = await complete_with_retries(provider, chat_request(base_url), FAST)

    error = failed(outcome)
    assert error.kind == "BadRequest"
    assert outcome.attempts == 1


async def test_redirects_are_not_followed(provider: OpenAIProvider) -> None:
    async with OpenAIStub() as elsewhere:
        location = f"{elsewhere.base_url}/chat/completions"
        redirect = RawJson({}, status=307, headers={"Location": location})
        async with OpenAIStub(default=redirect) as stub:
            outcome = await run(provider, stub)

    assert failed(outcome).kind == "BadRequest"
    assert len(stub.chat_requests) == 1
    assert elsewhere.requests == []


# -- one shared pool --------------------------------------------------------------


async def test_one_pool_for_all_tokens_and_base_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    constructed: list[httpx2.AsyncClient] = []
    original_init = httpx2.AsyncClient.__init__

    def counting_init(self: httpx2.AsyncClient, *args: Any, **kwargs: Any) -> None:
        constructed.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx2.AsyncClient, "__init__", counting_init)
    provider = OpenAIProvider(provider_context(egress=LOOPBACK_ALLOWED))
    try:
        async with OpenAIStub() as first, OpenAIStub() as second:
            calls = [
                chat_request(first.base_url, token=TOKEN),
                chat_request(second.base_url, token=OTHER_TOKEN),
                chat_request(first.base_url, token=OTHER_TOKEN),
                chat_request(second.base_url, token=TOKEN),
            ]
            for request in calls:
                assert (await complete_with_retries(provider, request, FAST)).completion
            concurrent = [
                chat_request(first.base_url, token=f"sk-concurrent-{n}") for n in range(8)
            ]
            outcomes = await asyncio.gather(
                *(complete_with_retries(provider, r, FAST) for r in concurrent)
            )
    finally:
        await provider.aclose()

    assert all(o.completion is not None for o in outcomes)
    assert len(constructed) == 1
    assert isinstance(constructed[0], openai.DefaultAsyncHttpxClient)
    assert constructed[0].is_closed  # aclose() closed the pool
    # Each request carried its own token to its own base URL...
    assert [r.bearer for r in first.chat_requests[:2]] == [TOKEN, OTHER_TOKEN]
    assert [r.bearer for r in second.chat_requests] == [OTHER_TOKEN, TOKEN]
    assert {r.bearer for r in first.chat_requests[2:]} == {f"sk-concurrent-{n}" for n in range(8)}
    # ...and sequential calls to one host reused one keep-alive connection.
    assert first.chat_requests[0].client_port == first.chat_requests[1].client_port
    assert second.chat_requests[0].client_port == second.chat_requests[1].client_port


async def test_no_client_is_built_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Token and timeout travel on each request; a client is derived once per
    base URL, not once per call."""
    built: list[str] = []
    original_init = openai.AsyncOpenAI.__init__

    def counting_init(self: openai.AsyncOpenAI, *args: Any, **kwargs: Any) -> None:
        built.append(str(kwargs.get("base_url")))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(openai.AsyncOpenAI, "__init__", counting_init)
    provider = OpenAIProvider(provider_context(egress=LOOPBACK_ALLOWED))
    try:
        async with OpenAIStub() as first, OpenAIStub() as second:
            for n in range(6):
                base_url = (first, second)[n % 2].base_url
                timed = replace(chat_request(base_url, token=f"sk-call-{n}"), timeout=1.5 + n)
                assert (await provider.complete(timed)).text
    finally:
        await provider.aclose()

    # The base client and one client per base URL: three, for six calls.
    assert len(built) == 3
    assert sorted(built[1:]) == sorted([first.base_url, second.base_url])
    sent = sorted(first.chat_requests + second.chat_requests, key=lambda r: r.arrived)
    assert [r.bearer for r in sent] == [f"sk-call-{n}" for n in range(6)]
    assert [r.headers["x-stainless-read-timeout"] for r in sent] == [str(1.5 + n) for n in range(6)]
    assert [r in first.chat_requests for r in sent] == [True, False] * 3


# -- retry-after parsing ----------------------------------------------------------


def _http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta, usegmt=True)


def test_parse_retry_after_forms() -> None:
    def parse(headers: dict[str, str]) -> float | None:
        return parse_retry_after(httpx2.Headers(headers))

    assert parse({}) is None
    assert parse({"retry-after-ms": "250"}) == pytest.approx(0.25)
    assert parse({"Retry-After": "2"}) == pytest.approx(2.0)
    assert parse({"retry-after": "1.5"}) == pytest.approx(1.5)
    assert parse({"retry-after-ms": "100", "retry-after": "9"}) == pytest.approx(0.1)
    assert parse({"retry-after-ms": "soon", "retry-after": "3"}) == pytest.approx(3.0)
    assert parse({"retry-after": "-4"}) == 0.0
    assert parse({"retry-after": "nan"}) is None
    assert parse({"retry-after": "whenever"}) is None
    in_a_minute = parse({"retry-after": _http_date(timedelta(seconds=60))})
    assert in_a_minute is not None
    assert 55 <= in_a_minute <= 61
    assert parse({"retry-after": _http_date(timedelta(seconds=-60))}) == 0.0


# -- egress policy ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_refused_base_url_is_blocked_before_any_connection(host: str) -> None:
    provider = OpenAIProvider(provider_context())  # the default policy: no loopback
    try:
        async with OpenAIStub() as stub:
            base_url = stub.base_url.replace("127.0.0.1", host)
            outcome = await complete_with_retries(provider, chat_request(base_url), FAST)
            assert stub.requests == []
    finally:
        await provider.aclose()
    assert outcome.error is not None
    assert outcome.error.kind == "Blocked"
    assert outcome.attempts == 1
    assert "loopback" in outcome.error.detail
    assert TOKEN not in outcome.error.text()
