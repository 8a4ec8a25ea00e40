"""The output budget of a run, measured on real events."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.server.blocks.restart_bot import new_session_id
from botflow.server.budget import (
    EVENT_OVERHEAD_BYTES,
    FINISH_MARGIN_BYTES,
    OutputBudget,
    finish_fields_bytes,
)
from botflow.server.events import message_sent, variable_changed
from botflow.v1.events_pb2 import FlowFinished, FlowStatus
from botflow.v1.flow_service_pb2 import RunFlowResponse
from botflow.v1.variables_pb2 import Value


class Measure:
    """A variables size the test controls, counting exact measurements."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.size


def test_events_are_counted_until_the_budget_is_reached() -> None:
    measure = Measure(100)
    budget = OutputBudget(1_000, 1_000_000, measure)
    event = message_sent("x" * 300)
    size = event.ByteSize() + EVENT_OVERHEAD_BYTES + 1
    assert budget.admits([event], "b")
    assert budget.produced == size
    assert budget.admits([event], "b")
    assert not budget.admits([event], "b"), "a third event would pass 1,000 bytes"
    assert budget.produced == 2 * size, "a refused block counts nothing"


def test_variable_growth_is_bounded_without_measuring_each_time() -> None:
    measure = Measure(0)
    budget = OutputBudget(10_000_000, 10_000_000, measure)
    for _ in range(50):
        assert budget.admits([variable_changed("v", Value(text="y" * 100))], "b")
    assert measure.calls == 1, "only the first, initial measurement"
    assert budget.variables_bound >= 50 * 100


def test_an_overestimated_bound_is_measured_before_refusing() -> None:
    measure = Measure(10)
    budget = OutputBudget(10_000_000, 5_000 + FINISH_MARGIN_BYTES, measure)
    # The bound says 6,000+ bytes of variables; the real size (same variable
    # replaced) stays small, so the block is admitted after one measurement.
    for _ in range(3):
        assert budget.admits([variable_changed("v", Value(text="z" * 2_000))], "b")
    assert measure.calls == 2
    assert budget.variables_bound == 10


def test_variables_that_no_longer_fit_a_finish_event_are_refused() -> None:
    measure = Measure(0)
    budget = OutputBudget(10_000_000, 5_000 + FINISH_MARGIN_BYTES, measure)
    measure.size = 6_000
    assert not budget.admits([variable_changed("v", Value(text="z" * 6_000))], "b")
    assert not budget.fits_now() or budget.variables_bound == 0


block_ids = st.lists(st.text(max_size=300), min_size=1, max_size=5)
u32 = st.integers(0, 2**32 - 1)


@given(block_ids, st.text(max_size=300), st.data())
def test_the_finish_fields_bound_holds_for_any_finish_event(
    ids: list[str], session_id: str, data: st.DataObject
) -> None:
    """Whichever block a run ends at, with whichever session (the request's
    or a restart's), the finish event is at most its variables plus
    finish_fields_bytes."""
    variables = {"v": Value(text=data.draw(st.text(max_size=50)))}
    session = data.draw(st.sampled_from([session_id, new_session_id()]))
    finished = FlowFinished(
        status=data.draw(st.sampled_from(list(FlowStatus.values()))),
        variables=variables,
        resume_block_id=data.draw(st.sampled_from(ids)),
        bot_session_id=session,
        steps=data.draw(u32),
        bot_session_started=data.draw(st.booleans()),
    )
    event = RunFlowResponse(
        sequence=data.draw(u32), block_id=data.draw(st.sampled_from(ids)), finished=finished
    )
    beyond = event.ByteSize() - FlowFinished(variables=variables).ByteSize()
    assert beyond <= finish_fields_bytes(ids, session_id)


def test_the_finish_fields_are_kept_free_under_the_run_limit() -> None:
    budget = OutputBudget(1_000, 1_000_000, Measure(100), finish_fields=200)
    assert budget.admits([message_sent("x" * 650)], "b")
    assert not budget.admits([message_sent("x")], "b"), "the finish event's 200 bytes"
