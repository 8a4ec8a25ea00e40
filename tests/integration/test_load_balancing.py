"""Two replicas behind a real load balancer: SIGTERM to one under a steady
load loses no call, and both replicas served calls.

Once behind nginx's gRPC proxy (tools/install_nginx.sh installs it; make
test runs it first), once behind the client's own round_robin balancing with client-side
health checking. Each replica shuts down the way a balancer can see:
NOT_SERVING but still accepting for the shutdown delay, then drain.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.support.replicas import (
    PATIENCE_SECONDS,
    ROUND_ROBIN_CONFIG,
    SERVICE,
    Load,
    Replica,
    rpcs_served,
)

pytestmark = pytest.mark.scaling

# A delay no test waits out: once the balancer stopped choosing the replica, a
# second SIGTERM skips the rest (an event, not a time).
REPLICA_ENV = {"BOTFLOW_SHUTDOWN_DELAY_SECONDS": "60", "BOTFLOW_GRACE_SECONDS": "10"}
# Calls between two reads of the stopping replica's counter; it must not move.
QUIET_CALLS = 200
# Rounds of QUIET_CALLS before giving up on the balancer noticing NOT_SERVING.
QUIET_ROUNDS = 20
# Calls served by the surviving replica after the other exited: the load went on.
CALLS_AFTER_EXIT = 200

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream botflow {{
{servers}        # Reused HTTP/2 connections: a replica shutting down sends them GOAWAY
        # and nginx drops them while idle, so new calls connect elsewhere. With
        # a connection per call, the ones still in the replica's accept queue
        # when its port closes are reset after nginx wrote the call, which it
        # cannot resend (gRPC request bodies are streamed, not buffered).
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{
            grpc_pass grpc://botflow;
            # A refused or reset upstream connection goes to the other replica.
            # non_idempotent: gRPC calls are POSTs, which nginx otherwise never
            # retries once it wrote them to a connection, even one the
            # replica closed unread; botflow calls are stateless.
            grpc_next_upstream error timeout non_idempotent;
            grpc_next_upstream_tries 2;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(
            "nginx is missing on CI: make test's nginx target (tools/install_nginx.sh) failed"
        )
    pytest.skip("nginx not installed: run tools/install_nginx.sh (as root) to include this test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """nginx in the foreground with its own prefix, config and port."""

    def __init__(self, tmp: Path, ports: tuple[int, ...]) -> None:
        self.tmp, self.port, self.ports = tmp, free_port(), ports
        self.conf = tmp / "nginx.conf"
        self._write()
        self.command = [nginx_binary(), "-p", str(tmp), "-c", str(self.conf)]
        self.command += ["-e", str(tmp / "error.log")]
        subprocess.run([*self.command, "-t"], check=True, capture_output=True)
        self.process = subprocess.Popen(self.command)
        try:
            _wait_listening(self.port, self.process)
        except BaseException:
            self.close()
            raise

    def _write(self) -> None:
        servers = "".join(
            f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in self.ports
        )
        self.conf.write_text(NGINX_CONF.format(tmp=self.tmp, port=self.port, servers=servers))

    def remove(self, port: int) -> None:
        """Take a replica out of the upstream: a new config and a reload."""
        self.ports = tuple(p for p in self.ports if p != port)
        self._write()
        self.process.send_signal(signal.SIGHUP)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(PATIENCE_SECONDS)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert process.poll() is None, "nginx exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("nginx did not listen")


async def remove_when_not_serving(proxy: Nginx, replica: Replica) -> None:
    """What a controller does for nginx (ingress-nginx, a service registry):
    the replica's health says NOT_SERVING, so it leaves the upstream. nginx
    itself has no active health checks (those are nginx Plus)."""
    async with grpc.aio.insecure_channel(replica.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=SERVICE)
        async for answer in health.Watch(request, timeout=PATIENCE_SECONDS):
            if answer.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                proxy.remove(replica.port)
                return


@asynccontextmanager
async def two_replicas() -> AsyncIterator[tuple[Replica, Replica]]:
    a, b = await asyncio.gather(
        asyncio.to_thread(Replica, env=REPLICA_ENV), asyncio.to_thread(Replica, env=REPLICA_ENV)
    )
    try:
        yield a, b
    finally:
        a.close()
        b.close()


async def until_not_chosen(load: Load, metrics_port: int) -> None:
    """Until the balancer sends a NOT_SERVING replica no new calls: its counter
    stays put over QUIET_CALLS calls (while it still accepts them)."""
    for _ in range(QUIET_ROUNDS):
        before = rpcs_served(metrics_port)
        await load.until(QUIET_CALLS)
        if rpcs_served(metrics_port) == before:
            return
    raise AssertionError("the balancer kept sending calls to a NOT_SERVING replica")


async def sigterm_one_under_load(channel: grpc.aio.Channel, a: Replica, b: Replica) -> Load:
    """Load through `channel`; once both replicas served, SIGTERM `a`; once
    the balancer stopped choosing it, end its delay and go on until `b` served
    CALLS_AFTER_EXIT more after `a` exited."""
    (metrics_a,), (metrics_b,) = a.metrics_ports(), b.metrics_ports()
    load = Load([FlowServiceStub(channel)])
    running = asyncio.ensure_future(load.run())
    try:
        await load.until_all(lambda: rpcs_served(metrics_a) > 0 and rpcs_served(metrics_b) > 0)
        a.signal()
        await until_not_chosen(load, metrics_a)
        a.signal()
        exited = asyncio.ensure_future(asyncio.to_thread(a.wait_exit))
        while not exited.done():
            await load.until(10)
            assert not load.stop.is_set(), "the load ended before the replica exited"
        assert exited.result() == 0
        served_before = rpcs_served(metrics_b)
        await load.until_all(lambda: rpcs_served(metrics_b) >= served_before + CALLS_AFTER_EXIT)
    finally:
        load.stop.set()
        await running
    return load


async def test_nginx_grpc_proxy_sigterm_one_replica_loses_no_call(tmp_path: Path) -> None:
    async with two_replicas() as (a, b):
        proxy = Nginx(tmp_path, (a.port, b.port))
        watcher = asyncio.ensure_future(remove_when_not_serving(proxy, a))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{proxy.port}") as channel:
                load = await sigterm_one_under_load(channel, a, b)
            await watcher
        finally:
            watcher.cancel()
            proxy.close()
    errors = (tmp_path / "error.log").read_text()
    assert load.failures == [], errors
    assert load.ok > CALLS_AFTER_EXIT


async def test_client_round_robin_sigterm_one_replica_loses_no_call() -> None:
    async with two_replicas() as (a, b):
        target = f"ipv4:127.0.0.1:{a.port},127.0.0.1:{b.port}"
        options = [("grpc.service_config", ROUND_ROBIN_CONFIG)]
        async with grpc.aio.insecure_channel(target, options=options) as channel:
            load = await sigterm_one_under_load(channel, a, b)
    assert load.failures == []
    assert load.ok > CALLS_AFTER_EXIT
