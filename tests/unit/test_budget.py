"""The output budget of a run, measured on real events."""

from __future__ import annotations

from botflow.server.budget import EVENT_OVERHEAD_BYTES, FINISH_MARGIN_BYTES, OutputBudget
from botflow.server.events import message_sent, variable_changed
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
