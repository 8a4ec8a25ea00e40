"""Runs every contract vector against a live server through the Python stubs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from botflow.client import field_violations
from botflow.server.app import RunningServer, serving
from botflow.server.config import ServerConfig
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.contract.matching import mismatches

VECTORS = Path(__file__).parent / "vectors"
CASES = sorted(VECTORS.glob("*.json"))
# What the vectors assume: fake and openai enabled, no egress allowlist.
VECTOR_CONFIG = ServerConfig(host="127.0.0.1", port=0, providers=("fake", "openai"))


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with serving(VECTOR_CONFIG) as running:
        yield running


def _actual(rpc: str, messages: list[Any]) -> object:
    dicts = [json_format.MessageToDict(m) for m in messages]
    return dicts if rpc == "RunFlow" else dicts[0]


async def _call(stub: Any, rpc: str, request: dict[str, Any]) -> list[Any]:
    if rpc == "ExecuteAction":
        action = json_format.ParseDict(request, ExecuteActionRequest())
        return [await stub.ExecuteAction(action, timeout=30)]
    flow = json_format.ParseDict(request, RunFlowRequest())
    return [event async for event in stub.RunFlow(flow, timeout=30)]


def test_there_are_vectors() -> None:
    assert len(CASES) >= 3


@pytest.mark.parametrize(
    "vector", [json.loads(p.read_text()) for p in CASES], ids=[p.stem for p in CASES]
)
async def test_vector(server: RunningServer, vector: dict[str, Any]) -> None:
    rpc, expect = vector["rpc"], vector["expect"]
    assert rpc in ("ExecuteAction", "RunFlow")
    assert len(expect) == 1, "expect holds exactly one of response, events, error"
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = FlowServiceStub(channel)
        if "error" in expect:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _call(stub, rpc, vector["request"])
            assert caught.value.code().name == expect["error"]["code"]
            violations = sorted(field_violations(caught.value))
            assert violations == sorted(expect["error"].get("fieldViolations", []))
            return
        messages = await _call(stub, rpc, vector["request"])
    expected = expect.get("events", expect.get("response"))
    problems = mismatches(expected, _actual(rpc, messages))
    assert not problems, "\n".join(problems)
