"""OpenAIProvider against odd input and a hostile OpenAI-compatible server.

The real SDK over real HTTP on 127.0.0.1. Every failure must be a typed
ProviderError with a detail botflow wrote; sizes are capped on the decoded
answer; nothing unsendable is retried.
"""

from __future__ import annotations

import gzip
import json
import logging
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from botflow.providers.egress import EgressPolicy
from botflow.providers.errors import (
    BadRequestError,
    BadResponseError,
    MalformedResponseError,
)
from botflow.providers.openai import OpenAIProvider
from botflow.providers.retry import CallOutcome, RetryPolicy, complete_with_retries
from tests.providers.test_openai_provider import FAST, TOKEN, chat_request, failed
from tests.support.openai_stub import (
    Drip,
    Fail,
    Flood,
    Malformed,
    OpenAIStub,
    RawBody,
    RawJson,
    Reply,
    Step,
    completion_body,
    gzip_bomb,
)
from tests.support.provider_context import provider_context

MiB = 1024 * 1024
DEFAULT_CAP = 1024 * 1024  # EgressPolicy's default, the server's --max-response-bytes
SMALL_CAP = 64 * 1024


def loopback(cap: int = DEFAULT_CAP) -> EgressPolicy:
    return EgressPolicy.from_entries(["127.0.0.1/32"], max_response_bytes=cap)


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_CUSTOM_HEADERS", "OPENAI_LOG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _token_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text


@pytest.fixture
async def provider() -> AsyncIterator[OpenAIProvider]:
    instance = OpenAIProvider(provider_context(egress=loopback()))
    yield instance
    await instance.aclose()


@pytest.fixture
async def small_cap_provider() -> AsyncIterator[OpenAIProvider]:
    instance = OpenAIProvider(provider_context(egress=loopback(SMALL_CAP)))
    yield instance
    await instance.aclose()


async def run(
    provider: OpenAIProvider, stub: OpenAIStub, policy: RetryPolicy = FAST, **changes: Any
) -> CallOutcome:
    return await complete_with_retries(provider, chat_request(stub.base_url, **changes), policy)


def completion_with(**changes: Any) -> dict[str, Any]:
    body = completion_body(Reply(), "gpt-test")
    body.update(changes)
    return body


def message_with(**changes: Any) -> dict[str, Any]:
    body = completion_body(Reply(), "gpt-test")
    body["choices"][0]["message"].update(changes)
    return body


def json_bytes(body: object) -> bytes:
    return json.dumps(body).encode()


