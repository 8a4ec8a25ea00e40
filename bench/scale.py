"""Scaling figures in one run, as ratios: workers 2 vs 1, two replicas behind
nginx vs one server; and latency against concurrency for bench/plot.py.
(The hot-path ratios, ExecuteAction vs a bare echo among them, come from
bench/hotpath.py.)

    make bench          (installs ghz, nginx and matplotlib first)
    .venv/bin/python bench/scale.py --ghz bench/.bin/ghz [--calls 6000]

Load comes from ghz (a native gRPC load generator, so the client is not the
Python process being measured) through FlowService's proto. Everything is on loopback on the same
machine as the load generator, so absolute numbers say little; the ratios,
measured minutes apart in one run, are the figures. Results go to
bench/results/scale.json; bench/plot.py turns them into bench/RESULTS.md's
plot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from hotpath import execute_request

ROOT = Path(__file__).resolve().parents[1]
BOTFLOW = Path(sys.executable).with_name("botflow")
RESULTS = ROOT / "bench" / "results" / "scale.json"
METHOD = "botflow.v1.FlowService.ExecuteAction"
# ghz opens this many connections, so SO_REUSEPORT spreads them over workers
# and nginx over replicas.
CONNECTIONS = 8
CONCURRENCY = 32
SWEEP = (1, 4, 16, 64)
NGINX_CONF = """
daemon off;
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream botflow {{
{servers}        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{
            grpc_pass grpc://botflow;
            grpc_next_upstream error timeout non_idempotent;
        }}
    }}
}}
"""


def request_json() -> str:
    """The ExecuteAction request of bench/hotpath.py's figures, as ghz's JSON."""
    return json_format.MessageToJson(execute_request())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def botflow(workers: int) -> Iterator[str]:
    command = [str(BOTFLOW), "serve", "--port", "0", "--providers", "fake"]
    command += ["--workers", str(workers), "--log-level", "WARNING"]
    command += ["--shutdown-delay-seconds", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        try:
            yield line.rsplit(" ", 1)[1].strip()
        finally:
            process.terminate()
            process.wait(30)


@contextmanager
def nginx(targets: Sequence[str]) -> Iterator[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        servers = "".join(f"        server {t};\n" for t in targets)
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, servers=servers))
        command = [binary, "-p", tmp, "-c", str(conf), "-e", f"{tmp}/error.log"]
        with subprocess.Popen(command) as process:
            try:
                _wait_listening(port)
                yield f"127.0.0.1:{port}"
            finally:
                process.terminate()
                process.wait(30)


def _wait_listening(port: int) -> None:
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def ghz(binary: str, target: str, calls: int, concurrency: int) -> dict[str, Any]:
    """One ghz run: calls per second and latency percentiles in ms."""
    # The request holds botflow templates ({{key}}): not ghz's to fill in.
    command = [binary, "--insecure", "--call", METHOD, "--format", "json"]
    command += ["--disable-template-functions", "--disable-template-data"]
    command += ["--proto", "protos/botflow/v1/flow_service.proto", "--import-paths", "protos"]
    command += ["--total", str(calls), "--concurrency", str(concurrency)]
    command += ["--connections", str(min(CONNECTIONS, concurrency)), "--data", request_json()]
    command.append(target)
    report = json.loads(subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout)
    latencies = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"]}
    codes: dict[str, int] = report.get("statusCodeDistribution", {})
    return {
        "rps": report["rps"],
        "p50_ms": latencies[50],
        "p99_ms": latencies[99],
        "calls": calls,
        "concurrency": concurrency,
        "not_ok": sum(count for code, count in codes.items() if code != "OK"),
    }


def measure(ghz_binary: str, calls: int) -> dict[str, Any]:
    run: dict[str, Any] = {"machine": machine(), "calls": calls, "concurrency": CONCURRENCY}
    with botflow(1) as one:
        ghz(ghz_binary, one, calls // 4, CONCURRENCY)  # warm-up
        run["one_worker"] = ghz(ghz_binary, one, calls, CONCURRENCY)
        run["sweep_one_worker"] = [ghz(ghz_binary, one, calls, c) for c in SWEEP]
    with botflow(2) as two:
        ghz(ghz_binary, two, calls // 4, CONCURRENCY)
        run["two_workers"] = ghz(ghz_binary, two, calls, CONCURRENCY)
        run["sweep_two_workers"] = [ghz(ghz_binary, two, calls, c) for c in SWEEP]
    with botflow(1) as a, botflow(1) as b, nginx([a, b]) as proxy:
        ghz(ghz_binary, proxy, calls // 4, CONCURRENCY)
        run["one_server"] = ghz(ghz_binary, a, calls, CONCURRENCY)
        run["two_replicas_nginx"] = ghz(ghz_binary, proxy, calls, CONCURRENCY)
    with botflow(1) as a, nginx([a]) as proxy:
        run["one_replica_nginx"] = ghz(ghz_binary, proxy, calls, CONCURRENCY)
    run["ratios"] = ratios(run)
    return run


def ratios(run: dict[str, Any]) -> dict[str, float]:
    def rate(key: str) -> float:
        return float(run[key]["rps"])

    return {
        "workers 2 / 1": rate("two_workers") / rate("one_worker"),
        "2 replicas behind nginx / 1 server": rate("two_replicas_nginx") / rate("one_server"),
        "2 replicas behind nginx / 1 replica behind nginx": rate("two_replicas_nginx")
        / rate("one_replica_nginx"),
    }


def machine() -> dict[str, str | int | None]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"cpu": model, "cores": os.cpu_count(), "system": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ghz", default=str(ROOT / "bench" / ".bin" / "ghz"))
    parser.add_argument("--calls", type=int, default=6000)
    args = parser.parse_args()
    run = measure(args.ghz, args.calls)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(run, indent=2))
    for name, value in run["ratios"].items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
