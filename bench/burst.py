"""A burst of concurrent slow ExecuteAction calls, against a bare grpc.aio baseline.

    .venv/bin/python bench/burst.py [--calls 10000] [--latency-ms 2000]

Scenario "burst": `botflow serve` on default settings (providers fake; logs at
WARNING) gets `--calls` ExecuteAction calls at once,
each an OpenAI action on the fake provider answering after `--latency-ms`.
Every call should succeed. The wall time is the latency plus the time the
server needs to take in and answer every call: on a small machine it is bound
by the server's per-call CPU, not by waiting.

Scenario "baseline": the same burst against a bare grpc.aio server whose
handler only sleeps that long, with the same pending-queue options: what grpc
itself costs. botflow's wall time is reported as a ratio of it.

Scenario "limit": `--max-concurrent-calls 1000` with 2,000 calls: exactly
1,000 RESOURCE_EXHAUSTED carrying a RetryInfo, the rest OK, nothing CANCELLED.
Its calls take 10 s, not `--latency-ms`: "exactly" holds only if every call
reaches the server before the first admitted one ends, and a busy 2-core
machine takes seconds to take in 2,000 calls.

Servers and the client run as separate processes on loopback; the client is
this script again (`--client`). Figures are printed and written as JSON under
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from botflow.server import defaults
from botflow.server.app import pending_queue_options
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub

RESULTS = Path(__file__).with_name("results")
LIMIT, LIMIT_CALLS, LIMIT_LATENCY_MS = 1000, 2000, 10_000
SLEEP_METHOD = "/bench.Sleep/Sleep"
SLEEP_SERVER = """
import asyncio, json, sys, grpc
async def main(seconds, options):
    async def sleep(request, context):
        await asyncio.sleep(seconds)
        return request
    server = grpc.aio.server(options=[tuple(o) for o in options])
    handler = grpc.unary_unary_rpc_method_handler(sleep)
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("bench.Sleep", {"Sleep": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()
asyncio.run(main(float(sys.argv[1]), json.loads(sys.argv[2])))
"""


@dataclass
class Outcome:
    """What one client process saw."""

    calls: int
    codes: dict[str, int]
    retry_info: int
    wall_seconds: float
    issue_seconds: float
    latencies_ms: list[float] = field(repr=False)


@dataclass
class Report:
    scenario: str
    calls: int
    latency_ms: int
    ok: int
    other_codes: dict[str, int]
    exhausted_with_retry_info: int
    wall_seconds: float
    wall_over_latency: float
    issue_seconds: float
    p50_ms: float
    p99_ms: float
    server_peak_rss_mb: float


def request(latency_ms: int) -> ExecuteActionRequest:
    action = OpenAIAction(
        token="sk-bench",
        prompt="You are a support bot.",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        provider="fake",
        answer_variable="answer",
        provider_options={"latency_ms": str(latency_ms), "reply": "ok"},
    )
    return ExecuteActionRequest(action=Action(openai=action))


def _has_retry_info(error: grpc.aio.AioRpcError) -> bool:
    status = rpc_status.from_call(error)
    if status is None:
        return False
    return any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)


async def _burst(target: str, kind: str, calls: int, latency_ms: int, channels: int) -> Outcome:
    codes: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    retry_info = 0
    payload = request(latency_ms)
    raw = payload.SerializeToString()
    opened = [grpc.aio.insecure_channel(target) for _ in range(channels)]
    sleepers: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [
        channel.unary_unary(SLEEP_METHOD) for channel in opened
    ]
    stubs = [FlowServiceStub(channel) for channel in opened]
    for channel in opened:
        await channel.channel_ready()

    async def one(i: int) -> None:
        nonlocal retry_info
        started = time.perf_counter()
        try:
            if kind == "sleep":
                await sleepers[i % channels](raw, timeout=120)
            else:
                await stubs[i % channels].ExecuteAction(payload, timeout=120)
            codes["OK"] += 1
        except grpc.aio.AioRpcError as error:
            codes[error.code().name] += 1
            retry_info += error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and _has_retry_info(
                error
            )
        latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(one(i)) for i in range(calls)]
    # One loop iteration runs each task up to its first await: every call is sent.
    await asyncio.sleep(0)
    issued = time.perf_counter() - started
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    for channel in opened:
        await channel.close()
    return Outcome(calls, dict(codes), retry_info, wall, issued, latencies)


def _start(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"server did not start: {command}")
    return process, line.rsplit(" ", 1)[1].strip()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _peak_rss_mb(pid: int) -> float:
    """Peak RSS of the server: the process plus its workers (`--workers`)."""
    total = 0.0
    for process in (pid, *_children(pid)):
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def _client(target: str, kind: str, calls: int, latency_ms: int, channels: int) -> Outcome:
    """The burst, fired from its own process so the client's CPU is not the server's."""
    command = [
        sys.executable,
        __file__,
        "--client",
        target,
        "--kind",
        kind,
        "--calls",
        str(calls),
        "--latency-ms",
        str(latency_ms),
        "--channels",
        str(channels),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return Outcome(**json.loads(done.stdout))


def _report(scenario: str, outcome: Outcome, latency_ms: int, rss_mb: float) -> Report:
    ordered = sorted(outcome.latencies_ms)
    return Report(
        scenario=scenario,
        calls=outcome.calls,
        latency_ms=latency_ms,
        ok=outcome.codes.get("OK", 0),
        other_codes={k: v for k, v in outcome.codes.items() if k != "OK"},
        exhausted_with_retry_info=outcome.retry_info,
        wall_seconds=round(outcome.wall_seconds, 2),
        wall_over_latency=round(outcome.wall_seconds / (latency_ms / 1000), 2),
        issue_seconds=round(outcome.issue_seconds, 2),
        p50_ms=round(statistics.median(ordered)),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]),
        server_peak_rss_mb=round(rss_mb, 1),
    )


def _run_against(
    scenario: str, command: list[str], kind: str, calls: int, latency_ms: int, channels: int
) -> Report:
    # The bench measures the burst, not the shutdown delay.
    env = {**os.environ, "BOTFLOW_SHUTDOWN_DELAY_SECONDS": "0"}
    server, target = _start(command, env)
    try:
        outcome = _client(target, kind, calls, latency_ms, channels)
        rss = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return _report(scenario, outcome, latency_ms, rss)


def _botflow(*flags: str) -> list[str]:
    executable = str(Path(sys.executable).with_name("botflow"))
    base = [executable, "serve", "--port", "0", "--providers", "fake", "--log-level", "WARNING"]
    return [*base, *flags]


def _print(report: Report) -> None:
    others = ", ".join(f"{k} {v}" for k, v in sorted(report.other_codes.items())) or "none"
    print(
        f"{report.scenario:9} {report.ok:6}/{report.calls} OK (other: {others};"
        f" RetryInfo on {report.exhausted_with_retry_info})"
        f"  wall {report.wall_seconds:6.2f}s = {report.wall_over_latency:.2f} x latency"
        f"  issue {report.issue_seconds:.2f}s"
        f"  p50 {report.p50_ms:.0f} ms  p99 {report.p99_ms:.0f} ms"
        f"  server peak RSS {report.server_peak_rss_mb:.0f} MB"
    )


def measure(calls: int, latency_ms: int, channels: int) -> None:
    options = pending_queue_options(defaults.DEFAULT_MAX_CONCURRENT_CALLS)
    sleep_server = [sys.executable, "-c", SLEEP_SERVER, str(latency_ms / 1000), json.dumps(options)]
    reports = [
        _run_against("burst", _botflow("--workers", "1"), "botflow", calls, latency_ms, channels),
        # SO_REUSEPORT spreads connections, not calls: several channels let
        # both workers take part.
        _run_against(
            "burst-2w", _botflow("--workers", "2"), "botflow", calls, latency_ms, max(channels, 8)
        ),
        _run_against("baseline", sleep_server, "sleep", calls, latency_ms, channels),
        _run_against(
            "limit",
            # The limit is per process: one worker shows it exactly.
            _botflow("--workers", "1", "--max-concurrent-calls", str(LIMIT)),
            "botflow",
            LIMIT_CALLS,
            LIMIT_LATENCY_MS,
            channels,
        ),
    ]
    for report in reports:
        _print(report)
    baseline = reports[2].wall_seconds
    ratio = reports[0].wall_seconds / baseline
    print(f"botflow burst wall / bare grpc.aio wall: {ratio:.2f} (1 worker)")
    print(f"botflow burst wall / bare grpc.aio wall: {reports[1].wall_seconds / baseline:.2f} (2)")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"burst-{time.strftime('%Y%m%dT%H%M%S')}.json"
    document = {"reports": [asdict(r) for r in reports], "wall_ratio_to_baseline": ratio}
    path.write_text(json.dumps(document, indent=2))
    print(f"written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=1, help="client channels (connections)")
    parser.add_argument("--client", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=("botflow", "sleep"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        outcome = asyncio.run(
            _burst(args.client, args.kind, args.calls, args.latency_ms, args.channels)
        )
        print(json.dumps(asdict(outcome)))
        return
    measure(args.calls, args.latency_ms, args.channels)


if __name__ == "__main__":
    main()
