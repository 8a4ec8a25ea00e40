"""Values a call would store over the server's text limit are refused, so the
caller's next request stays valid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.server.app import serving
from botflow.server.config import Limits
from botflow.v1.actions_pb2 import (
    Action,
    ActionOutcome,
    ErrorKind,
    SetVariableAction,
    SetVariableOperation,
)
from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from botflow.v1.variables_pb2 import Value
from tests.integration.conftest import TEST_CONFIG
from tests.integration.helpers import openai_request

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

LIMIT = 200


@pytest.fixture
async def small_stub() -> AsyncIterator[FlowServiceAsyncStub]:
    config = replace(TEST_CONFIG, limits=Limits(max_text_bytes=LIMIT))
    async with serving(config) as running, grpc.aio.insecure_channel(running.target) as channel:
        yield FlowServiceStub(channel)


async def test_a_provider_option_over_the_limit_after_rendering_fails_the_action(
    small_stub: FlowServiceAsyncStub,
) -> None:
    """Each option is within the limit as written; filled in, it is not. (An
    answer over the limit, from a real provider, is in test_openai_rpc.py.)"""
    request = openai_request(
        answer_variable="a",
        provider_options={"reply": "{{half}}{{half}}"},
        variables={"half": Value(text="x" * (LIMIT // 2 + 1))},
    )
    response = await small_stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert response.result.error_kind == ErrorKind.ERROR_KIND_BAD_REQUEST
    assert response.result.error == (
        f"BadRequest: the provider option reply is longer than {LIMIT} bytes"
        " after filling in variables"
    )
    assert response.result.attempts == 0
    assert "a" not in response.variables


async def test_an_answer_at_the_limit_is_stored(small_stub: FlowServiceAsyncStub) -> None:
    request = openai_request(answer_variable="a", provider_options={"reply": "x" * LIMIT})
    response = await small_stub.ExecuteAction(request, timeout=10)
    assert response.variables["a"] == Value(text="x" * LIMIT)


async def test_an_append_over_the_limit_warns_and_changes_nothing(
    small_stub: FlowServiceAsyncStub,
) -> None:
    action = SetVariableAction(
        variable="log", operation=SetVariableOperation.SET_VARIABLE_OPERATION_TEXT_APPEND, value="y"
    )
    start = "x" * LIMIT
    request = ExecuteActionRequest(
        action=Action(set_variable=action), variables={"log": Value(text=start)}
    )
    response = await small_stub.ExecuteAction(request, timeout=10)
    assert [w.code for w in response.warnings] == ["too_long"]
    assert response.variables["log"] == Value(text=start)
