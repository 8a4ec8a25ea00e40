"""Choice: ordered branches of conditions; the first that holds wins, else the
fallback. Text comparisons ignore case and surrounding spaces; a numeric
operator with a side that is not a number is false."""

from __future__ import annotations

import operator
from collections.abc import Callable

from botflow.server.blocks.base import Outcome, RunState
from botflow.server.templating import render_template
from botflow.server.variables import parse_number
from botflow.v1.flow_pb2 import Block, ChoiceBranch, Condition, ConditionJoin, ConditionOperator

Op = ConditionOperator
# Plain ints: each enum wrapper lookup is a Python __getattr__, paid per
# condition otherwise.
IS_NUMBER = Op.CONDITION_OPERATOR_IS_NUMBER
IS_MESSAGE = Op.CONDITION_OPERATOR_IS_MESSAGE
JOIN_OR = ConditionJoin.CONDITION_JOIN_OR


def _fold(text: str) -> str:
    return text.strip().casefold()


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def check(subject: str, value: str) -> bool:
        left, right = parse_number(subject), parse_number(value)
        return left is not None and right is not None and compare(left, right)

    return check


TEXT: dict[int, Callable[[str, str], bool]] = {
    Op.CONDITION_OPERATOR_EQUALS: operator.eq,
    Op.CONDITION_OPERATOR_DIFFERENT_FROM: operator.ne,
    Op.CONDITION_OPERATOR_CONTAINS: lambda s, v: v in s,
    Op.CONDITION_OPERATOR_STARTS_WITH: str.startswith,
    Op.CONDITION_OPERATOR_ENDS_WITH: str.endswith,
}
NUMERIC: dict[int, Callable[[str, str], bool]] = {
    Op.CONDITION_OPERATOR_GREATER_THAN: _numeric(operator.gt),
    Op.CONDITION_OPERATOR_LESS_THAN: _numeric(operator.lt),
    Op.CONDITION_OPERATOR_GREATER_OR_EQUAL: _numeric(operator.ge),
    Op.CONDITION_OPERATOR_LESS_OR_EQUAL: _numeric(operator.le),
}


def holds(op: int, subject: str, value: str) -> bool:
    """Whether `subject <op> value` holds (both already rendered)."""
    text = TEXT.get(op)
    if text is not None:
        return text(_fold(subject), _fold(value))
    numeric = NUMERIC.get(op)
    if numeric is not None:
        return numeric(subject, value)
    if op == IS_NUMBER:
        return parse_number(subject) is not None
    if op == IS_MESSAGE:
        return bool(subject.strip())
    return False


def _subject(condition: Condition, state: RunState) -> str:
    variable = condition.variable
    if variable.strip():
        return state.variables.render(variable)
    return state.last_received_text()


def _condition_holds(condition: Condition, state: RunState) -> bool:
    value = render_template(condition.value, state.variables.render)
    return holds(condition.operator, _subject(condition, state), value)


def branch_matches(branch: ChoiceBranch, state: RunState) -> bool:
    # Over slices: iterating a protobuf repeated field itself ends on an
    # IndexError (it has no __iter__), a microsecond per loop.
    results = (_condition_holds(c, state) for c in branch.conditions[:])
    if branch.join == JOIN_OR:
        return any(results)
    return all(results)


async def run(block: Block, state: RunState) -> Outcome:
    for branch in block.choice.branches[:]:
        if branch_matches(branch, state):
            return Outcome(next=branch.next)
    return Outcome(next=block.choice.fallback_next)
