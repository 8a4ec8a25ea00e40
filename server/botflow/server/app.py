"""Building, starting and stopping the grpc.aio server.

`serving(config)` is the in-process server that tests and the CLI share: the
FlowService behind admission control, the standard health service and server
reflection, explicit message size limits and a pending-call queue sized for
bursts; on exit health turns NOT_SERVING first, then in-flight calls get
`grace_seconds` to finish.

`serve_until_signalled` (the CLI) adds what a load balancer needs to see:
after SIGTERM/SIGINT health says NOT_SERVING while calls are still accepted
for `shutdown_delay_seconds`, then the port closes and calls drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.server import defaults
from botflow.server.admission import AdmissionGate
from botflow.server.blocks.webhook import new_http_client
from botflow.server.config import ServerConfig
from botflow.server.interceptors import (
    BearerTokenCheck,
    CallCheck,
    RequestContextInterceptor,
    ServiceInterceptor,
    add_wrapped,
)
from botflow.server.logs import quiet_sensitive_loggers
from botflow.server.metrics import Metrics, MetricsEndpoint, serve_metrics
from botflow.server.provider_wiring import create_registry
from botflow.server.service import FlowService
from botflow.v1 import flow_service_pb2, flow_service_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = flow_service_pb2.DESCRIPTOR.services_by_name["FlowService"].full_name
# The coroutine grpc.aio runs each call in (grpc/_cython/_cygrpc/aio/server.pyx.pxi).
RPC_TASK = "_schedule_rpc_coro"
# How long stop() waits for cancelled calls to unwind once the server stopped.
SETTLE_SECONDS = 1.0
# grpc C-core's defaults for its queue of calls that arrived but that the
# application has not picked up yet (src/core/server/server.h): beyond the soft
# limit calls are dropped at random, at the hard limit always.
GRPC_PENDING_SOFT_DEFAULT = 1000
GRPC_PENDING_HARD_DEFAULT = 3000


# grpc_health ships no type hints, so its servicer is Any to mypy.
class DrainingHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """grpc_health's servicer, whose Watch streams end once draining starts.

    An open Watch never ends by itself, so without this it would hold the
    server's shutdown for the whole grace period and then be cancelled.
    """

    def __init__(self) -> None:
        super().__init__()
        self._draining = asyncio.Event()

    def start_draining(self) -> None:
        self._draining.set()

    async def Watch(  # noqa: N802 - the RPC name of grpc.health.v1
        self, request: health_pb2.HealthCheckRequest, context: Any
    ) -> None:
        sent = _SentStatus(context)
        watching = asyncio.ensure_future(super().Watch(request, sent))
        draining = asyncio.ensure_future(self._draining.wait())
        try:
            await asyncio.wait((watching, draining), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watching, draining):
                task.cancel()
            await asyncio.gather(watching, draining, return_exceptions=True)
            await sent.flushed()
        error = None if watching.cancelled() else watching.exception()
        if error is not None:
            raise error
        # Draining may start before the watcher woke up to send NOT_SERVING:
        # the stream's last message must be the status it ends on.
        final = self._server_status.get(
            request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        )
        if sent.last != final:
            await context.write(health_pb2.HealthCheckResponse(status=final))


class _SentStatus:
    """The servicer context grpc_health's Watch writes to: remembers the last
    status sent, and lets a write finish even when the watcher is cancelled
    (a send abandoned half-way leaves the call unable to send its status)."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._writing: asyncio.Future[None] | None = None
        self._status: int | None = None
        self.last: int | None = None

    async def write(self, response: health_pb2.HealthCheckResponse) -> None:
        self._writing = asyncio.ensure_future(self._context.write(response))
        self._status = response.status
        await asyncio.shield(self._writing)
        self.last = response.status

    async def flushed(self) -> None:
        if self._writing is None:
            return
        with contextlib.suppress(Exception):
            await self._writing
            self.last = self._status

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: DrainingHealthServicer
    registry: ProviderRegistry
    config: ServerConfig
    http: httpx2.AsyncClient
    metrics: Metrics
    admission: AdmissionGate
    metrics_endpoint: MetricsEndpoint | None = None

    @property
    def target(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def stop(
        self, grace: float | None = None, delay: float = 0.0, hurry: asyncio.Event | None = None
    ) -> None:
        """NOT_SERVING first, still accepting calls for `delay` seconds (cut
        short when `hurry` is set) so balancers polling health move traffic
        away; then refuse new calls and give in-flight ones `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        if delay > 0:
            await _wait_at_most(hurry or asyncio.Event(), delay)
        grace = self.config.grace_seconds if grace is None else grace
        log.info("draining", extra={"grace_seconds": grace})
        self.health.start_draining()
        await self.server.stop(grace)
        await _settle_rpc_tasks(SETTLE_SECONDS)
        await self.registry.aclose()
        await self.http.aclose()
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()


async def _wait_at_most(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def _settle_rpc_tasks(seconds: float) -> None:
    """Let grpc's per-call tasks finish after the server stopped.

    Calls cancelled at the end of grace still have a task unwinding; if the
    event loop closes first, asyncio cancels it again and grpc reports that
    with `traceback.print_exc()`, a raw traceback on stderr among JSON logs.
    """
    current = asyncio.current_task()
    pending = [
        task
        for task in asyncio.all_tasks()
        if task is not current and getattr(task.get_coro(), "__qualname__", "") == RPC_TASK
    ]
    if pending:
        await asyncio.wait(pending, timeout=seconds)


def egress_policy(config: ServerConfig) -> EgressPolicy:
    return EgressPolicy.from_entries(
        config.egress_allow,
        max_response_bytes=config.limits.max_response_bytes,
        max_redirects=defaults.DEFAULT_MAX_REDIRECTS,
    )


def _interceptors(
    config: ServerConfig, metrics: Metrics, admission: AdmissionGate
) -> list[ServiceInterceptor]:
    """What wraps FlowService's handlers, once, when they are registered (no
    grpc.aio interceptor: that would run a chain of coroutines per call).
    One wrapper does it all, admission first: a refused call costs nothing
    more than its refusal."""
    checks: list[CallCheck] = []
    if config.auth_token:
        checks.append(BearerTokenCheck(config.auth_token))
    return [RequestContextInterceptor(metrics, admission, checks)]


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

    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    # Aged connections get GOAWAY so clients reconnect and spread over replicas
    # added since; C-core reads 0 as "at once", so "off" is leaving it unset.
    age = config.max_connection_age_seconds
    aging = [
        ("grpc.max_connection_age_ms", ms(age)),
        ("grpc.max_connection_age_grace_ms", ms(config.max_connection_age_grace_seconds)),
    ]
    keepalive = [
        ("grpc.keepalive_time_ms", ms(config.keepalive_time_seconds)),
        ("grpc.keepalive_timeout_ms", ms(config.keepalive_timeout_seconds)),
        # Clients' keepalive pings (docs/deploy.md: 30 s) must not earn GOAWAY.
        ("grpc.keepalive_permit_without_calls", 1),
        (
            "grpc.http2.min_ping_interval_without_data_ms",
            ms(defaults.MIN_CLIENT_PING_INTERVAL_SECONDS),
        ),
    ]
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        *pending_queue_options(config.limits.max_concurrent_calls),
        *(aging if age > 0 else []),
        *(keepalive if config.keepalive_time_seconds > 0 else []),
    ]


def pending_queue_options(max_concurrent_calls: int) -> list[tuple[str, int]]:
    """Room in C-core's pending queue for a burst of twice the admission limit.

    grpc.aio asks C-core for one arrived call at a time (per method), so a
    burst waits in this queue; at C-core's defaults every call past ~3000 is dropped before botflow
    sees it. Sized from the limit, a burst up to the limit is served and the
    rest reach the admission gate, which answers RESOURCE_EXHAUSTED
    with a retry hint instead of a bare drop. HTTP/2 max_concurrent_streams
    needs nothing: C-core's server default is unlimited, so one connection
    can carry the whole burst.
    """
    return [
        (
            "grpc.server.max_pending_requests",
            max(2 * max_concurrent_calls, GRPC_PENDING_SOFT_DEFAULT),
        ),
        (
            "grpc.server.max_pending_requests_hard_limit",
            max(3 * max_concurrent_calls, GRPC_PENDING_HARD_DEFAULT),
        ),
    ]


def _add_services(
    server: grpc.aio.Server, service: FlowService, interceptors: list[ServiceInterceptor]
) -> DrainingHealthServicer:
    """FlowService with its handlers wrapped by `interceptors`, health and
    reflection as they are; returns the health servicer."""
    add_flow_service = flow_service_pb2_grpc.add_FlowServiceServicer_to_server
    add_wrapped(server, add_flow_service, service, interceptors)
    health_servicer = DrainingHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    return health_servicer


async def start_server(
    config: ServerConfig, registry: ProviderRegistry | None = None
) -> RunningServer:
    """Start serving; `registry` replaces the configured providers (tests).

    When starting fails (the port is taken, a TLS file cannot be read), what
    was already created is closed before the error propagates, `registry`
    included, as `RunningServer.stop()` would have.
    """
    quiet_sensitive_loggers()
    problems = config.problems()
    if problems:
        raise ValueError("invalid server configuration: " + "; ".join(problems))
    async with contextlib.AsyncExitStack() as undo:
        running = await _start(config, registry, undo)
        undo.pop_all()
    return running


async def _start(
    config: ServerConfig, registry: ProviderRegistry | None, undo: contextlib.AsyncExitStack
) -> RunningServer:
    """Each thing created is pushed on `undo` as soon as it exists."""
    egress = egress_policy(config)
    registry = registry or create_registry(config, egress)
    undo.push_async_callback(registry.aclose)
    http = new_http_client(egress)
    undo.push_async_callback(http.aclose)
    metrics = Metrics()
    admission = AdmissionGate(config.limits.max_concurrent_calls, metrics)
    server = grpc.aio.server(options=_server_options(config))
    undo.push_async_callback(server.stop, None)
    service = FlowService(config, registry, http=http, egress=egress, metrics=metrics)
    health_servicer = _add_services(server, service, _interceptors(config, metrics, admission))
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
    return RunningServer(
        server, port, health_servicer, registry, config, http, metrics, admission, endpoint
    )


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


@dataclass
class _Signals:
    """The first SIGTERM/SIGINT starts the shutdown, a second one skips the
    rest of the shutdown delay."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    hurry: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self) -> None:
        if self.stop.is_set():
            if not self.hurry.is_set():
                log.info("second signal: skipping the rest of the shutdown delay")
            self.hurry.set()
        self.stop.set()


async def serve_until_signalled(config: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, then shut down the way a balancer can see."""
    signals = _Signals()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signals.received)
    running = await start_server(config)
    try:
        print(f"botflow listening on {running.target}", flush=True)
        await signals.stop.wait()
        log.info(
            "shutting down",
            extra={
                "shutdown_delay_seconds": config.shutdown_delay_seconds,
                "grace_seconds": config.grace_seconds,
            },
        )
    finally:
        await running.stop(delay=config.shutdown_delay_seconds, hurry=signals.hurry)
    log.info("stopped")
