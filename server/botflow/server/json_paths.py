"""Paths into a webhook's JSON response: `name`, `products[1].category`,
`products[*].title` (every match, as a list), `[0].id`, `a.b[2][0]`.

A path is dot-separated keys, each followed by any number of `[N]` (an index;
negative counts from the end) or `[*]` (every item). A path with `[*]` yields a
list; one that reaches nothing raises PathNotFoundError.

Nothing here recurses over a document except `render_json` (json.dumps), whose
depth is that of the document: documents come from a parse whose nesting was
first measured by `nesting_depth`, which does not recurse at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate

from botflow.server.variables import format_number, list_value, number_value, text_value
from botflow.v1.variables_pb2 import Value

_SEGMENT = re.compile(r"([^.\[\]]*)((?:\[(?:-?\d+|\*)\])*)")
_INDEX = re.compile(r"\[(-?\d+|\*)\]")
WILDCARD = "*"
# A JSON string, its closing quote optional: an unterminated string runs to the
# end in one match, so no input makes the scan retry from every quote.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class PathSyntaxError(ValueError):
    """The path cannot be parsed."""


class PathNotFoundError(LookupError):
    """The path reaches no value in the document."""


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[str | int, ...]

    @property
    def is_list(self) -> bool:
        return WILDCARD in self.steps


def parse_path(text: str) -> JsonPath:
    stripped = text.strip()
    if not stripped:
        raise PathSyntaxError("the path is empty")
    steps: list[str | int] = []
    for part in stripped.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None or (not match.group(1) and not match.group(2)):
            raise PathSyntaxError("use keys joined by '.', each with optional [N] or [*]")
        if match.group(1) == WILDCARD:
            # A bare `*` key would be taken for the wildcard step: write `[*]`.
            raise PathSyntaxError("'*' is not a key: write [*] for every item")
        if match.group(1):
            steps.append(match.group(1))
        for index in _INDEX.findall(match.group(2)):
            steps.append(WILDCARD if index == WILDCARD else int(index))
    return JsonPath(stripped, tuple(steps))


def _step(nodes: list[object], step: str | int) -> list[object]:
    found: list[object] = []
    for node in nodes:
        if step == WILDCARD:
            if not isinstance(node, list):
                raise PathNotFoundError
            found.extend(node)
        elif isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                raise PathNotFoundError
            found.append(node[step])
        else:
            if not isinstance(node, dict) or step not in node:
                raise PathNotFoundError
            found.append(node[step])
    return found


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON `text`, counted without
    parsing or recursion (json.loads recurses once per level, so a deep
    document must be refused before it is parsed). Brackets inside strings do
    not count; on invalid JSON the count is at least what a parser would reach
    before failing."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets), initial=0))


def render_json(value: object) -> str:
    """A JSON value as the text a list item or a text variable shows."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)  # exact at any size: long ids keep every digit
    if isinstance(value, float):
        return format_number(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Integers beyond this lose digits as a double: they are kept as text (ids).
MAX_EXACT_INTEGER = 2**53


def _as_value(value: object) -> Value:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INTEGER:
        return text_value(str(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_value(float(value))
    return text_value(render_json(value))


def extract(document: object, path: JsonPath) -> Value:
    """The variable value `path` selects in `document`."""
    nodes = [document]
    for step in path.steps:
        nodes = _step(nodes, step)
    if path.is_list:
        return list_value(render_json(n) for n in nodes)
    return _as_value(nodes[0])
