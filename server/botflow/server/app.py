"""Building, starting and stopping the grpc.aio server.

`serving(config)` is the in-process server that tests and the CLI share: the
FlowService, the standard health service and server reflection, explicit
message size limits; on exit health turns NOT_SERVING first, then in-flight
calls get `grace_seconds` to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.server import defaults
from botflow.server.blocks.webhook import new_http_client
from botflow.server.config import ServerConfig
from botflow.server.interceptors import BearerTokenInterceptor, RequestContextInterceptor
from botflow.server.logs import quiet_sensitive_loggers
from botflow.server.metrics import Metrics, MetricsEndpoint, serve_metrics
from botflow.server.service import FlowService
from botflow.v1 import flow_service_pb2, flow_service_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = flow_service_pb2.DESCRIPTOR.services_by_name["FlowService"].full_name


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    registry: ProviderRegistry
    config: ServerConfig
    http: httpx2.AsyncClient
    metrics: Metrics
    metrics_endpoint: MetricsEndpoint | None = None

    @property
    def target(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING first (so balancers drain us), then finish in-flight calls."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.config.grace_seconds if grace is None else grace)
        await self.registry.aclose()
        await self.http.aclose()
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()


def egress_policy(config: ServerConfig) -> EgressPolicy:
    return EgressPolicy.from_entries(
        config.egress_allow,
        max_response_bytes=config.limits.max_response_bytes,
        max_redirects=defaults.DEFAULT_MAX_REDIRECTS,
    )


def _interceptors(config: ServerConfig, metrics: Metrics) -> list[grpc.aio.ServerInterceptor]:
    prefix = f"/{SERVICE_NAME}/"
    chain: list[grpc.aio.ServerInterceptor] = [RequestContextInterceptor(prefix, metrics)]
    if config.auth_token:
        chain.append(BearerTokenInterceptor(config.auth_token, prefix))
    return chain


def _add_port(server: grpc.aio.Server, config: ServerConfig) -> int:
    if not config.tls_cert or not config.tls_key:
        return server.add_insecure_port(config.address)
    client_ca = Path(config.tls_client_ca).read_bytes() if config.tls_client_ca else None
    credentials = grpc.ssl_server_credentials(
        [(Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
    return server.add_secure_port(config.address, credentials)


def _server_options(config: ServerConfig) -> list[tuple[str, int]]:
    size = config.limits.max_message_bytes
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
    ]


async def start_server(
    config: ServerConfig, registry: ProviderRegistry | None = None
) -> RunningServer:
    """Start serving; `registry` replaces the configured providers (tests)."""
    quiet_sensitive_loggers()
    problems = config.problems()
    if problems:
        raise ValueError("invalid server configuration: " + "; ".join(problems))
    egress = egress_policy(config)
    registry = registry or ProviderRegistry.create(config.providers, egress=egress)
    http = new_http_client(egress)
    metrics = Metrics()
    server = grpc.aio.server(
        interceptors=_interceptors(config, metrics), options=_server_options(config)
    )
    service = FlowService(config, registry, http=http, egress=egress, metrics=metrics)
    flow_service_pb2_grpc.add_FlowServiceServicer_to_server(service, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = _add_port(server, config)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        extra={"address": f"{config.host}:{port}", "providers": ",".join(registry.names)},
    )
    endpoint = None
    if config.metrics_port is not None:
        endpoint = serve_metrics(metrics, config.metrics_host or config.host, config.metrics_port)
    return RunningServer(server, port, health_servicer, registry, config, http, metrics, endpoint)


@contextlib.asynccontextmanager
async def serving(
    config: ServerConfig, registry: ProviderRegistry | None = None
) -> AsyncIterator[RunningServer]:
    """A started server for the duration of the block (port 0 picks a free one)."""
    running = await start_server(config, registry)
    try:
        yield running
    finally:
        await running.stop()


async def serve_until_signalled(config: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serving(config) as running:
        print(f"botflow listening on {running.target}", flush=True)
        await stop.wait()
        log.info("shutting down", extra={"grace_seconds": config.grace_seconds})
    log.info("stopped")
