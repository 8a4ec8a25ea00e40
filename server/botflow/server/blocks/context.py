"""What an action needs from the server for one call.

In a simulated run (RunFlowRequest.simulation, simulation.py) the context
carries the run's scripted outcomes, and each block's action gets its own
context (`for_block`) whose calls take that block's outcomes: nothing an
action does in such a run reaches the network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import httpx2

from botflow.providers.base import CompletionRequest, Provider
from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.providers.retry import CallOutcome, RetryPolicy, complete_with_retries
from botflow.server.config import ServerConfig
from botflow.server.metrics import Metrics
from botflow.server.results import kind_label
from botflow.server.simulation import BlockScript, RunScript, SimulationError
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ActionResult
from botflow.v1.flow_service_pb2 import RunFlowRequest

log = logging.getLogger("botflow.actions")


@dataclass(frozen=True)
class ActionContext:
    config: ServerConfig
    registry: ProviderRegistry
    # time.monotonic() value the action must finish by (the caller's deadline).
    deadline: float | None = None
    # The server's pool for webhooks, behind `egress`.
    http: httpx2.AsyncClient | None = None
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    metrics: Metrics = field(default_factory=Metrics)
    # A simulated run's scripted outcomes (`for_run`) ...
    simulation: RunScript | None = None
    # ... and, in one block's context (`for_block`), that block's.
    script: BlockScript | None = None

    def for_run(self, request: RunFlowRequest) -> ActionContext:
        """The context of a RunFlow call: simulated when the request says so."""
        if not request.HasField("simulation"):
            return self
        return replace(self, simulation=RunScript.of(request.simulation, request.flow))

    def for_block(self, block_id: str, variables: Variables) -> ActionContext:
        """The context of one block's action: in a simulated run, its calls
        take the block's outcomes, with `variables` for their templates."""
        if self.simulation is None:
            return self
        return replace(self, script=self.simulation.for_block(block_id, variables))

    @property
    def simulated(self) -> bool:
        return self.simulation is not None

    def scripted(self) -> BlockScript:
        """The block's script in a simulated run; never None there, so no
        call can fall through to the network."""
        if self.script is None:
            raise SimulationError("an action of a simulated run has no script")
        return self.script

    async def complete(
        self, provider: Provider, request: CompletionRequest, policy: RetryPolicy
    ) -> CallOutcome:
        """One provider's whole call, retries included: the one place an
        OpenAI action reaches a provider (in a simulated run: its script)."""
        if self.simulation is not None:
            return self.scripted().complete(request, policy)
        return await complete_with_retries(provider, request, policy, deadline=self.deadline)

    def report(self, action: str, provider: str, result: ActionResult) -> None:
        """One log line and the metrics of a finished action: names, kinds and
        numbers only, never a token, URL or text. A simulated action is
        counted apart (botflow_simulated_actions), so that scripted failures
        never show as a provider's or webhook's, and logged with
        simulated=true."""
        simulated = self.simulated
        if simulated:
            self.metrics.simulated_action_finished(action, result)
        else:
            self.metrics.action_finished(action, provider, result)
        if not log.isEnabledFor(logging.INFO):
            return  # its fields cost more to gather than the check
        log.info(
            "action finished",
            extra={
                "action": action,
                "provider": provider,
                "simulated": simulated,
                "outcome": "failed" if result.error else "succeeded",
                "error_kind": kind_label(result.error_kind),
                "attempts": result.attempts,
                "http_status": result.http_status,
                "elapsed_ms": round(result.elapsed.ToNanoseconds() / 1e6),
            },
        )
