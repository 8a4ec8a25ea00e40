"""Request validation of both RPCs: the whole request, before
anything runs. Block parameters are checked by the checks each kind declares
in the block registry (`blocks/__init__.py`), so validation and dispatch know
the same kinds.

Every violation is reported at once (duplicate ids, targets that name no block,
an unknown start block, missing parameters, unspecified enums, sizes over the
server's limits, a resume that does not point at a wait block, a simulation
that leaves an action block without outcomes or scripts one that does not fit
it; docs/simulation.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from botflow.providers.http_checks import plain_word
from botflow.server import defaults
from botflow.server.block_checks import FlowScope
from botflow.server.blocks import ACTION_KINDS, KINDS

# What a live answer's model can be: a longer one never reaches a result.
from botflow.server.blocks.openai_action import MAX_MODEL_CHARS
from botflow.server.budget import FINISH_MARGIN_BYTES
from botflow.server.config import Limits
from botflow.server.results import kind_label
from botflow.server.simulation import (
    FAILURES,
    MAX_DETAIL_BYTES,
    MAX_OUTCOMES,
    MEMBERS,
    OPENAI,
    SIMULATED_KINDS,
    WEBHOOK,
)
from botflow.server.validation import (
    HEADER_NAME,
    ValidationContext,
    Violations,
    check_conversation,
    check_definitions,
    check_enums,
    check_variables,
    key_path,
)
from botflow.v1.actions_pb2 import ErrorKind
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    RunFlowRequest,
    SimulatedAnswer,
    SimulatedFailure,
    SimulatedHttpResponse,
    SimulatedOutcome,
    SimulatedOutcomes,
    Simulation,
)
from botflow.v1.variables_pb2 import Value, VariableDefinition

MIN_STATUS, MAX_STATUS = 100, 599
# Kinds that never end a call: the flow's own (a template rendered empty, a
# response path that matched nothing) and a cancelled call (no result).
_NOT_CALL_KINDS = {
    ErrorKind.ERROR_KIND_MISSING_PARAMETER: "comes from the flow (a template that renders empty)",
    ErrorKind.ERROR_KIND_KEY_ERROR: "comes from the flow (a response path that matches nothing)",
    ErrorKind.ERROR_KIND_CANCELLED: "is no outcome: a cancelled call has no result",
}


# Read once: an enum constant's attribute lookup costs microseconds.
_NO_ERROR_KIND = ErrorKind.ERROR_KIND_UNSPECIFIED
_ERROR_KINDS = frozenset(ErrorKind.values())
_CONVERSATION = frozenset({"conversation"})
_NOTHING: frozenset[str] = frozenset()


def _check_variables_fit(
    v: Violations,
    request_bytes: int,
    values: Mapping[str, Value],
    definitions: Iterable[VariableDefinition],
    ctx: ValidationContext,
) -> None:
    """The variables come back in the response (or finish event): with the
    declared defaults they must leave room for it under the send limit.

    `request_bytes`: the size of the request that holds them."""
    limit = min(ctx.limits.max_message_bytes, ctx.limits.max_run_bytes) - FINISH_MARGIN_BYTES
    # The request holds the variables (as field 2, as in the RunFlowRequest
    # measured below) and the definitions, each with its tag: the size below
    # is at most the request's own, so a request within the limit fits
    # without copying its variables to measure them.
    if request_bytes <= limit:
        return
    size = RunFlowRequest(variables=values).ByteSize() + sum(d.ByteSize() for d in definitions)
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
    if kind.uses_next and (problem := scope.target_problem(block.next)):
        scope.v.add(f"{path}.next", problem)


def _block_ids(v: Violations, flow: Flow) -> frozenset[str]:
    ids: set[str] = set()
    for i, block in enumerate(flow.blocks):
        block_id = block.id
        if not block_id.strip():
            v.add(f"flow.blocks[{i}].id", "is required")
        elif block_id in ids:
            v.add(f"flow.blocks[{i}].id", "duplicate block id")
        ids.add(block_id)
    return frozenset(ids)


def check_flow(v: Violations, flow: Flow, ctx: ValidationContext) -> None:
    blocks = flow.blocks
    if not blocks:
        v.add("flow.blocks", "a flow needs at least one block")
        return
    if len(blocks) > ctx.limits.max_blocks:
        v.add("flow.blocks", f"more than the server limit of {ctx.limits.max_blocks} blocks")
        return
    scope = FlowScope(v, _block_ids(v, flow), ctx)
    scope.target("flow.start_block_id", flow.start_block_id)
    check_definitions(v, "flow.variables", flow.variables, ctx.limits)
    for i, block in enumerate(blocks):
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


def _too_long(v: Violations, path: str, text: str, limits: Limits) -> None:
    if len(text.encode()) > limits.max_text_bytes:
        v.add(path, f"longer than the server limit of {limits.max_text_bytes} bytes")


def _max_attempts(block: Block, limits: Limits) -> int:
    """The attempts a live call of the block can make."""
    if block.HasField("webhook"):
        return 1
    wanted = block.openai.max_attempts or defaults.DEFAULT_MAX_ATTEMPTS
    return min(wanted, limits.max_attempts)


def _check_answer(v: Violations, path: str, answer: SimulatedAnswer, limits: Limits) -> None:
    _too_long(v, f"{path}.text", answer.text, limits)
    if len(answer.model) > MAX_MODEL_CHARS:
        v.add(f"{path}.model", f"longer than {MAX_MODEL_CHARS} characters")
    if answer.finish_reason and not plain_word(answer.finish_reason):
        v.add(f"{path}.finish_reason", "must be a word of letters, digits, _ . or - (at most 64)")


def _check_http_response(
    v: Violations, path: str, response: SimulatedHttpResponse, limits: Limits
) -> None:
    if not MIN_STATUS <= response.status <= MAX_STATUS:
        v.add(f"{path}.status", f"must be an HTTP status, {MIN_STATUS} to {MAX_STATUS}")
    _too_long(v, f"{path}.body", response.body, limits)
    for name in sorted(response.headers):
        where = key_path(f"{path}.headers", name)
        if not HEADER_NAME.fullmatch(name.strip()):
            v.add(where, "is not a valid HTTP header name")
        _too_long(v, where, response.headers[name], limits)


def _check_failure(
    v: Violations, path: str, failure: SimulatedFailure, kind: str, attempts: int
) -> None:
    """`attempts`: the most a block the failure applies to can make."""
    if failure.kind == _NO_ERROR_KIND:
        v.add(f"{path}.kind", "must be set to an ERROR_KIND_* value")
    elif failure.kind in _NOT_CALL_KINDS:
        v.add(f"{path}.kind", f"{kind_label(failure.kind)} {_NOT_CALL_KINDS[failure.kind]}")
    elif failure.kind in _ERROR_KINDS and failure.kind not in FAILURES[kind]:
        allowed = ", ".join(sorted(kind_label(k) for k in FAILURES[kind]))
        v.add(f"{path}.kind", f"a {kind} call cannot end in it; one of {allowed}")
    if len(failure.detail.encode()) > MAX_DETAIL_BYTES:
        v.add(f"{path}.detail", f"longer than {MAX_DETAIL_BYTES} bytes")
    if failure.attempts > attempts:
        if kind == WEBHOOK:
            v.add(f"{path}.attempts", "a webhook makes one attempt (webhooks are not retried)")
        else:
            v.add(
                f"{path}.attempts",
                f"more than the {attempts} attempts the block makes"
                " (its max_attempts, capped by the server)",
            )


def _check_outcome(
    v: Violations, path: str, outcome: SimulatedOutcome, kind: str, attempts: int, limits: Limits
) -> None:
    member = outcome.WhichOneof("kind")
    if member is None:
        v.add(path, "exactly one of answer, failure or http_response must be set")
    elif member not in MEMBERS[kind]:
        takes = " or ".join(MEMBERS[kind])
        v.add(f"{path}.{member}", f"does not fit a {kind} block, which takes {takes}")
    elif member == "answer":
        _check_answer(v, f"{path}.answer", outcome.answer, limits)
    elif member == "http_response":
        _check_http_response(v, f"{path}.http_response", outcome.http_response, limits)
    else:
        _check_failure(v, f"{path}.failure", outcome.failure, kind, attempts)


def _check_outcomes(
    v: Violations,
    path: str,
    outcomes: SimulatedOutcomes,
    kind: str,
    blocks: Sequence[Block],
    limits: Limits,
) -> None:
    """The outcomes of `blocks` (of `kind`): each must fit every one."""
    if not outcomes.outcomes:
        v.add(f"{path}.outcomes", "at least one outcome is required")
    attempts = min((_max_attempts(b, limits) for b in blocks), default=limits.max_attempts)
    if kind == WEBHOOK:
        attempts = 1
    for i, outcome in enumerate(outcomes.outcomes):
        _check_outcome(v, f"{path}.outcomes[{i}]", outcome, kind, attempts, limits)


def _action_blocks(flow: Flow) -> dict[str, Block]:
    """The flow's blocks whose calls a simulation scripts, by id (the first
    of a duplicate id: that is a violation of its own)."""
    found: dict[str, Block] = {}
    for block in flow.blocks:
        if block.WhichOneof("kind") in SIMULATED_KINDS and block.id.strip():
            found.setdefault(block.id, block)
    return found


def _check_simulation(v: Violations, simulation: Simulation, flow: Flow, limits: Limits) -> None:
    """Outcomes for every action block of the flow, by id or kind, each
    fitting its block; see docs/simulation.md."""
    total = sum(len(o.outcomes) for o in (*simulation.blocks.values(), *simulation.kinds.values()))
    if total > MAX_OUTCOMES:
        v.add("simulation", f"more than the limit of {MAX_OUTCOMES} outcomes in all")
        return
    actions = _action_blocks(flow)
    ids = {b.id for b in flow.blocks}
    for block_id in sorted(simulation.blocks):
        path = key_path("simulation.blocks", block_id)
        block = actions.get(block_id)
        if block is None:
            v.add(
                path,
                "must name an openai or webhook block"
                if block_id in ids
                else "names no block of the flow",
            )
            continue
        block_kind = block.WhichOneof("kind") or ""
        _check_outcomes(v, path, simulation.blocks[block_id], block_kind, [block], limits)
    for kind in sorted(simulation.kinds):
        path = key_path("simulation.kinds", kind)
        if kind not in SIMULATED_KINDS:
            v.add(path, f"must be an action kind: {OPENAI} or {WEBHOOK}")
            continue
        users = [
            b
            for b in actions.values()
            if b.WhichOneof("kind") == kind and b.id not in simulation.blocks
        ]
        _check_outcomes(v, path, simulation.kinds[kind], kind, users, limits)
    for block_id, block in actions.items():
        name = block.WhichOneof("kind") or ""
        if block_id not in simulation.blocks and name not in simulation.kinds:
            v.add(
                key_path("simulation.blocks", block_id),
                f"the flow's {name} block has no outcomes: list it here, or give"
                f' simulation.kinds["{name}"]',
            )


def validate_run_flow(request: RunFlowRequest, ctx: ValidationContext) -> Violations:
    v = Violations()
    flow = request.flow
    if not request.HasField("flow"):
        v.add("flow", "is required")
    else:
        check_flow(v, flow, ctx)
        if request.HasField("resume"):
            _check_resume(v, request)
        if request.HasField("simulation"):
            _check_simulation(v, request.simulation, flow, ctx.limits)
    variables = request.variables
    check_variables(v, "variables", variables, ctx.limits)
    size = request.ByteSize()
    _check_variables_fit(v, size, variables, flow.variables, ctx)
    _check_conversation_and_enums(v, request, size, ctx.limits)
    return v


def validate_execute_action(request: ExecuteActionRequest, ctx: ValidationContext) -> Violations:
    v = Violations()
    action = request.action
    kind = ACTION_KINDS.get(action.WhichOneof("kind") or "")
    if kind is None:
        names = ", ".join(ACTION_KINDS)
        v.add("action", f"exactly one action ({names}) must be set")
    elif kind.parameter_check is not None:
        where = f"action.{kind.name}"
        kind.parameter_check(v, where, getattr(action, kind.name), ctx)
    variables, definitions = request.variables, request.variable_definitions
    check_variables(v, "variables", variables, ctx.limits)
    check_definitions(v, "variable_definitions", definitions, ctx.limits)
    size = request.ByteSize()
    _check_variables_fit(v, size, variables, definitions, ctx)
    _check_conversation_and_enums(v, request, size, ctx.limits)
    return v


def _check_conversation_and_enums(
    v: Violations, request: ExecuteActionRequest | RunFlowRequest, size: int, limits: Limits
) -> None:
    """`size`: the request's; every text in it is shorter."""
    known = check_conversation(
        v, "conversation", request.conversation, limits, texts_fit=size <= limits.max_text_bytes
    )
    check_enums(v, request, checked=_CONVERSATION if known else _NOTHING)
