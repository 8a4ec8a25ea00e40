"""The simulated-run machinery on its own (server/botflow/server/simulation.py
and ActionContext): which outcome each call takes, the typed failures, the
rendering of scripted texts, and that a simulated context never calls a
provider."""

from __future__ import annotations

import pytest

from botflow.providers.base import ChatMessage, Completion, CompletionRequest
from botflow.providers.errors import Kind, kind_of
from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.providers.retry import RetryPolicy
from botflow.server.blocks.context import ActionContext
from botflow.server.config import ServerConfig
from botflow.server.results import kind_label
from botflow.server.simulation import (
    OPENAI_FAILURES,
    WEBHOOK_FAILURES,
    RunScript,
    SimulationError,
    provider_failure,
    webhook_failure,
)
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ErrorKind, OpenAIAction, WebhookAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import (
    RunFlowRequest,
    SimulatedAnswer,
    SimulatedFailure,
    SimulatedOutcome,
    SimulatedOutcomes,
    Simulation,
)
from botflow.v1.variables_pb2 import Value

FLOW = Flow(
    blocks=[
        Block(id="a", openai=OpenAIAction()),
        Block(id="b", openai=OpenAIAction()),
        Block(id="h", webhook=WebhookAction()),
    ]
)
REQUEST = CompletionRequest(
    model="m-1", messages=(ChatMessage("user", "hi"),), token="sk-unit-SECRET"
)
POLICY = RetryPolicy(max_attempts=3, attempt_timeout=2.5)


def said(text: str) -> SimulatedOutcome:
    return SimulatedOutcome(answer=SimulatedAnswer(text=text))


def script(simulation: Simulation) -> RunScript:
    return RunScript.of(simulation, FLOW)


def test_calls_take_outcomes_in_order_and_the_last_repeats() -> None:
    run = script(Simulation(blocks={"a": SimulatedOutcomes(outcomes=[said("1"), said("2")])}))
    assert [run.next_outcome("a").answer.text for _ in range(4)] == ["1", "2", "2", "2"]


def test_blocks_sharing_a_kind_count_their_own_calls_and_ids_win() -> None:
    run = script(
        Simulation(
            blocks={"b": SimulatedOutcomes(outcomes=[said("b only")])},
            kinds={"openai": SimulatedOutcomes(outcomes=[said("k1"), said("k2")])},
        )
    )
    assert run.next_outcome("a").answer.text == "k1"
    assert run.next_outcome("b").answer.text == "b only"
    assert run.next_outcome("a").answer.text == "k2"
    assert run.next_outcome("b").answer.text == "b only"


def _variables() -> Variables:
    values = {"name": Value(text='Ana "A" \\'), "key": Value(text="sk-SECRET")}
    return Variables(values, secrets=["key"])


def test_scripted_texts_render_without_secrets() -> None:
    block = script(Simulation()).for_block("a", _variables())
    assert block.render("{{name}}|{{key}}|{{nobody}}") == 'Ana "A" \\||'
    assert block.render('"{{name}}"', json_strings=True) == '"Ana \\"A\\" \\\\"'


def test_a_scripted_answer_is_the_calls_completion() -> None:
    answer = SimulatedAnswer(text="hi {{name}}", model="", finish_reason="")
    run = script(
        Simulation(blocks={"a": SimulatedOutcomes(outcomes=[SimulatedOutcome(answer=answer)])})
    )
    outcome = run.for_block("a", _variables()).complete(REQUEST, POLICY)
    assert outcome.error is None
    assert outcome.completion == Completion(text='hi Ana "A" \\', model="m-1", finish_reason="stop")
    assert outcome.attempts == 1


def test_a_scripted_failure_is_the_calls_end_result() -> None:
    failure = SimulatedFailure(kind=ErrorKind.ERROR_KIND_TIMEOUT, attempts=3)
    run = script(
        Simulation(blocks={"a": SimulatedOutcomes(outcomes=[SimulatedOutcome(failure=failure)])})
    )
    outcome = run.for_block("a", _variables()).complete(REQUEST, POLICY)
    assert outcome.completion is None
    assert outcome.error is not None
    assert outcome.error.text() == "Timeout: no answer within 2500 ms"
    assert outcome.attempts == 3


@pytest.mark.parametrize("kind", sorted(OPENAI_FAILURES))
def test_each_provider_failure_has_its_own_kind_and_live_retryability(
    kind: ErrorKind.ValueType,
) -> None:
    error = provider_failure(SimulatedFailure(kind=kind), 1000)
    assert kind_of(error).value == kind_label(kind)
    retried = {Kind.TIMEOUT, Kind.RATE_LIMITED, Kind.PROVIDER_ERROR}
    assert error.retryable == (kind_of(error) in retried)


@pytest.mark.parametrize("kind", sorted(WEBHOOK_FAILURES))
def test_each_webhook_failure_has_its_own_kind_and_names_the_host(
    kind: ErrorKind.ValueType,
) -> None:
    error = webhook_failure(SimulatedFailure(kind=kind), "hooks.example.com", 1000)
    assert kind_of(error).value == kind_label(kind)
    assert "hooks.example.com" in error.detail
    assert error.status is None


def test_a_context_without_simulation_is_left_alone() -> None:
    ctx = ActionContext(ServerConfig(), ProviderRegistry({"fake": FakeProvider()}))
    assert ctx.for_run(RunFlowRequest(flow=FLOW)) is ctx
    assert ctx.for_block("a", _variables()) is ctx
    assert not ctx.simulated


class _Recording(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        return await super().complete(request)


async def test_a_simulated_context_never_calls_the_provider() -> None:
    provider = _Recording()
    base = ActionContext(ServerConfig(), ProviderRegistry({"fake": provider}))
    request = RunFlowRequest(
        flow=FLOW, simulation=Simulation(kinds={"openai": SimulatedOutcomes(outcomes=[said("x")])})
    )
    run_ctx = base.for_run(request)
    assert run_ctx.simulated
    # Without its block's script (a bug), the call fails rather than going out.
    with pytest.raises(SimulationError):
        await run_ctx.complete(provider, REQUEST, POLICY)
    outcome = await run_ctx.for_block("a", _variables()).complete(provider, REQUEST, POLICY)
    assert outcome.completion is not None
    assert outcome.completion.text == "x"
    assert provider.calls == 0
