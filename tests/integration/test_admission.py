"""Admission control: at most `max_concurrent_calls` FlowService calls at once;
one more is RESOURCE_EXHAUSTED with a RetryInfo, and health is never counted.

Calls are held open by a provider that answers only when the test lets it, so
which calls are running is known from events, never from the clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from botflow.providers.base import Completion, CompletionRequest, Usage
from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.server.app import RunningServer, serving
from botflow.server.defaults import DEFAULT_RETRY_AFTER_SECONDS
from botflow.v1.actions_pb2 import ActionOutcome
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG
from tests.integration.flows import ai, flow, flow_request
from tests.integration.helpers import openai_request

LIMIT = 2
PATIENCE = 10.0  # generous bound on waiting for an event, not a measured duration
CONFIG = dataclasses.replace(
    TEST_CONFIG,
    providers=("fake", "gate"),
    limits=dataclasses.replace(TEST_CONFIG.limits, max_concurrent_calls=LIMIT),
)
SERVICE = "botflow.v1.FlowService"
SUCCEEDED = ActionOutcome.ACTION_OUTCOME_SUCCEEDED


class Gate:
    """A provider whose every call waits until the test lets it through."""

    name = "gate"

    def __init__(self) -> None:
        self._arrived: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    async def complete(self, request: CompletionRequest) -> Completion:
        through = asyncio.Event()
        await self._arrived.put(through)
        await through.wait()
        return Completion(text="done", usage=Usage(1, 1, 2), model="gate-1")

    async def aclose(self) -> None:
        return None

    async def arrivals(self, count: int) -> list[asyncio.Event]:
        """The next `count` calls to reach the provider (each holds a slot)."""
        async with asyncio.timeout(PATIENCE):
            return [await self._arrived.get() for _ in range(count)]


@dataclasses.dataclass
class Limited:
    server: RunningServer
    gate: Gate
    channel: grpc.aio.Channel

    def action(self) -> Any:
        request = openai_request(provider="gate")
        return FlowServiceStub(self.channel).ExecuteAction(request, timeout=60)

    def flow(self) -> Any:
        run = flow_request(flow(ai("ask", provider="gate")))
        return FlowServiceStub(self.channel).RunFlow(run, timeout=60)

    def quick(self) -> Any:
        return FlowServiceStub(self.channel).ExecuteAction(openai_request(), timeout=60)

    async def in_flight(self, expected: int) -> None:
        """A cancelled call frees its slot once the server has unwound it."""
        async with asyncio.timeout(PATIENCE):
            # The counter has no event to wait on: the server should not pay for one.
            while self.server.admission.in_flight != expected:  # noqa: ASYNC110
                await asyncio.sleep(0.01)


@pytest.fixture
async def limited() -> AsyncIterator[Limited]:
    gate = Gate()
    registry = ProviderRegistry({"fake": FakeProvider(), "gate": gate})
    async with (
        serving(CONFIG, registry) as running,
        grpc.aio.insecure_channel(running.target) as channel,
    ):
        yield Limited(running, gate, channel)


async def _refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def _retry_delay(error: grpc.aio.AioRpcError) -> float:
    status = rpc_status.from_call(error)
    assert status is not None, "RESOURCE_EXHAUSTED must carry a rich status"
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    raise AssertionError("no RetryInfo in the status details")


def _cancel(*calls: Any) -> None:
    for call in calls:
        call.cancel()


async def test_the_call_over_the_limit_gets_resource_exhausted_with_a_retry_hint(
    limited: Limited,
) -> None:
    held = [limited.action() for _ in range(LIMIT)]
    try:
        await limited.gate.arrivals(LIMIT)
        error = await _refusal(limited.quick())
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.details() == f"the server is running its limit of {LIMIT} calls; retry later"
        assert _retry_delay(error) == DEFAULT_RETRY_AFTER_SECONDS
    finally:
        _cancel(*held)


async def test_a_finished_call_frees_its_slot(limited: Limited) -> None:
    held = [limited.action() for _ in range(LIMIT)]
    try:
        first, _ = await limited.gate.arrivals(LIMIT)
        refused = await _refusal(limited.quick())
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        first.set()
        answers = [asyncio.ensure_future(call) for call in held]
        done, _ = await asyncio.wait(answers, return_when=asyncio.FIRST_COMPLETED)
        assert [task.result().result.answer for task in done] == ["done"]
        # The slot is freed before the answer is sent: the next call is admitted.
        assert (await limited.quick()).result.outcome == SUCCEEDED
    finally:
        _cancel(*held)


async def test_a_cancelled_call_frees_its_slot(limited: Limited) -> None:
    held = [limited.action() for _ in range(LIMIT)]
    try:
        await limited.gate.arrivals(LIMIT)
        assert limited.server.admission.in_flight == LIMIT
        held[0].cancel()
        await limited.in_flight(LIMIT - 1)
        assert (await limited.quick()).result.outcome == SUCCEEDED
    finally:
        _cancel(*held)
    await limited.in_flight(0)


async def test_run_flow_streams_are_counted(limited: Limited) -> None:
    streams = [limited.flow() for _ in range(LIMIT)]
    try:
        await limited.gate.arrivals(LIMIT)
        action_error = await _refusal(limited.quick())
        assert action_error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        stream_error = await _refusal(limited.flow().read())
        assert stream_error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _retry_delay(stream_error) == DEFAULT_RETRY_AFTER_SECONDS
    finally:
        _cancel(*streams)
    await limited.in_flight(0)


async def test_health_is_not_counted(limited: Limited) -> None:
    held = [limited.action() for _ in range(LIMIT)]
    health = health_pb2_grpc.HealthStub(limited.channel)
    try:
        await limited.gate.arrivals(LIMIT)
        for name in ("", SERVICE):
            response = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
        assert limited.server.admission.in_flight == LIMIT
    finally:
        _cancel(*held)
