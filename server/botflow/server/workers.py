"""`botflow serve --workers N`: N processes serving one port, supervised.

grpc.aio runs one event loop on one core, so a busy server uses one core of
many. Each worker here is a whole server (its own process, event loop,
providers and metrics) bound to the same port: grpc sets SO_REUSEPORT on Linux
(`grpc.so_reuseport`, on by default), and the kernel spreads new connections
over the workers' listening sockets.

The parent only supervises:
- with port 0 it picks the port first, holding a bound (not listening)
  SO_REUSEPORT socket on it while workers start, so every worker binds the
  same port and no other process can take it in between;
- it prints "botflow listening on HOST:PORT" once, after every worker is up;
- a worker that exits on its own is started again; one that cannot start at
  all (port taken, bad TLS file) stops everything, as a single server would;
- SIGTERM/SIGINT is passed to every worker (a second one too, which skips the
  rest of the shutdown delay), and the parent returns once all have drained.

Metrics: one endpoint per worker. Worker i serves /metrics on
`metrics_port + i` (any free port when metrics_port is 0); each is a scrape
target and sums across workers add up (PromQL `sum by (...)`). Prometheus'
multiprocess mode was not used: it needs a shared directory set before
prometheus_client is imported and does not support every metric type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

from botflow.server.app import start_server
from botflow.server.config import ServerConfig
from botflow.server.logs import configure_logging

log = logging.getLogger(__name__)

# Spawned, not forked: a forked child would inherit grpc's threads and state.
_CONTEXT = multiprocessing.get_context("spawn")
# A worker has this long to start listening (imports, providers) before the
# parent gives up; only turns a hung start into an error.
START_TIMEOUT_SECONDS = 60.0
# How often the supervisor looks at its workers between events.
POLL_SECONDS = 0.5
# A worker that keeps dying is restarted at most this often.
RESTART_BACKOFF_SECONDS = 1.0
EXIT_WORKER_FAILED = 1


def count(config: ServerConfig) -> int:
    """How many processes `config` asks for: `workers`, or one per core."""
    return config.workers or os.cpu_count() or 1


@dataclass(frozen=True)
class Ready:
    """What a worker tells the parent once it serves."""

    pid: int
    port: int
    metrics_port: int | None


def worker_config(config: ServerConfig, index: int, port: int) -> ServerConfig:
    """Worker `index`'s settings: the shared port, its own metrics port."""
    metrics = config.metrics_port
    if metrics:
        metrics += index
    return replace(config, port=port, metrics_port=metrics, workers=1)


# --- the worker process -------------------------------------------------------


def worker_main(config: ServerConfig, conn: Connection) -> None:
    """The entry point of a worker process (spawned by the parent)."""
    # Its own process group: a Ctrl-C in a terminal reaches only the parent,
    # which passes it on once (two would skip the shutdown delay).
    os.setpgrp()
    configure_logging(config.log_format, config.log_level)
    asyncio.run(_serve_worker(config, conn))


async def _serve_worker(config: ServerConfig, conn: Connection) -> None:
    stop, hurry = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def received() -> None:
        if stop.is_set():
            hurry.set()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, received)
    # The parent never writes: readable means its end closed, i.e. the parent
    # died. Stop rather than serve on unsupervised.
    loop.add_reader(conn.fileno(), received)
    running = await start_server(config)
    try:
        endpoint = running.metrics_endpoint
        conn.send(Ready(os.getpid(), running.port, endpoint.port if endpoint else None))
        await stop.wait()
        log.info(
            "shutting down",
            extra={
                "pid": os.getpid(),
                "shutdown_delay_seconds": config.shutdown_delay_seconds,
                "grace_seconds": config.grace_seconds,
            },
        )
    finally:
        loop.remove_reader(conn.fileno())
        await running.stop(delay=config.shutdown_delay_seconds, hurry=hurry)


# --- the parent ---------------------------------------------------------------


