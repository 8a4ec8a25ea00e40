"""Typed values, rendering and assembly of a call's variables."""

from __future__ import annotations

import pytest

from botflow.server.variables import (
    Variables,
    format_number,
    list_value,
    number_value,
    parse_number,
    render_value,
    text_value,
)
from botflow.v1.variables_pb2 import TextList, Value, VariableDefinition


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (text_value("hello world"), "hello world"),
        (text_value("  kept  "), "  kept  "),
        (text_value(""), ""),
        (number_value(3.0), "3"),
        (number_value(2.5), "2.5"),
        (number_value(0.0), "0"),
        (number_value(-0.0), "0"),
        (number_value(-4.0), "-4"),
        (number_value(-0.25), "-0.25"),
        (number_value(1e15), "1000000000000000"),
        (number_value(123456789012.0), "123456789012"),
        (number_value(2.0**53), "9007199254740992"),
        (list_value(["a", "b", "c"]), "a, b, c"),
        (list_value(["only"]), "only"),
        (Value(list=TextList()), ""),
        (Value(), ""),
    ],
)
def test_render_value(value: Value, expected: str) -> None:
    assert render_value(value) == expected


def test_render_none_is_empty() -> None:
    assert render_value(None) == ""


def test_format_number_non_integral_keeps_precision() -> None:
    assert format_number(0.1 + 0.2) == "0.30000000000000004"
    assert format_number(1e300) == "1e+300"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("-1e3", -1000.0),
        ("-7", -7.0),
        ("0", 0.0),
        ("abc", None),
        ("", None),
        ("   ", None),
        ("1,5", None),
        ("nan", None),
        ("inf", None),
        ("-Infinity", None),
        (".5", 0.5),
        ("3.", 3.0),
        ("+4", 4.0),
        ("1_000", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits: not plain decimal notation
        ("1e400", None),
        ("0x10", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


def definitions() -> list[VariableDefinition]:
    return [
        VariableDefinition(name="greeting", default_value=text_value("hello")),
        VariableDefinition(name="count", default_value=number_value(1.0)),
        VariableDefinition(name=" spaced ", default_value=text_value("default")),
        VariableDefinition(name="no default"),
    ]


def test_assemble_uses_declared_defaults() -> None:
    variables = Variables.assemble(definitions(), {})
    assert variables.render("greeting") == "hello"
    assert variables.render("count") == "1"
    assert variables.render("spaced") == "default"
    assert variables.render("no default") == ""


def test_assemble_request_values_override_defaults() -> None:
    values = {"count": number_value(5.0), "spaced": text_value("given")}
    variables = Variables.assemble(definitions(), values)
    assert variables.get("count") == number_value(5.0)
    assert variables.render("spaced") == "given"
    assert variables.render("greeting") == "hello"


def test_assemble_trims_names() -> None:
    variables = Variables.assemble([], {"  name  ": text_value("Ann")})
    assert variables.render("name") == "Ann"
    assert variables.render(" name ") == "Ann"
    assert set(variables.public_values()) == {"name"}


def test_undeclared_unset_variable_is_empty() -> None:
    variables = Variables.assemble(definitions(), {"x": text_value("1")})
    assert variables.get("undeclared") is None
    assert variables.render("undeclared") == ""


def test_names_are_case_sensitive() -> None:
    variables = Variables({"Name": text_value("upper")})
    assert variables.render("Name") == "upper"
    assert variables.render("name") == ""


def test_set_stores_a_copy() -> None:
    original = text_value("before")
    variables = Variables()
    variables.set("v", original)
    original.text = "after"
    assert variables.render("v") == "before"
