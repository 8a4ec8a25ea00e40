"""A real botflow server on a free loopback port, and a channel to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.server.app import RunningServer, serving
from botflow.server.config import ServerConfig
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

# Loopback is refused by the egress policy; tests reach their loopback HTTP
# servers (the OpenAI stub, webhook endpoints) only through this allowlist.
LOOPBACK_ALLOWED = ("127.0.0.1/32",)
TEST_CONFIG = ServerConfig(
    host="127.0.0.1",
    port=0,
    providers=("fake", "openai"),
    grace_seconds=2,
    egress_allow=LOOPBACK_ALLOWED,
)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with serving(TEST_CONFIG) as running:
        yield running


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.target) as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> FlowServiceAsyncStub:
    return FlowServiceStub(channel)