# -- what ends up in a header -----------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        f"{TOKEN} ",
        f"{TOKEN}\n",
        f" {TOKEN}",
        "sk-tést-0123456789",
        f"{TOKEN}\x00x",
        f"{TOKEN}\x7f",
        f"{TOKEN}\r\nX-Injected: 1",
        f"sk-first-line\nsk-second-line-{TOKEN}",
    ],
    ids=[
        "trailing-space",
        "trailing-newline",
        "leading-space",
        "non-ascii",
        "nul",
        "del",
        "crlf-injection",
        "inner-newline",
    ],
)
async def test_unsendable_token_is_bad_request_at_once(
    provider: OpenAIProvider, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAIStub() as stub:
        outcome = await run(provider, stub, token=token)

    error = failed(outcome)
    assert isinstance(error, BadRequestError)
    assert error.text() == "BadRequest: the token contains characters an HTTP header cannot carry"
    assert outcome.attempts == 1
    assert stub.requests == []  # refused before any connection
    assert token.strip() not in caplog.text
    assert token.strip() not in repr(vars(error))


@pytest.mark.parametrize("token", ["sk-with inner-space", "sk-with\tinner-tab"])
async def test_inner_blanks_can_be_carried(provider: OpenAIProvider, token: str) -> None:
    async with OpenAIStub() as stub:
        outcome = await run(provider, stub, token=token)

    assert outcome.completion is not None
    assert stub.chat_requests[0].bearer == token


async def test_base_url_with_credentials_is_refused(provider: OpenAIProvider) -> None:
    async with OpenAIStub() as stub:
        # httpx2 would send these as Basic auth in place of the token.
        base_url = stub.base_url.replace("http://", "http://user:secret-pw@")
        outcome = await complete_with_retries(provider, chat_request(base_url), FAST)
        assert stub.requests == []

    error = failed(outcome)
    assert error.text() == "BadRequest: the base_url must not contain a user name or password"
    assert "secret-pw" not in error.text()
    assert outcome.attempts == 1


@pytest.mark.parametrize(
    ("base_url", "detail"),
    [
        ("http://127.0.0.1:99999/v1", "the base_url's port is out of range"),
        ("http://api..example.com/v1", "the base_url's host name is not valid"),
        (f"http://{'a' * 64}.example.com/v1", "the base_url's host name is not valid"),
        ("http://127.0.0.1%20/v1", "the base_url's host name is not valid"),
    ],
    ids=["port", "empty-label", "long-label", "space"],
)
async def test_unusable_host_or_port_is_bad_request(
    provider: OpenAIProvider, base_url: str, detail: str
) -> None:
    outcome = await complete_with_retries(provider, chat_request(base_url), FAST)

    assert failed(outcome).text() == f"BadRequest: {detail}"
    assert outcome.attempts == 1


# -- size of the answer -------------------------------------------------------------


async def test_gzip_bomb_is_bad_response_without_inflating(provider: OpenAIProvider) -> None:
    bomb = gzip_bomb(64 * MiB)  # about 64 KiB on the wire
    step = RawBody(bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    async with OpenAIStub(default=step) as stub:
        tracemalloc.start()
        try:
            outcome = await run(provider, stub)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    error = failed(outcome)
    assert isinstance(error, BadResponseError)
    assert error.text() == "BadResponse: the provider's answer is larger than 1048576 bytes"
    assert outcome.attempts == 1  # not retried
    assert len(stub.chat_requests) == 1
    # Reading the whole answer would hold its 64 MiB at least once.
    assert peak < 20 * MiB


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
async def test_endless_answer_stops_at_the_cap(
    small_cap_provider: OpenAIProvider, encoding: str | None
) -> None:
    total = 512 * MiB
    async with OpenAIStub(default=Flood(total, encoding=encoding)) as stub:
        outcome = await run(small_cap_provider, stub)
        sent = stub.streamed[0]

    error = failed(outcome)
    assert error.text() == f"BadResponse: the provider's answer is larger than {SMALL_CAP} bytes"
    assert outcome.attempts == 1
    # The client hung up: what went out is the cap plus socket buffers (or,
    # compressed, a small part of the whole anyway).
    assert sent < total // 8


async def test_error_status_with_a_huge_body_is_capped(
    small_cap_provider: OpenAIProvider,
) -> None:
    body = json_bytes({"error": {"message": "x" * (2 * SMALL_CAP), "code": "boom"}})
    async with OpenAIStub(default=RawBody(body, status=500)) as stub:
        outcome = await run(small_cap_provider, stub)

    assert failed(outcome).kind == "BadResponse"
    assert outcome.attempts == 1


async def test_compressed_answer_under_the_cap_is_read(provider: OpenAIProvider) -> None:
    body = json_bytes(
        completion_with(
            choices=[{"index": 0, "message": {"role": "assistant", "content": "zipped"}}]
        )
    )
    steps: list[Step] = [
        RawBody(gzip.compress(body), headers={"Content-Encoding": "gzip"}),
        RawBody(zlib.compress(body), headers={"Content-Encoding": "deflate"}),
    ]
    async with OpenAIStub(*steps) as stub:
        answers = [await run(provider, stub) for _ in steps]
        accepted = [r.headers.get("accept-encoding") for r in stub.chat_requests]

    assert [a.completion.text if a.completion else None for a in answers] == ["zipped"] * 2
    assert accepted == ["gzip, deflate"] * 2


async def test_the_cap_is_on_decoded_bytes(small_cap_provider: OpenAIProvider) -> None:
    body = json_bytes(message_with(content="y" * (2 * SMALL_CAP)))
    compressed = gzip.compress(body)
    assert len(compressed) < SMALL_CAP < len(body)
    step = RawBody(compressed, headers={"Content-Encoding": "gzip"})
    async with OpenAIStub(default=step) as stub:
        outcome = await run(small_cap_provider, stub)

    assert failed(outcome).kind == "BadResponse"


async def test_corrupt_compression_is_malformed_and_retried(provider: OpenAIProvider) -> None:
    corrupt = RawBody(b"not gzip at all", headers={"Content-Encoding": "gzip"})
    async with OpenAIStub(corrupt, Reply("fine now")) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "fine now"
    assert outcome.attempts == 2


async def test_unknown_coding_is_malformed(provider: OpenAIProvider) -> None:
    policy = RetryPolicy(max_attempts=1)
    step = RawBody(b"\x1b\x07\x00\xf8 not json", headers={"Content-Encoding": "br"})
    async with OpenAIStub(default=step) as stub:
        outcome = await run(provider, stub, policy)

    assert isinstance(failed(outcome), MalformedResponseError)


# -- time -------------------------------------------------------------------------------


async def test_dripping_answer_is_stopped_by_the_attempt_timeout(
    provider: OpenAIProvider,
) -> None:
    # Each byte arrives well within the SDK's read timeout: only the retry
    # layer's asyncio.timeout around the whole attempt can stop this.
    body = json_bytes(completion_body(Reply("eventually"), "gpt-test"))
    policy = RetryPolicy(max_attempts=1, attempt_timeout=0.3)
    async with OpenAIStub(default=Drip(body, interval=0.02)) as stub:
        outcome = await run(provider, stub, policy)
        sent = stub.streamed[0]

    assert failed(outcome).text() == "Timeout: no answer within 300 ms"
    assert sent < len(body)


# -- odd answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [
        Malformed(body="[" * 200_000 + "]" * 200_000),
        Malformed(
            body=json.dumps(completion_with()).replace(
                '"prompt_tokens": 7', '"prompt_tokens": ' + "9" * 5000
            )
        ),
        RawBody(b""),
        RawJson("just a string"),
        RawJson(None),
        RawJson({"error": {"message": "an error with status 200"}}),
        RawJson(completion_with(choices={"0": "not a list"})),
        RawJson(completion_with(choices=[5])),
        RawJson(completion_with(choices=[{"message": ["not", "an", "object"]}])),
        RawJson(message_with(content=[{"type": "text", "text": "parts"}])),
        RawJson(message_with(content=42)),
        RawBody(
            b"<html><body>502 Bad Gateway</body></html>", headers={"Content-Type": "text/html"}
        ),
    ],
    ids=[
        "deep-nesting",
        "5000-digit-int",
        "empty",
        "string",
        "null",
        "error-200",
        "choices-object",
        "choice-number",
        "message-list",
        "content-parts",
        "content-number",
        "html",
    ],
)
async def test_odd_answers_are_malformed(provider: OpenAIProvider, step: Step) -> None:
    policy = RetryPolicy(max_attempts=1)
    async with OpenAIStub(default=step) as stub:
        outcome = await run(provider, stub, policy)

    error = failed(outcome)
    assert isinstance(error, MalformedResponseError)
    assert error.detail.startswith("the provider's answer ")


