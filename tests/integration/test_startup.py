"""A start that fails closes what it had already created: the providers, the
shared HTTP client, the gRPC server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx2
import pytest

from botflow.providers.egress import EgressPolicy
from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.server import app
from botflow.server.app import start_server
from botflow.server.blocks.webhook import new_http_client as real_http_client
from tests.integration.conftest import TEST_CONFIG

CONFIG = replace(TEST_CONFIG, providers=("fake",))


class TrackedRegistry(ProviderRegistry):
    def __init__(self) -> None:
        super().__init__({"fake": FakeProvider()})
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


@dataclass
class Created:
    registry: TrackedRegistry = field(default_factory=TrackedRegistry)
    http: list[httpx2.AsyncClient] = field(default_factory=list)

    def all_closed(self) -> bool:
        return self.registry.closed and all(client.is_closed for client in self.http)


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> Created:
    found = Created()

    def new_http_client(policy: EgressPolicy) -> httpx2.AsyncClient:
        client = real_http_client(policy)
        found.http.append(client)
        return client

    monkeypatch.setattr(app, "new_http_client", new_http_client)
    return found


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port held by a plain listening socket. Without SO_REUSEPORT
    on it, gRPC's bind (which sets that option) fails too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_a_successful_start_closes_nothing_until_stopped(created: Created) -> None:
    running = await start_server(CONFIG, created.registry)
    try:
        assert len(created.http) == 1
        assert not created.registry.closed
        assert not created.http[0].is_closed
    finally:
        await running.stop(grace=0)
    assert created.all_closed()


async def test_port_in_use_closes_providers_and_http_client(
    created: Created, taken_port: int
) -> None:
    with pytest.raises(RuntimeError, match="Failed to bind"):
        await start_server(replace(CONFIG, port=taken_port), created.registry)
    assert len(created.http) == 1
    assert created.all_closed()


async def test_unusable_tls_files_close_providers_and_http_client(
    created: Created, tmp_path: Path
) -> None:
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    config = replace(CONFIG, tls_cert=str(cert), tls_key=str(key))
    with pytest.raises(RuntimeError):
        await start_server(config, created.registry)
    assert created.all_closed()


async def test_metrics_port_in_use_stops_the_started_grpc_server(
    created: Created, taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=app.log.name)
    with pytest.raises(OSError, match="in use"):
        await start_server(replace(CONFIG, metrics_port=taken_port), created.registry)
    assert created.all_closed()
    (serving,) = [r for r in caplog.records if r.getMessage() == "serving"]
    grpc_port = int(serving.__dict__["address"].rsplit(":", 1)[1])
    assert _refused(grpc_port)
