"""`botflow serve` replicas (subprocesses) under a steady load, for the
scaling tests: their JSON logs, their per-process metrics, and a load of
concurrent callers that counts every call that failed.

Everything runs on loopback; loops are bounded by call counts, never by time.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from tests.integration.helpers import openai_request

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

BOTFLOW = Path(sys.executable).with_name("botflow")
SERVICE = "botflow.v1.FlowService"
# Only turn a hung start or stop into a failure; nothing is measured.
PATIENCE_SECONDS = 30.0
# Client-side balancing with client-side health checking (docs/deploy.md).
ROUND_ROBIN_CONFIG = json.dumps(
    {"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": SERVICE}}
)


class Replica:
    """One `botflow serve --port 0 --metrics-port 0` process (fake provider)."""

    def __init__(self, args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        command = [str(BOTFLOW), "serve", "--host", "127.0.0.1", "--port", "0"]
        command += ["--providers", "fake", "--metrics-port", "0"]
        # One process unless asked: the default is one per core.
        command += [*args] if "--workers" in args else ["--workers", "1", *args]
        self.supervised = command[command.index("--workers") + 1] != "1"
        base = {k: v for k, v in os.environ.items() if not k.startswith("BOTFLOW_")}
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=base | {"BOTFLOW_LOG_FORMAT": "json", "BOTFLOW_LOG_LEVEL": "INFO", **(env or {})},
        )
        self.logs: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read_logs, daemon=True).start()
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith("botflow listening on "), f"no listening line: {line!r}"
        self.target = line.rsplit(" ", 1)[1]
        self.port = int(self.target.rsplit(":", 1)[1])

    def _read_logs(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.logs.put(json.loads(line))

    def wait_log(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first log entry (seen before or arriving) that `match` accepts."""
        for entry in self.seen:
            if match(entry):
                return entry
        while True:
            entry = self.logs.get(timeout=PATIENCE_SECONDS)
            self.seen.append(entry)
            if match(entry):
                return entry

    def metrics_ports(self, count: int = 1) -> list[int]:
        """The /metrics ports of a single server, or of `count` workers."""
        if not self.supervised:
            entry = self.wait_log(lambda e: e["msg"] == "metrics")
            return [int(entry["address"].rsplit(":", 1)[1])]
        return [int(e["metrics_port"]) for e in self.workers_started(count)]

    def workers_started(self, count: int) -> list[dict[str, Any]]:
        """The first `count` "worker started" entries (pid, worker, metrics_port)."""

        def started() -> list[dict[str, Any]]:
            return [e for e in self.seen if e["msg"] == "worker started"]

        self.wait_log(lambda _entry: len(started()) >= count)
        return started()[:count]

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait_exit(self) -> int:
        return self.process.wait(PATIENCE_SECONDS)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(PATIENCE_SECONDS)
        assert self.process.stdout is not None
        self.process.stdout.close()


def rpcs_served(metrics_port: int, method: str = "ExecuteAction") -> float:
    """botflow_rpcs_total of `method`, every status, from one /metrics."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    wanted = f'method="{method}"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("botflow_rpcs_total{") and wanted in line
    )


@dataclass
class Load:
    """`callers` concurrent ExecuteAction loops until `stop` (or their bound)."""

    stubs: Sequence[FlowServiceAsyncStub]
    callers: int = 4
    calls_per_caller: int = 2_500
    wait_for_ready: bool = False
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # Set on every finished call (and at the end): wakes until().
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        try:
            await asyncio.gather(*(self._caller(i) for i in range(self.callers)))
        finally:
            self.stop.set()  # also ends until(): the callers' bound was reached
            self.progress.set()

    async def _caller(self, index: int) -> None:
        request: ExecuteActionRequest = openai_request(prompt=f"caller {index}")
        for n in range(self.calls_per_caller):
            if self.stop.is_set():
                return
            stub = self.stubs[(index + n) % len(self.stubs)]
            try:
                await stub.ExecuteAction(request, timeout=20, wait_for_ready=self.wait_for_ready)
                self.ok += 1
            except grpc.aio.AioRpcError as error:
                self.failures.append(f"{error.code().name}: {error.details()}")
            self.progress.set()

    async def until(self, calls: int) -> None:
        """Until `calls` more calls succeeded (bounded by the callers' bound)."""
        target = self.ok + calls
        while self.ok < target and not self.stop.is_set():
            self.progress.clear()
            await self.progress.wait()

    async def until_all(self, check: Callable[[], bool]) -> None:
        """Keep loading until `check()` holds; polls between calls."""
        while not check():
            assert not self.stop.is_set(), "the load ended first (its bound is too small)"
            await self.until(50)