@contextlib.contextmanager
def reserved_port(config: ServerConfig) -> Iterator[int]:
    """The port every worker binds: `config.port`, or for 0 a free one held
    by a bound SO_REUSEPORT socket until the block ends."""
    if config.port != 0:
        yield config.port
        return
    family, kind, proto, _, address = socket.getaddrinfo(config.host, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(address)
        yield int(holder.getsockname()[1])


class WorkerFailedError(RuntimeError):
    """A worker exited before it served."""


@dataclass
class Worker:
    index: int
    process: BaseProcess
    conn: Connection
    started: float


class Supervisor:
    """Starts, watches and stops the workers of one port."""

    def __init__(self, config: ServerConfig, port: int, size: int) -> None:
        self.config = config
        self.port = port
        self.size = size
        self.workers: list[Worker] = []
        self.stopping = False

    def start_all(self) -> None:
        self.workers = [self._spawn(i) for i in range(self.size)]
        for worker in self.workers:
            self._await_ready(worker)

    def signal(self, signum: int) -> None:
        """Pass SIGTERM/SIGINT on to every worker; from now on none restarts."""
        self.stopping = True
        for worker in self.workers:
            if worker.process.pid is not None and worker.process.is_alive():
                os.kill(worker.process.pid, signum)

    def supervise(self) -> int:
        """Restart workers that die until stopping; then wait for all to exit."""
        while True:
            wait([w.process.sentinel for w in self.workers], timeout=POLL_SECONDS)
            if self.stopping:
                if all(not w.process.is_alive() for w in self.workers):
                    return self._exit_code()
                continue
            for position, worker in enumerate(self.workers):
                if not worker.process.is_alive():
                    self._restart(position, worker)

    def _exit_code(self) -> int:
        codes = [w.process.exitcode for w in self.workers]
        return 0 if all(code == 0 for code in codes) else EXIT_WORKER_FAILED

    def _spawn(self, index: int) -> Worker:
        parent_end, child_end = _CONTEXT.Pipe()
        config = worker_config(self.config, index, self.port)
        process = _CONTEXT.Process(
            target=worker_main, args=(config, child_end), name=f"botflow-worker-{index}"
        )
        process.start()
        child_end.close()
        return Worker(index, process, parent_end, time.monotonic())

    def _await_ready(self, worker: Worker) -> Ready:
        ready = wait([worker.conn, worker.process.sentinel], timeout=START_TIMEOUT_SECONDS)
        if worker.conn not in ready:
            raise WorkerFailedError(
                f"worker {worker.index} exited with {worker.process.exitcode} before serving"
            )
        message: Ready = worker.conn.recv()
        log.info(
            "worker started",
            extra={
                "worker": worker.index,
                "pid": message.pid,
                "metrics_port": message.metrics_port,
            },
        )
        return message

    def _restart(self, position: int, dead: Worker) -> None:
        log.warning(
            "worker exited; restarting",
            extra={"worker": dead.index, "pid": dead.process.pid, "code": dead.process.exitcode},
        )
        dead.conn.close()
        # A worker dying at once over and over must not spin the parent.
        since = time.monotonic() - dead.started
        if since < RESTART_BACKOFF_SECONDS:
            time.sleep(RESTART_BACKOFF_SECONDS - since)
        # In the list before it is ready, so a signal meanwhile reaches it too.
        self.workers[position] = worker = self._spawn(dead.index)
        try:
            self._await_ready(worker)
        except WorkerFailedError as error:
            log.error("worker restart failed", extra={"error": str(error)})

    def kill_all(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join()


def run(config: ServerConfig) -> int:
    """`botflow serve` with several workers, until they drained after a signal."""
    size = count(config)
    with reserved_port(config) as port:
        supervisor = Supervisor(config, port, size)

        def forward(signum: int, _frame: FrameType | None) -> None:
            supervisor.signal(signum)

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, forward)
        try:
            supervisor.start_all()
        except WorkerFailedError as error:
            log.error("could not start", extra={"error": str(error)})
            supervisor.kill_all()
            return EXIT_WORKER_FAILED
        print(f"botflow listening on {config.host}:{port}", flush=True)
        log.info("serving", extra={"workers": size, "address": f"{config.host}:{port}"})
        code = supervisor.supervise()
    log.info("stopped")
    return code
