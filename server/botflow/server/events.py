"""Builders for the RunFlow events (one per thing that happened).

Each builder fills the response's own submessage in place: building the
payload first and passing it to RunFlowResponse(...) would copy it once more,
and these run once per event of every run. Setting a field, even to its
default, marks the submessage present, as the constructor does.
"""

from __future__ import annotations

from collections.abc import Iterable

from botflow.v1.actions_pb2 import ActionResult
from botflow.v1.flow_service_pb2 import RunFlowResponse
from botflow.v1.variables_pb2 import Value


def message_sent(text: str) -> RunFlowResponse:
    event = RunFlowResponse()
    event.message_sent.text = text
    return event


def note_added(text: str) -> RunFlowResponse:
    event = RunFlowResponse()
    event.note_added.text = text
    return event


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
    event = RunFlowResponse()
    changed = event.variable_changed
    changed.name = name
    if secret:
        changed.secret = True
    else:
        changed.value.CopyFrom(value)
    return event


def variables_changed(changes: Iterable[tuple[str, Value]]) -> list[RunFlowResponse]:
    return [
        variable_changed(change[0], change[1], secret=isinstance(change, SecretChange))
        for change in changes
    ]


def action_finished(result: ActionResult) -> RunFlowResponse:
    event = RunFlowResponse()
    event.action_finished.result.CopyFrom(result)
    return event


def warning(code: str, message: str) -> RunFlowResponse:
    event = RunFlowResponse()
    raised = event.warning.warning
    raised.code = code
    raised.message = message
    return event


def bot_restarted(session_id: str) -> RunFlowResponse:
    event = RunFlowResponse()
    event.bot_restarted.bot_session_id = session_id
    return event
