"""The output budget's bound on the finish event's variables stays an upper
bound when it grows by each VariableChanged event's own size: a new
variable's map entry is exactly as large as its event."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.server.budget import OutputBudget
from botflow.server.events import variable_changed
from botflow.v1.events_pb2 import FlowFinished
from botflow.v1.variables_pb2 import TextList, Value

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


@given(st.lists(st.tuples(names, values), max_size=8))
def test_the_bound_never_falls_below_the_real_size(changes: list[tuple[str, Value]]) -> None:
    current: dict[str, Value] = {}
    budget = OutputBudget(10_000_000, 10_000_000, lambda: 0)
    for name, value in changes:
        current[name] = value
        assert budget.admits([variable_changed(name, value)], "b")
        assert budget.variables_bound >= FlowFinished(variables=current).ByteSize()
