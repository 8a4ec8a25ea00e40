"""The failure invariant through a real server: no call ends in UNKNOWN or
INTERNAL because of botflow's code or its input. An unexpected exception in a
block is a failed block and the flow goes on; unknown enum numbers and
undecodable request bytes are INVALID_ARGUMENT; a call the client cancels is
recorded as CANCELLED; a run that would produce more than its output budget
ends with OUTPUT_LIMIT_REACHED and still delivers `finished`."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from botflow.client import field_violations
from botflow.server import blocks
from botflow.server.app import RunningServer, serving
from botflow.server.blocks.base import Outcome, RunState
from botflow.server.config import Limits
from botflow.server.variables import text_value
from botflow.v1.actions_pb2 import (
    ActionOutcome,
    ErrorKind,
    HttpMethod,
    SetVariableOperation,
    WebhookAction,
)
from botflow.v1.conversation_pb2 import Conversation, Message
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Block
from botflow.v1.flow_service_pb2 import (
    RunFlowRequest,
    RunFlowResponse,
    SimulatedAnswer,
    SimulatedHttpResponse,
    SimulatedOutcome,
    SimulatedOutcomes,
    Simulation,
)
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG
from tests.integration.flows import (
    ai,
    branch,
    check_stream,
    choice,
    collect,
    cond,
    described,
    flow,
    flow_request,
    hook,
    restart,
    run,
    send,
    set_var,
    text,
)
from tests.integration.helpers import openai_request

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

LEAK = "private-text-7f3a"
Op = SetVariableOperation


async def _explode(block: Block, state: RunState) -> Outcome:
    # Writes first, so the test sees the barrier undo a half-done block.
    state.variables.set("half done", text_value("yes"))
    state.join(1, "half-sent")
    raise ValueError(f"something broke near {LEAK}")


async def _explode_action(*args: Any) -> Any:
    raise KeyError(LEAK)


@pytest.fixture
def exploding(monkeypatch: pytest.MonkeyPatch) -> None:
    """send_message, openai and webhook runners that raise."""
    for name in ("send_message", "openai", "webhook"):
        kind = blocks.KINDS[name]
        monkeypatch.setitem(blocks.KINDS, name, dataclasses.replace(kind, run=_explode))
    for name in ("openai", "set_variable"):
        kind = blocks.ACTION_KINDS[name]
        monkeypatch.setitem(
            blocks.ACTION_KINDS, name, dataclasses.replace(kind, execute=_explode_action)
        )


def _leak_free(caplog: pytest.LogCaptureFixture) -> None:
    assert LEAK not in caplog.text
    assert all(LEAK not in str(record.__dict__) for record in caplog.records)


@pytest.mark.usefixtures("exploding")
async def test_a_failing_block_warns_and_the_flow_goes_on(
    stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    the_flow = flow(
        send("greet", "hello", next="after"),
        set_var("after", "reached", Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, "yes"),
    )
    events, finished = await run(stub, the_flow)
    assert described(events) == [
        ("greet", "warning", "block_failed"),
        ("after", "variable_changed", ("reached", text("yes"))),
        ("after", "finished", FlowStatus.FLOW_STATUS_COMPLETED),
    ]
    assert "half done" not in finished.variables, "the failed block's writes are undone"
    assert finished.variables["reached"] == text("yes")
    failures = [r for r in caplog.records if r.getMessage() == "block failed unexpectedly"]
    assert len(failures) == 1
    assert failures[0].__dict__["error_type"] == "ValueError"
    assert failures[0].__dict__["block_kind"] == "send_message"
    assert failures[0].levelno == logging.ERROR
    _leak_free(caplog)


@pytest.mark.usefixtures("exploding")
async def test_a_failing_action_block_fails_into_its_error_variable(
    stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    the_flow = flow(
        ai("ask", next="after", error_variable="ai failure"),
        set_var("after", "reached", Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, "yes"),
    )
    events, finished = await run(stub, the_flow)
    result = events[0].action_finished.result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert result.error_kind == ErrorKind.ERROR_KIND_PROVIDER_ERROR
    assert result.error == "ProviderError: the openai action failed unexpectedly (ValueError)"
    assert finished.variables["ai failure"] == text(result.error)
    assert finished.variables["reached"] == text("yes")
    assert finished.status == FlowStatus.FLOW_STATUS_COMPLETED
    # Logged (and counted) like any finished action, not only as the barrier's error.
    reports = [r.__dict__ for r in caplog.records if r.getMessage() == "action finished"]
    assert [(r["action"], r["outcome"], r["error_kind"]) for r in reports] == [
        ("openai", "failed", "ProviderError")
    ]
    _leak_free(caplog)


@pytest.mark.usefixtures("exploding")
async def test_a_failing_action_block_of_a_simulated_run_says_simulated(
    stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    the_flow = flow(
        ai("ask", next="hook"),
        hook(
            "hook",
            WebhookAction(method=HttpMethod.HTTP_METHOD_GET, url="https://hooks.example.com/x"),
        ),
    )
    answered = SimulatedOutcome(answer=SimulatedAnswer(text="x"))
    responded = SimulatedOutcome(http_response=SimulatedHttpResponse(status=200, body="{}"))
    simulation = Simulation(
        kinds={
            "openai": SimulatedOutcomes(outcomes=[answered]),
            "webhook": SimulatedOutcomes(outcomes=[responded]),
        }
    )
    request = RunFlowRequest(flow=the_flow, simulation=simulation)
    events = await collect(stub, request)
    check_stream(events)
    finished = [
        (e.block_id, e.action_finished.result) for e in events if e.HasField("action_finished")
    ]
    assert [(block_id, r.error_kind, r.simulated) for block_id, r in finished] == [
        ("ask", ErrorKind.ERROR_KIND_PROVIDER_ERROR, True),
        ("hook", ErrorKind.ERROR_KIND_BAD_RESPONSE, True),
    ]
    _leak_free(caplog)


@pytest.mark.usefixtures("exploding")
async def test_execute_action_fails_as_data_when_the_action_raises(
    stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    request = openai_request(variables={"kept": text("as sent")})
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert response.result.error_kind == ErrorKind.ERROR_KIND_PROVIDER_ERROR
    assert response.variables["last webhook failure"] == text(response.result.error)
    assert response.variables["kept"] == text("as sent")
    _leak_free(caplog)


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (
            openai_request(convo=Conversation(messages=[Message(direction=99, text="hi")])),  # type: ignore[arg-type]
            "conversation.messages[0].direction",
        ),
        (openai_request(history=42), "action.openai.history"),
    ],
)
async def test_unknown_enum_numbers_are_invalid_argument(
    stub: FlowServiceAsyncStub, request_: Any, path: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(request_, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert path in field_violations(caught.value)
    assert field_violations(caught.value)[path].startswith("is not a known ")


async def test_unknown_enum_numbers_in_a_flow_are_invalid_argument(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(choice("c", branch("end", cond(42, "x")), fallback="end"), send("end", "bye"))  # type: ignore[arg-type]
    the_flow.blocks[0].choice.branches[0].join = 7  # type: ignore[assignment]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub, flow_request(the_flow))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {
        "flow.blocks[0].choice.branches[0].conditions[0].operator",
        "flow.blocks[0].choice.branches[0].join",
    }


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"\x0a\x03\xff\xfe\xfd"])
async def test_undecodable_request_bytes_are_invalid_argument(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    caplog.set_level(logging.INFO)
    unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/botflow.v1.FlowService/ExecuteAction"
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unary(payload, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid botflow.v1.ExecuteActionRequest" in (caught.value.details() or "")
    streaming: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(
        "/botflow.v1.FlowService/RunFlow"
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        _ = [event async for event in streaming(payload, timeout=10)]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _wait_for(predicate: Any, attempts: int = 200) -> None:
    """Poll a condition the server reaches asynchronously (bounded)."""
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the condition never held")


async def test_a_cancelled_call_is_recorded_as_cancelled(
    server: RunningServer, stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    the_flow = flow(send("hi", "hello", next="slow"), ai("slow", options={"latency_ms": "30000"}))
    call = stub.RunFlow(flow_request(the_flow), timeout=60)
    first = await call.read()
    assert isinstance(first, RunFlowResponse)
    assert first.message_sent.text == "hello"
    call.cancel()
    registry = server.metrics.registry

    def cancelled() -> float:
        labels = {"method": "RunFlow", "code": "CANCELLED"}
        return registry.get_sample_value("botflow_rpcs_total", labels) or 0.0

    await _wait_for(lambda: cancelled() == 1.0)
    codes = [r.__dict__.get("code") for r in caplog.records if r.getMessage() == "rpc finished"]
    assert codes == ["CANCELLED"]


async def test_a_run_past_its_output_budget_ends_with_finished() -> None:
    """Each block writes 60 KB: the finish event would pass the 4 MiB send
    limit after ~68 of them; the run ends before, with every event sent."""
    seed = "s" * 60_000
    the_flow = flow(
        *[
            set_var(
                f"b{i}", f"v{i}", Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, "{{seed}}", f"b{i + 1}"
            )
            for i in range(300)
        ],
        send("b300", "never reached"),
    )
    request = flow_request(the_flow, variables={"seed": text(seed)})
    async with serving(TEST_CONFIG) as running, grpc.aio.insecure_channel(running.target) as ch:
        events = await collect(FlowServiceStub(ch), request, timeout=60)
    finished = events[-1].finished
    assert finished.status == FlowStatus.FLOW_STATUS_OUTPUT_LIMIT_REACHED
    assert [e.WhichOneof("event") for e in events].count("finished") == 1
    limits = TEST_CONFIG.limits
    assert finished.ByteSize() < limits.max_message_bytes
    assert sum(e.ByteSize() for e in events) <= limits.max_run_bytes
    last = events[-1].block_id
    assert f"v{last.removeprefix('b')}" not in finished.variables, "the block that passed is undone"
    assert finished.steps == int(last.removeprefix("b")) + 1


async def test_the_run_budget_is_a_setting() -> None:
    config = dataclasses.replace(TEST_CONFIG, limits=Limits(max_run_bytes=50_000))
    the_flow = flow(
        *[
            set_var(f"b{i}", "v", Op.SET_VARIABLE_OPERATION_TEXT_APPEND, "x" * 1000, f"b{i + 1}")
            for i in range(100)
        ],
        send("b100", "end"),
    )
    async with serving(config) as running, grpc.aio.insecure_channel(running.target) as ch:
        events = await collect(FlowServiceStub(ch), RunFlowRequest(flow=the_flow), timeout=60)
    assert events[-1].finished.status == FlowStatus.FLOW_STATUS_OUTPUT_LIMIT_REACHED
    assert sum(e.ByteSize() for e in events) <= 50_000
    assert sum(e.ByteSize() for e in events) > 40_000, "the budget is used, not refused early"


async def test_a_restart_that_brings_back_large_defaults_stays_within_the_run_budget() -> None:
    """Restart bot puts the declared defaults back without a VariableChanged
    event: the budget's bound, re-measured small after the set emptied the
    large default, must not let the finish event carry 10 KB of variables
    past the run's 16 KiB."""
    config = dataclasses.replace(TEST_CONFIG, limits=Limits(max_run_bytes=16 * 1024))
    the_flow = flow(
        set_var("empty", "big", Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, "", "talk"),
        # Near the limit only with the default's 10 KB counted: the bound is
        # measured again, and is small.
        send("talk", "m" * 8_000, "again"),
        restart("again"),
        defaults={"big": text("d" * 10_000)},
    )
    async with serving(config) as running, grpc.aio.insecure_channel(running.target) as ch:
        events = await collect(FlowServiceStub(ch), RunFlowRequest(flow=the_flow), timeout=10)
    finished = check_stream(events)
    assert sum(e.ByteSize() for e in events) <= config.limits.max_run_bytes
    assert finished.status == FlowStatus.FLOW_STATUS_OUTPUT_LIMIT_REACHED
    assert events[-1].block_id == "again"
    assert finished.variables["big"] == text(""), "the restart is undone"
    assert "bot_restarted" not in [e.WhichOneof("event") for e in events]


async def test_an_execute_action_response_past_the_send_limit_fails_the_action() -> None:
    """The answer would make the response larger than the message limit: the
    action fails (the caller still gets its result), not the call."""
    config = dataclasses.replace(TEST_CONFIG, limits=Limits(max_message_bytes=20_000))
    request = openai_request(variables={"a": text("x" * 15_000)}, answer_variable="answer")
    request.action.openai.provider_options["reply"] = "{{a}}"
    async with serving(config) as running, grpc.aio.insecure_channel(running.target) as ch:
        response = await FlowServiceStub(ch).ExecuteAction(request, timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert response.result.error_kind == ErrorKind.ERROR_KIND_BAD_RESPONSE
    assert "message limit of 20000 bytes" in response.result.error
    assert "answer" not in response.variables, "the answer is not stored"
    assert response.ByteSize() <= 20_000
