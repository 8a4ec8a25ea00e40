"""botflow.v1.FlowService: request in, validation, the action or flow, response."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx2

from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.server import defaults
from botflow.server.blocks.context import ActionContext
from botflow.server.blocks.openai_action import run_openai_action
from botflow.server.blocks.set_variable import set_variable
from botflow.server.blocks.webhook import run_webhook_action
from botflow.server.config import ServerConfig
from botflow.server.engine import run_flow
from botflow.server.flow_validation import validate_run_flow
from botflow.server.metrics import Metrics
from botflow.server.validation import ValidationContext, validate_execute_action
from botflow.server.variables import Variables
from botflow.v1 import flow_service_pb2_grpc
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)

Context = grpc.aio.ServicerContext[Any, Any]


def call_deadline(context: Context) -> float | None:
    """The caller's deadline as a time.monotonic() value, less a sending margin."""
    remaining = context.time_remaining()
    if remaining is None:
        return None
    return time.monotonic() + remaining - defaults.DEADLINE_MARGIN_SECONDS


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
            await context.abort_with_status(violations.to_status())
        variables = Variables.assemble(request.variable_definitions, request.variables)
        action = request.action
        kind = action.WhichOneof("kind")
        if kind == "set_variable":
            applied = set_variable(
                action.set_variable, variables, self._config.limits.max_text_bytes
            )
            return ExecuteActionResponse(
                result=ActionResult(outcome=ActionOutcome.ACTION_OUTCOME_SUCCEEDED),
                variables=variables.as_dict(),
                warnings=[applied.warning] if applied.warning else [],
            )
        actions = self._action_context(context)
        if kind == "webhook":
            run = await run_webhook_action(action.webhook, variables, actions)
        else:
            run = await run_openai_action(action.openai, variables, request.conversation, actions)
        return ExecuteActionResponse(result=run.result, variables=variables.as_dict())

    async def RunFlow(
        self, request: RunFlowRequest, context: Context
    ) -> AsyncIterator[RunFlowResponse]:
        violations = validate_run_flow(request, self._validation)
        if violations:
            await context.abort_with_status(violations.to_status())
        async for event in run_flow(request, self._action_context(context)):
            yield event
