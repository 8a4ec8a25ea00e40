"""Prometheus metrics: counted per RPC, action and run; no secret or text in them."""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from botflow.server.app import serving
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_pb2 import Block, Flow, SendMessageBlock
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG
from tests.integration.helpers import openai_request

TOKEN = "sk-metrics-SECRET"
TEXT = "my card number is 4111"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_rpcs_actions_and_runs() -> None:
    conversation = Conversation(
        messages=[Message(direction=Direction.DIRECTION_RECEIVED, text=TEXT, bot_session_id="s")]
    )
    async with serving(replace(TEST_CONFIG, metrics_port=0)) as running:
        assert running.metrics_endpoint is not None
        async with grpc.aio.insecure_channel(running.target) as channel:
            stub = FlowServiceStub(channel)
            ok = openai_request(token=TOKEN, convo=conversation)
            await stub.ExecuteAction(ok, timeout=10)
            failing = openai_request(token=TOKEN, convo=conversation)
            failing.action.openai.provider_options["fail"] = "quota"
            await stub.ExecuteAction(failing, timeout=10)
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.ExecuteAction(ExecuteActionRequest(), timeout=10)
            flow = Flow(blocks=[Block(id="a", send_message=SendMessageBlock(text=TEXT))])
            _ = [e async for e in stub.RunFlow(RunFlowRequest(flow=flow), timeout=10)]
        text = await asyncio.to_thread(_scrape, running.metrics_endpoint.port)
    samples = _samples(text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("botflow_rpcs_total", method="ExecuteAction", code="OK") == 2
    assert value("botflow_rpcs_total", method="ExecuteAction", code="INVALID_ARGUMENT") == 1
    assert value("botflow_rpcs_total", method="RunFlow", code="OK") == 1
    assert value("botflow_rpc_duration_seconds_count", method="ExecuteAction") == 3
    assert (
        value(
            "botflow_actions_total",
            action="openai",
            provider="fake",
            outcome="succeeded",
            error_kind="",
        )
        == 1
    )
    assert (
        value(
            "botflow_actions_total",
            action="openai",
            provider="fake",
            outcome="failed",
            error_kind="QuotaExceeded",
        )
        == 1
    )
    assert value("botflow_action_attempts_total", action="openai", provider="fake") == 2
    assert value("botflow_llm_tokens_total", provider="fake", kind="completion") > 0
    assert value("botflow_flow_runs_total", status="completed") == 1
    assert TOKEN not in text
    assert "4111" not in text


async def test_no_metrics_endpoint_unless_asked() -> None:
    async with serving(TEST_CONFIG) as running:
        assert running.metrics_endpoint is None
