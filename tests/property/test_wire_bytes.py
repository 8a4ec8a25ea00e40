"""Damaged request bytes keep the invariant: whatever reaches the port is
refused as INVALID_ARGUMENT (or RESOURCE_EXHAUSTED), or runs as the message
the parser made of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from tests.property.exercise import brief
from tests.property.harness import Harness, check_invariant
from tests.property.profiles import scaled
from tests.property.strategies import (
    HOOK,
    LLM,
    SECRET,
    bounded,
    execute_action_requests,
    fill_slots,
    run_flow_requests,
)
from tests.property.wire import Damage, damages


@scaled(1.0)
@given(
    request=st.one_of(execute_action_requests(), run_flow_requests()),
    damage=damages(),
)
def test_damaged_request_bytes(
    harness: Harness, request: ExecuteActionRequest | RunFlowRequest, damage: tuple[Damage, ...]
) -> None:
    # Upstreams answer with their defaults: the damage is the subject here.
    filled = bounded(
        fill_slots(
            request,
            {
                HOOK: f"127.0.0.1:{harness.webhook.port}/plain",
                LLM: f"127.0.0.1:{harness.openai.port}/plain",
                SECRET: "sk-prop-wire",
            },
        )
    )
    data = filled.SerializeToString()
    for change in damage:
        data = change.apply(data)
    rpc = "ExecuteAction" if isinstance(request, ExecuteActionRequest) else "RunFlow"
    call = harness.raw(rpc, data)
    try:
        check_invariant(call, strict_barrier=harness.strict_barrier)
    except AssertionError as error:
        error.args = (f"{error.args[0]}\n--- bytes ---\n{data[:2000]!r}\n{brief(filled)}",)
        raise
