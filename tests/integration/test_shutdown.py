"""Shutdown a load balancer can see, through the real `botflow serve`.

SIGTERM turns health NOT_SERVING at once while calls are still accepted for
`shutdown_delay_seconds`; a second SIGTERM skips the rest of the delay; then
the port closes, Watch streams end and in-flight calls get `grace_seconds`.
Delays and graces here are long on purpose: each test ends them by an event
(a second signal, the last stream ending), so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.flows import ai, flow, flow_request, send
from tests.integration.helpers import openai_request

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "botflow.v1.FlowService"
LONG = "120"  # a delay or grace no test waits out
EXIT_PATIENCE = 30.0  # generous: only says the process did exit, not how fast


class Server:
    """A `botflow serve` subprocess and a channel to it."""

    def __init__(self, process: subprocess.Popen[str], channel: grpc.aio.Channel) -> None:
        self.process = process
        self.channel = channel
        self.health = health_pb2_grpc.HealthStub(channel)

    def signal(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self) -> int:
        return await asyncio.to_thread(self.process.wait, EXIT_PATIENCE)

    def log(self) -> list[dict[str, Any]]:
        """Every stderr line, each of which must be one JSON object."""
        assert self.process.stderr is not None
        return [json.loads(line) for line in self.process.stderr.read().splitlines()]

    async def check(self) -> int:
        request = health_pb2.HealthCheckRequest(service=SERVICE)
        return int((await self.health.Check(request, timeout=5)).status)

    def watch(self) -> Any:
        return self.health.Watch(health_pb2.HealthCheckRequest(service=SERVICE), timeout=60)


def _start(delay: str, grace: str) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "BOTFLOW_LOG_FORMAT": "json",
        "BOTFLOW_SHUTDOWN_DELAY_SECONDS": delay,
        "BOTFLOW_GRACE_SECONDS": grace,
        # One process: these tests read its log in order (workers interleave).
        "BOTFLOW_WORKERS": "1",
    }
    command = [str(Path(sys.executable).with_name("botflow")), "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", "0", "--providers", "fake"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("botflow listening on "), line
    return process, line.rsplit(" ", 1)[1].strip()


@asynccontextmanager
async def botflow_serve(*, delay: str, grace: str) -> AsyncIterator[Server]:
    process, target = await asyncio.to_thread(_start, delay, grace)
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            yield Server(process, channel)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def _next_status(watch: Any) -> int:
    response = await watch.read()
    assert response is not grpc.aio.EOF, "the Watch stream ended early"
    return int(response.status)


async def _ends_cleanly(watch: Any) -> None:
    assert await watch.read() is grpc.aio.EOF
    assert await watch.code() == grpc.StatusCode.OK


def _messages(log: list[dict[str, Any]]) -> list[str]:
    return [str(entry["msg"]) for entry in log if entry["logger"] == "botflow.server.app"]


async def test_sigterm_turns_not_serving_and_keeps_accepting_during_the_delay() -> None:
    async with botflow_serve(delay=LONG, grace=LONG) as server:
        watch = server.watch()
        assert await _next_status(watch) == SERVING
        server.signal()
        assert await _next_status(watch) == NOT_SERVING
        assert await server.check() == NOT_SERVING
        request = openai_request(provider_options={"reply": "still accepted"})
        response = await FlowServiceStub(server.channel).ExecuteAction(request, timeout=10)
        assert response.result.answer == "still accepted"
        server.signal()  # the second signal skips the rest of the delay
        await _ends_cleanly(watch)
        assert await server.exit_code() == 0
        messages = _messages(server.log())
    shutdown = ["shutting down", "second signal: skipping the rest of the shutdown delay"]
    assert messages[-4:] == [*shutdown, "draining", "stopped"]


async def test_an_open_watch_does_not_hold_the_shutdown_for_the_grace_period() -> None:
    async with botflow_serve(delay="0", grace=LONG) as server:
        watch = server.watch()
        assert await _next_status(watch) == SERVING
        server.signal()
        assert await _next_status(watch) == NOT_SERVING
        await _ends_cleanly(watch)
        assert await server.exit_code() == 0
        assert _messages(server.log())[-1] == "stopped"


async def test_a_call_cut_off_at_the_end_of_grace_leaves_only_json_on_stderr() -> None:
    slow_flow = flow(send("hello", "Hello!", "think"), ai("think", options={"latency_ms": "60000"}))
    async with botflow_serve(delay="0", grace="0.2") as server:
        stream = FlowServiceStub(server.channel).RunFlow(flow_request(slow_flow), timeout=60)
        assert await stream.read() is not grpc.aio.EOF  # the run is under way
        server.signal()
        assert await server.exit_code() == 0
        log = server.log()  # parses every line
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stream.read()
    assert caught.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    assert _messages(log)[-1] == "stopped"
