"""Calls running at the same time keep the invariant each: they share the
server's HTTP pools, provider clients and event loop."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from tests.property.exercise import prepare, release, verify
from tests.property.harness import Harness
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import (
    completion_answers,
    execute_action_requests,
    run_flow_requests,
    webhook_answers,
)


@scaled(0.3)
@given(
    requests=st.lists(
        st.one_of(execute_action_requests(), run_flow_requests()), min_size=2, max_size=6
    ),
    hook=webhook_answers(),
    llm=completion_answers(),
)
def test_concurrent_calls(
    harness: Harness,
    requests: list[ExecuteActionRequest | RunFlowRequest],
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    prepared = [prepare(harness, request, hook, llm) for request in requests]
    try:
        calls = harness.concurrently([p.request for p in prepared])
        for one, call in zip(prepared, calls, strict=True):
            verify(harness, one, call)
    finally:
        for one in prepared:
            release(harness, one)
