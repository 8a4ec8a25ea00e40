"""Flow builders and a RunFlow driver shared by the RunFlow integration tests.

`run` collects a whole stream and checks what every stream must satisfy
(sequence numbers 1..n, a block id on every block event, FlowFinished last and
only last); `describe` turns events into plain tuples so tests can compare
exact event sequences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from botflow.v1.actions_pb2 import HistoryMode, OpenAIAction, SetVariableAction, WebhookAction
from botflow.v1.actions_pb2 import SetVariableOperation as Op
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.events_pb2 import FlowFinished
from botflow.v1.flow_pb2 import (
    AddNoteBlock,
    Block,
    ChoiceBlock,
    ChoiceBranch,
    Condition,
    ConditionJoin,
    ConditionOperator,
    Flow,
    JumpToBlock,
    RestartBotBlock,
    SendMessageBlock,
    WaitUserAnswerBlock,
)
from botflow.v1.flow_service_pb2 import Resume, RunFlowRequest, RunFlowResponse
from botflow.v1.variables_pb2 import TextList, Value, VariableDefinition

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

TOKEN = "sk-test-token"


# -- values -------------------------------------------------------------------


def text(value: str) -> Value:
    return Value(text=value)


def number(value: float) -> Value:
    return Value(number=value)


def items(*values: str) -> Value:
    return Value(list=TextList(items=list(values)))


# -- blocks -------------------------------------------------------------------


def send(block_id: str, message: str, next: str = "") -> Block:
    return Block(id=block_id, next=next, send_message=SendMessageBlock(text=message))


def note(block_id: str, note_text: str, next: str = "") -> Block:
    return Block(id=block_id, next=next, add_note=AddNoteBlock(text=note_text))


def set_var(
    block_id: str, variable: str, operation: Op.ValueType, value: str = "", next: str = ""
) -> Block:
    action = SetVariableAction(variable=variable, operation=operation, value=value)
    return Block(id=block_id, next=next, set_variable=action)


def cond(operator: ConditionOperator.ValueType, value: str = "", variable: str = "") -> Condition:
    return Condition(variable=variable, operator=operator, value=value)


def branch(
    next: str,
    *conditions: Condition,
    join: ConditionJoin.ValueType = ConditionJoin.CONDITION_JOIN_UNSPECIFIED,
) -> ChoiceBranch:
    return ChoiceBranch(conditions=list(conditions), join=join, next=next)


def choice(block_id: str, *branches: ChoiceBranch, fallback: str = "") -> Block:
    return Block(id=block_id, choice=ChoiceBlock(branches=list(branches), fallback_next=fallback))


def jump(block_id: str, target: str) -> Block:
    return Block(id=block_id, jump_to=JumpToBlock(block_id=target))


def restart(block_id: str) -> Block:
    return Block(id=block_id, restart_bot=RestartBotBlock())


def wait(block_id: str, answer_variable: str = "", timeout_next: str = "", next: str = "") -> Block:
    block = WaitUserAnswerBlock(answer_variable=answer_variable, timeout_next=timeout_next)
    return Block(id=block_id, next=next, wait_user_answer=block)


def ai(
    block_id: str,
    next: str = "",
    *,
    prompt: str = "You are a helpful assistant.",
    history: HistoryMode.ValueType = HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
    provider: str = "fake",
    answer_variable: str = "",
    error_variable: str = "",
    base_url: str = "",
    options: Mapping[str, str] | None = None,
) -> Block:
    action = OpenAIAction(
        token=TOKEN,
        prompt=prompt,
        history=history,
        provider=provider,
        answer_variable=answer_variable,
        error_variable=error_variable,
        base_url=base_url,
        timeout_ms=2000,
        provider_options=dict(options or {}),
    )
    return Block(id=block_id, next=next, openai=action)


def hook(block_id: str, action: WebhookAction, next: str = "") -> Block:
    return Block(id=block_id, next=next, webhook=action)


def flow(*blocks: Block, defaults: Mapping[str, Value] | None = None, start: str = "") -> Flow:
    definitions = [
        VariableDefinition(name=name, default_value=value)
        for name, value in (defaults or {}).items()
    ]
    return Flow(name="test", start_block_id=start, variables=definitions, blocks=list(blocks))


def flow_request(
    the_flow: Flow | None,
    *,
    variables: Mapping[str, Value] | None = None,
    convo: Conversation | None = None,
    resume: Resume | None = None,
    max_steps: int = 0,
) -> RunFlowRequest:
    return RunFlowRequest(
        flow=the_flow,
        variables=dict(variables or {}),
        conversation=convo,
        resume=resume,
        max_steps=max_steps,
    )


# -- running ------------------------------------------------------------------


async def collect(
    stub: FlowServiceAsyncStub, req: RunFlowRequest, *, timeout: float = 10
) -> list[RunFlowResponse]:
    """Every event of the stream (raises the RPC's error, if any)."""
    return [event async for event in stub.RunFlow(req, timeout=timeout)]


def check_stream(events: Sequence[RunFlowResponse]) -> FlowFinished:
    """What every successful stream satisfies; returns its FlowFinished."""
    assert events, "a stream must end with FlowFinished"
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-1] == "finished"
    assert "finished" not in kinds[:-1]
    for event in events[:-1]:
        assert event.block_id, f"event {event.sequence} has no block id"
    return events[-1].finished


async def run(
    stub: FlowServiceAsyncStub,
    the_flow: Flow,
    *,
    variables: Mapping[str, Value] | None = None,
    convo: Conversation | None = None,
    resume: Resume | None = None,
    max_steps: int = 0,
) -> tuple[list[RunFlowResponse], FlowFinished]:
    """Run a flow; the events and the FlowFinished, stream invariants checked."""
    req = flow_request(
        the_flow, variables=variables, convo=convo, resume=resume, max_steps=max_steps
    )
    events = await collect(stub, req)
    return events, check_stream(events)


Described = tuple[str, str, object]


def describe(event: RunFlowResponse) -> Described:
    """(block id, event kind, the event's essential payload)."""
    kind = event.WhichOneof("event") or ""
    payload: object
    if kind == "message_sent":
        payload = event.message_sent.text
    elif kind == "note_added":
        payload = event.note_added.text
    elif kind == "variable_changed":
        payload = (event.variable_changed.name, event.variable_changed.value)
    elif kind == "warning":
        payload = event.warning.warning.code
    elif kind == "action_finished":
        result = event.action_finished.result
        payload = (result.outcome, result.answer)
    elif kind == "bot_restarted":
        payload = event.bot_restarted.bot_session_id
    else:
        payload = event.finished.status
    return (event.block_id, kind, payload)


def described(events: Sequence[RunFlowResponse]) -> list[Described]:
    return [describe(e) for e in events]
