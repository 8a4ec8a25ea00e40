"""Structured answers of the OpenAI action: the JSON schema asked of the
provider, and the check of the answer against the action's output fields.

Rules (docs/rules.md "Structured answers"):

- The schema is one object whose properties are the fields, in the action's
  order, all required, no others allowed: TEXT → string, NUMBER → number,
  LIST → array of strings, ONE_OF → string with `enum` = the choices.
- The answer must be one JSON object (surrounding whitespace and one Markdown
  code fence around it are tolerated). Duplicate keys, NaN and Infinity are
  refused. Keys that are not fields are ignored.
- TEXT: a string. NUMBER: a finite number (not a boolean, not a numeric
  string). LIST: an array of strings. ONE_OF: a string equal to one of the
  choices once case and surrounding whitespace are ignored; the choice is
  stored as the action spells it.
- Every field passes or nothing is written: the first field that fails (in
  the action's order) is named in a BadResponse text that says why, never
  what the answer held.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from botflow.providers.base import OutputSchema
from botflow.providers.errors import BadResponseError
from botflow.server.validation import OUTPUT_FIELD_NAME, fold_choice
from botflow.server.variables import list_value, number_value, text_value, valid_text
from botflow.v1.actions_pb2 import OutputField, OutputType
from botflow.v1.variables_pb2 import Value

# The schema's (and the Anthropic tool's) name.
SCHEMA_NAME = "botflow_answer"
_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\r?\n(.*)\r?\n[ \t]*```\Z", re.DOTALL)

_TYPES: dict[int, dict[str, Any]] = {
    OutputType.OUTPUT_TYPE_TEXT: {"type": "string"},
    OutputType.OUTPUT_TYPE_NUMBER: {"type": "number"},
    OutputType.OUTPUT_TYPE_LIST: {"type": "array", "items": {"type": "string"}},
    OutputType.OUTPUT_TYPE_ONE_OF: {"type": "string"},
}


def output_schema(fields: Sequence[OutputField]) -> OutputSchema:
    """The JSON schema of an answer with these (validated) fields."""
    properties: dict[str, Any] = {}
    for output in fields:
        prop = dict(_TYPES[output.type])
        if output.type == OutputType.OUTPUT_TYPE_ONE_OF:
            prop["enum"] = list(output.choices)
        if output.description.strip():
            prop["description"] = output.description.strip()
        properties[output.name] = prop
    schema = {
        "type": "object",
        "properties": properties,
        "required": [output.name for output in fields],
        "additionalProperties": False,
    }
    return OutputSchema(name=SCHEMA_NAME, schema=schema)


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _document(text: str) -> object:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    return json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)


def _label(name: str) -> str:
    return f'the structured answer\'s field "{name}"'


def _why(finish_reason: str) -> str:
    return f" (finish reason {finish_reason})" if finish_reason and finish_reason != "stop" else ""


def parse_answer(
    text: str, fields: Sequence[OutputField], finish_reason: str = ""
) -> list[tuple[str, Value]]:
    """(variable, value) for every field, in the action's order; raises
    BadResponseError naming the first field that does not match."""
    try:
        document = _document(text)
    except _DuplicateKeyError as duplicate:
        name = str(duplicate)
        where = (
            _label(name)
            if OUTPUT_FIELD_NAME.fullmatch(name)
            else "a field of the structured answer"
        )
        raise BadResponseError(f"{where} appears twice") from None
    except (ValueError, RecursionError):
        raise BadResponseError(
            f"the structured answer is not valid JSON{_why(finish_reason)}"
        ) from None
    if not isinstance(document, dict):
        raise BadResponseError("the structured answer is not a JSON object")
    return [(output.variable, _value(output, document)) for output in fields]


def _value(output: OutputField, document: dict[str, Any]) -> Value:
    name = output.name
    if name not in document:
        raise BadResponseError(f"{_label(name)} is missing")
    value = document[name]
    if output.type == OutputType.OUTPUT_TYPE_NUMBER:
        number = _number(value)
        if number is None:
            raise BadResponseError(f"{_label(name)} is not a finite number")
        return number_value(number)
    if output.type == OutputType.OUTPUT_TYPE_LIST:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise BadResponseError(f"{_label(name)} is not a list of texts")
        return list_value(valid_text(item) for item in value)
    if not isinstance(value, str):
        raise BadResponseError(f"{_label(name)} is not a text")
    if output.type == OutputType.OUTPUT_TYPE_ONE_OF:
        chosen = _choice(output.choices, value)
        if chosen is None:
            raise BadResponseError(
                f"{_label(name)} is not one of its {len(output.choices)} choices"
            )
        return text_value(chosen)
    return text_value(valid_text(value))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _choice(choices: Sequence[str], value: str) -> str | None:
    wanted = fold_choice(value)
    for choice in choices:
        if fold_choice(choice) == wanted:
            return choice
    return None
