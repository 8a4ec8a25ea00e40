"""The supervisor's pure parts: how many workers, each worker's settings, and
the port the parent holds for them."""

from __future__ import annotations

import os
import socket

import pytest

from botflow.server import workers
from botflow.server.config import ServerConfig, config_from_env


def test_default_is_one_worker_per_core() -> None:
    assert workers.count(ServerConfig()) == (os.cpu_count() or 1)
    assert workers.count(ServerConfig(workers=3)) == 3


def test_each_worker_gets_the_shared_port_and_its_own_metrics_port() -> None:
    config = ServerConfig(port=0, metrics_port=9090, workers=4)
    second = workers.worker_config(config, 1, 50999)
    assert (second.port, second.metrics_port, second.workers) == (50999, 9091, 1)


def test_metrics_port_zero_stays_any_free_port_per_worker() -> None:
    config = ServerConfig(metrics_port=0, workers=2)
    assert workers.worker_config(config, 1, 1234).metrics_port == 0
    assert workers.worker_config(ServerConfig(), 1, 1234).metrics_port is None


def test_port_zero_is_chosen_and_held_so_others_can_share_it() -> None:
    with workers.reserved_port(ServerConfig(host="127.0.0.1", port=0)) as port:
        assert port > 0
        # A worker's bind (grpc sets SO_REUSEPORT too) succeeds meanwhile...
        with socket.socket() as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))
        # ...and one without SO_REUSEPORT cannot take the port.
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))


def test_a_fixed_port_is_passed_through() -> None:
    with workers.reserved_port(ServerConfig(port=50123)) as port:
        assert port == 50123


@pytest.mark.parametrize("raw", ["0", "-1"])
def test_fewer_than_one_worker_is_refused(raw: str) -> None:
    config = config_from_env({"BOTFLOW_WORKERS": raw})
    assert any("BOTFLOW_WORKERS" in p for p in config.problems())