async def test_many_choices_read_only_the_first(
    provider: OpenAIProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    original = openai.AsyncOpenAI._process_response_data

    def spy(self: openai.AsyncOpenAI, **kwargs: Any) -> Any:
        built.append(kwargs)
        return original(self, **kwargs)

    # The SDK would build a model per choice: seconds of event-loop time for
    # a 1 MiB answer of empty choices.
    monkeypatch.setattr(openai.AsyncOpenAI, "_process_response_data", spy)
    first = {"index": 0, "message": {"role": "assistant", "content": "first"}}
    body = completion_with(choices=[first, *([{}] * 200_000)])
    async with OpenAIStub(default=RawJson(body)) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "first"
    assert built == []


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": -3, "completion_tokens": "5", "total_tokens": None}, (0, 0, 0)),
        ({"prompt_tokens": 1.5, "completion_tokens": True, "total_tokens": 9}, (0, 0, 9)),
        ("lots", (0, 0, 0)),
        ({"prompt_tokens": 2**40, "completion_tokens": 1}, (2**40, 1, 2**40 + 1)),
    ],
    ids=["negative-and-strings", "float-and-bool", "not-an-object", "huge"],
)
async def test_usage_keeps_only_counts(
    provider: OpenAIProvider, usage: object, expected: tuple[int, int, int]
) -> None:
    # The provider reports what the server said; the action makes it fit
    # the proto (see tests/unit/test_openai_action.py).
    async with OpenAIStub(default=RawJson(completion_with(usage=usage))) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    got = outcome.completion.usage
    assert (got.prompt_tokens, got.completion_tokens, got.total_tokens) == expected


async def test_json_under_another_content_type_is_read(provider: OpenAIProvider) -> None:
    body = json_bytes(message_with(content="plain"))
    async with OpenAIStub(default=RawBody(body, headers={"Content-Type": "text/plain"})) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "plain"


async def test_invalid_utf8_becomes_replacement_characters(provider: OpenAIProvider) -> None:
    body = json_bytes(message_with(content="caf@")).replace(b"caf@", b"caf\xe9 \xff")
    async with OpenAIStub(default=RawBody(body)) as stub:
        outcome = await run(provider, stub)

    assert outcome.completion is not None
    assert outcome.completion.text == "caf\ufffd \ufffd"


async def test_redirect_statuses_are_bad_request(provider: OpenAIProvider) -> None:
    steps: list[Step] = [RawJson({}, status=300), RawJson({}, status=304), Fail(308)]
    async with OpenAIStub(*steps) as stub:
        outcomes = [await run(provider, stub) for _ in steps]

    assert [failed(o).text() for o in outcomes] == [
        f"BadRequest: the provider refused the request (HTTP {s})" for s in (300, 304, 308)
    ]
