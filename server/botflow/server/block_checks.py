"""Validation of block parameters that only flows have: targets (the ids a
block points at) and the checks of the non-action blocks. The action checks
(OpenAI, webhook, set variable) live in `validation.py`, shared with
ExecuteAction; the block registry (`blocks/__init__.py`) ties each kind to its
checks."""

from __future__ import annotations

from dataclasses import dataclass

from botflow.server.validation import ValidationContext, Violations, check_variable_name
from botflow.v1.flow_pb2 import Block, ConditionJoin, ConditionOperator


@dataclass(frozen=True)
class FlowScope:
    """What checking one block of a flow needs beyond the block itself."""

    v: Violations
    ids: frozenset[str]
    ctx: ValidationContext

    def target(self, path: str, target: str, *, required: bool = False) -> None:
        """`target` must name a block of the flow (or be empty when optional)."""
        if not target:
            if required:
                self.v.add(path, "is required: name the block to go to")
        elif target not in self.ids:
            self.v.add(path, "names no block of the flow")


def required_text(v: Violations, path: str, text: str) -> None:
    if not text.strip():
        v.add(path, "is required")


def check_send_message(path: str, block: Block, scope: FlowScope) -> None:
    required_text(scope.v, f"{path}.text", block.send_message.text)


def check_add_note(path: str, block: Block, scope: FlowScope) -> None:
    required_text(scope.v, f"{path}.text", block.add_note.text)


def check_wait(path: str, block: Block, scope: FlowScope) -> None:
    wait = block.wait_user_answer
    check_variable_name(scope.v, f"{path}.answer_variable", wait.answer_variable, required=False)
    scope.target(f"{path}.timeout_next", wait.timeout_next)


def check_jump_to(path: str, block: Block, scope: FlowScope) -> None:
    scope.target(f"{path}.block_id", block.jump_to.block_id, required=True)


def check_nothing(path: str, block: Block, scope: FlowScope) -> None:
    """Restart bot has no parameters."""


def check_choice(path: str, block: Block, scope: FlowScope) -> None:
    v, choice = scope.v, block.choice
    if not choice.branches:
        v.add(f"{path}.branches", "a choice needs at least one branch")
    for i, branch in enumerate(choice.branches):
        where = f"{path}.branches[{i}]"
        scope.target(f"{where}.next", branch.next, required=True)
        if not branch.conditions:
            v.add(f"{where}.conditions", "a branch needs at least one condition")
        if branch.join == ConditionJoin.CONDITION_JOIN_UNSPECIFIED and len(branch.conditions) > 1:
            v.add(f"{where}.join", "must be AND or OR when a branch has several conditions")
        for j, condition in enumerate(branch.conditions):
            check_variable_name(
                v, f"{where}.conditions[{j}].variable", condition.variable, required=False
            )
            if condition.operator == ConditionOperator.CONDITION_OPERATOR_UNSPECIFIED:
                v.add(
                    f"{where}.conditions[{j}].operator",
                    "must be set to a CONDITION_OPERATOR_* value",
                )
    scope.target(f"{path}.fallback_next", choice.fallback_next)
