"""What an action needs from the server for one call."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx2

from botflow.providers.base import CompletionRequest, Provider
from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.providers.retry import CallOutcome, RetryPolicy, complete_with_retries
from botflow.server.config import ServerConfig
from botflow.server.metrics import Metrics
from botflow.server.results import kind_label
from botflow.v1.actions_pb2 import ActionResult

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

    async def complete(
        self, provider: Provider, request: CompletionRequest, policy: RetryPolicy
    ) -> CallOutcome:
        """One provider's whole call, retries included: the one place an
        OpenAI action reaches a provider."""
        return await complete_with_retries(provider, request, policy, deadline=self.deadline)

    def report(self, action: str, provider: str, result: ActionResult) -> None:
        """One log line and the metrics of a finished action: names, kinds and
        numbers only, never a token, URL or text."""
        self.metrics.action_finished(action, provider, result)
        log.info(
            "action finished",
            extra={
                "action": action,
                "provider": provider,
                "outcome": "failed" if result.error else "succeeded",
                "error_kind": kind_label(result.error_kind),
                "attempts": result.attempts,
                "http_status": result.http_status,
                "elapsed_ms": round(result.elapsed.ToNanoseconds() / 1e6),
            },
        )
