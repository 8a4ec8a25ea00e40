"""Prometheus metrics, one registry per server.

Labels are low-cardinality names chosen by botflow (RPC method, status code,
action, provider, outcome, error kind, flow status): never a token, a URL, a
variable or a message text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from botflow.server.results import kind_label
from botflow.v1.actions_pb2 import ActionResult
from botflow.v1.events_pb2 import FlowStatus

log = logging.getLogger(__name__)

# A run's status label by its number: "completed" for FLOW_STATUS_COMPLETED.
_STATUS_LABELS: dict[int, str] = {
    number: name.removeprefix("FLOW_STATUS_").lower() for name, number in FlowStatus.items()
}
# A finished action's counter and attempts children, and getters of its
# provider's token children (made only once a token is counted).
_ActionChildren = tuple[Any, Any, Callable[[], Any], Callable[[], Any]]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._action_children: dict[tuple[str, str, str, int], _ActionChildren] = {}
        self._rpc_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        r = self.registry
        self.rpcs = Counter("botflow_rpcs", "Finished RPCs.", ["method", "code"], registry=r)
        self.rpc_seconds = Histogram(
            "botflow_rpc_duration_seconds", "RPC wall time.", ["method"], registry=r
        )
        self.actions = Counter(
            "botflow_actions",
            "Finished actions (OpenAI, webhook).",
            ["action", "provider", "outcome", "error_kind"],
            registry=r,
        )
        self.attempts = Counter(
            "botflow_action_attempts",
            "Attempts made by actions.",
            ["action", "provider"],
            registry=r,
        )
        self.tokens = Counter(
            "botflow_llm_tokens", "Tokens reported by providers.", ["provider", "kind"], registry=r
        )
        self.runs = Counter("botflow_flow_runs", "Finished RunFlow runs.", ["status"], registry=r)
        self.simulated_actions = Counter(
            "botflow_simulated_actions",
            "Finished actions of simulated runs (scripted outcomes, no network).",
            ["action", "outcome", "error_kind"],
            registry=r,
        )

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """The metric's child for `labels`, looked up once: prometheus_client's
        `labels()` checks and locks on every call, and labels here come from
        small fixed sets."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def rpc_finished(self, method: str, code: str, seconds: float) -> None:
        children = self._rpc_children.get((method, code))
        if children is None:
            children = self._rpc_children[(method, code)] = self._new_rpc_children(method, code)
        finished, duration = children
        finished.inc()
        duration.observe(seconds)

    def _new_rpc_children(self, method: str, code: str) -> tuple[Any, Any]:
        """One finished call's counter and histogram children, found once per
        method and code: every call counts into them."""
        name = method.rsplit("/", 1)[-1]
        return self._child(self.rpcs, name, code), self._child(self.rpc_seconds, name)

    def action_finished(self, action: str, provider: str, result: ActionResult) -> None:
        outcome = "failed" if result.error else "succeeded"
        labels = (action, provider, outcome, result.error_kind)
        children = self._action_children.get(labels)
        if children is None:
            children = self._action_children[labels] = self._new_action_children(*labels)
        finished, attempts, prompt_tokens, completion_tokens = children
        finished.inc()
        attempts.inc(result.attempts)
        usage = result.usage
        # A token series appears with its first token, as `labels()` would make it.
        if count := usage.prompt_tokens:
            prompt_tokens().inc(count)
        if count := usage.completion_tokens:
            completion_tokens().inc(count)

    def _new_action_children(
        self, action: str, provider: str, outcome: str, error_kind: int
    ) -> _ActionChildren:
        """The children one kind of finished action counts into, found once:
        four lookups per action add up at thousands of actions a second."""
        return (
            self._child(self.actions, action, provider, outcome, kind_label(error_kind)),
            self._child(self.attempts, action, provider),
            lambda: self._child(self.tokens, provider, "prompt"),
            lambda: self._child(self.tokens, provider, "completion"),
        )

    def simulated_action_finished(self, action: str, result: ActionResult) -> None:
        """A simulated action: counted here only, not as a provider's or
        webhook's action, attempts or tokens."""
        outcome = "failed" if result.error else "succeeded"
        self._child(self.simulated_actions, action, outcome, kind_label(result.error_kind)).inc()

    def run_finished(self, status: int) -> None:
        self._child(self.runs, _STATUS_LABELS[status]).inc()


@dataclass
class MetricsEndpoint:
    """The /metrics HTTP server (a thread of prometheus_client's)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(metrics: Metrics, host: str, port: int) -> MetricsEndpoint:
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    endpoint = MetricsEndpoint(server, thread)
    log.info("metrics", extra={"address": f"{host}:{endpoint.port}"})
    return endpoint
