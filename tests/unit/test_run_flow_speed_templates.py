"""The secret scan's template names come from the cached split
(`templating._parsed`): the same names, in the same order, as a scan of the
template with the placeholder pattern."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.server.templating import PLACEHOLDER, placeholders


def scanned(template: str) -> list[str]:
    return [match.group(1).strip() for match in PLACEHOLDER.finditer(template)]


@given(st.text(alphabet="{} ab\t}é", max_size=40))
def test_placeholders_are_the_names_the_pattern_finds(template: str) -> None:
    assert placeholders(template) == scanned(template)


def test_a_caller_may_change_the_names_it_gets() -> None:
    names = placeholders("{{ a }} and {{b}}")
    names.append("c")
    assert placeholders("{{ a }} and {{b}}") == ["a", "b"]
