"""The second ExecuteAction speed pass: copy-free text writes and fast paths
keep their old behaviour."""

from __future__ import annotations

import pytest

from botflow.providers.fake import check_options
from botflow.server.events import SecretChange
from botflow.server.results import VariableWriter, duration, set_duration
from botflow.server.variables import Variables, text_value, valid_text
from botflow.v1.actions_pb2 import ActionResult


@pytest.mark.parametrize("text", ["plain", "", "caf\u00e9", "a\ud800b", "\udfff"])
def test_valid_text_replaces_lone_surrogates(text: str) -> None:
    expected = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    assert valid_text(text) == expected
    assert type(valid_text(text)) is str


def test_valid_text_of_a_str_subclass_is_a_plain_str() -> None:
    class Detail(str):
        pass

    cleaned = valid_text(Detail("ascii"))
    assert cleaned == "ascii"
    assert type(cleaned) is str


def test_valid_text_of_a_non_str_raises_type_error() -> None:
    with pytest.raises(TypeError):
        valid_text(None)  # type: ignore[arg-type]


def test_set_text_stores_and_records_like_set() -> None:
    variables = Variables(secrets=["key"])
    writer = VariableWriter(variables)
    writer.set_text(" answer ", "hello")
    writer.set_text("key ", "sk")
    assert variables.get("answer") == text_value("hello")
    assert variables.get("key") == text_value("sk")
    assert writer.changes == [("answer", text_value("hello")), SecretChange.of("key")]


def test_set_duration_matches_duration() -> None:
    for seconds in (0.0, 0.0012, 3.5):
        result = ActionResult()
        set_duration(result.elapsed, seconds)
        assert result.HasField("elapsed")
        assert result.elapsed == duration(seconds)


@pytest.mark.parametrize(
    ("options", "refused"),
    [({}, False), ({"fail": ""}, False), ({"fail": "timeout, ok"}, False), ({"fail": "x"}, True)],
)
def test_fake_check_options(options: dict[str, str], refused: bool) -> None:
    assert [key for key, _ in check_options(options)] == (["fail"] if refused else [])
