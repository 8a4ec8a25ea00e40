"""Request validation of both RPCs: the whole request, before
anything runs. Block parameters are checked by the checks each kind declares
in the block registry (`blocks/__init__.py`), so validation and dispatch know
the same kinds.

Every violation is reported at once (duplicate ids, targets that name no block,
an unknown start block, missing parameters, unspecified enums, sizes over the
server's limits, a resume that does not point at a wait block).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from botflow.server.block_checks import FlowScope
from botflow.server.blocks import ACTION_KINDS, KINDS
from botflow.server.budget import FINISH_MARGIN_BYTES
from botflow.server.validation import (
    ValidationContext,
    Violations,
    check_conversation,
    check_definitions,
    check_enums,
    check_variables,
)
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.variables_pb2 import Value, VariableDefinition


def _check_variables_fit(
    v: Violations,
    values: Mapping[str, Value],
    definitions: Iterable[VariableDefinition],
    ctx: ValidationContext,
) -> None:
    """The variables come back in the response (or finish event): with the
    declared defaults they must leave room for it under the send limit."""
    size = RunFlowRequest(variables=values).ByteSize() + sum(d.ByteSize() for d in definitions)
    limit = min(ctx.limits.max_message_bytes, ctx.limits.max_run_bytes) - FINISH_MARGIN_BYTES
    if size > limit:
        v.add(
            "variables",
            f"with the declared defaults, larger than the {limit} bytes a response can carry",
        )


def _check_block(path: str, block: Block, scope: FlowScope) -> None:
    name = block.WhichOneof("kind")
    kind = KINDS.get(name or "")
    if kind is None:
        scope.v.add(path, "exactly one block kind must be set")
        return
    where = f"{path}.{kind.name}"
    kind.flow_check(where, block, scope)
    if kind.parameter_check is not None:
        kind.parameter_check(scope.v, where, kind.params(block), scope.ctx)
    if kind.uses_next:
        scope.target(f"{path}.next", block.next)


def _block_ids(v: Violations, flow: Flow) -> frozenset[str]:
    ids: set[str] = set()
    for i, block in enumerate(flow.blocks):
        if not block.id.strip():
            v.add(f"flow.blocks[{i}].id", "is required")
        elif block.id in ids:
            v.add(f"flow.blocks[{i}].id", "duplicate block id")
        ids.add(block.id)
    return frozenset(ids)


def check_flow(v: Violations, flow: Flow, ctx: ValidationContext) -> None:
    if not flow.blocks:
        v.add("flow.blocks", "a flow needs at least one block")
        return
    if len(flow.blocks) > ctx.limits.max_blocks:
        v.add("flow.blocks", f"more than the server limit of {ctx.limits.max_blocks} blocks")
        return
    scope = FlowScope(v, _block_ids(v, flow), ctx)
    scope.target("flow.start_block_id", flow.start_block_id)
    check_definitions(v, "flow.variables", flow.variables, ctx.limits)
    for i, block in enumerate(flow.blocks):
        _check_block(f"flow.blocks[{i}]", block, scope)


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
    _check_variables_fit(v, request.variables, request.flow.variables, ctx)
    check_conversation(v, "conversation", request.conversation, ctx.limits)
    check_enums(v, request)
    return v


def validate_execute_action(request: ExecuteActionRequest, ctx: ValidationContext) -> Violations:
    v = Violations()
    kind = ACTION_KINDS.get(request.action.WhichOneof("kind") or "")
    if kind is None:
        names = ", ".join(ACTION_KINDS)
        v.add("action", f"exactly one action ({names}) must be set")
    elif kind.parameter_check is not None:
        where = f"action.{kind.name}"
        kind.parameter_check(v, where, getattr(request.action, kind.name), ctx)
    check_variables(v, "variables", request.variables, ctx.limits)
    check_definitions(v, "variable_definitions", request.variable_definitions, ctx.limits)
    _check_variables_fit(v, request.variables, request.variable_definitions, ctx)
    check_conversation(v, "conversation", request.conversation, ctx.limits)
    check_enums(v, request)
    return v
