"""The gRPC server options behind the connection-rebalancing flags."""

from __future__ import annotations

from botflow.server import app, defaults
from botflow.server.config import ServerConfig, config_from_env


def options(config: ServerConfig) -> dict[str, int]:
    return dict(app._server_options(config))


def test_defaults_age_connections_and_ping_idle_ones() -> None:
    found = options(ServerConfig())
    assert found["grpc.max_connection_age_ms"] == 300_000
    assert found["grpc.max_connection_age_grace_ms"] == 150_000
    assert found["grpc.keepalive_time_ms"] == 60_000
    assert found["grpc.keepalive_timeout_ms"] == 20_000
    # Clients may ping as often as docs/deploy.md tells them to (30 s).
    assert found["grpc.http2.min_ping_interval_without_data_ms"] <= 30_000


def test_grace_outlasts_the_longest_action() -> None:
    assert defaults.DEFAULT_MAX_CONNECTION_AGE_GRACE_SECONDS * 1000 > defaults.MAX_TIMEOUT_MS


def test_zero_turns_aging_and_keepalive_off() -> None:
    found = options(ServerConfig(max_connection_age_seconds=0, keepalive_time_seconds=0))
    assert "grpc.max_connection_age_ms" not in found
    assert "grpc.keepalive_time_ms" not in found


def test_flags_reach_the_options() -> None:
    config = config_from_env({}, max_connection_age_seconds=1.5, keepalive_time_seconds=7.0)
    found = options(config)
    assert found["grpc.max_connection_age_ms"] == 1_500
    assert found["grpc.keepalive_time_ms"] == 7_000


def test_an_age_past_grpcs_int_is_refused() -> None:
    config = ServerConfig(max_connection_age_seconds=3e6)
    assert any("MAX_CONNECTION_AGE_SECONDS" in p for p in config.problems())
