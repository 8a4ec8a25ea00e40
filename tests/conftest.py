"""Suite-wide guard: no test may open a connection outside loopback.

Every outbound connection botflow makes goes through the egress policy's
network backend; here its real network layer is wrapped so that a bug in the
policy (or a test that points somewhere it should not) fails loudly instead of
sending a packet to another host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import httpcore2
import pytest

from botflow.providers import egress


class LoopbackOnlyBackend(httpcore2.AnyIOBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"a test tried to connect to {host}:{port}")
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(egress, "default_inner_backend", LoopbackOnlyBackend)
