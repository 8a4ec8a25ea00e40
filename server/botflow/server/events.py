"""Builders for the RunFlow events (one per thing that happened)."""

from __future__ import annotations

from collections.abc import Iterable

from botflow.v1.actions_pb2 import ActionResult, Warning
from botflow.v1.events_pb2 import (
    ActionFinished,
    BotRestarted,
    MessageSent,
    NoteAdded,
    VariableChanged,
    WarningRaised,
)
from botflow.v1.flow_service_pb2 import RunFlowResponse
from botflow.v1.variables_pb2 import Value


def message_sent(text: str) -> RunFlowResponse:
    return RunFlowResponse(message_sent=MessageSent(text=text))


def note_added(text: str) -> RunFlowResponse:
    return RunFlowResponse(note_added=NoteAdded(text=text))


class SecretChange(tuple[str, Value]):
    """A write to a secret variable, as (name, empty value): the value stays
    out of the change itself, so no event built from it can carry it. A tuple
    so that readers of (name, value) changes need no special case."""

    __slots__ = ()

    @classmethod
    def of(cls, name: str) -> SecretChange:
        return cls((name, Value()))


def variable_changed(name: str, value: Value, *, secret: bool = False) -> RunFlowResponse:
    """A secret variable's event names it, marked secret, without its value."""
    if secret:
        return RunFlowResponse(variable_changed=VariableChanged(name=name, secret=True))
    return RunFlowResponse(variable_changed=VariableChanged(name=name, value=value))


def variables_changed(changes: Iterable[tuple[str, Value]]) -> list[RunFlowResponse]:
    return [
        variable_changed(change[0], change[1], secret=isinstance(change, SecretChange))
        for change in changes
    ]


def action_finished(result: ActionResult) -> RunFlowResponse:
    return RunFlowResponse(action_finished=ActionFinished(result=result))


def warning(code: str, message: str) -> RunFlowResponse:
    return RunFlowResponse(warning=WarningRaised(warning=Warning(code=code, message=message)))


def bot_restarted(session_id: str) -> RunFlowResponse:
    return RunFlowResponse(bot_restarted=BotRestarted(bot_session_id=session_id))
