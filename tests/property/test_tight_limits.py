"""The same requests against a server whose every limit is tiny: crossing a
limit (text, variables, blocks, steps, output, response size, JSON depth, URL
length, concurrent calls) is INVALID_ARGUMENT, RESOURCE_EXHAUSTED or a failed
block, never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from tests.property.exercise import exercise, prepare, release, verify
from tests.property.harness import Harness
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import (
    completion_answers,
    execute_action_requests,
    run_flow_requests,
    webhook_answers,
)

REQUESTS = st.one_of(execute_action_requests(), run_flow_requests())


@scaled(0.5)
@given(request=REQUESTS, hook=webhook_answers(), llm=completion_answers())
def test_requests_under_tight_limits(
    tight_harness: Harness,
    request: ExecuteActionRequest | RunFlowRequest,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    exercise(tight_harness, request, hook, llm)


@scaled(0.2)
@given(
    requests=st.lists(REQUESTS, min_size=3, max_size=6),
    hook=webhook_answers(),
    llm=completion_answers(),
)
def test_concurrent_calls_past_admission(
    tight_harness: Harness,
    requests: list[ExecuteActionRequest | RunFlowRequest],
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    # Two calls at once are admitted: the rest are RESOURCE_EXHAUSTED, or run.
    prepared = [prepare(tight_harness, request, hook, llm) for request in requests]
    try:
        calls = tight_harness.concurrently([p.request for p in prepared])
        for one, call in zip(prepared, calls, strict=True):
            verify(tight_harness, one, call)
    finally:
        for one in prepared:
            release(tight_harness, one)
