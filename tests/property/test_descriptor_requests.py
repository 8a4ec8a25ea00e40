"""Any message the protos allow, however odd, keeps the invariant."""

from __future__ import annotations

from hypothesis import given

from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from tests.property.exercise import exercise
from tests.property.harness import Harness
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import completion_answers, from_descriptor, webhook_answers


@scaled(1.0)
@given(
    request=from_descriptor(ExecuteActionRequest.DESCRIPTOR),
    hook=webhook_answers(),
    llm=completion_answers(),
)
def test_any_execute_action_request(
    harness: Harness,
    request: ExecuteActionRequest,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    exercise(harness, request, hook, llm)


@scaled(1.0)
@given(
    request=from_descriptor(RunFlowRequest.DESCRIPTOR),
    hook=webhook_answers(),
    llm=completion_answers(),
)
def test_any_run_flow_request(
    harness: Harness,
    request: RunFlowRequest,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    exercise(harness, request, hook, llm)
