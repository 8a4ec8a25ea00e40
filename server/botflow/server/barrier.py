"""The failure barrier (the invariant of docs/rules.md "Failures are data"):
an unexpected exception inside a block or action never ends the call. It
becomes a failed block of a kind the product knows, and the flow goes on.

- An action with an error variable (OpenAI, webhook) fails with its kind's
  `failure` error: "ProviderError: ..." or "BadResponse: ...", stored in the
  error variable like any failure, with an ActionFinished event.
- Any other block warns (`block_failed`) and the flow continues where the
  block would have gone (a choice takes its fallback).

Each one is logged once, at ERROR, with the request id (added by the log
filter), the block kind and the exception's class: never its message, which
may quote a variable or a message text.
"""

from __future__ import annotations

import logging
from typing import Any

from botflow.providers.errors import BadResponseError, ProviderError
from botflow.server import defaults
from botflow.server.blocks import ActionReply, BlockKind
from botflow.server.blocks.base import Outcome
from botflow.server.blocks.context import ActionContext
from botflow.server.events import action_finished, variables_changed, warning
from botflow.server.results import ActionRun, VariableWriter
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, Warning
from botflow.v1.flow_pb2 import Block

log = logging.getLogger("botflow.barrier")

BLOCK_FAILED = "block_failed"


def log_failure(kind: BlockKind, error: Exception) -> None:
    log.error(
        "block failed unexpectedly",
        extra={"block_kind": kind.name, "error_type": type(error).__name__},
    )


def _failed_action(
    kind: BlockKind,
    failure: type[ProviderError],
    params: Any,
    variables: Variables,
    error: Exception,
) -> ActionRun:
    detail = f"the {kind.name} action failed unexpectedly ({type(error).__name__})"
    error_variable = params.error_variable.strip() or defaults.DEFAULT_ERROR_VARIABLE
    return VariableWriter(variables).fail(error_variable, failure(detail), 0, 0.0)


def _warning(kind: BlockKind, error: Exception) -> Warning:
    return Warning(
        code=BLOCK_FAILED,
        message=f"the {kind.name} block failed unexpectedly ({type(error).__name__});"
        " it changed nothing and the flow went on",
    )


def failed_block(kind: BlockKind, block: Block, variables: Variables, error: Exception) -> Outcome:
    """The outcome of a block whose runner raised `error` (variables restored)."""
    log_failure(kind, error)
    next_block = kind.after_failure(block)
    if kind.failure is None:
        w = _warning(kind, error)
        return Outcome([warning(w.code, w.message)], next_block)
    run = _failed_action(kind, kind.failure, kind.params(block), variables, error)
    return Outcome([action_finished(run.result), *variables_changed(run.changes)], next_block)


def failed_action(
    kind: BlockKind, params: Any, variables: Variables, ctx: ActionContext, error: Exception
) -> ActionReply:
    """ExecuteAction's reply when the action raised `error` (variables restored)."""
    log_failure(kind, error)
    if kind.failure is None:
        result = ActionResult(outcome=ActionOutcome.ACTION_OUTCOME_SUCCEEDED)
        return ActionReply(result, [_warning(kind, error)])
    run = _failed_action(kind, kind.failure, params, variables, error)
    ctx.report(kind.name, getattr(params, "provider", "") or "", run.result)
    return ActionReply(run.result, [])


def oversized_action(
    kind: BlockKind, params: Any, variables: Variables, ctx: ActionContext, limit: int
) -> ActionReply:
    """ExecuteAction's reply when the response would pass the gRPC send limit
    (variables restored by the caller): the action fails rather than the call."""
    detail = f"the response would be larger than the server's message limit of {limit} bytes"
    if kind.failure is None:
        result = ActionResult(outcome=ActionOutcome.ACTION_OUTCOME_SUCCEEDED)
        return ActionReply(result, [Warning(code="too_long", message=f"{detail}; nothing changed")])
    error_variable = params.error_variable.strip() or defaults.DEFAULT_ERROR_VARIABLE
    run = VariableWriter(variables).fail(error_variable, BadResponseError(detail), 0, 0.0)
    ctx.report(kind.name, getattr(params, "provider", "") or "", run.result)
    return ActionReply(run.result, [])
