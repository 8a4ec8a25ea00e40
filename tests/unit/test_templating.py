"""{{name}} substitution."""

from __future__ import annotations

import pytest

from botflow.server.templating import placeholders, render_template
from botflow.server.variables import Variables, number_value, text_value

VALUES = {"name": "Ann", "api key": "k-1", "loop": "{{name}}", "n": "3"}


def lookup(name: str) -> str:
    return VALUES.get(name, "")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{name}}", "Hello Ann"),
        ("Hello {{ name }}", "Hello Ann"),
        ("Hello {{   name\t}}", "Hello Ann"),
        ("key={{api key}}", "key=k-1"),
        ("key={{ api key }}", "key=k-1"),
        ("[{{unknown}}]", "[]"),
        ("[{{}}]", "[]"),
        ("{{name}} has {{n}} items, {{name}}!", "Ann has 3 items, Ann!"),
        ("{{name}}{{n}}", "Ann3"),
        ("no placeholders at all", "no placeholders at all"),
        ("", ""),
        ("single {brace} and {{ unclosed", "single {brace} and {{ unclosed"),
    ],
)
def test_render_template(template: str, expected: str) -> None:
    assert render_template(template, lookup) == expected


def test_value_containing_a_placeholder_is_not_expanded_again() -> None:
    assert render_template("x={{loop}}", lookup) == "x={{name}}"


def test_lookup_receives_trimmed_names_in_order() -> None:
    seen: list[str] = []

    def recording(name: str) -> str:
        seen.append(name)
        return "."

    assert render_template("{{ a }}-{{b}}-{{  c d  }}", recording) == ".-.-."
    assert seen == ["a", "b", "c d"]


def test_render_with_variables_lookup() -> None:
    variables = Variables({"count": number_value(3.0), "who": text_value("Bo")})
    rendered = render_template("{{who}}:{{count}}:{{missing}}", variables.render)
    assert rendered == "Bo:3:"


def test_placeholders_lists_trimmed_names_in_order() -> None:
    assert placeholders("{{ a }} and {{api key}} then {{a}}") == ["a", "api key", "a"]
    assert placeholders("plain text") == []
