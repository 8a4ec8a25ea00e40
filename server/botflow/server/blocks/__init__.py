"""The block registry: one entry per block kind, read by the engine (dispatch),
validation (checks), ExecuteAction (which kinds are actions) and the failure
barrier (what an unexpected exception in the block becomes).

A kind is the name of its member in the `Block.kind` oneof; an action kind is
also a member of `Action.kind`, with the same parameters message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botflow.providers.errors import BadResponseError, ProviderError
from botflow.server import block_checks
from botflow.server.block_checks import FlowScope
from botflow.server.blocks import (
    add_note,
    choice,
    jump_to,
    openai_action,
    restart_bot,
    send_message,
    set_variable,
    wait_user_answer,
    webhook,
)
from botflow.server.blocks.base import BlockRunner, RunState
from botflow.server.blocks.context import ActionContext
from botflow.server.results import ActionRun
from botflow.server.validation import (
    ValidationContext,
    Violations,
    check_openai_action,
    check_set_variable,
    check_webhook_action,
)
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, Warning
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.flow_pb2 import Block

# Checks a block's place in the flow (targets, required texts).
FlowCheck = Callable[[str, Block, FlowScope], None]
# Checks an action's parameters; shared by flows and ExecuteAction.
ParameterCheck = Callable[[Violations, str, Any, ValidationContext], None]


@dataclass(frozen=True)
class ActionReply:
    """What ExecuteAction returns for one action: its result and its warnings."""

    result: ActionResult
    warnings: list[Warning]


# Runs an action outside a flow: (parameters, variables, conversation, context).
ActionRunner = Callable[[Any, Variables, Conversation, ActionContext], Awaitable[ActionReply]]


@dataclass(frozen=True)
class BlockKind:
    """Everything botflow knows of one kind of block."""

    name: str
    run: BlockRunner
    flow_check: FlowCheck = block_checks.check_nothing
    parameter_check: ParameterCheck | None = None
    # Whether `Block.next` is where the flow goes after it (choice, jump to
    # and restart bot decide otherwise).
    uses_next: bool = True
    # Set for kinds ExecuteAction accepts.
    execute: ActionRunner | None = None
    # Actions with an error variable: the error an unexpected exception
    # becomes. None: the block warns instead and the flow goes on.
    failure: type[ProviderError] | None = None

    def params(self, block: Block) -> Any:
        return getattr(block, self.name)

    def after_failure(self, block: Block) -> str:
        """Where the flow goes when the block failed unexpectedly."""
        if self.name == "choice":
            return block.choice.fallback_next
        if self.name == "jump_to":
            return block.jump_to.block_id
        return block.next if self.uses_next else ""


async def _execute_openai(
    action: Any, variables: Variables, conversation: Conversation, ctx: ActionContext
) -> ActionReply:
    run: ActionRun = await openai_action.run_openai_action(action, variables, conversation, ctx)
    return ActionReply(run.result, [])


async def _execute_webhook(
    action: Any, variables: Variables, conversation: Conversation, ctx: ActionContext
) -> ActionReply:
    run: ActionRun = await webhook.run_webhook_action(action, variables, ctx)
    return ActionReply(run.result, [])


async def _execute_set_variable(
    action: Any, variables: Variables, conversation: Conversation, ctx: ActionContext
) -> ActionReply:
    applied = set_variable.set_variable(action, variables, ctx.config.limits.max_text_bytes)
    result = ActionResult(outcome=ActionOutcome.ACTION_OUTCOME_SUCCEEDED)
    return ActionReply(result, [applied.warning] if applied.warning else [])


def _check_set_variable(v: Violations, path: str, action: Any, ctx: ValidationContext) -> None:
    check_set_variable(v, path, action)


def _check_webhook(v: Violations, path: str, action: Any, ctx: ValidationContext) -> None:
    check_webhook_action(v, path, action, ctx.limits)


KINDS: dict[str, BlockKind] = {
    kind.name: kind
    for kind in (
        BlockKind("send_message", send_message.run, flow_check=block_checks.check_send_message),
        BlockKind("wait_user_answer", wait_user_answer.run, flow_check=block_checks.check_wait),
        BlockKind("choice", choice.run, flow_check=block_checks.check_choice, uses_next=False),
        BlockKind(
            "set_variable",
            set_variable.run,
            parameter_check=_check_set_variable,
            execute=_execute_set_variable,
        ),
        BlockKind(
            "openai",
            openai_action.run,
            parameter_check=check_openai_action,
            execute=_execute_openai,
            failure=ProviderError,
        ),
        BlockKind("add_note", add_note.run, flow_check=block_checks.check_add_note),
        BlockKind("jump_to", jump_to.run, flow_check=block_checks.check_jump_to, uses_next=False),
        BlockKind("restart_bot", restart_bot.run, uses_next=False),
        BlockKind(
            "webhook",
            webhook.run,
            parameter_check=_check_webhook,
            execute=_execute_webhook,
            failure=BadResponseError,
        ),
    )
}
ACTION_KINDS: dict[str, BlockKind] = {k.name: k for k in KINDS.values() if k.execute}

__all__ = ["ACTION_KINDS", "KINDS", "ActionReply", "BlockKind", "RunState"]
