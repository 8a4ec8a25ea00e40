"""The failure barrier's results (server/botflow/server/barrier.py): a failed
action's result says whether the run was simulated, like every other action
result of that run."""

from __future__ import annotations

import pytest

from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.server.barrier import failed_action, failed_block
from botflow.server.blocks import KINDS
from botflow.server.blocks.context import ActionContext
from botflow.server.config import ServerConfig
from botflow.server.results import kind_label
from botflow.server.simulation import RunScript
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, OpenAIAction, WebhookAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import (
    SimulatedAnswer,
    SimulatedOutcome,
    SimulatedOutcomes,
    Simulation,
)

BLOCKS = {
    "openai": Block(id="ask", openai=OpenAIAction()),
    "webhook": Block(id="hook", webhook=WebhookAction()),
}
FLOW = Flow(blocks=list(BLOCKS.values()))


def _context(simulated: bool) -> ActionContext:
    ctx = ActionContext(ServerConfig(), ProviderRegistry({"fake": FakeProvider()}))
    if not simulated:
        return ctx
    answer = SimulatedOutcomes(outcomes=[SimulatedOutcome(answer=SimulatedAnswer(text="x"))])
    simulation = Simulation(kinds={"openai": answer, "webhook": answer})
    return ActionContext(ctx.config, ctx.registry, simulation=RunScript.of(simulation, FLOW))


def _only_result(block: Block, simulated: bool) -> ActionResult:
    kind = KINDS[block.WhichOneof("kind") or ""]
    outcome = failed_block(kind, block, Variables(), RuntimeError("boom"), _context(simulated))
    results = [e.action_finished.result for e in outcome.events if e.HasField("action_finished")]
    assert len(results) == 1
    assert results[0].outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    return results[0]


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("simulated", [True, False])
def test_a_failed_action_block_says_whether_the_run_was_simulated(
    name: str, simulated: bool
) -> None:
    assert _only_result(BLOCKS[name], simulated).simulated is simulated


def test_a_live_run_is_the_default() -> None:
    kind = KINDS["openai"]
    outcome = failed_block(kind, BLOCKS["openai"], Variables(), RuntimeError("boom"))
    assert outcome.events[0].action_finished.result.simulated is False


def _counts(ctx: ActionContext, name: str, result: ActionResult) -> tuple[float | None, ...]:
    """(simulated, live) counts of a failed `name` action with `result`."""
    labels = {"action": name, "outcome": "failed", "error_kind": kind_label(result.error_kind)}
    samples = ctx.metrics.registry
    return (
        samples.get_sample_value("botflow_simulated_actions_total", labels),
        samples.get_sample_value("botflow_actions_total", {**labels, "provider": ""}),
    )


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("simulated", [True, False])
def test_a_failed_action_block_is_counted_like_any_finished_action(
    name: str, simulated: bool
) -> None:
    kind, ctx = KINDS[name], _context(simulated)
    outcome = failed_block(kind, BLOCKS[name], Variables(), RuntimeError("boom"), ctx)
    result = outcome.events[0].action_finished.result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert _counts(ctx, name, result) == ((1.0, None) if simulated else (None, 1.0))


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("simulated", [True, False])
def test_a_failed_action_call_takes_simulated_from_its_context(name: str, simulated: bool) -> None:
    kind = KINDS[name]
    ctx = _context(simulated)
    params = kind.params(BLOCKS[name])
    reply = failed_action(kind, params, Variables(), ctx, RuntimeError("boom"))
    assert reply.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert reply.result.simulated is simulated
    # Counted where the context says: a simulated failure is never a provider's.
    assert _counts(ctx, name, reply.result) == ((1.0, None) if simulated else (None, 1.0))
