"""bench/results/scale.json (from bench/scale.py) into bench/RESULTS.md and
bench/latency.png: the ratios, the machine, and latency against concurrency.

    .venv/bin/python bench/plot.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a build machine
import matplotlib.pyplot as plt  # after choosing the backend

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "scale.json"
PLOT = BENCH / "latency.png"
REPORT = BENCH / "RESULTS.md"
SERIES = {"sweep_one_worker": "1 worker", "sweep_two_workers": "2 workers"}


def plot(run: dict[str, Any]) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    for key, label in SERIES.items():
        points = run[key]
        concurrency = [p["concurrency"] for p in points]
        axes.plot(concurrency, [p["p50_ms"] for p in points], marker="o", label=f"{label} p50")
        axes.plot(
            concurrency, [p["p99_ms"] for p in points], marker="x", ls="--", label=f"{label} p99"
        )
    axes.set_xscale("log", base=2)
    axes.set_xlabel("concurrent calls (ghz --concurrency)")
    axes.set_ylabel("ExecuteAction latency (ms)")
    axes.set_title("botflow ExecuteAction (fake provider), loopback")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)


def _row(name: str, point: dict[str, Any]) -> str:
    return (
        f"| {name} | {point['rps']:.0f} | {point['p50_ms']:.1f} | {point['p99_ms']:.1f} "
        f"| {point['not_ok']} |"
    )


def report(run: dict[str, Any]) -> str:
    m = run["machine"]
    lines = [
        "# Scaling benchmark (`make bench`)",
        "",
        "Written by `bench/plot.py` from one run of `bench/scale.py`; the ratios",
        "are what to compare between runs (absolute rates depend on the machine,",
        "and the load generator shares its cores with the servers).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['system']}.",
        f"Load: ghz, {run['calls']} ExecuteAction calls per figure (fake provider,",
        f"10-message conversation), concurrency {run['concurrency']}, 8 connections;",
        "ExecuteAction vs echo from `bench/rpc_throughput.py` (Python client).",
        "",
        "| ratio (throughput) | measured |",
        "|---|---|",
        *(f"| {name} | {value:.2f} |" for name, value in run["ratios"].items()),
        "",
        "| setup | calls/s | p50 ms | p99 ms | failed calls |",
        "|---|---|---|---|---|",
        _row("1 server, 1 worker", run["one_worker"]),
        _row("1 server, 2 workers", run["two_workers"]),
        _row("1 server (direct)", run["one_server"]),
        _row("1 replica behind nginx", run["one_replica_nginx"]),
        _row("2 replicas behind nginx", run["two_replicas_nginx"]),
        "",
        "![latency against concurrency](latency.png)",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    run = json.loads(RESULTS.read_text())
    plot(run)
    REPORT.write_text(report(run) + NOTES)
    print(f"wrote {REPORT.name} and {PLOT.name}")


NOTES = """
## Reading the figures

- On a 2-core machine the load generator (ghz), the servers and nginx all
  compete for the same two cores, so "2 workers" or "2 replicas" cannot show
  anything near 2x: the ratio is a floor for what separate cores or machines
  give, not a ceiling. Run `make bench` on a bigger machine for that.
- Behind nginx every call crosses one more hop (and nginx's own worker
  processes take CPU), so "2 replicas behind nginx / 1 server" mixes the
  proxy's cost with the gain of a second replica; "2 replicas / 1 replica,
  both behind nginx" separates them.
"""


if __name__ == "__main__":
    main()
