"""Validation of block parameters that only flows have: targets (the ids a
block points at) and the checks of the non-action blocks. The action checks
(OpenAI, webhook, set variable) live in `validation.py`, shared with
ExecuteAction; the block registry (`blocks/__init__.py`) ties each kind to its
checks."""

from __future__ import annotations

from dataclasses import dataclass

from botflow.server.validation import ValidationContext, Violations, check_optional_name
from botflow.v1.flow_pb2 import Block, ConditionJoin, ConditionOperator

# Read once: an enum constant's attribute lookup costs microseconds.
_NO_JOIN = ConditionJoin.CONDITION_JOIN_UNSPECIFIED
_NO_OPERATOR = ConditionOperator.CONDITION_OPERATOR_UNSPECIFIED


@dataclass(frozen=True)
class FlowScope:
    """What checking one block of a flow needs beyond the block itself."""

    v: Violations
    ids: frozenset[str]
    ctx: ValidationContext

    def target(self, path: str, target: str, *, required: bool = False) -> None:
        """`target` must name a block of the flow (or be empty when optional)."""
        problem = self.target_problem(target, required=required)
        if problem:
            self.v.add(path, problem)

    def target_problem(self, target: str, *, required: bool = False) -> str:
        """What `target` would report ("" when nothing), for a caller that
        builds the path only when there is a problem."""
        if not target:
            return "is required: name the block to go to" if required else ""
        return "" if target in self.ids else "names no block of the flow"


def _required_text(v: Violations, path: str, text: str) -> None:
    """The block's `text`: the path is built only when it is missing."""
    if not text.strip():
        v.add(f"{path}.text", "is required")


def check_send_message(path: str, block: Block, scope: FlowScope) -> None:
    _required_text(scope.v, path, block.send_message.text)


def check_add_note(path: str, block: Block, scope: FlowScope) -> None:
    _required_text(scope.v, path, block.add_note.text)


def check_wait(path: str, block: Block, scope: FlowScope) -> None:
    wait = block.wait_user_answer
    check_optional_name(scope.v, path, "answer_variable", wait.answer_variable)
    if problem := scope.target_problem(wait.timeout_next):
        scope.v.add(f"{path}.timeout_next", problem)


def check_jump_to(path: str, block: Block, scope: FlowScope) -> None:
    if problem := scope.target_problem(block.jump_to.block_id, required=True):
        scope.v.add(f"{path}.block_id", problem)


def check_nothing(path: str, block: Block, scope: FlowScope) -> None:
    """Restart bot has no parameters."""


def check_choice(path: str, block: Block, scope: FlowScope) -> None:
    # Each repeated field is read once, and iterated over a slice (a
    # repeated field has no __iter__: a loop over it ends on an IndexError,
    # a microsecond each); each path is built only for a problem.
    v, choice = scope.v, block.choice
    branches = choice.branches[:]
    if not branches:
        v.add(f"{path}.branches", "a choice needs at least one branch")
    for i, branch in enumerate(branches):
        conditions = branch.conditions[:]
        if problem := scope.target_problem(branch.next, required=True):
            v.add(f"{path}.branches[{i}].next", problem)
        if not conditions:
            v.add(f"{path}.branches[{i}].conditions", "a branch needs at least one condition")
        elif branch.join == _NO_JOIN and len(conditions) > 1:
            v.add(
                f"{path}.branches[{i}].join",
                "must be AND or OR when a branch has several conditions",
            )
        for j, condition in enumerate(conditions):
            if condition.variable:  # an optional name: only a given one can be blank
                where = f"{path}.branches[{i}].conditions[{j}]"
                check_optional_name(v, where, "variable", condition.variable)
            if condition.operator == _NO_OPERATOR:
                v.add(
                    f"{path}.branches[{i}].conditions[{j}].operator",
                    "must be set to a CONDITION_OPERATOR_* value",
                )
    if problem := scope.target_problem(choice.fallback_next):
        v.add(f"{path}.fallback_next", problem)
