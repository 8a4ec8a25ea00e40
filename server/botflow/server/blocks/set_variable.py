"""Set variable: text replace / append, number replace / add / subtract /
multiply / divide, list add / remove / empty. The operand is a template. A bad
number or a division by zero changes nothing and warns."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import NamedTuple

from botflow.server.blocks.base import Outcome, RunState
from botflow.server.events import variable_changed, warning
from botflow.server.templating import render_template
from botflow.server.variables import (
    Variables,
    list_value,
    number_value,
    parse_number,
    render_value,
    text_value,
)
from botflow.v1.actions_pb2 import SetVariableAction, SetVariableOperation, Warning
from botflow.v1.flow_pb2 import Block
from botflow.v1.variables_pb2 import Value

Operation = SetVariableOperation
# Plain ints: each enum wrapper lookup is a Python __getattr__, paid per
# block otherwise.
TEXT_REPLACE = Operation.SET_VARIABLE_OPERATION_TEXT_REPLACE
TEXT_APPEND = Operation.SET_VARIABLE_OPERATION_TEXT_APPEND
NUMBER_REPLACE = Operation.SET_VARIABLE_OPERATION_NUMBER_REPLACE
NUMBER_DIVIDE = Operation.SET_VARIABLE_OPERATION_NUMBER_DIVIDE
LIST_ADD = Operation.SET_VARIABLE_OPERATION_LIST_ADD
LIST_REMOVE = Operation.SET_VARIABLE_OPERATION_LIST_REMOVE
LIST_EMPTY = Operation.SET_VARIABLE_OPERATION_LIST_EMPTY

ARITHMETIC: dict[int, Callable[[float, float], float]] = {
    Operation.SET_VARIABLE_OPERATION_NUMBER_ADD: operator.add,
    Operation.SET_VARIABLE_OPERATION_NUMBER_SUBTRACT: operator.sub,
    Operation.SET_VARIABLE_OPERATION_NUMBER_MULTIPLY: operator.mul,
    Operation.SET_VARIABLE_OPERATION_NUMBER_DIVIDE: operator.truediv,
}


class Applied(NamedTuple):
    """Exactly one of: the new value, or the warning saying why nothing changed.
    A NamedTuple: as immutable as a frozen dataclass, cheaper to build."""

    value: Value | None = None
    warning: Warning | None = None


def _bad_number(what: str) -> Applied:
    return Applied(
        warning=Warning(code="bad_number", message=f"{what} is not a number; value unchanged")
    )


def _current_number(current: Value | None) -> float | None:
    if current is None or current.WhichOneof("kind") is None:
        return 0.0
    if current.WhichOneof("kind") == "number":
        return current.number
    text = render_value(current)
    return 0.0 if not text.strip() else parse_number(text)


def _current_items(current: Value | None) -> list[str]:
    if current is None:
        return []
    if current.WhichOneof("kind") == "list":
        return list(current.list.items)
    text = render_value(current)
    return [text] if text else []


def _number(op: int, current: Value | None, operand: str) -> Applied:
    right = parse_number(operand)
    if right is None:
        return _bad_number("the operand")
    if op == NUMBER_REPLACE:
        return Applied(number_value(right))
    left = _current_number(current)
    if left is None:
        return _bad_number("the variable's current value")
    if op == NUMBER_DIVIDE and right == 0:
        return Applied(
            warning=Warning(code="division_by_zero", message="division by zero; value unchanged")
        )
    result = ARITHMETIC[op](left, right)
    if not math.isfinite(result):
        return Applied(
            warning=Warning(
                code="number_overflow", message="the result is too large; value unchanged"
            )
        )
    return Applied(number_value(result))


def apply(action: SetVariableAction, variables: Variables) -> Applied:
    """Compute the variable's new value (does not store it)."""
    op = action.operation
    operand = render_template(action.value, variables.render)
    if op == TEXT_REPLACE:
        return Applied(text_value(operand))
    current = variables.get(action.variable)
    if op == TEXT_APPEND:
        return Applied(text_value(render_value(current) + operand))
    if op == LIST_ADD:
        if not operand.strip():
            return Applied(
                warning=Warning(code="empty_item", message="the item is empty; list unchanged")
            )
        return Applied(list_value([*_current_items(current), operand]))
    if op == LIST_REMOVE:
        kept = [item for item in _current_items(current) if item.strip() != operand.strip()]
        return Applied(list_value(kept))
    if op == LIST_EMPTY:
        return Applied(list_value([]))
    return _number(op, current, operand)


def _too_long(value: Value, limit: int) -> bool:
    return len(render_value(value).encode()) > limit


def set_variable(action: SetVariableAction, variables: Variables, max_text_bytes: int) -> Applied:
    """Apply and store; the ExecuteAction and RunFlow entry point.

    A value over the server's text limit is refused: stored, it would make the
    caller's next request invalid.
    """
    applied = apply(action, variables)
    if applied.value is not None and _too_long(applied.value, max_text_bytes):
        message = f"the value would be longer than the server limit of {max_text_bytes} bytes"
        return Applied(warning=Warning(code="too_long", message=f"{message}; value unchanged"))
    if applied.value is not None:
        variables.set(action.variable, applied.value)
    return applied


async def run(block: Block, state: RunState) -> Outcome:
    action = block.set_variable
    variables = state.variables
    applied = set_variable(action, variables, state.actions.config.limits.max_text_bytes)
    if applied.warning is not None:
        event = warning(applied.warning.code, applied.warning.message)
    else:
        assert applied.value is not None
        name = action.variable.strip()
        event = variable_changed(name, applied.value, secret=variables.is_secret(name))
    return Outcome([event], block.next)
