"""Today's OpenAI API through the real SDK: the token-limit field per endpoint,
Azure OpenAI, finish_reason, and the provider's own option checks (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from botflow.providers.base import ChatMessage, CompletionRequest
from botflow.providers.egress import EgressPolicy
from botflow.providers.openai import OpenAIProvider, check_options
from botflow.providers.retry import CallOutcome, RetryPolicy, complete_with_retries
from tests.support.openai_stub import OpenAIStub, RawJson, Reply, completion_body
from tests.support.provider_context import provider_context

TOKEN = "sk-test-SECRET-0123456789abcdefXYZ"
FAST = RetryPolicy(max_attempts=1, attempt_timeout=2.0)
OPENAI_HOST = "api.openai.com"
AZURE_HOST = "contoso.openai.azure.com"


async def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


# Named hosts resolve to the stub; the policy allows exactly those names.
POLICY = EgressPolicy.from_entries([OPENAI_HOST, AZURE_HOST, "127.0.0.1/32"], resolver=_loopback)


class AzureStub(OpenAIStub):
    """Serves the Azure path of one deployment and keeps each query string."""

    served_path = "/openai/deployments/gpt-dep/chat/completions"

    def __init__(self, *steps: Any) -> None:
        super().__init__(*steps)
        self.queries: list[str] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.queries.append(request.query_string)
        return await super()._handle(request)


def chat(base_url: str, *, max_tokens: int | None = 50, **options: str) -> CompletionRequest:
    return CompletionRequest(
        model="o4-mini",
        messages=(ChatMessage("user", "hi"),),
        token=TOKEN,
        base_url=base_url,
        max_tokens=max_tokens,
        options=options,
    )


async def call(request: CompletionRequest) -> CallOutcome:
    provider = OpenAIProvider(provider_context(egress=POLICY))
    try:
        return await complete_with_retries(provider, request, FAST)
    finally:
        await provider.aclose()


async def test_openai_itself_gets_max_completion_tokens() -> None:
    async with OpenAIStub() as stub:
        outcome = await call(chat(f"http://{OPENAI_HOST}:{stub.port}/v1"))
    assert outcome.completion is not None
    body = stub.chat_requests[0].body
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body


async def test_other_compatible_servers_get_max_tokens() -> None:
    async with OpenAIStub() as stub:
        await call(chat(stub.base_url))
    body = stub.chat_requests[0].body
    assert body["max_tokens"] == 50
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_the_option_overrides_the_field(field: str) -> None:
    async with OpenAIStub() as stub:
        await call(chat(stub.base_url, max_tokens_field=field))
    body = stub.chat_requests[0].body
    assert body[field] == 50
    assert {"max_tokens", "max_completion_tokens"} & set(body) == {field}


async def test_no_limit_sends_neither_field() -> None:
    async with OpenAIStub() as stub:
        await call(chat(f"http://{OPENAI_HOST}:{stub.port}/v1", max_tokens=None))
    assert {"max_tokens", "max_completion_tokens"} & set(stub.chat_requests[0].body) == set()


async def test_azure_openai_deployment_api_version_and_key_header() -> None:
    async with AzureStub() as stub:
        request = chat(
            f"http://{AZURE_HOST}:{stub.port}", deployment="gpt-dep", api_version="2025-01-01"
        )
        outcome = await call(request)
    assert outcome.completion is not None
    [sent] = stub.chat_requests
    assert stub.queries == ["api-version=2025-01-01"]
    assert sent.headers["api-key"] == TOKEN
    assert "authorization" not in sent.headers
    assert sent.body["max_completion_tokens"] == 50


async def test_finish_reason_is_reported() -> None:
    body = completion_body(Reply("cut sh"), "o4-mini")
    body["choices"][0]["finish_reason"] = "length"
    async with OpenAIStub(RawJson(body)) as stub:
        outcome = await call(chat(stub.base_url))
    assert outcome.completion is not None
    assert outcome.completion.finish_reason == "length"


def test_options_are_checked_by_the_provider() -> None:
    assert check_options({"max_tokens_field": "max_tokens"}) == []
    assert check_options({"deployment": "{{dep}}"}) == []  # filled in at run time
    assert check_options({"max_tokens_field": "tokens", "deployment": "a/b"}) == [
        ("max_tokens_field", "must be max_tokens or max_completion_tokens"),
        ("deployment", "must be 1 to 64 letters, digits, '.', '_' or '-'"),
    ]
