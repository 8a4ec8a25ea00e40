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

from botflow.server import run_flow_cli
from botflow.server.app import serve_until_signalled
from botflow.server.config import config_from_env
from botflow.server.logs import configure_logging


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the gRPC server until SIGTERM/SIGINT")
    p.add_argument("--host", help="interface to bind (BOTFLOW_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port; 0 = any free (BOTFLOW_PORT, default 50051)")
    p.add_argument("--providers", type=_csv, help="enabled providers (BOTFLOW_PROVIDERS)")
    p.add_argument("--default-model", help="model when an action names none")
    p.add_argument("--openai-base-url", help="endpoint of the openai provider")
    p.add_argument("--grace-seconds", type=float, help="drain time on shutdown")
    p.add_argument(
        "--shutdown-delay-seconds",
        type=float,
        help="after SIGTERM, NOT_SERVING but still accepting for this long (default 5)",
    )
    p.add_argument(
        "--max-concurrent-calls",
        type=int,
        help="calls at once; more are RESOURCE_EXHAUSTED (default 10000)",
    )
    p.add_argument(
        "--max-run-bytes", type=int, help="bytes of events and variables one RunFlow may produce"
    )
    p.add_argument("--log-format", choices=("json", "text"))
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
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


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    if command == "serve":
        config = config_from_env(**args)
        if config.problems():
            print("botflow serve: " + "; ".join(config.problems()), file=sys.stderr)
            return 2
        configure_logging(config.log_format, config.log_level)
        asyncio.run(serve_until_signalled(config))
        return 0
    target = args["target"] or os.environ.get("BOTFLOW_TARGET") or run_flow_cli.DEFAULT_TARGET
    return run_flow_cli.run(argparse.Namespace(**args), target)


if __name__ == "__main__":
    raise SystemExit(main())
