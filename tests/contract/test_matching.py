"""The vector matcher itself must be able to say no."""

from __future__ import annotations

import pytest

from tests.contract.matching import ABSENT, ANY, mismatches


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": {"b": [1, {"c": "x"}]}}, {"a": {"b": [1.0, {"c": "x", "d": 0}]}}),
        ({"id": ANY}, {"id": "f00"}),
        ({"attempts": ABSENT}, {"outcome": "X"}),
        ([], []),
        (True, True),
    ],
)
def test_matches(expected: object, actual: object) -> None:
    assert mismatches(expected, actual) == []


@pytest.mark.parametrize(
    ("expected", "actual", "where"),
    [
        ({"a": 1}, {"b": 1}, "$.a: missing"),
        ({"a": 1}, {"a": 2}, "$.a: expected 1, got 2"),
        ({"a": [1, 2]}, {"a": [1]}, "$.a: expected 2 items, got [1]"),
        ({"a": {"b": "x"}}, {"a": "x"}, "$.a: expected an object, got 'x'"),
        ({"id": ANY}, {}, "$.id: missing"),
        ({"attempts": ABSENT}, {"attempts": 1}, "$.attempts: expected absent, got 1"),
        (True, 1, "$: expected True, got 1"),
        ([{"t": "x"}], [{"t": "y"}], "$[0].t: expected 'x', got 'y'"),
    ],
)
def test_mismatches(expected: object, actual: object, where: str) -> None:
    assert mismatches(expected, actual) == [where]
