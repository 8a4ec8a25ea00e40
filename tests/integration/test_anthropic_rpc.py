"""ExecuteAction with the built-in `anthropic` provider against the scripted
loopback Messages API server: the whole path, settings from the environment
included."""

from __future__ import annotations

import dataclasses

import grpc
import pytest

from botflow.server.app import serving
from botflow.v1.actions_pb2 import ActionOutcome, ErrorKind
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG
from tests.integration.helpers import RECEIVED, SENT, conversation, openai_request
from tests.support.anthropic_stub import AnthropicStub, MessageReply
from tests.support.openai_stub import Fail

TOKEN = "sk-ant-api03-RPCSECRET-0123456789"
CONFIG = dataclasses.replace(TEST_CONFIG, providers=("anthropic", "fake"))
CONVERSATION = conversation(
    (RECEIVED, "Hi", "s1"), (RECEIVED, "Is it raining?", "s1"), (SENT, "Checking", "s1")
)


async def test_the_server_default_endpoint_and_model_come_from_provider_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with AnthropicStub(MessageReply("Yes.", stop_reason="max_tokens")) as stub:
        monkeypatch.setenv("BOTFLOW_PROVIDER_ANTHROPIC_BASE_URL", stub.base_url)
        monkeypatch.setenv("BOTFLOW_PROVIDER_ANTHROPIC_MODEL", "claude-from-env")
        async with serving(CONFIG) as server, grpc.aio.insecure_channel(server.target) as channel:
            request = openai_request(
                token=TOKEN,
                provider="anthropic",
                convo=CONVERSATION,
                answer_variable="answer",
                timeout_ms=2000,
            )
            response = await FlowServiceStub(channel).ExecuteAction(request, timeout=10)

    result = response.result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert result.answer == "Yes."
    assert result.finish_reason == "length"
    assert result.model == "claude-from-env"
    [sent] = stub.chat_requests
    assert sent.body["model"] == "claude-from-env"
    assert sent.body["system"] == "You are a helpful assistant."
    assert sent.body["messages"] == [
        {"role": "user", "content": "Hi\n\nIs it raining?"},
        {"role": "assistant", "content": "Checking"},
    ]


async def test_a_key_in_a_401_body_never_reaches_the_result() -> None:
    leaky = Fail(401, type="authentication_error", message=f"invalid x-api-key {TOKEN}")
    async with (
        AnthropicStub(default=leaky) as stub,
        serving(CONFIG) as server,
        grpc.aio.insecure_channel(server.target) as channel,
    ):
        request = openai_request(
            token=TOKEN, provider="anthropic", base_url=stub.base_url, timeout_ms=2000
        )
        response = await FlowServiceStub(channel).ExecuteAction(request, timeout=10)

    result = response.result
    assert result.error_kind == ErrorKind.ERROR_KIND_UNAUTHORIZED
    assert result.error == (
        "Unauthorized: the provider refused the token (HTTP 401), "
        "provider code authentication_error"
    )
    assert TOKEN not in str(response)


async def test_anthropic_refuses_options_before_running() -> None:
    async with serving(CONFIG) as server, grpc.aio.insecure_channel(server.target) as channel:
        request = openai_request(token=TOKEN, provider="anthropic", provider_options={"x": "1"})
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await FlowServiceStub(channel).ExecuteAction(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'action.openai.provider_options["x"]' in (raised.value.details() or "")
