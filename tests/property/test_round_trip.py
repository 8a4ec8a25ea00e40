"""What a call returns is valid input for the next one: the variables of a
finished run (or of an action), sent back as they came, are never refused, and
a run that stopped at a wait block can always be resumed there."""

from __future__ import annotations

import grpc
from hypothesis import given

from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    Resume,
    RunFlowRequest,
    RunFlowResponse,
)
from tests.property.exercise import exercise
from tests.property.harness import Call, Harness, broken
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import (
    completion_answers,
    execute_action_requests,
    run_flow_requests,
    webhook_answers,
)

# Violations the first call's own output cannot explain away: the returned
# variables, and the resume point the server named.
_RETURNED = ("variables", "resume")


def _refused_output(second: Call, first: Call) -> None:
    returned = [(path, text) for path, text in second.violations if path.startswith(_RETURNED)]
    if second.code == grpc.StatusCode.INVALID_ARGUMENT and returned:
        raise broken(
            "returned_state_refused",
            f"the next call refused what the last one returned: {returned[:5]}\n"
            f"first: {first.summary()}\nsecond: {second.summary()}",
        )


@scaled(0.5)
@given(request=run_flow_requests(), hook=webhook_answers(), llm=completion_answers())
def test_run_flow_output_is_valid_input(
    harness: Harness, request: RunFlowRequest, hook: tuple[Answer, ...], llm: tuple[Answer, ...]
) -> None:
    first = exercise(harness, request, hook, llm)
    if first.code != grpc.StatusCode.OK:
        return
    last = first.responses[-1]
    assert isinstance(last, RunFlowResponse)
    finished = last.finished
    follow_up = RunFlowRequest(
        flow=request.flow,
        variables=finished.variables,
        conversation=request.conversation,
        max_steps=request.max_steps,
    )
    if finished.status == FlowStatus.FLOW_STATUS_WAITING_FOR_ANSWER:
        follow_up.resume.CopyFrom(Resume(block_id=finished.resume_block_id, answer="yes"))
    _refused_output(exercise(harness, follow_up, hook, llm), first)


@scaled(0.5)
@given(request=execute_action_requests(), hook=webhook_answers(), llm=completion_answers())
def test_execute_action_output_is_valid_input(
    harness: Harness,
    request: ExecuteActionRequest,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    first = exercise(harness, request, hook, llm)
    if first.code != grpc.StatusCode.OK:
        return
    response = first.responses[0]
    assert isinstance(response, ExecuteActionResponse)
    follow_up = ExecuteActionRequest(
        action=request.action,
        variables=response.variables,
        variable_definitions=request.variable_definitions,
        conversation=request.conversation,
    )
    _refused_output(exercise(harness, follow_up, hook, llm), first)
