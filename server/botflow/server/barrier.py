"""The failure barrier (the invariant of docs/rules.md "Failures are data"):
an unexpected exception inside a block or action never ends the call. It
becomes a failed block of a kind the product knows, and the flow goes on.

- An action with an error variable (OpenAI, webhook) fails with its kind's
  `failure` error: "ProviderError: ..." or "BadResponse: ...", stored in the
  error variable like any failure, with an ActionFinished event.
- Any other block warns (`block_failed`) and the flow continues where the
  block would have gone (a choice takes its fallback).

In a simulated run the failed action's result says `simulated`, as every
other action result of that run does: a reader of the events must never take
it for a live call that failed.

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
from botflow.server.blocks.base import Outcome, action_outcome
from botflow.server.blocks.context import ActionContext
from botflow.server.events import warning
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


def _unexpected(kind: BlockKind, error: Exception) -> ProviderError | None:
    """The failure an action kind with an error variable reports; None for
    kinds that warn instead."""
    if kind.failure is None:
        return None
    return kind.failure(f"the {kind.name} action failed unexpectedly ({type(error).__name__})")


def _fail(params: Any, variables: Variables, failure: ProviderError) -> ActionRun:
    error_variable = params.error_variable.strip() or defaults.DEFAULT_ERROR_VARIABLE
    return VariableWriter(variables).fail(error_variable, failure, 0, 0.0)


def _warning(kind: BlockKind, error: Exception) -> Warning:
    return Warning(
        code=BLOCK_FAILED,
        message=f"the {kind.name} block failed unexpectedly ({type(error).__name__});"
        " it changed nothing and the flow went on",
    )


def failed_block(
    kind: BlockKind,
    block: Block,
    variables: Variables,
    error: Exception,
    actions: ActionContext | None = None,
) -> Outcome:
    """The outcome of a block whose runner raised `error` (variables restored).
    `actions`, the run's action context, reports a failed action like any
    other (its log line and metrics) and says whether the run is simulated;
    without it the action is reported nowhere, as live."""
    log_failure(kind, error)
    next_block = kind.after_failure(block)
    failure = _unexpected(kind, error)
    if failure is None:
        w = _warning(kind, error)
        return Outcome([warning(w.code, w.message)], next_block)
    params = kind.params(block)
    run = _fail(params, variables, failure)
    simulated = actions is not None and actions.simulated
    outcome = action_outcome(run, next_block, simulated)
    if actions is not None:
        actions.report(kind.name, getattr(params, "provider", "") or "", run.result)
    return outcome


def _reply(
    kind: BlockKind,
    params: Any,
    variables: Variables,
    ctx: ActionContext,
    failure: ProviderError | None,
    otherwise: Warning,
) -> ActionReply:
    """ExecuteAction's reply for an action that changed nothing: `failure` in
    its error variable, or `otherwise` for a kind that has none."""
    if failure is None:
        result = ActionResult(outcome=ActionOutcome.ACTION_OUTCOME_SUCCEEDED)
        return ActionReply(result, [otherwise])
    run = _fail(params, variables, failure)
    run.result.simulated = ctx.simulated
    ctx.report(kind.name, getattr(params, "provider", "") or "", run.result)
    return ActionReply(run.result, [])


def failed_action(
    kind: BlockKind, params: Any, variables: Variables, ctx: ActionContext, error: Exception
) -> ActionReply:
    """ExecuteAction's reply when the action raised `error` (variables restored)."""
    log_failure(kind, error)
    return _reply(kind, params, variables, ctx, _unexpected(kind, error), _warning(kind, error))


def oversized_action(
    kind: BlockKind, params: Any, variables: Variables, ctx: ActionContext, limit: int
) -> ActionReply:
    """ExecuteAction's reply when the response would pass the gRPC send limit
    (variables restored by the caller): the action fails rather than the call."""
    detail = f"the response would be larger than the server's message limit of {limit} bytes"
    failure = BadResponseError(detail) if kind.failure is not None else None
    otherwise = Warning(code="too_long", message=f"{detail}; nothing changed")
    return _reply(kind, params, variables, ctx, failure, otherwise)
