"""The variables-fit check skips measuring when the whole request is within
the limit: it must still report exactly what measuring the variables would."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from botflow.server.budget import FINISH_MARGIN_BYTES
from botflow.server.config import Limits
from botflow.server.request_validation import validate_execute_action, validate_run_flow
from botflow.server.validation import ValidationContext, Violations
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.flow_pb2 import Block, Flow, SendMessageBlock
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.variables_pb2 import Value, VariableDefinition

MESSAGE_BYTES = FINISH_MARGIN_BYTES + 2_000
LIMIT = MESSAGE_BYTES - FINISH_MARGIN_BYTES
CTX = ValidationContext(
    limits=Limits(max_message_bytes=MESSAGE_BYTES, max_text_bytes=MESSAGE_BYTES),
    enabled_providers=("fake",),
    default_provider="fake",
)
TOO_LARGE = "with the declared defaults, larger than the 2000 bytes a response can carry"


def _measured(values: dict[str, Value], definitions: list[VariableDefinition]) -> int:
    """What the check measures (docs: variables plus declared defaults)."""
    return RunFlowRequest(variables=values).ByteSize() + sum(d.ByteSize() for d in definitions)


def _fit_violations(violations: Violations) -> list[tuple[str, str]]:
    return [item for item in violations.items if item[0] == "variables"]


DEFINITIONS = [VariableDefinition(name="d", default_value=Value(text="default"))]
# Validates a request with these variables and `bulk` bytes of other content.
Check = Callable[[dict[str, Value], int], Violations]


def _execute(values: dict[str, Value], bulk: int) -> Violations:
    action = OpenAIAction(
        token="t", prompt="p" * (bulk + 1), history=HistoryMode.HISTORY_MODE_LAST_MESSAGE
    )
    request = ExecuteActionRequest(
        action=Action(openai=action), variables=values, variable_definitions=DEFINITIONS
    )
    return validate_execute_action(request, CTX)


def _run(values: dict[str, Value], bulk: int) -> Violations:
    block = Block(id="a", send_message=SendMessageBlock(text="t" * (bulk + 1)))
    flow = Flow(start_block_id="a", blocks=[block], variables=DEFINITIONS)
    return validate_run_flow(RunFlowRequest(flow=flow, variables=values), CTX)


def test_the_variables_fields_share_a_one_byte_tag() -> None:
    """The shortcut's premise: the variables measured as a RunFlowRequest's
    take no more bytes than they do in either request."""
    execute = ExecuteActionRequest.DESCRIPTOR.fields_by_name["variables"].number
    run = RunFlowRequest.DESCRIPTOR.fields_by_name["variables"].number
    assert execute == run < 16


@pytest.mark.parametrize("bulk", [0, 3_000])
@pytest.mark.parametrize("check", [_execute, _run])
def test_the_violation_appears_exactly_past_the_limit(bulk: int, check: Check) -> None:
    """Around the limit byte by byte, with and without other content that
    makes the request itself larger than the limit."""
    for length in range(LIMIT - 60, LIMIT + 10):
        values = {"v": Value(text="x" * length)}
        expected = [("variables", TOO_LARGE)] if _measured(values, DEFINITIONS) > LIMIT else []
        assert _fit_violations(check(values, bulk)) == expected, length
