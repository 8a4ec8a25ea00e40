"""The output budget's bound on the finish event's variables stays an upper
bound when it grows by each VariableChanged event's own size: a new
variable's map entry is exactly as large as its event. It stays one when a
restart_bot puts the declared defaults back (no VariableChanged event), after
a measurement may have brought it down to small variables. And a real run's
events, its finish event included, stay within max_run_bytes."""

from __future__ import annotations

import asyncio

from hypothesis import example, given
from hypothesis import strategies as st

from botflow.providers.registry import ProviderRegistry
from botflow.server.blocks.context import ActionContext
from botflow.server.budget import OutputBudget
from botflow.server.config import Limits, ServerConfig
from botflow.server.engine import run_flow
from botflow.server.events import bot_restarted, variable_changed
from botflow.v1.actions_pb2 import SetVariableOperation as Op
from botflow.v1.events_pb2 import FlowFinished, FlowStatus
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import RunFlowRequest, RunFlowResponse
from botflow.v1.variables_pb2 import TextList, Value
from tests.integration.flows import flow, restart, send, set_var, text

values = st.one_of(
    st.text(max_size=300).map(lambda text: Value(text=text)),
    st.floats(allow_nan=False).map(lambda number: Value(number=number)),
    st.lists(st.text(max_size=20), max_size=20).map(
        lambda items: Value(list=TextList(items=items))
    ),
    st.just(Value()),
)
names = st.text(min_size=1, max_size=200).map(str.strip).filter(bool)


@given(st.dictionaries(names, values, max_size=5), names, values)
def test_a_new_variable_grows_the_finish_event_by_its_event_size(
    before: dict[str, Value], name: str, value: Value
) -> None:
    after = {**before, name: value}
    grown = FlowFinished(variables=after).ByteSize() - FlowFinished(variables=before).ByteSize()
    if name in before:
        assert grown <= variable_changed(name, value).ByteSize()
    else:
        assert grown == variable_changed(name, value).ByteSize()


# A change of one variable, or (None) a restart_bot: the defaults back.
changes_and_restarts = st.lists(st.one_of(st.tuples(names, values), st.none()), max_size=8)


@given(st.dictionaries(names, values, max_size=5), changes_and_restarts, st.integers(0, 3_000))
# A large default emptied, the bound measured small at the second change,
# then the default back.
@example({"v": Value(text="d" * 300)}, [("v", Value()), ("v", Value()), None], 380)
def test_the_bound_never_falls_below_the_real_size(
    defaults: dict[str, Value], changes: list[tuple[str, Value] | None], limit: int
) -> None:
    """Also under a small budget, where the bound is measured again (and can
    drop) whenever it says the budget may be passed."""
    current = dict(defaults)

    def measure() -> int:
        return FlowFinished(variables=current).ByteSize()

    budget = OutputBudget(limit, 10_000_000, measure)
    for change in changes:
        before = dict(current)
        if change is None:
            # What the engine tells the budget after restart_bot.
            current.clear()
            current.update(defaults)
            admitted = budget.admits([bot_restarted("s" * 32)], "b", replaced=True)
        else:
            name, value = change
            current[name] = value
            admitted = budget.admits([variable_changed(name, value)], "b")
        if not admitted:
            # The engine undoes a refused block.
            current.clear()
            current.update(before)
        assert budget.variables_bound >= measure()


RUN_LIMIT = 16 * 1024
# A linear flow's blocks: a set_variable (variable, value size) or a
# send_message (text size); the run may end with a restart_bot.
steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from("abc"), st.integers(0, 4_000)),
        st.integers(0, 9_000),
    ),
    max_size=6,
)


def _run(the_flow: Flow) -> list[RunFlowResponse]:
    """Every event of a real run of `the_flow` (the engine, no server)."""
    actions = ActionContext(
        ServerConfig(limits=Limits(max_run_bytes=RUN_LIMIT)), ProviderRegistry({})
    )

    async def events() -> list[RunFlowResponse]:
        return [e async for e in run_flow(RunFlowRequest(flow=the_flow), actions)]

    return asyncio.run(events())


def test_a_run_of_one_large_message_keeps_room_for_its_finish_event() -> None:
    # One event: the room counted per event no longer covers the finish
    # event's own fields (before, this run ended 7 bytes over).
    run = _run(flow(send("b0", "m" * 16_330, "")))
    assert sum(e.ByteSize() for e in run) <= RUN_LIMIT
    assert run[-1].finished.status == FlowStatus.FLOW_STATUS_OUTPUT_LIMIT_REACHED


@given(
    st.dictionaries(st.sampled_from("abc"), st.integers(0, 4_000), max_size=3),
    steps,
    st.booleans(),
)
def test_a_run_stays_within_its_budget_through_a_restart(
    defaults: dict[str, int], blocks: list[tuple[str, int] | int], restarts: bool
) -> None:
    """The events and the final variables of a real run (the engine, no
    server) stay within max_run_bytes, whatever the defaults a restart_bot
    brings back."""
    built: list[Block] = []
    for i, step in enumerate(blocks):
        after = f"b{i + 1}" if i + 1 < len(blocks) or restarts else ""
        if isinstance(step, int):
            built.append(send(f"b{i}", "m" * step, after))
        else:
            name, size = step
            built.append(
                set_var(f"b{i}", name, Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, "x" * size, after)
            )
    if restarts:
        built.append(restart(f"b{len(blocks)}"))
    the_flow = flow(*built, defaults={name: text("d" * size) for name, size in defaults.items()})
    run = _run(the_flow)
    finished = run[-1].finished
    # The budget's rule (docs/rules.md "Output budget of a run"): every event
    # the caller receives, the finish event with its variables included.
    assert sum(e.ByteSize() for e in run) <= RUN_LIMIT
    if finished.status == FlowStatus.FLOW_STATUS_RESTARTED:
        assert dict(finished.variables) == {n: text("d" * s) for n, s in defaults.items()}
