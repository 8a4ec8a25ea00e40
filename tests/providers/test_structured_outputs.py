"""Structured answers on the wire: the real `openai` and `anthropic` SDKs
against the loopback stubs, and the fake provider's scripted and default
answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from botflow.providers.anthropic import AnthropicProvider
from botflow.providers.base import ChatMessage, CompletionRequest
from botflow.providers.egress import EgressPolicy
from botflow.providers.errors import MalformedResponseError, ProviderError
from botflow.providers.fake import FakeProvider
from botflow.providers.openai import OpenAIProvider
from botflow.providers.retry import RetryPolicy, complete_with_retries
from botflow.server.structured import output_schema
from botflow.v1.actions_pb2 import OutputField, OutputType
from tests.support.anthropic_stub import AnthropicStub
from tests.support.openai_stub import OpenAIStub, RawJson, Reply, completion_body
from tests.support.provider_context import provider_context

LOOPBACK_ALLOWED = EgressPolicy.from_entries(["127.0.0.1/32"])
TOKEN = "sk-structured-SECRET-0123456789"
ONCE = RetryPolicy(max_attempts=1, attempt_timeout=5.0)
SCHEMA = output_schema(
    [
        OutputField(
            name="intent",
            type=OutputType.OUTPUT_TYPE_ONE_OF,
            variable="intent",
            choices=["billing", "delivery", "other"],
        ),
        OutputField(name="urgency", type=OutputType.OUTPUT_TYPE_NUMBER, variable="urgency"),
        OutputField(
            name="language",
            type=OutputType.OUTPUT_TYPE_TEXT,
            variable="language",
            description="ISO 639-1 code",
        ),
    ]
)
ANSWER = {"intent": "billing", "urgency": 4, "language": "es"}
MESSAGES = (ChatMessage("system", "Classify."), ChatMessage("user", "Me cobraron dos veces"))


def request(base_url: str | None = None, **changes: object) -> CompletionRequest:
    fields: dict[str, object] = {
        "model": "m",
        "messages": MESSAGES,
        "token": TOKEN,
        "base_url": base_url,
        "output_schema": SCHEMA,
    }
    return CompletionRequest(**(fields | changes))  # type: ignore[arg-type]


@pytest.fixture
async def openai_provider() -> AsyncIterator[OpenAIProvider]:
    instance = OpenAIProvider(provider_context(egress=LOOPBACK_ALLOWED))
    yield instance
    await instance.aclose()


@pytest.fixture
async def anthropic_provider() -> AsyncIterator[AnthropicProvider]:
    instance = AnthropicProvider(provider_context("anthropic", egress=LOOPBACK_ALLOWED))
    yield instance
    await instance.aclose()


# -- openai --------------------------------------------------------------------------


async def test_openai_asks_for_strict_json_schema(openai_provider: OpenAIProvider) -> None:
    async with OpenAIStub(Reply(json.dumps(ANSWER))) as stub:
        outcome = await complete_with_retries(openai_provider, request(stub.base_url), ONCE)
        [sent] = stub.chat_requests
    assert sent.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "botflow_answer", "strict": True, "schema": SCHEMA.schema},
    }
    schema = sent.body["response_format"]["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["intent", "urgency", "language"]
    assert outcome.completion is not None
    assert json.loads(outcome.completion.text) == ANSWER


async def test_openai_sends_no_response_format_without_outputs(
    openai_provider: OpenAIProvider,
) -> None:
    async with OpenAIStub(Reply("plain")) as stub:
        await complete_with_retries(
            openai_provider, request(stub.base_url, output_schema=None), ONCE
        )
        [sent] = stub.chat_requests
    assert "response_format" not in sent.body


async def test_openai_refusal_is_a_provider_error(openai_provider: OpenAIProvider) -> None:
    body = completion_body(Reply(""), "m")
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "No."}
    async with OpenAIStub(RawJson(body)) as stub:
        outcome = await complete_with_retries(openai_provider, request(stub.base_url), ONCE)
    assert outcome.error is not None
    assert outcome.error.text() == "ProviderError: the model refused to answer"


# -- anthropic -----------------------------------------------------------------------


def tool_message(*blocks: dict[str, object], stop: str = "tool_use") -> dict[str, object]:
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(blocks),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 9},
    }


async def test_anthropic_forces_one_tool_whose_input_is_the_answer(
    anthropic_provider: AnthropicProvider,
) -> None:
    call: dict[str, object] = {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "botflow_answer",
        "input": ANSWER,
    }
    reply = tool_message({"type": "text", "text": "Sure."}, call)
    async with AnthropicStub(RawJson(reply)) as stub:
        outcome = await complete_with_retries(anthropic_provider, request(stub.base_url), ONCE)
        [sent] = stub.chat_requests
    assert sent.body["tools"] == [
        {
            "name": "botflow_answer",
            "description": "Record the answer. Call it exactly once.",
            "input_schema": SCHEMA.schema,
        }
    ]
    assert sent.body["tool_choice"] == {"type": "tool", "name": "botflow_answer"}
    assert outcome.completion is not None
    assert json.loads(outcome.completion.text) == ANSWER
    assert outcome.completion.finish_reason == "stop"
    assert outcome.completion.usage.total_tokens == 29


async def test_anthropic_without_outputs_sends_no_tools(
    anthropic_provider: AnthropicProvider,
) -> None:
    async with AnthropicStub() as stub:
        await complete_with_retries(
            anthropic_provider, request(stub.base_url, output_schema=None), ONCE
        )
        [sent] = stub.chat_requests
    assert "tools" not in sent.body
    assert "tool_choice" not in sent.body


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            tool_message({"type": "text", "text": "I'd rather not."}, stop="end_turn"),
            MalformedResponseError("the provider's answer has no structured answer"),
        ),
        (tool_message(stop="refusal"), ProviderError("the model refused to answer")),
    ],
)
async def test_anthropic_without_the_tool_call(
    anthropic_provider: AnthropicProvider, reply: dict[str, object], error: ProviderError
) -> None:
    async with AnthropicStub(RawJson(reply)) as stub:
        outcome = await complete_with_retries(anthropic_provider, request(stub.base_url), ONCE)
    assert outcome.error is not None
    assert type(outcome.error) is type(error)
    assert outcome.error.detail == error.detail


async def test_anthropic_cut_before_the_call_is_an_empty_truncated_answer(
    anthropic_provider: AnthropicProvider,
) -> None:
    async with AnthropicStub(RawJson(tool_message(stop="max_tokens"))) as stub:
        outcome = await complete_with_retries(anthropic_provider, request(stub.base_url), ONCE)
    assert outcome.completion is not None
    assert (outcome.completion.text, outcome.completion.finish_reason) == ("", "length")


# -- fake ----------------------------------------------------------------------------


async def test_fake_reply_is_the_structured_answer() -> None:
    completion = await FakeProvider().complete(request(options={"reply": '{"a": 1}'}))
    assert completion.text == '{"a": 1}'


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Me cobraron dos veces", {"intent": "billing", "urgency": 0, "language": "x"}),
        ("Where is my DELIVERY? billing too", {"intent": "billing", "urgency": 0, "language": "x"}),
        ("deliveryman came", {"intent": "billing", "urgency": 0, "language": "x"}),
        ("my delivery", {"intent": "delivery", "urgency": 0, "language": "x"}),
    ],
)
async def test_fake_default_answers_the_schema_from_the_last_user_message(
    said: str, expected: dict[str, object]
) -> None:
    messages = (ChatMessage("system", "Classify."), ChatMessage("user", said))
    completion = await FakeProvider().complete(request(messages=messages))
    answer = json.loads(completion.text)
    assert list(answer) == ["intent", "urgency", "language"]
    # A text field echoes the message; the first choice the message names wins.
    assert answer == {**expected, "language": said}
