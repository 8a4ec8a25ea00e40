"""`botflow run-flow`: the client's command, kept as a subcommand of the
server's `botflow` CLI. It lives in botflow-client
(botflow.client.run_flow_cli, also installed as `botflow-run-flow`) because
it only calls a server; these names stay importable from here.
"""

from botflow.client.run_flow_cli import (
    DEFAULT_TARGET,
    add_parser,
    build_request,
    describe,
    load_flow,
    load_simulation,
    next_state,
    override_provider,
    run,
    shown,
)

__all__ = [
    "DEFAULT_TARGET",
    "add_parser",
    "build_request",
    "describe",
    "load_flow",
    "load_simulation",
    "next_state",
    "override_provider",
    "run",
    "shown",
]
