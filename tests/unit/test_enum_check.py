"""check_enums: every enum number in a request is one its enum defines, at
any depth, and a bad one is reported at its path."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2

from botflow.server.validation import Violations, check_enums
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Direction
from botflow.v1.flow_service_pb2 import ExecuteActionRequest


def _violations(message: object) -> dict[str, str]:
    v = Violations()
    check_enums(v, message)  # type: ignore[arg-type]
    return dict(v.items)


def _request(*directions: int) -> ExecuteActionRequest:
    request = ExecuteActionRequest(
        action=Action(openai=OpenAIAction(history=HistoryMode.HISTORY_MODE_LAST_MESSAGE))
    )
    for direction in directions:
        request.conversation.messages.add(direction=direction, text="hi")
    return request


def test_a_valid_request_has_no_violation() -> None:
    assert _violations(_request(Direction.DIRECTION_RECEIVED, Direction.DIRECTION_SENT)) == {}


@pytest.mark.parametrize("bad_at", [0, 4, 9])
def test_a_bad_message_direction_is_reported_at_its_index(bad_at: int) -> None:
    directions = [Direction.DIRECTION_RECEIVED] * 10
    directions[bad_at] = 7  # type: ignore[call-overload]
    assert list(_violations(_request(*directions))) == [
        f"conversation.messages[{bad_at}].direction"
    ]


def test_a_bad_enum_of_the_action_is_reported() -> None:
    request = _request(Direction.DIRECTION_SENT)
    request.action.openai.history = 99  # type: ignore[assignment]
    assert list(_violations(request)) == ["action.openai.history"]


def test_a_type_that_holds_itself_is_walked_to_any_depth() -> None:
    document = struct_pb2.Struct()
    document.fields["a"].struct_value.fields[
        "b"
    ].list_value.values.add().null_value = struct_pb2.NULL_VALUE
    assert _violations(document) == {}
    bad: Any = 3
    document.fields["a"].struct_value.fields["b"].list_value.values[0].null_value = bad
    assert list(_violations(document)) == [
        'fields["a"].struct_value.fields["b"].list_value.values[0].null_value'
    ]
