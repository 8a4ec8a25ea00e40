"""`botflow run-flow`'s client-side rules: how it shows values (repeated from
the server, since botflow-client does not contain it) and which bot session
the messages of a run join in the state it keeps."""

from __future__ import annotations

import pytest

from botflow.client import run_flow_cli
from botflow.server.variables import render_value
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.events_pb2 import BotRestarted, FlowFinished, MessageSent
from botflow.v1.flow_service_pb2 import Resume, RunFlowRequest, RunFlowResponse
from botflow.v1.variables_pb2 import TextList, Value

OLD = Conversation(
    messages=[
        Message(direction=Direction.DIRECTION_RECEIVED, text="last week", bot_session_id="old")
    ]
)


@pytest.mark.parametrize(
    "value",
    [
        Value(),
        Value(text="x"),
        Value(number=3.0),
        Value(number=2.5),
        Value(number=1e20),
        Value(number=-0.0),
        Value(list=TextList(items=["a", "b"])),
    ],
)
def test_the_cli_renders_values_as_the_server_does(value: Value) -> None:
    assert run_flow_cli.render_value(value) == render_value(value)


def _restarted_run() -> list[RunFlowResponse]:
    return [
        RunFlowResponse(message_sent=MessageSent(text="before")),
        RunFlowResponse(bot_restarted=BotRestarted(bot_session_id="new")),
        RunFlowResponse(finished=FlowFinished(bot_session_id="new", bot_session_started=True)),
    ]


def test_a_new_run_does_not_put_its_messages_in_an_old_session() -> None:
    """The run started a session of its own (none was named), so the message
    sent before the restart is not last week's session's."""
    state = run_flow_cli.next_state(RunFlowRequest(conversation=OLD), _restarted_run())
    sent = state.conversation.messages[-1]
    assert (sent.text, sent.bot_session_id) == ("before", "")
    assert state.conversation.current_bot_session_id == "new"


def test_a_resumed_run_continues_the_latest_session() -> None:
    request = RunFlowRequest(conversation=OLD, resume=Resume(block_id="w", answer="hi"))
    state = run_flow_cli.next_state(request, _restarted_run())
    answer, sent = state.conversation.messages[-2:]
    assert (answer.text, answer.bot_session_id) == ("hi", "old")
    assert (sent.text, sent.bot_session_id) == ("before", "old")
