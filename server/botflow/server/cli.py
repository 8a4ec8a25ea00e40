"""The `botflow` command.

    botflow serve [--host H] [--port P] [--providers openai,fake] ...
    botflow run-flow FLOW.json [--var NAME=VALUE] [--resume BLOCK --answer TEXT]

Every flag has a BOTFLOW_* environment variable (the flag wins); see the README.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from botflow.providers.registry import available_factories
from botflow.server import defaults, run_flow_cli, workers
from botflow.server.app import serve_until_signalled
from botflow.server.config import (
    LOG_FORMATS,
    LOG_LEVELS,
    ConfigError,
    ServerConfig,
    config_from_env,
)
from botflow.server.logs import configure_logging

# A setting that cannot work, like a bad flag (argparse's code).
EXIT_BAD_SETTINGS = 2


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the gRPC server until SIGTERM/SIGINT")
    p.add_argument(
        "--host", help=f"interface to bind (BOTFLOW_HOST, default {defaults.DEFAULT_HOST})"
    )
    p.add_argument(
        "--port",
        type=int,
        help=f"port; 0 = any free (BOTFLOW_PORT, default {defaults.DEFAULT_PORT})",
    )
    p.add_argument("--providers", type=_csv, help="enabled providers (BOTFLOW_PROVIDERS)")
    p.add_argument(
        "--default-model",
        help="the default provider's model when an action names none "
        "(alias of BOTFLOW_PROVIDER_<NAME>_MODEL, which wins)",
    )
    p.add_argument(
        "--openai-base-url",
        help="alias of BOTFLOW_PROVIDER_OPENAI_BASE_URL (which wins): the openai endpoint",
    )
    p.add_argument("--grace-seconds", type=float, help="drain time on shutdown")
    p.add_argument(
        "--shutdown-delay-seconds",
        type=float,
        help="after SIGTERM, NOT_SERVING but still accepting for this long "
        f"(default {defaults.DEFAULT_SHUTDOWN_DELAY_SECONDS:g})",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="processes sharing the port, each its own event loop (default: one per core)",
    )
    p.add_argument(
        "--max-connection-age-seconds",
        type=float,
        help="GOAWAY a connection this old so clients rebalance; 0 = never "
        f"(default {defaults.DEFAULT_MAX_CONNECTION_AGE_SECONDS:g})",
    )
    p.add_argument(
        "--max-connection-age-grace-seconds",
        type=float,
        help="calls on an aged connection may run this much longer "
        f"(default {defaults.DEFAULT_MAX_CONNECTION_AGE_GRACE_SECONDS:g})",
    )
    p.add_argument(
        "--keepalive-time-seconds",
        type=float,
        help="ping idle connections this often "
        f"(default {defaults.DEFAULT_KEEPALIVE_TIME_SECONDS:g})",
    )
    p.add_argument(
        "--keepalive-timeout-seconds",
        type=float,
        help="close a connection whose ping is unanswered this long "
        f"(default {defaults.DEFAULT_KEEPALIVE_TIMEOUT_SECONDS:g})",
    )
    p.add_argument(
        "--max-concurrent-calls",
        type=int,
        help="calls at once; more are RESOURCE_EXHAUSTED "
        f"(default {defaults.DEFAULT_MAX_CONCURRENT_CALLS})",
    )
    p.add_argument(
        "--max-run-bytes", type=int, help="bytes of events and variables one RunFlow may produce"
    )
    p.add_argument("--log-format", choices=LOG_FORMATS)
    p.add_argument("--log-level", choices=LOG_LEVELS)
    p.add_argument("--max-timeout-ms", type=int, help="cap on an action's timeout_ms")
    p.add_argument("--max-attempts", type=int, help="cap on an action's max_attempts")
    p.add_argument("--max-steps", type=int, help="cap on a run's max_steps")
    p.add_argument("--max-message-bytes", type=int, help="gRPC message size limit")
    p.add_argument(
        "--egress-allow",
        type=_csv,
        help="hosts/CIDRs outbound requests may reach despite the egress policy",
    )
    p.add_argument(
        "--max-response-bytes", type=int, help="cap on a webhook or provider answer (decoded)"
    )
    p.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    p.add_argument("--metrics-host", help="interface of the metrics endpoint (default: --host)")
    p.add_argument("--tls-cert", help="PEM certificate chain: serve TLS (with --tls-key)")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--tls-client-ca", help="PEM CA: require client certificates (mutual TLS)")
    # The caller token comes from BOTFLOW_AUTH_TOKEN only: a flag would show in `ps`.


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="botflow", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    run_flow_cli.add_parser(sub)
    return parser


def _settings(args: dict[str, Any]) -> tuple[ServerConfig | None, list[str]]:
    """The configuration of `serve`, or None and every problem with it."""
    try:
        config = config_from_env(**args)
    except ConfigError as error:
        return None, error.problems
    problems = config.problems(known_providers=available_factories())
    return (None if problems else config), problems


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    if command == "serve":
        config, problems = _settings(args)
        if config is None:
            for problem in problems:
                print(f"botflow serve: {problem}", file=sys.stderr)
            return EXIT_BAD_SETTINGS
        configure_logging(config.log_format, config.log_level)
        if workers.count(config) > 1:
            return workers.run(config)
        asyncio.run(serve_until_signalled(config))
        return 0
    target = args["target"] or os.environ.get("BOTFLOW_TARGET") or run_flow_cli.DEFAULT_TARGET
    return run_flow_cli.run(argparse.Namespace(**args), target)


if __name__ == "__main__":
    raise SystemExit(main())
