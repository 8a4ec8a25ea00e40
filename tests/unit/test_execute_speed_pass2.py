"""The second ExecuteAction speed pass: hand-written constructors of frozen
types, copy-free text writes and fast paths keep their old behaviour."""

from __future__ import annotations

import dataclasses

import pytest

from botflow.providers.base import ChatMessage, Completion, CompletionRequest, Usage
from botflow.providers.defaults import DEFAULT_ATTEMPT_TIMEOUT
from botflow.providers.egress import EgressPolicy
from botflow.providers.fake import check_options
from botflow.providers.registry import ProviderRegistry
from botflow.server.blocks.context import ActionContext
from botflow.server.config import ServerConfig
from botflow.server.events import SecretChange
from botflow.server.metrics import Metrics
from botflow.server.results import VariableWriter, duration, set_duration
from botflow.server.variables import Variables, text_value, valid_text
from botflow.v1.actions_pb2 import ActionResult

MESSAGES = (ChatMessage("user", "hi"),)


def test_completion_request_defaults_and_frozen() -> None:
    request = CompletionRequest("m", MESSAGES, "sk")
    assert request.options == {}
    assert request.timeout == DEFAULT_ATTEMPT_TIMEOUT
    assert (request.base_url, request.temperature, request.max_tokens) == (None, None, None)
    assert (request.attempt, request.output_schema) == (1, None)
    assert "sk" not in repr(request)
    assert "hi" not in repr(request)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.attempt = 2  # type: ignore[misc]
    again = dataclasses.replace(request, attempt=2, options={"a": "b"})
    assert (again.attempt, again.options, again.token) == (2, {"a": "b"}, "sk")
    assert again == CompletionRequest("m", MESSAGES, "sk", options={"a": "b"}, attempt=2)


def test_completion_defaults_and_frozen() -> None:
    assert Completion("x") == Completion(text="x", usage=Usage(), model="", finish_reason="")
    completion = Completion("x", Usage(1, 2, 3), "m", "stop")
    assert (completion.usage.total_tokens, completion.model) == (3, "m")
    assert "x" not in repr(Completion("x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        completion.text = "y"  # type: ignore[misc]


def test_action_context_defaults_frozen_and_replace() -> None:
    registry = ProviderRegistry({})
    ctx = ActionContext(ServerConfig(), registry)
    assert (ctx.deadline, ctx.http, ctx.simulation, ctx.script) == (None, None, None, None)
    assert isinstance(ctx.egress, EgressPolicy)
    assert isinstance(ctx.metrics, Metrics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.deadline = 1.0  # type: ignore[misc]
    later = dataclasses.replace(ctx, deadline=5.0)
    assert later.deadline == 5.0
    assert later.metrics is ctx.metrics


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
