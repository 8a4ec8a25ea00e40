"""Simulated runs (RunFlowRequest.simulation): every OpenAI and webhook call
of a run takes a scripted outcome instead of going out, and everything around
the call runs as it would live (docs/simulation.md).

`RunScript` holds one run's outcomes and how many calls each block has made:
successive calls of a block take successive outcomes, and the last one
repeats. `BlockScript` is one block's view of it, with the run's variables for
rendering the scripted texts; `ActionContext.for_block` hands it to the
block's action, and the two places an action would reach the network ask it
instead: `ActionContext.complete` (every provider call) and the webhook's
exchange (`webhook.py`).

A scripted failure is the call's end result after its retries: it becomes the
typed error a live call of that kind ends with, so that "Kind: detail", the
attempts and whatever reads the kind (fallbacks) are the same.

The request is validated first (request_validation.py): this module trusts
that every action block has outcomes and that each outcome fits its block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.descriptor import Descriptor

from botflow.providers.base import FINISH_STOP, Completion, CompletionRequest, Usage
from botflow.providers.errors import (
    QUOTA_CODE,
    BadRequestError,
    BadResponseError,
    BlockedError,
    ProviderError,
    ProviderTimeoutError,
    error_for_status,
)
from botflow.providers.retry import CallOutcome, RetryPolicy
from botflow.server.templating import render_template
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ErrorKind, OpenAIAction, WebhookAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import (
    SimulatedFailure,
    SimulatedHttpResponse,
    SimulatedOutcome,
    SimulatedOutcomes,
    Simulation,
)


def _block_kind(parameters: Descriptor) -> str:
    """The name of the Block.kind member that holds these parameters."""
    members = Block.DESCRIPTOR.oneofs_by_name["kind"].fields
    return next(m.name for m in members if m.message_type is parameters)


# The block kinds whose calls a simulation scripts (keys of Simulation.kinds).
OPENAI = _block_kind(OpenAIAction.DESCRIPTOR)
WEBHOOK = _block_kind(WebhookAction.DESCRIPTOR)
SIMULATED_KINDS = (OPENAI, WEBHOOK)
# Outcomes a simulation may hold in all (blocks and kinds together); the last
# outcome of a block repeats, so a loop needs no more than its distinct ones.
MAX_OUTCOMES = 1000
# A failure's detail lands in the error variable after "Kind: ".
MAX_DETAIL_BYTES = 1024

# What each kind of call can end in live, and so may be scripted: for each
# failure kind, the error a live call of that kind ends with (its detail
# included, made by the live mapping where an HTTP status decides it).
_PROVIDER_ERRORS: dict[ErrorKind.ValueType, Callable[[int], ProviderError]] = {
    ErrorKind.ERROR_KIND_TIMEOUT: lambda timeout_ms: ProviderTimeoutError(
        f"no answer within {timeout_ms} ms"
    ),
    ErrorKind.ERROR_KIND_RATE_LIMITED: lambda _: error_for_status(429),
    ErrorKind.ERROR_KIND_QUOTA_EXCEEDED: lambda _: error_for_status(429, code=QUOTA_CODE),
    ErrorKind.ERROR_KIND_UNAUTHORIZED: lambda _: error_for_status(401),
    ErrorKind.ERROR_KIND_BAD_REQUEST: lambda _: error_for_status(400),
    ErrorKind.ERROR_KIND_PROVIDER_ERROR: lambda _: error_for_status(500),
    ErrorKind.ERROR_KIND_BLOCKED: lambda _: BlockedError(
        "the provider's endpoint is refused by the egress policy"
    ),
    ErrorKind.ERROR_KIND_BAD_RESPONSE: lambda _: BadResponseError(
        "the provider's answer could not be used"
    ),
}
# A webhook call's: the detail's template ({host}, {timeout_ms}), as webhook.py writes it.
_WEBHOOK_ERRORS: dict[ErrorKind.ValueType, tuple[type[ProviderError], str]] = {
    ErrorKind.ERROR_KIND_TIMEOUT: (
        ProviderTimeoutError,
        "no answer from {host} within {timeout_ms} ms",
    ),
    ErrorKind.ERROR_KIND_BAD_REQUEST: (BadRequestError, "the request to {host} was refused"),
    ErrorKind.ERROR_KIND_BAD_RESPONSE: (
        BadResponseError,
        "no usable answer from {host} (the connection failed)",
    ),
    ErrorKind.ERROR_KIND_BLOCKED: (BlockedError, "{host} is refused by the egress policy"),
}
OPENAI_FAILURES: frozenset[ErrorKind.ValueType] = frozenset(_PROVIDER_ERRORS)
WEBHOOK_FAILURES: frozenset[ErrorKind.ValueType] = frozenset(_WEBHOOK_ERRORS)
FAILURES = {OPENAI: OPENAI_FAILURES, WEBHOOK: WEBHOOK_FAILURES}
# The outcome members each kind of block takes.
MEMBERS = {OPENAI: ("answer", "failure"), WEBHOOK: ("http_response", "failure")}


class SimulationError(Exception):
    """A simulated run's action reached for the network without its block's
    script: a bug, and the failure barrier turns it into a failed action
    rather than a call that goes out."""


@dataclass
class RunScript:
    """The scripted outcomes of one simulated run."""

    simulation: Simulation
    # Block id → its kind, for the blocks that fall back to `kinds`.
    kinds: dict[str, str]
    # Block id → calls made so far in this run.
    calls: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, simulation: Simulation, flow: Flow) -> RunScript:
        return cls(simulation, {b.id: b.WhichOneof("kind") or "" for b in flow.blocks})

    def outcomes(self, block_id: str) -> SimulatedOutcomes:
        if block_id in self.simulation.blocks:
            return self.simulation.blocks[block_id]
        return self.simulation.kinds[self.kinds[block_id]]

    def next_outcome(self, block_id: str) -> SimulatedOutcome:
        """The outcome of the block's next call: the n-th call takes the n-th
        outcome, and every call past the last takes the last."""
        outcomes = self.outcomes(block_id).outcomes
        made = self.calls.get(block_id, 0)
        self.calls[block_id] = made + 1
        return outcomes[min(made, len(outcomes) - 1)]

    def for_block(self, block_id: str, variables: Variables) -> BlockScript:
        return BlockScript(self, block_id, variables)


def _json_escaped(lookup: Callable[[str], str]) -> Callable[[str], str]:
    return lambda name: json.dumps(lookup(name), ensure_ascii=False)[1:-1]


@dataclass(frozen=True)
class BlockScript:
    """One block's calls in a simulated run."""

    run: RunScript
    block_id: str
    variables: Variables

    def _lookup(self, name: str) -> str:
        # A secret renders empty: a scripted text lands in events and
        # variables, and must not be a way to read a secret back.
        return "" if self.variables.is_secret(name) else self.variables.render(name)

    def render(self, template: str, *, json_strings: bool = False) -> str:
        """A scripted text with the run's variables filled in; with
        `json_strings`, each value escaped as the inside of a JSON string."""
        lookup = _json_escaped(self._lookup) if json_strings else self._lookup
        return render_template(template, lookup)

    def complete(self, request: CompletionRequest, policy: RetryPolicy) -> CallOutcome:
        """One provider call's scripted end result (ActionContext.complete)."""
        outcome = self.run.next_outcome(self.block_id)
        if outcome.HasField("failure"):
            failure = outcome.failure
            timeout_ms = round(policy.attempt_timeout * 1000)
            return CallOutcome(None, provider_failure(failure, timeout_ms), attempts(failure), 0.0)
        if not outcome.HasField("answer"):
            raise SimulationError("an openai block's outcome is neither an answer nor a failure")
        answer = outcome.answer
        usage = answer.usage
        completion = Completion(
            text=self.render(answer.text, json_strings=_structured(request)),
            usage=Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
            model=answer.model or request.model,
            finish_reason=answer.finish_reason or FINISH_STOP,
        )
        return CallOutcome(completion, None, 1, 0.0)

    def http_response(self, host: str, timeout_ms: int) -> tuple[int, bytes]:
        """One webhook call's scripted (status, body), or the scripted
        failure raised as the error a live call ends with."""
        outcome = self.run.next_outcome(self.block_id)
        if outcome.HasField("failure"):
            raise webhook_failure(outcome.failure, host, timeout_ms)
        if not outcome.HasField("http_response"):
            raise SimulationError("a webhook block's outcome is neither a response nor a failure")
        response: SimulatedHttpResponse = outcome.http_response
        # The body is read as JSON, so values go in as JSON string contents.
        return response.status, self.render(response.body, json_strings=True).encode()


def _structured(request: CompletionRequest) -> bool:
    """Whether the action asks for a structured (JSON) answer: then values go
    into the scripted text as JSON string contents."""
    return getattr(request, "output_schema", None) is not None


def attempts(failure: SimulatedFailure) -> int:
    return failure.attempts or 1


def provider_failure(failure: SimulatedFailure, timeout_ms: int) -> ProviderError:
    """The error a provider call scripted to fail ends with."""
    make = _PROVIDER_ERRORS.get(failure.kind, _PROVIDER_ERRORS[ErrorKind.ERROR_KIND_PROVIDER_ERROR])
    error = make(timeout_ms)
    if not failure.detail:
        return error
    return type(error)(failure.detail, status=error.status)


def webhook_failure(failure: SimulatedFailure, host: str, timeout_ms: int) -> ProviderError:
    """The error a webhook call scripted to fail ends with. No HTTP status:
    a status is scripted as an http_response."""
    error_type, default = _WEBHOOK_ERRORS.get(
        failure.kind, _WEBHOOK_ERRORS[ErrorKind.ERROR_KIND_BAD_RESPONSE]
    )
    return error_type(failure.detail or default.format(host=host, timeout_ms=timeout_ms))
