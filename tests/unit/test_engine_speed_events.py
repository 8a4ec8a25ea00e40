"""The event builders fill each response's submessage in place (to skip a
copy); the events must stay exactly those the message constructors build,
presence of empty payloads included."""

from __future__ import annotations

import pytest

from botflow.server.events import (
    SecretChange,
    action_finished,
    bot_restarted,
    message_sent,
    note_added,
    variable_changed,
    variables_changed,
    warning,
)
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, Warning
from botflow.v1.events_pb2 import (
    ActionFinished,
    BotRestarted,
    MessageSent,
    NoteAdded,
    VariableChanged,
    WarningRaised,
)
from botflow.v1.flow_service_pb2 import RunFlowResponse
from botflow.v1.variables_pb2 import TextList, Value

TEXTS = ["", "x", "é \u2603"]
VALUES = [
    Value(),
    Value(text=""),
    Value(text="x"),
    Value(number=0.0),
    Value(number=-2.5),
    Value(list=TextList()),
    Value(list=TextList(items=["a", ""])),
]


def _same(built: RunFlowResponse, expected: RunFlowResponse) -> None:
    assert built == expected
    assert built.WhichOneof("event") == expected.WhichOneof("event")
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )


@pytest.mark.parametrize("text", TEXTS)
def test_text_events_match_the_constructors(text: str) -> None:
    _same(message_sent(text), RunFlowResponse(message_sent=MessageSent(text=text)))
    _same(note_added(text), RunFlowResponse(note_added=NoteAdded(text=text)))
    _same(bot_restarted(text), RunFlowResponse(bot_restarted=BotRestarted(bot_session_id=text)))
    expected = WarningRaised(warning=Warning(code=text, message=text))
    _same(warning(text, text), RunFlowResponse(warning=expected))


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("name", TEXTS)
def test_variable_events_match_the_constructors(name: str, value: Value) -> None:
    public = VariableChanged(name=name, value=value)
    _same(variable_changed(name, value), RunFlowResponse(variable_changed=public))
    secret = VariableChanged(name=name, secret=True)
    _same(variable_changed(name, value, secret=True), RunFlowResponse(variable_changed=secret))


def test_a_secret_change_event_never_carries_a_value() -> None:
    (event,) = variables_changed([SecretChange.of("token")])
    assert event.variable_changed.secret
    assert not event.variable_changed.HasField("value")


@pytest.mark.parametrize(
    "result",
    [
        ActionResult(),
        ActionResult(outcome=ActionOutcome.ACTION_OUTCOME_SUCCEEDED, answer="a", attempts=1),
    ],
)
def test_action_finished_matches_the_constructor_and_copies(result: ActionResult) -> None:
    event = action_finished(result)
    _same(event, RunFlowResponse(action_finished=ActionFinished(result=result)))
    result.answer = "changed later"
    assert event.action_finished.result.answer != "changed later"
