"""`botflow serve --workers 2`: one port, two processes; a killed worker is
restarted while calls keep succeeding; SIGTERM drains both, no call lost."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.helpers import openai_request
from tests.support.replicas import SERVICE, Load, Replica, rpcs_served

pytestmark = pytest.mark.scaling

# Connections the kernel spreads over the workers: with 16, all on one worker
# has a chance of 2**-15.
CONNECTIONS = 16
# A delay no test waits out: the second SIGTERM ends it (an event, not a time).
LONG_DELAY = {"BOTFLOW_SHUTDOWN_DELAY_SECONDS": "120", "BOTFLOW_GRACE_SECONDS": "10"}
# A call the fake provider answers after a second: still running at the drain.
SLOW_REQUEST = openai_request(provider_options={"latency_ms": "1000", "reply": "drained"})
# Lets the slow calls reach the workers before the port closes (well under
# their one second of latency, so they are still running at the drain).
IN_FLIGHT_SECONDS = 0.3
# Own connection per channel (grpc shares subchannels process-wide otherwise).
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@asynccontextmanager
async def channels(target: str) -> AsyncIterator[list[grpc.aio.Channel]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                grpc.aio.insecure_channel(target, options=OWN_CONNECTION)
            )
            for _ in range(CONNECTIONS)
        ]


async def all_not_serving(chans: list[grpc.aio.Channel]) -> bool:
    request = health_pb2.HealthCheckRequest(service=SERVICE)
    answers = [await health_pb2_grpc.HealthStub(c).Check(request, timeout=10) for c in chans]
    return all(a.status == health_pb2.HealthCheckResponse.NOT_SERVING for a in answers)


async def batch(chans: list[grpc.aio.Channel], calls: int) -> Load:
    """`calls` calls per caller over every connection; waits out reconnects."""
    load = Load([FlowServiceStub(c) for c in chans], calls_per_caller=calls, wait_for_ready=True)
    await load.run()
    return load


async def test_two_workers_share_the_port_and_survive_a_killed_worker() -> None:
    server = await asyncio.to_thread(Replica, ["--workers", "2"], LONG_DELAY)
    try:
        first = await asyncio.to_thread(server.workers_started, 2)
        pids = {int(w["pid"]) for w in first}
        assert len(pids) == 2
        assert server.process.pid not in pids
        async with channels(server.target) as chans:
            assert (await batch(chans, 100)).failures == []
            assert all(rpcs_served(int(w["metrics_port"])) > 0 for w in first)
            os.kill(int(first[0]["pid"]), signal.SIGKILL)
            restarted = (await asyncio.to_thread(server.workers_started, 3))[2]
            assert restarted["worker"] == first[0]["worker"]
            assert int(restarted["pid"]) not in pids
            after = await batch(chans, 100)
        assert after.failures == []
        assert after.ok == 4 * 100
    finally:
        server.close()


async def test_sigterm_drains_both_workers_with_no_call_lost() -> None:
    server = await asyncio.to_thread(Replica, ["--workers", "2"], LONG_DELAY)
    try:
        await asyncio.to_thread(server.workers_started, 2)
        async with channels(server.target) as chans:
            load = Load([FlowServiceStub(c) for c in chans])
            running = asyncio.ensure_future(load.run())
            await load.until(200)
            server.signal()
            # Calls go on while every worker says NOT_SERVING and still accepts.
            while not await all_not_serving(chans):
                await load.until(20)
            served_before = load.ok
            await load.until(200)
            load.stop.set()
            await running
            # Slow calls on every connection (so on both workers) are in flight
            # when the second signal skips the rest of the delay: they drain.
            slow = [FlowServiceStub(c).ExecuteAction(SLOW_REQUEST, timeout=30) for c in chans]
            await asyncio.sleep(IN_FLIGHT_SECONDS)
            server.signal()
            answers = await asyncio.gather(*slow)
            code = await asyncio.to_thread(server.wait_exit)
        assert [a.result.answer for a in answers] == ["drained"] * CONNECTIONS
        assert load.failures == []
        assert load.ok >= served_before + 200
        assert code == 0
    finally:
        server.close()
