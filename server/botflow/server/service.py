"""botflow.v1.FlowService: request in, validation, the action or flow, response."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx2

from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.server import defaults
from botflow.server.barrier import failed_action, oversized_action
from botflow.server.blocks import ACTION_KINDS, ActionReply, BlockKind
from botflow.server.blocks.context import ActionContext
from botflow.server.config import ServerConfig
from botflow.server.engine import run_flow
from botflow.server.interceptors import abort_with_status
from botflow.server.metrics import Metrics
from botflow.server.request_validation import validate_execute_action, validate_run_flow
from botflow.server.secrets import secret_names_of_action
from botflow.server.validation import ValidationContext
from botflow.server.variables import Variables
from botflow.v1 import flow_service_pb2_grpc
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)
from botflow.v1.variables_pb2 import Value

Context = grpc.aio.ServicerContext[Any, Any]


def call_deadline(context: Context) -> float | None:
    """The caller's deadline as a time.monotonic() value, less a sending margin."""
    remaining = context.time_remaining()
    if remaining is None:
        return None
    return time.monotonic() + remaining - defaults.DEADLINE_MARGIN_SECONDS


async def execute_action(
    kind: BlockKind,
    params: Any,
    conversation: Conversation,
    variables: Variables,
    ctx: ActionContext,
    before: dict[str, Value],
) -> ActionReply:
    """Run an action (`params`, of `kind`) behind the failure barrier: an
    unexpected exception is a failed action, with the variables as they were
    (`before`)."""
    assert kind.execute is not None, "ACTION_KINDS holds only kinds ExecuteAction accepts"
    try:
        return await kind.execute(params, variables, conversation, ctx)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        variables.restore(before)
        return failed_action(kind, params, variables, ctx, error)


def _response(reply: ActionReply, variables: Variables) -> ExecuteActionResponse:
    # Filled in place: the constructor's keyword arguments cost about half
    # again as much for the same copies (a map of messages above all).
    response = ExecuteActionResponse()
    response.result.CopyFrom(reply.result)
    returned = response.variables
    for name, value in variables.public_values().items():
        returned[name].CopyFrom(value)
    if reply.warnings:
        response.warnings.extend(reply.warnings)
    return response


class FlowService(flow_service_pb2_grpc.FlowServiceServicer):
    def __init__(
        self,
        config: ServerConfig,
        registry: ProviderRegistry,
        *,
        http: httpx2.AsyncClient,
        egress: EgressPolicy,
        metrics: Metrics,
    ) -> None:
        self._config = config
        self._registry = registry
        self._http = http
        self._egress = egress
        self._metrics = metrics
        self._validation = ValidationContext(
            limits=config.limits,
            enabled_providers=frozenset(registry.names),
            default_provider=defaults.DEFAULT_PROVIDER,
            check_options=registry.check_options,
        )

    def _action_context(self, context: Context) -> ActionContext:
        return ActionContext(
            self._config,
            self._registry,
            call_deadline(context),
            self._http,
            self._egress,
            self._metrics,
        )

    async def ExecuteAction(
        self, request: ExecuteActionRequest, context: Context
    ) -> ExecuteActionResponse:
        violations = validate_execute_action(request, self._validation)
        if violations:
            await abort_with_status(context, violations.to_status())
        action, definitions = request.action, request.variable_definitions
        kind = ACTION_KINDS[action.WhichOneof("kind") or ""]
        params = getattr(action, kind.name)
        secrets = secret_names_of_action(action, definitions)
        variables = Variables.assemble(definitions, request.variables, secrets=secrets)
        ctx = self._action_context(context)
        before = variables.snapshot()
        reply = await execute_action(kind, params, request.conversation, variables, ctx, before)
        response = _response(reply, variables)
        limit = self._config.limits.max_message_bytes
        if response.ByteSize() > limit:
            variables.restore(before)
            response = _response(oversized_action(kind, params, variables, ctx, limit), variables)
        return response

    async def RunFlow(
        self, request: RunFlowRequest, context: Context
    ) -> AsyncIterator[RunFlowResponse]:
        violations = validate_run_flow(request, self._validation)
        if violations:
            await abort_with_status(context, violations.to_status())
        async for event in run_flow(request, self._action_context(context).for_run(request)):
            yield event
