"""A real `botflow serve` child process on a free loopback port, for tests
whose callers are other processes (a clean venv, README snippets, `botflow
run-flow`): an in-process server would stall while the test blocks on those
processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

BOTFLOW = Path(sys.executable).with_name("botflow")
LISTENING = re.compile(r"^botflow listening on (\S+)$")
# Only turns a hung start or stop into a failure; nothing is measured.
STOP_SECONDS = 15
# Likewise for one `botflow run-flow`.
RUN_FLOW_SECONDS = 60


def _env() -> dict[str, str]:
    """The defaults the tests assume, whatever BOTFLOW_* the shell has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTFLOW_")}
    return env | {"BOTFLOW_LOG_LEVEL": "WARNING", "BOTFLOW_SHUTDOWN_DELAY_SECONDS": "0"}


@contextmanager
def botflow_server(extra_args: Sequence[str] = ()) -> Iterator[str]:
    """Yields the server's "HOST:PORT"; stops it afterwards. `extra_args`
    come last, so they override the defaults here (`--providers fake`)."""
    args = [str(BOTFLOW), "serve", "--host", "127.0.0.1", "--port", "0"]
    args += ["--providers", "fake,openai", *extra_args]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=_env()) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            match = LISTENING.match(line)
            assert match, f"botflow did not start: first line {line!r}"
            yield match[1]
        finally:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()


def run_flow_cli(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`botflow run-flow --target TARGET ARGS...` as a person runs it; never raises
    for its exit code, which the test checks."""
    return subprocess.run(
        [str(BOTFLOW), "run-flow", "--target", target, *args],
        capture_output=True,
        text=True,
        timeout=RUN_FLOW_SECONDS,
        check=False,
    )
