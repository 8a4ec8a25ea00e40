"""Health, reflection and graceful shutdown, in-process and through `botflow serve`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from botflow.server.app import RunningServer, start_server
from botflow.v1.actions_pb2 import ActionOutcome
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG
from tests.integration.helpers import openai_request

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "botflow.v1.FlowService"


async def test_health_reports_serving(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert response.status == SERVING


async def _reflect(
    channel: grpc.aio.Channel, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    async for response in stub.ServerReflectionInfo(iter([request]), timeout=5):
        return response
    raise AssertionError("no reflection response")


async def test_reflection_lists_the_service_and_its_contract(channel: grpc.aio.Channel) -> None:
    listed = await _reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names

    found = await _reflect(
        channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE)
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in found.file_descriptor_response.file_descriptor_proto
    ]
    services = {s.name: s for f in files for s in f.service}
    assert [m.name for m in services["FlowService"].method] == ["ExecuteAction", "RunFlow"]
    assert services["FlowService"].method[1].server_streaming
    messages = {m.name: m for f in files for m in f.message_type}
    assert {f.name for f in messages["OpenAIAction"].field} >= {
        "token",
        "prompt",
        "history",
        "answer_variable",
        "error_variable",
        "model",
        "temperature",
        "max_tokens",
        "provider",
        "base_url",
        "timeout_ms",
        "max_attempts",
        "max_history_messages",
        "provider_options",
    }
    enums = {e.name: e for f in files for e in f.enum_type}
    assert [v.name for v in enums["HistoryMode"].value][1:] == [
        "HISTORY_MODE_ALL_CONVERSATION",
        "HISTORY_MODE_CURRENT_BOT_SESSION",
        "HISTORY_MODE_LAST_MESSAGE",
        "HISTORY_MODE_PROMPT_ONLY",
    ]


async def _first_status(watch: AsyncIterator[health_pb2.HealthCheckResponse]) -> int:
    async for response in watch:
        return int(response.status)
    raise AssertionError("watch ended")


async def test_graceful_shutdown_goes_not_serving_then_drains() -> None:
    running: RunningServer = await start_server(TEST_CONFIG)
    async with grpc.aio.insecure_channel(running.target) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE)
        )
        assert await _first_status(watch) == SERVING
        slow = FlowServiceStub(channel).ExecuteAction(
            openai_request(provider_options={"latency_ms": "600", "reply": "done"}), timeout=10
        )
        await asyncio.sleep(0.2)  # the slow call is in flight
        stopping = asyncio.create_task(running.stop(grace=5))
        assert await _first_status(watch) == NOT_SERVING
        response = await slow
        assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
        assert response.result.answer == "done"
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await FlowServiceStub(channel).ExecuteAction(openai_request(), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "BOTFLOW_LOG_FORMAT": "json",
        "BOTFLOW_GRACE_SECONDS": "5",
        "BOTFLOW_SHUTDOWN_DELAY_SECONDS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "botflow.server.cli", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("botflow listening on "), line
    return process, line.rsplit(" ", 1)[1].strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_cli_serves_and_drains_on_signal(sig: signal.Signals) -> None:
    process, target = await asyncio.to_thread(
        _start_cli, "--port", "0", "--providers", "fake", "--host", "127.0.0.1"
    )
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            status = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
            assert status.status == SERVING
            slow = FlowServiceStub(channel).ExecuteAction(
                openai_request(provider_options={"latency_ms": "500", "reply": "drained"}),
                timeout=10,
            )
            await asyncio.sleep(0.2)
            process.send_signal(sig)
            response = await slow
            assert response.result.answer == "drained"
        code = await asyncio.to_thread(process.wait, 10)
        assert code == 0
        assert process.stderr is not None
        log = process.stderr.read()
        assert '"msg": "shutting down"' in log
        assert "sk-test-token" not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
