"""ExecuteAction through the generated stubs against a real server (fake provider)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.client import field_violations, request_id
from botflow.v1.actions_pb2 import ActionOutcome, ErrorKind, HistoryMode
from botflow.v1.conversation_pb2 import Direction
from botflow.v1.flow_pb2 import AddNoteBlock, Block, Flow
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.variables_pb2 import TextList, Value, VariableDefinition
from tests.integration.helpers import RECEIVED, SENT, conversation, openai_request

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

HELLO = conversation((RECEIVED, "hello there", "s1"))


async def test_rate_limit_then_ok_succeeds_after_two_attempts(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        answer_variable="answer",
        provider_options={"fail": "rate_limit,ok", "reply": "Hi!"},
        convo=HELLO,
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert response.result.attempts == 2
    assert response.result.answer == "Hi!"
    assert response.variables["answer"].text == "Hi!"
    assert response.variables["last webhook failure"] == Value(text="")


async def test_three_timeouts_fail_with_timeout_text_and_rpc_ok(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        answer_variable="answer",
        error_variable="ai error",
        provider_options={"fail": "timeout,timeout,timeout"},
        convo=HELLO,
    )
    response = await stub.ExecuteAction(request, timeout=20)
    result = response.result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert result.error_kind == ErrorKind.ERROR_KIND_TIMEOUT
    assert result.attempts == 3
    assert response.variables["ai error"].text.startswith("Timeout: ")
    assert response.variables["ai error"].text == result.error
    assert "answer" not in response.variables
    assert result.elapsed.ToTimedelta().total_seconds() > 0


@pytest.mark.parametrize(
    ("script", "kind", "attempts"),
    [
        ("quota", ErrorKind.ERROR_KIND_QUOTA_EXCEEDED, 1),
        ("unauthorized", ErrorKind.ERROR_KIND_UNAUTHORIZED, 1),
        ("bad_request", ErrorKind.ERROR_KIND_BAD_REQUEST, 1),
        ("server_error,server_error,server_error", ErrorKind.ERROR_KIND_PROVIDER_ERROR, 3),
        ("rate_limit,rate_limit,rate_limit", ErrorKind.ERROR_KIND_RATE_LIMITED, 3),
    ],
)
async def test_failure_kinds_and_attempts(
    stub: FlowServiceAsyncStub, script: str, kind: ErrorKind.ValueType, attempts: int
) -> None:
    request = openai_request(provider_options={"fail": script}, convo=HELLO)
    response = await stub.ExecuteAction(request, timeout=20)
    assert response.result.error_kind == kind
    assert response.result.attempts == attempts
    kind_text = response.variables["last webhook failure"].text.split(":")[0]
    assert kind_text == ErrorKind.Name(kind).removeprefix("ERROR_KIND_").title().replace("_", "")


async def test_success_clears_a_stale_error_variable(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        variables={"ai error": Value(text="Timeout: earlier failure")},
        error_variable="ai error",
        convo=HELLO,
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.variables["ai error"] == Value(text="")
    assert response.result.answer == "hello there"  # the fake echoes the last user message


async def test_token_from_a_variable_with_no_value_is_missing_parameter(
    stub: FlowServiceAsyncStub,
) -> None:
    request = ExecuteActionRequest()
    request.CopyFrom(openai_request(token="{{openai key}}", convo=HELLO))
    request.variable_definitions.append(VariableDefinition(name="openai key"))
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.error_kind == ErrorKind.ERROR_KIND_MISSING_PARAMETER
    assert response.result.attempts == 0
    assert response.variables["last webhook failure"].text.startswith("MissingParameter: ")


async def test_templates_and_declared_defaults(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        token="{{key}}",
        prompt="Greet {{ name }}",
        answer_variable="greeting",
        provider_options={"reply": "Hello {{name}}, you have {{count}} items: {{tags}}"},
        variables={"name": Value(text="Ada"), "tags": Value(list=TextList(items=["a", "b"]))},
    )
    request.variable_definitions.extend(
        [
            VariableDefinition(name="key", default_value=Value(text="sk-from-default")),
            VariableDefinition(name="count", default_value=Value(number=3)),
            VariableDefinition(name="name", default_value=Value(text="ignored default")),
        ]
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.answer == "Hello Ada, you have 3 items: a, b"
    assert response.variables["count"] == Value(number=3)
    assert response.variables["name"] == Value(text="Ada")


async def test_usage_is_returned(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        prompt="one two three",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        provider_options={"reply": "four five"},
    )
    usage = (await stub.ExecuteAction(request, timeout=10)).result.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 2, 5)


async def test_invalid_request_lists_every_violation(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        token="  ",
        prompt="",
        history=HistoryMode.HISTORY_MODE_UNSPECIFIED,
        provider="nonexistent",
        convo=conversation((Direction.DIRECTION_UNSPECIFIED, "hi", ""), (SENT, "ok", "")),
        temperature=5.0,
        variables={" ": Value(text="x")},
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(caught.value)
    assert set(violations) == {
        "action.openai.token",
        "action.openai.prompt",
        "action.openai.history",
        "action.openai.provider",
        "action.openai.temperature",
        "conversation.messages[0].direction",
        'variables[" "]',
    }


async def test_missing_action_is_invalid(stub: FlowServiceAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(ExecuteActionRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"action"}


async def test_unknown_fake_outcome_is_invalid(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(provider_options={"fail": "rate_limit,explode"})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(request, timeout=10)
    assert set(field_violations(caught.value)) == {'action.openai.provider_options["fail"]'}


async def test_request_id_is_echoed_with_the_answer(stub: FlowServiceAsyncStub) -> None:
    call = stub.ExecuteAction(
        openai_request(convo=HELLO), timeout=10, metadata=(("x-request-id", "abc-123"),)
    )
    await call
    assert ("x-request-id", "abc-123") in tuple(await call.trailing_metadata())


async def test_generated_request_id_reaches_a_refused_call(stub: FlowServiceAsyncStub) -> None:
    """A refusal's status details replace grpc's trailing metadata; the id
    must survive that."""
    call = stub.ExecuteAction(openai_request(prompt=""), timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    trailing = dict(caught.value.trailing_metadata() or ())
    assert trailing.get("x-request-id")
    assert field_violations(caught.value)
    assert request_id(caught.value) == trailing["x-request-id"]


async def test_a_stream_names_its_request_id_before_the_first_event(
    stub: FlowServiceAsyncStub,
) -> None:
    call = stub.RunFlow(
        RunFlowRequest(flow=Flow(blocks=[Block(id="a", add_note=AddNoteBlock(text="n"))])),
        timeout=10,
        metadata=(("x-request-id", "stream-1"),),
    )
    assert ("x-request-id", "stream-1") in tuple(await call.initial_metadata())
    assert [event async for event in call]


async def test_oversized_message_is_refused(stub: FlowServiceAsyncStub) -> None:
    big = "x" * (5 * 1024 * 1024)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(openai_request(prompt=big), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
