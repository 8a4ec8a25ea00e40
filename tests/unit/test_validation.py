"""Request validation: every violation at once, with field paths."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from botflow.providers.fake import FakeProvider
from botflow.providers.openai import OpenAIProvider
from botflow.providers.registry import ProviderRegistry
from botflow.server.config import Limits
from botflow.server.request_validation import validate_execute_action
from botflow.server.validation import ValidationContext, Violations
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from botflow.v1.variables_pb2 import TextList, Value, VariableDefinition
from tests.support.provider_context import provider_context

# The server's wiring: each provider judges its own options.
CHECKS = ProviderRegistry({"openai": OpenAIProvider(provider_context()), "fake": FakeProvider()})
CTX = ValidationContext(
    limits=Limits(),
    enabled_providers=("openai", "fake"),
    default_provider="openai",
    check_options=CHECKS.check_options,
)
SECRET = "sk-SECRET-do-not-echo"


def openai(**fields: Any) -> OpenAIAction:
    base: dict[str, Any] = {
        "token": "sk-literal",
        "prompt": "Be helpful",
        "history": HistoryMode.HISTORY_MODE_ALL_CONVERSATION,
    }
    base.update(fields)
    return OpenAIAction(**base)


def request(action: OpenAIAction | None = None, **fields: Any) -> ExecuteActionRequest:
    return ExecuteActionRequest(action=Action(openai=action or openai()), **fields)


def paths(violations: Violations) -> list[str]:
    return [path for path, _ in violations.items]


def decode(status: grpc.Status) -> tuple[Any, list[tuple[str, str]]]:
    """The google.rpc.Status in the trailing metadata and its field violations."""
    details = dict(status.trailing_metadata)["grpc-status-details-bin"]
    rpc = status_pb2.Status.FromString(details)
    assert len(rpc.details) == 1
    bad_request = error_details_pb2.BadRequest()
    assert rpc.details[0].Unpack(bad_request)
    return rpc, [(fv.field, fv.description) for fv in bad_request.field_violations]


def test_valid_request_has_no_violations() -> None:
    req = request(
        openai(
            token="{{api key}}",
            prompt="Answer {{ name }}",
            provider="fake",
            temperature=0.7,
            max_tokens=100,
            base_url="https://example.com/v1",
            answer_variable="answer",
            error_variable="my error",
            provider_options={"fail": "rate_limit, ok", "reply": "hi"},
        ),
        variables={"name": Value(text="Ann"), "n": Value(number=2.0)},
        variable_definitions=[VariableDefinition(name="api key")],
        conversation=Conversation(
            messages=[Message(direction=Direction.DIRECTION_RECEIVED, text="hi")]
        ),
    )
    violations = validate_execute_action(req, CTX)
    assert not violations
    assert violations.items == []


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"token": ""}, "action.openai.token"),
        ({"token": "   \t"}, "action.openai.token"),
        ({"prompt": ""}, "action.openai.prompt"),
        ({"prompt": "\n "}, "action.openai.prompt"),
        ({"history": HistoryMode.HISTORY_MODE_UNSPECIFIED}, "action.openai.history"),
        ({"history": HistoryMode.ValueType(99)}, "action.openai.history"),
        ({"provider": "nope"}, "action.openai.provider"),
        ({"temperature": -0.1}, "action.openai.temperature"),
        ({"temperature": 2.01}, "action.openai.temperature"),
        ({"temperature": math.nan}, "action.openai.temperature"),
        ({"temperature": math.inf}, "action.openai.temperature"),
        ({"max_tokens": 0}, "action.openai.max_tokens"),
        ({"base_url": "ftp://example.com/v1"}, "action.openai.base_url"),
        ({"base_url": "example.com/v1"}, "action.openai.base_url"),
        ({"base_url": "/v1"}, "action.openai.base_url"),
        ({"base_url": "http://"}, "action.openai.base_url"),
        ({"base_url": "http://[::1"}, "action.openai.base_url"),
        ({"base_url": "http://[not-an-ip]/v1"}, "action.openai.base_url"),
        ({"answer_variable": "   "}, "action.openai.answer_variable"),
        ({"error_variable": " "}, "action.openai.error_variable"),
        (
            {"provider": "fake", "provider_options": {"fail": "rate_limit,explode"}},
            'action.openai.provider_options["fail"]',
        ),
    ],
)
def test_single_action_violation(fields: dict[str, Any], path: str) -> None:
    assert paths(validate_execute_action(request(openai(**fields)), CTX)) == [path]


@pytest.mark.parametrize("template", ["{{api key}}", "{{ missing }}", "sk-{{suffix}}"])
def test_template_token_and_prompt_are_valid(template: str) -> None:
    action = openai(token=template, prompt=template)
    assert not validate_execute_action(request(action), CTX)


@pytest.mark.parametrize("temperature", [0.0, 1.3, 2.0])
def test_temperature_bounds_are_inclusive(temperature: float) -> None:
    assert not validate_execute_action(request(openai(temperature=temperature)), CTX)


@pytest.mark.parametrize("url", ["https://example.com/v1", "http://localhost:11434/v1"])
def test_valid_base_urls(url: str) -> None:
    assert not validate_execute_action(request(openai(base_url=url)), CTX)


def test_default_provider_must_be_enabled() -> None:
    ctx = ValidationContext(Limits(), enabled_providers=("fake",), default_provider="openai")
    assert paths(validate_execute_action(request(openai()), ctx)) == ["action.openai.provider"]
    assert not validate_execute_action(request(openai(provider="fake")), ctx)


def test_disabled_provider_is_refused() -> None:
    ctx = ValidationContext(Limits(), enabled_providers=("openai",), default_provider="openai")
    violations = validate_execute_action(request(openai(provider="fake")), ctx)
    assert paths(violations) == ["action.openai.provider"]


def test_fail_script_is_only_checked_for_the_fake_provider() -> None:
    action = openai(provider="openai", provider_options={"fail": "explode"})
    assert not validate_execute_action(request(action), CTX)


def test_missing_action() -> None:
    violations = validate_execute_action(ExecuteActionRequest(), CTX)
    assert paths(violations) == ["action"]


def test_duplicate_variable_names_after_trimming() -> None:
    req = request(variables={"x": Value(text="1"), " x": Value(text="2")})
    assert paths(validate_execute_action(req, CTX)) == ['variables["x"]']


def test_blank_variable_name() -> None:
    req = request(variables={"  ": Value(text="1")})
    assert paths(validate_execute_action(req, CTX)) == ['variables["  "]']


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers(number: float) -> None:
    req = request(
        variables={"n": Value(number=number)},
        variable_definitions=[VariableDefinition(name="d", default_value=Value(number=number))],
    )
    assert paths(validate_execute_action(req, CTX)) == [
        'variables["n"]',
        "variable_definitions[0].default_value",
    ]


def test_duplicate_and_blank_definitions() -> None:
    req = request(
        variable_definitions=[
            VariableDefinition(name="a"),
            VariableDefinition(name=" a "),
            VariableDefinition(name=""),
        ]
    )
    assert paths(validate_execute_action(req, CTX)) == [
        "variable_definitions[1].name",
        "variable_definitions[2].name",
    ]


def test_conversation_direction_unspecified() -> None:
    req = request(
        conversation=Conversation(
            messages=[Message(text="x"), Message(direction=Direction.DIRECTION_SENT, text="y")]
        )
    )
    assert paths(validate_execute_action(req, CTX)) == ["conversation.messages[0].direction"]


def test_texts_over_the_limit() -> None:
    ctx = ValidationContext(Limits(max_text_bytes=8), ("openai", "fake"), "openai")
    req = request(
        openai(token="t" * 9, prompt="12345678"),
        variables={
            "long": Value(text="é" * 5),  # 10 bytes in UTF-8, 5 characters
            "list": Value(list=TextList(items=["ok", "x" * 9])),
        },
        variable_definitions=[VariableDefinition(name="d", default_value=Value(text="y" * 20))],
        conversation=Conversation(
            messages=[Message(direction=Direction.DIRECTION_RECEIVED, text="z" * 9)]
        ),
    )
    assert paths(validate_execute_action(req, ctx)) == [
        "action.openai.token",
        'variables["list"].list.items[1]',
        'variables["long"]',
        "variable_definitions[0].default_value",
        "conversation.messages[0].text",
    ]


def test_count_limits() -> None:
    ctx = ValidationContext(
        Limits(max_variables=1, max_conversation_messages=1), ("openai",), "openai"
    )
    message = Message(direction=Direction.DIRECTION_RECEIVED, text="x")
    req = request(
        variables={"a": Value(text="1"), "b": Value(text="2")},
        conversation=Conversation(messages=[message, message]),
    )
    assert paths(validate_execute_action(req, ctx)) == ["variables", "conversation.messages"]


def test_all_violations_are_reported_at_once() -> None:
    req = request(
        openai(
            token="",
            prompt=" ",
            history=HistoryMode.HISTORY_MODE_UNSPECIFIED,
            provider="fake",
            temperature=3.0,
            base_url="nope",
            provider_options={"fail": "boom"},
        ),
        variables={"x": Value(number=math.nan)},
        conversation=Conversation(messages=[Message(text="hi")]),
    )
    assert paths(validate_execute_action(req, CTX)) == [
        "action.openai.token",
        "action.openai.prompt",
        "action.openai.history",
        "action.openai.temperature",
        "action.openai.base_url",
        'action.openai.provider_options["fail"]',
        'variables["x"]',
        "conversation.messages[0].direction",
    ]


def test_to_status_carries_every_field_violation() -> None:
    req = request(
        openai(token="", provider="nope"),
        variables={"x": Value(number=math.inf)},
    )
    violations = validate_execute_action(req, CTX)
    status = violations.to_status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    rpc, decoded = decode(status)
    assert rpc.code == code_pb2.INVALID_ARGUMENT
    assert rpc.message == status.details
    assert decoded == violations.items
    assert [path for path, _ in decoded] == [
        "action.openai.token",
        "action.openai.provider",
        'variables["x"]',
    ]
    assert status.details.startswith("invalid request, 3 violation(s): action.openai.token: ")


def test_to_status_summary_is_capped_but_details_are_complete() -> None:
    violations = Violations()
    for i in range(7):
        violations.add(f"field{i}", "bad")
    status = violations.to_status()
    assert "field4: bad" in status.details
    assert "field5" not in status.details
    assert status.details.endswith("(and 2 more)")
    _, decoded = decode(status)
    assert [path for path, _ in decoded] == [f"field{i}" for i in range(7)]


def test_descriptions_never_contain_the_offending_value() -> None:
    ctx = ValidationContext(Limits(max_text_bytes=32), ("openai", "fake"), "openai")
    req = request(
        openai(
            token=SECRET + "x" * 40,
            prompt=SECRET + "y" * 40,
            provider=SECRET,
            base_url=f"ftp://user:{SECRET}@example.com",
            temperature=9.5,
        ),
        variables={"v": Value(text=SECRET * 3)},
    )
    violations = validate_execute_action(req, ctx)
    assert paths(violations) == [
        "action.openai.token",
        "action.openai.prompt",
        "action.openai.provider",
        "action.openai.temperature",
        "action.openai.base_url",
        'variables["v"]',
    ]
    status = violations.to_status()
    metadata = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert SECRET not in status.details
    assert SECRET.encode() not in metadata
    assert "9.5" not in status.details
    for path, description in violations.items:
        assert SECRET not in path
        assert SECRET not in description


def test_variables_must_leave_room_for_the_response_that_returns_them() -> None:
    """Each value is within the text limit, and the request within the receive
    limit, but the response (or finish event) carrying them would not be."""
    ctx = ValidationContext(
        limits=Limits(max_message_bytes=100_000, max_variables=100),
        enabled_providers=("openai",),
        default_provider="openai",
    )
    fits = {f"v{i}": Value(text="x" * 9_000) for i in range(10)}
    assert not validate_execute_action(request(variables=fits), ctx)
    too_many = {f"v{i}": Value(text="x" * 9_000) for i in range(11)}
    violations = validate_execute_action(request(variables=too_many), ctx)
    assert paths(violations) == ["variables"]
    defaults = [VariableDefinition(name="d", default_value=Value(text="y" * 9_000))]
    violations = validate_execute_action(
        request(variables=fits, variable_definitions=defaults), ctx
    )
    assert paths(violations) == ["variables"]
