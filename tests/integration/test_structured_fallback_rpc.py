"""Structured answers and fallback providers through a real server: the
`openai` provider against loopback OpenAI-compatible stubs (what reached the
wire is the evidence) and the fake provider for the deadline."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.client import field_violations
from botflow.v1.actions_pb2 import (
    ActionOutcome,
    ErrorKind,
    HistoryMode,
    OpenAIAction,
    OutputField,
    OutputType,
    ProviderFallback,
)
from botflow.v1.flow_pb2 import (
    Block,
    ChoiceBlock,
    ChoiceBranch,
    Condition,
    ConditionOperator,
    Flow,
    SendMessageBlock,
)
from botflow.v1.flow_service_pb2 import RunFlowRequest
from botflow.v1.variables_pb2 import Value
from tests.integration.helpers import RECEIVED, conversation, openai_request
from tests.support.openai_stub import Fail, OpenAIStub, Reply

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

TOKEN = "sk-primary-SECRET-0123456789"
BACKUP_TOKEN = "sk-backup-SECRET-9876543210"
MESSAGE = "Mi pedido no ha llegado y lo necesito hoy mismo"
QUOTA = Fail(429, code="insufficient_quota", type="insufficient_quota")
OUTPUTS = [
    OutputField(
        name="intent",
        type=OutputType.OUTPUT_TYPE_ONE_OF,
        variable="intent",
        choices=["billing", "delivery", "other"],
        description="What the message is about.",
    ),
    OutputField(name="urgency", type=OutputType.OUTPUT_TYPE_NUMBER, variable="urgency"),
    OutputField(
        name="language",
        type=OutputType.OUTPUT_TYPE_ONE_OF,
        variable="language",
        choices=["English", "Spanish"],
    ),
]
Op = ConditionOperator


def _flow(classify: OpenAIAction) -> Flow:
    def send(block_id: str, text: str) -> Block:
        return Block(id=block_id, send_message=SendMessageBlock(text=text))

    def branch(variable: str, op: int, value: str, target: str) -> ChoiceBranch:
        return ChoiceBranch(
            conditions=[Condition(variable=variable, operator=op, value=value)],  # type: ignore[arg-type]
            next=target,
        )

    return Flow(
        start_block_id="classify",
        blocks=[
            Block(id="classify", next="route", openai=classify),
            Block(
                id="route",
                choice=ChoiceBlock(
                    branches=[
                        branch("triage error", Op.CONDITION_OPERATOR_IS_MESSAGE, "", "failed"),
                        branch("urgency", Op.CONDITION_OPERATOR_GREATER_THAN, "3", "urgent"),
                        branch("intent", Op.CONDITION_OPERATOR_EQUALS, "delivery", "delivery"),
                    ],
                    fallback_next="other",
                ),
            ),
            send("failed", "failed"),
            send("urgent", "urgent {{intent}} in {{language}}"),
            send("delivery", "delivery"),
            send("other", "other"),
        ],
    )


def _classify(base_url: str, **fields: object) -> OpenAIAction:
    return OpenAIAction(
        token="{{openai key}}",
        prompt="Classify the message.",
        history=HistoryMode.HISTORY_MODE_LAST_MESSAGE,
        provider="openai",
        model="gpt-test",
        base_url=base_url,
        timeout_ms=5000,
        answer_variable="triage",
        error_variable="triage error",
        outputs=OUTPUTS,
        **fields,  # type: ignore[arg-type]
    )


def _run_request(classify: OpenAIAction, **variables: str) -> RunFlowRequest:
    return RunFlowRequest(
        flow=_flow(classify),
        variables={
            "openai key": Value(text=TOKEN),
            **{k: Value(text=v) for k, v in variables.items()},
        },
        conversation=conversation((RECEIVED, MESSAGE, "s1"), current="s1"),
    )


async def test_one_action_fills_three_typed_variables_and_a_choice_branches_on_them(
    stub: FlowServiceAsyncStub,
) -> None:
    answer = json.dumps({"intent": "delivery", "urgency": 5, "language": "spanish"})
    async with OpenAIStub(Reply(answer)) as server:
        events = [
            e async for e in stub.RunFlow(_run_request(_classify(server.base_url)), timeout=20)
        ]
        [sent] = server.chat_requests
    response_format = sent.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["properties"] == {
        "intent": {
            "type": "string",
            "enum": ["billing", "delivery", "other"],
            "description": "What the message is about.",
        },
        "urgency": {"type": "number"},
        "language": {"type": "string", "enum": ["English", "Spanish"]},
    }
    assert sent.bearer == TOKEN

    finished = events[-1].finished
    assert [e.message_sent.text for e in events if e.HasField("message_sent")] == [
        "urgent delivery in Spanish"
    ]
    assert dict(finished.variables) == {
        "triage": Value(text=answer),
        "intent": Value(text="delivery"),
        "urgency": Value(number=5),
        "language": Value(text="Spanish"),
        "triage error": Value(text=""),
    }  # the token variable is secret: never returned


async def test_primary_out_of_quota_falls_back_to_another_endpoint(
    stub: FlowServiceAsyncStub,
) -> None:
    answer = json.dumps({"intent": "billing", "urgency": 1, "language": "English"})
    async with OpenAIStub(QUOTA, Reply("never")) as primary, OpenAIStub(Reply(answer)) as backup:
        fallback = ProviderFallback(
            model="gpt-backup", token="{{backup key}}", base_url=backup.base_url
        )
        request = _run_request(
            _classify(primary.base_url, fallbacks=[fallback]), **{"backup key": BACKUP_TOKEN}
        )
        events = [e async for e in stub.RunFlow(request, timeout=20)]
        assert len(primary.chat_requests) == 1  # quota is not retried
        [sent] = backup.chat_requests
    assert sent.bearer == BACKUP_TOKEN
    assert sent.body["model"] == "gpt-backup"
    assert sent.body["response_format"]["json_schema"]["name"] == "botflow_answer"
    result = events[0].action_finished.result
    assert (result.outcome, result.provider, result.fallback_index, result.attempts) == (
        ActionOutcome.ACTION_OUTCOME_SUCCEEDED,
        "openai",
        1,
        2,
    )
    assert [(a.model, a.attempts, a.error_kind) for a in result.provider_attempts] == [
        ("gpt-test", 1, ErrorKind.ERROR_KIND_QUOTA_EXCEEDED),
        ("gpt-backup", 1, ErrorKind.ERROR_KIND_UNSPECIFIED),
    ]
    assert [e.message_sent.text for e in events if e.HasField("message_sent")] == ["other"]
    finished = events[-1].finished
    assert "backup key" not in finished.variables  # a fallback's token variable is secret too
    assert finished.variables["intent"] == Value(text="billing")
    assert BACKUP_TOKEN not in str(events)
    assert TOKEN not in str(events)


async def test_both_failing_give_one_error_naming_both(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub(QUOTA) as primary, OpenAIStub(default=Fail(503)) as backup:
        fallback = ProviderFallback(model="gpt-backup", base_url=backup.base_url)
        action = _classify(primary.base_url, fallbacks=[fallback], max_attempts=2)
        events = [e async for e in stub.RunFlow(_run_request(action), timeout=20)]
        assert (len(primary.chat_requests), len(backup.chat_requests)) == (1, 2)
        # Same provider, no token of its own: the primary's.
        assert backup.chat_requests[0].bearer == TOKEN
    result = events[0].action_finished.result
    error = (
        "ProviderError: 2 providers failed: "
        "[primary openai/gpt-test] QuotaExceeded: the account is out of quota (HTTP 429), "
        "provider code insufficient_quota; "
        "[fallback 1 openai/gpt-backup] ProviderError: the provider failed (HTTP 503) "
        "(2 attempts)"
    )
    assert (result.error_kind, result.error, result.attempts) == (
        ErrorKind.ERROR_KIND_PROVIDER_ERROR,
        error,
        3,
    )
    finished = events[-1].finished
    assert finished.variables["triage error"] == Value(text=error)
    assert {"intent", "urgency", "language", "triage"}.isdisjoint(finished.variables)
    assert [e.message_sent.text for e in events if e.HasField("message_sent")] == ["failed"]


async def test_the_callers_deadline_bounds_the_whole_chain(stub: FlowServiceAsyncStub) -> None:
    """Neither provider ever answers: the first uses its share of the
    deadline, the second what is left, and the call still returns a result
    (not DEADLINE_EXCEEDED) with exactly one timed-out attempt each."""
    request = openai_request(
        prompt="P",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        error_variable="ai error",
        provider_options={"latency_ms": "inf"},
        fallbacks=[ProviderFallback(model="fake-2")],
        max_attempts=3,
    )
    response = await stub.ExecuteAction(request, timeout=2.0)
    result = response.result
    assert result.error_kind == ErrorKind.ERROR_KIND_TIMEOUT
    assert [(a.model, a.attempts, a.error_kind) for a in result.provider_attempts] == [
        ("fake-1", 1, ErrorKind.ERROR_KIND_TIMEOUT),
        ("fake-2", 1, ErrorKind.ERROR_KIND_TIMEOUT),
    ]
    assert result.attempts == 2


async def test_invalid_outputs_and_fallbacks_are_refused_before_anything_runs(
    stub: FlowServiceAsyncStub,
) -> None:
    async with OpenAIStub() as server:
        action = _classify(
            server.base_url,
            fallbacks=[ProviderFallback(provider="fake", model="x")],  # another provider: no token
        )
        action.outputs.add(name="intent", type=OutputType.OUTPUT_TYPE_TEXT, variable="again")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.RunFlow(_run_request(action), timeout=20).read()
        assert server.requests == []
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(field_violations(caught.value)) == [
        "flow.blocks[0].openai.fallbacks[0].token",
        "flow.blocks[0].openai.outputs[3].name",
    ]
