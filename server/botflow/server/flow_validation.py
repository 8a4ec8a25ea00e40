"""RunFlow request validation: the whole flow, before the first block runs.

Every violation is reported at once (duplicate ids, targets that name no block,
an unknown start block, missing parameters, unspecified enums, sizes over the
server's limits, a resume that does not point at a wait block).
"""

from __future__ import annotations

from collections.abc import Callable

from botflow.server.validation import (
    ValidationContext,
    Violations,
    check_conversation,
    check_definitions,
    check_openai_action,
    check_set_variable,
    check_variable_name,
    check_variables,
    check_webhook_action,
)
from botflow.v1.flow_pb2 import Block, ConditionJoin, ConditionOperator, Flow
from botflow.v1.flow_service_pb2 import RunFlowRequest


class _Targets:
    """Checks that ids a block points at exist."""

    def __init__(self, v: Violations, ids: set[str]) -> None:
        self.v = v
        self.ids = ids

    def check(self, path: str, target: str, *, required: bool = False) -> None:
        if not target:
            if required:
                self.v.add(path, "is required: name the block to go to")
        elif target not in self.ids:
            self.v.add(path, "names no block of the flow")


def _check_choice(v: Violations, path: str, block: Block, targets: _Targets) -> None:
    choice = block.choice
    if not choice.branches:
        v.add(f"{path}.branches", "a choice needs at least one branch")
    for i, branch in enumerate(choice.branches):
        where = f"{path}.branches[{i}]"
        targets.check(f"{where}.next", branch.next, required=True)
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
    targets.check(f"{path}.fallback_next", choice.fallback_next)


def _check_block(
    v: Violations, path: str, block: Block, targets: _Targets, ctx: ValidationContext
) -> None:
    kind = block.WhichOneof("kind")
    where = f"{path}.{kind}"
    checks: dict[str | None, Callable[[], None]] = {
        None: lambda: v.add(path, "exactly one block kind must be set"),
        "send_message": lambda: _required_text(v, f"{where}.text", block.send_message.text),
        "add_note": lambda: _required_text(v, f"{where}.text", block.add_note.text),
        "wait_user_answer": lambda: _check_wait(v, where, block, targets),
        "choice": lambda: _check_choice(v, where, block, targets),
        "set_variable": lambda: check_set_variable(v, where, block.set_variable),
        "openai": lambda: check_openai_action(v, where, block.openai, ctx),
        "jump_to": lambda: targets.check(
            f"{where}.block_id", block.jump_to.block_id, required=True
        ),
        "restart_bot": lambda: None,
        "webhook": lambda: check_webhook_action(v, where, block.webhook, ctx.limits),
    }
    checks[kind]()
    if kind not in ("choice", "jump_to", "restart_bot"):
        targets.check(f"{path}.next", block.next)


def _required_text(v: Violations, path: str, text: str) -> None:
    if not text.strip():
        v.add(path, "is required")


def _check_wait(v: Violations, where: str, block: Block, targets: _Targets) -> None:
    wait = block.wait_user_answer
    check_variable_name(v, f"{where}.answer_variable", wait.answer_variable, required=False)
    targets.check(f"{where}.timeout_next", wait.timeout_next)


def _block_ids(v: Violations, flow: Flow) -> set[str]:
    ids: set[str] = set()
    for i, block in enumerate(flow.blocks):
        if not block.id.strip():
            v.add(f"flow.blocks[{i}].id", "is required")
        elif block.id in ids:
            v.add(f"flow.blocks[{i}].id", "duplicate block id")
        ids.add(block.id)
    return ids


def check_flow(v: Violations, flow: Flow, ctx: ValidationContext) -> None:
    if not flow.blocks:
        v.add("flow.blocks", "a flow needs at least one block")
        return
    if len(flow.blocks) > ctx.limits.max_blocks:
        v.add("flow.blocks", f"more than the server limit of {ctx.limits.max_blocks} blocks")
        return
    targets = _Targets(v, _block_ids(v, flow))
    targets.check("flow.start_block_id", flow.start_block_id)
    check_definitions(v, "flow.variables", flow.variables, ctx.limits)
    for i, block in enumerate(flow.blocks):
        _check_block(v, f"flow.blocks[{i}]", block, targets, ctx)


def _check_resume(v: Violations, request: RunFlowRequest) -> None:
    resume = request.resume
    blocks = {b.id: b for b in request.flow.blocks}
    block = blocks.get(resume.block_id)
    if block is None:
        v.add("resume.block_id", "names no block of the flow")
    elif block.WhichOneof("kind") != "wait_user_answer":
        v.add("resume.block_id", "must name a wait_user_answer block")
    if resume.timed_out and resume.answer:
        v.add("resume.answer", "must be empty when timed_out is true")


def validate_run_flow(request: RunFlowRequest, ctx: ValidationContext) -> Violations:
    v = Violations()
    if not request.HasField("flow"):
        v.add("flow", "is required")
    else:
        check_flow(v, request.flow, ctx)
        if request.HasField("resume"):
            _check_resume(v, request)
    check_variables(v, "variables", request.variables, ctx.limits)
    check_conversation(v, "conversation", request.conversation, ctx.limits)
    return v
