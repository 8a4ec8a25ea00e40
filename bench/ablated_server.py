"""`botflow serve` with parts of the per-call path switched off, for the
ablation in bench/hotpath.py (`--ablation`): what each part costs per call.
Never a way to run botflow: it replaces functions of the server in memory.

    ABLATE=nolog,nochain python bench/ablated_server.py serve --port 0 ...

- nolog: no log records at all.
- nochain: no interceptors (request ids, call logs and metrics, admission).
- nohandler: ExecuteAction answers an empty response at once (validation,
  the action and its report skipped).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from botflow.server import app, cli, service
from botflow.v1.flow_service_pb2 import ExecuteActionResponse

PARTS = frozenset(filter(None, os.environ.get("ABLATE", "").split(",")))


async def _answer_at_once(self: Any, request: Any, context: Any) -> ExecuteActionResponse:
    return ExecuteActionResponse()


def switch_off(parts: frozenset[str]) -> None:
    if "nolog" in parts:
        logging.disable(logging.CRITICAL)
    if "nochain" in parts:
        app._interceptors = lambda *args, **kwargs: []
    if "nohandler" in parts:
        service.FlowService.ExecuteAction = _answer_at_once  # type: ignore[method-assign]
    unknown = parts - {"nolog", "nochain", "nohandler"}
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))}")


if __name__ == "__main__":
    switch_off(PARTS)
    sys.argv[0] = "botflow"
    sys.exit(cli.main())
