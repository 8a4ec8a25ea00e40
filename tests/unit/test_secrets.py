"""Secret variables: which names are secret, and what Variables, the variable
writer and the event builders do with them."""

from __future__ import annotations

import pytest

from botflow.providers.errors import UnauthorizedError
from botflow.server.events import SecretChange, variable_changed, variables_changed
from botflow.server.results import VariableWriter
from botflow.server.secrets import secret_names_of_action, secret_names_of_flow
from botflow.server.variables import Variables, text_value
from botflow.v1.actions_pb2 import (
    Action,
    ActionResult,
    OpenAIAction,
    SetVariableAction,
    WebhookAction,
)
from botflow.v1.flow_pb2 import Block, Flow, SendMessageBlock
from botflow.v1.variables_pb2 import Value, VariableDefinition

KEY = text_value("sk-SECRET")


def declared(name: str, secret: bool = True, default: str = "") -> VariableDefinition:
    value = text_value(default) if default else Value()
    return VariableDefinition(name=name, default_value=value, secret=secret)


def openai(token: str) -> OpenAIAction:
    return OpenAIAction(token=token, prompt="{{topic}}", provider_options={"reply": "{{echo}}"})


# -- which names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("{{openai key}}", {"openai key"}),
        ("{{ openai key }}", {"openai key"}),
        ("sk-{{org}}-{{key}}", {"org", "key"}),
        ("sk-literal", set()),
        ("{{}}", set()),
        ("{{  }}", set()),
    ],
)
def test_token_secrets_are_the_token_placeholders(token: str, expected: set[str]) -> None:
    assert secret_names_of_action(Action(openai=openai(token)), []) == expected


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        ("Authorization", True),
        ("x-api-key", True),
        ("X-Api_Key", True),
        ("X-Auth-Token", True),
        ("Cookie", True),
        ("X-Client-Secret", True),
        ("Content-Type", False),
        ("X-Trace", False),
    ],
)
def test_header_secrets_follow_the_secret_header_names(header: str, secret: bool) -> None:
    action = WebhookAction(headers={header: "Bearer {{ value }}", "Accept": "{{other}}"})
    assert secret_names_of_action(Action(webhook=action), []) == ({"value"} if secret else set())


def test_a_secret_looking_query_parameter_makes_its_variable_secret() -> None:
    action = WebhookAction(query={"api_key": "{{hook key}}", "q": "{{term}}"})
    assert secret_names_of_action(Action(webhook=action), []) == frozenset({"hook key"})


def test_a_flow_s_secrets_come_from_declarations_and_every_block() -> None:
    hook = WebhookAction(headers={"Authorization": "Bearer {{hook key}}"}, query={"k": "{{q}}"})
    flow = Flow(
        variables=[declared(" pin "), declared("name", secret=False)],
        blocks=[
            Block(id="a", openai=openai("{{first key}}")),
            Block(id="b", send_message=SendMessageBlock(text="{{shown}}")),
            Block(id="c", openai=openai("{{second key}}")),
            Block(id="d", webhook=hook),
        ],
    )
    assert secret_names_of_flow(flow) == {"pin", "first key", "second key", "hook key"}


def test_an_action_s_secrets_come_from_its_definitions_and_itself() -> None:
    definitions = [declared("pin"), declared("plain", secret=False)]
    assert secret_names_of_action(Action(openai=openai("{{k}}")), definitions) == {"pin", "k"}
    set_variable = Action(set_variable=SetVariableAction(variable="x", value="{{k}}"))
    assert secret_names_of_action(set_variable, definitions) == {"pin"}
    assert secret_names_of_action(Action(), []) == frozenset()


# -- Variables ------------------------------------------------------------------------


def test_secrets_render_but_are_left_out_of_the_public_values() -> None:
    variables = Variables.assemble(
        [declared("pin", default="1234"), declared("name", secret=False, default="Ann")],
        {" key ": KEY, "plan": text_value("pro")},
        secrets=[" key"],
    )
    assert variables.render("key") == "sk-SECRET"
    assert variables.render("pin") == "1234"
    assert variables.secrets == {"key", "pin"}
    assert variables.is_secret("  pin ")
    assert not variables.is_secret("name")
    assert variables.public_values() == {"name": text_value("Ann"), "plan": text_value("pro")}


def test_a_secret_written_later_stays_out_too() -> None:
    variables = Variables(secrets=["token"])
    variables.set("token ", KEY)
    assert variables.get("token") == KEY
    assert variables.public_values() == {}


def test_assemble_reads_a_generator_of_definitions_once() -> None:
    definitions = (d for d in [declared("pin", default="1"), declared("x", secret=False)])
    variables = Variables.assemble(definitions, {})
    assert variables.secrets == {"pin"}
    assert variables.render("pin") == "1"
    assert set(variables.public_values()) == {"x"}


def test_restoring_a_snapshot_keeps_the_secrets() -> None:
    variables = Variables({"key": KEY}, secrets=["key"])
    before = variables.snapshot()
    variables.set("key", text_value("other"))
    variables.restore(before)
    assert variables.get("key") == KEY
    assert variables.public_values() == {}


# -- writes and events ----------------------------------------------------------------


def test_the_writer_records_a_secret_change_without_its_value() -> None:
    variables = Variables(secrets=["session"])
    writer = VariableWriter(variables)
    writer.set(" session ", KEY)
    writer.set("status", text_value("ok"))
    assert variables.get("session") == KEY
    (secret_change, plain_change) = writer.changes
    assert isinstance(secret_change, SecretChange)
    assert tuple(secret_change) == ("session", Value())
    assert not isinstance(plain_change, SecretChange)
    assert plain_change == ("status", text_value("ok"))


def test_an_answer_that_went_into_a_secret_is_not_in_the_result() -> None:
    writer = VariableWriter(Variables(secrets=["session"]))
    writer.set("session", text_value("minted"))
    run = writer.succeed("error", ActionResult(answer="minted", attempts=1))
    assert run.result.answer == ""
    assert run.result.attempts == 1


def test_an_answer_into_a_plain_variable_stays_in_the_result() -> None:
    # Only the secret's own write clears the answer: a secret error variable does not.
    writer = VariableWriter(Variables(secrets=["error"]))
    writer.set("answer", text_value("hello"))
    run = writer.succeed("error", ActionResult(answer="hello"))
    assert run.result.answer == "hello"
    assert isinstance(run.changes[-1], SecretChange)


def test_a_failure_into_a_secret_error_variable_hides_its_change() -> None:
    writer = VariableWriter(Variables(secrets=["error"]))
    run = writer.fail("error", UnauthorizedError("the provider refused the token"), 1, 0.0)
    assert [isinstance(c, SecretChange) for c in run.changes] == [True]


def test_a_secret_variable_changed_event_has_no_value() -> None:
    event = variable_changed("key", KEY, secret=True).variable_changed
    assert (event.name, event.secret, event.HasField("value")) == ("key", True, False)
    plain = variable_changed("plan", text_value("pro")).variable_changed
    assert (plain.secret, plain.value) == (False, text_value("pro"))


def test_variables_changed_marks_the_secret_changes() -> None:
    events = variables_changed([SecretChange.of("key"), ("plan", text_value("pro"))])
    assert [(e.variable_changed.name, e.variable_changed.secret) for e in events] == [
        ("key", True),
        ("plan", False),
    ]
    assert not events[0].variable_changed.HasField("value")
    assert events[1].variable_changed.value == text_value("pro")
