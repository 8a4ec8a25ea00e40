"""The conversation is read once for its own rules and its enums, and its
texts are not measured when the whole request is within the text limit: the
violations must be those of reading everything, in the same order."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from botflow.server.config import Limits
from botflow.server.request_validation import validate_execute_action, validate_run_flow
from botflow.server.validation import ValidationContext, Violations
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest

CTX = ValidationContext(limits=Limits(), enabled_providers=("fake",), default_provider="fake")
UNKNOWN = "is not a known DIRECTION_* value"
UNSET = "must be RECEIVED or SENT"
# Validates a request with this history, conversation and context.
Check = Callable[[int, Conversation, ValidationContext], Violations]


def _action(history: int) -> OpenAIAction:
    return OpenAIAction(token="t", prompt="p", history=history)  # type: ignore[arg-type]


def _execute(history: int, conversation: Conversation, ctx: ValidationContext) -> Violations:
    request = ExecuteActionRequest(action=Action(openai=_action(history)))
    request.conversation.CopyFrom(conversation)
    return validate_execute_action(request, ctx)


def _run(history: int, conversation: Conversation, ctx: ValidationContext) -> Violations:
    flow = Flow(start_block_id="a", blocks=[Block(id="a", openai=_action(history))])
    request = RunFlowRequest(flow=flow)
    request.conversation.CopyFrom(conversation)
    return validate_run_flow(request, ctx)


def _conversation(*directions: int, text: str = "hi") -> Conversation:
    messages = [Message(direction=d, text=text) for d in directions]  # type: ignore[arg-type]
    return Conversation(messages=messages)


RECEIVED, SENT = Direction.DIRECTION_RECEIVED, Direction.DIRECTION_SENT
LAST_MESSAGE = HistoryMode.HISTORY_MODE_LAST_MESSAGE


@pytest.mark.parametrize("check", [_execute, _run])
def test_unset_and_unknown_directions_keep_their_places(check: Check) -> None:
    found = check(77, _conversation(0, RECEIVED, 99, SENT, 0, 5), CTX)
    history = "action.openai.history" if check is _execute else "flow.blocks[0].openai.history"
    assert found.items == [
        ("conversation.messages[0].direction", UNSET),
        ("conversation.messages[4].direction", UNSET),
        (history, "is not a known HISTORY_MODE_* value"),
        ("conversation.messages[2].direction", UNKNOWN),
        ("conversation.messages[5].direction", UNKNOWN),
    ]


@pytest.mark.parametrize("check", [_execute, _run])
def test_known_directions_leave_only_the_other_enums(check: Check) -> None:
    found = check(77, _conversation(RECEIVED, SENT), CTX)
    assert [description for _, description in found.items] == [
        "is not a known HISTORY_MODE_* value"
    ]
    assert not check(LAST_MESSAGE, _conversation(RECEIVED, SENT), CTX)


@pytest.mark.parametrize("check", [_execute, _run])
def test_too_many_messages_still_have_their_directions_checked(check: Check) -> None:
    ctx = ValidationContext(Limits(max_conversation_messages=2), ("fake",), "fake")
    found = check(LAST_MESSAGE, _conversation(RECEIVED, 99, 0), ctx)
    assert found.items == [
        ("conversation.messages", "more than the server limit of 2 messages"),
        ("conversation.messages[1].direction", UNKNOWN),
    ]


@pytest.mark.parametrize("check", [_execute, _run])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_a_text_is_measured_whether_or_not_the_request_fits(check: Check, extra: int) -> None:
    """Texts around the limit: the request is then larger than the limit."""
    ctx = ValidationContext(Limits(max_text_bytes=100), ("fake",), "fake")
    found = check(LAST_MESSAGE, _conversation(RECEIVED, SENT, text="é" * (50 + extra)), ctx)
    expected = ["conversation.messages[0].text", "conversation.messages[1].text"]
    assert [path for path, _ in found.items] == (expected if extra > 0 else [])
