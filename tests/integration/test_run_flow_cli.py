"""`botflow run-flow` as a person runs it: a subprocess against `botflow serve`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from botflow.server.run_flow_cli import describe
from botflow.v1.actions_pb2 import ErrorKind
from botflow.v1.conversation_pb2 import Direction
from botflow.v1.events_pb2 import FlowStatus, VariableChanged
from botflow.v1.flow_service_pb2 import RunFlowRequest, RunFlowResponse
from tests.support.botflow_process import botflow_server, run_flow_cli

TRIAGE = str(Path(__file__).resolve().parents[2] / "examples" / "flows" / "support_triage.json")
DELIVERY = "Got it, a delivery question. Please have your order number ready."
# The triage action falls back to a second model at the same provider, which
# takes the same scripted failures.
TIMEOUT_ERROR = (
    "Timeout: 2 providers failed: "
    "[primary fake/gpt-4o-mini] Timeout: no answer within 15000 ms (3 attempts); "
    "[fallback 1 fake/gpt-4.1-mini] Timeout: no answer within 15000 ms (3 attempts)"
)


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """A `botflow serve --providers fake` subprocess for the whole module."""
    with botflow_server(["--providers", "fake", "--grace-seconds", "1"]) as address:
        yield address


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def test_triage_start_then_resume_with_state_file(target: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = run_flow_cli(target, TRIAGE, "--provider", "fake", "--state", str(state))
    assert lines(first) == [
        "#1   [greet] bot says: Hi there! What can we help you with today?",
        "#2   [ask issue] finished: WAITING_FOR_ANSWER, resume at 'ask issue' after 2 step(s)",
        "     contact name = 'there'",
    ]
    kept = json_format.Parse(state.read_text(), RunFlowRequest())
    session = kept.conversation.current_bot_session_id
    assert session
    assert [(m.direction, m.text, m.bot_session_id) for m in kept.conversation.messages] == [
        (Direction.DIRECTION_SENT, "Hi there! What can we help you with today?", session)
    ]

    answer = "My parcel delivery is late"
    second = run_flow_cli(
        target,
        TRIAGE,
        "--provider",
        "fake",
        "--state",
        str(state),
        "--resume",
        "ask issue",
        "--answer",
        answer,
    )
    # The fake's structured answer: the choice the message mentions, urgency 0.
    triage = '{"intent": "delivery", "urgency": 0, "language": "English"}'
    assert lines(second) == [
        f"#1   [ask issue] issue = '{answer}'",
        "#2   [classify] action succeeded after 1 attempt(s)",
        f"#3   [classify] triage = '{triage}'",
        "#4   [classify] category = 'delivery'",
        "#5   [classify] urgency = '0'",
        "#6   [classify] language = 'English'",
        "#7   [classify] triage error = ''",
        f"#8   [delivery] bot says: {DELIVERY}",
        "#9   [tag] tags = 'triaged'",
        "#10  [tag] finished: COMPLETED after 5 step(s)",
        "     category = 'delivery'",
        "     contact name = 'there'",
        f"     issue = '{answer}'",
        "     language = 'English'",
        "     tags = 'triaged'",
        f"     triage = '{triage}'",
        "     triage error = ''",
        "     urgency = '0'",
    ]
    kept = json_format.Parse(state.read_text(), RunFlowRequest())
    assert kept.conversation.current_bot_session_id == session
    assert [(m.direction, m.text, m.bot_session_id) for m in kept.conversation.messages] == [
        (Direction.DIRECTION_SENT, "Hi there! What can we help you with today?", session),
        (Direction.DIRECTION_RECEIVED, answer, session),
        (Direction.DIRECTION_SENT, DELIVERY, session),
    ]
    assert list(kept.variables["tags"].list.items) == ["triaged"]


def test_json_prints_one_run_flow_response_per_line(target: str) -> None:
    result = run_flow_cli(
        target, TRIAGE, "--json", "--provider", "fake", "--resume", "ask issue", "--no-answer"
    )
    events = [json_format.Parse(line, RunFlowResponse()) for line in lines(result)]
    assert [event.sequence for event in events] == [1, 2]
    assert events[0].block_id == "no answer"
    assert events[0].note_added.text == "The contact did not describe the issue in time."
    finished = events[1].finished
    assert finished.status == FlowStatus.FLOW_STATUS_COMPLETED
    assert finished.variables["contact name"].text == "there"
    assert all(json.loads(line) for line in result.stdout.splitlines())


def test_var_sets_a_text_variable(target: str) -> None:
    result = run_flow_cli(
        target, TRIAGE, "--provider", "fake", "--var", "contact name=Ana", "--var", "plan=pro"
    )
    out = lines(result)
    assert out[0] == "#1   [greet] bot says: Hi Ana! What can we help you with today?"
    assert out[2:] == [
        "     contact name = 'Ana'",
        "     plan = 'pro'",
    ]


def test_provider_option_scripts_the_fake_provider(target: str) -> None:
    result = run_flow_cli(
        target,
        TRIAGE,
        "--json",
        "--provider",
        "fake",
        "--provider-option",
        "fail=timeout,timeout,timeout",
        "--resume",
        "ask issue",
        "--answer",
        "I was charged twice",
    )
    events = [json_format.Parse(line, RunFlowResponse()) for line in lines(result)]
    action = events[1].action_finished.result
    assert (events[1].block_id, action.error_kind, action.error, action.attempts) == (
        "classify",
        ErrorKind.ERROR_KIND_TIMEOUT,
        TIMEOUT_ERROR,
        6,
    )
    assert [(e.block_id, e.WhichOneof("event")) for e in events[2:]] == [
        ("classify", "variable_changed"),
        ("triage failed", "message_sent"),
        ("handover note", "note_added"),
        ("handover note", "finished"),
    ]
    assert events[-2].note_added.text == (
        f"Automatic triage failed ({TIMEOUT_ERROR}). Issue: I was charged twice"
    )


def test_invalid_flow_exits_2_with_field_violations(target: str, tmp_path: Path) -> None:
    flow = tmp_path / "bad.json"
    flow.write_text(
        json.dumps(
            {
                "startBlockId": "nowhere",
                "blocks": [
                    {"id": "a", "next": "b", "sendMessage": {"text": "hi"}},
                    {"id": "a", "sendMessage": {"text": "again"}},
                ],
            }
        )
    )
    result = run_flow_cli(target, str(flow), "--state", str(tmp_path / "state.json"))
    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr.splitlines()
    assert err[0].startswith("invalid request: ")
    violations = {line.strip().split(": ", 1)[0] for line in err[1:]}
    assert violations == {"flow.start_block_id", "flow.blocks[1].id", "flow.blocks[0].next"}
    assert not (tmp_path / "state.json").exists()  # nothing ran, nothing kept


def test_openai_block_on_a_disabled_provider_is_refused(target: str) -> None:
    # Without --provider the flow asks for "openai", which this server disabled.
    result = run_flow_cli(target, TRIAGE)
    assert result.returncode == 2
    assert "  flow.blocks[2].openai.provider: " in result.stderr


def test_unreachable_server_exits_1(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    # Port 1 on loopback: nothing listens there, the connection is refused.
    result = run_flow_cli("127.0.0.1:1", TRIAGE, "--timeout", "5", "--state", str(state))
    assert result.returncode == 1
    assert result.stderr.startswith("call failed: UNAVAILABLE: ")
    assert not state.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resume", "ask issue"), "--resume needs --answer TEXT or --no-answer"),
        (("--answer", "hello"), "--answer and --no-answer need --resume BLOCK"),
        (("--no-answer",), "--answer and --no-answer need --resume BLOCK"),
    ],
)
def test_resume_flags_must_come_together(target: str, args: tuple[str, ...], message: str) -> None:
    result = run_flow_cli(target, TRIAGE, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stdout == ""


SECRET_FLOW = {
    "variables": [{"name": "api key", "secret": True}],
    "blocks": [
        {"id": "ask", "next": "ai", "waitUserAnswer": {"answerVariable": "issue"}},
        {
            "id": "ai",
            "openai": {
                "token": "{{api key}}",
                "prompt": "Answer.",
                "history": "HISTORY_MODE_LAST_MESSAGE",
                "answerVariable": "answer",
            },
        },
    ],
}
CLI_KEY = "sk-cli-SECRET-77"


def test_state_keeps_no_secret_and_var_sends_it_again(target: str, tmp_path: Path) -> None:
    flow, state = tmp_path / "flow.json", tmp_path / "state.json"
    flow.write_text(json.dumps(SECRET_FLOW))
    common = (str(flow), "--provider", "fake", "--state", str(state))
    key = ("--var", f"api key={CLI_KEY}")
    first = lines(run_flow_cli(target, *common, *key, "--var", "plan=pro"))
    assert first[-1] == "     plan = 'pro'"
    assert CLI_KEY not in state.read_text()

    resume = ("--resume", "ask", "--answer", "hello")
    second = run_flow_cli(target, *common, *key, *resume, "--json")
    events = [json_format.Parse(line, RunFlowResponse()) for line in lines(second)]
    assert events[1].action_finished.result.answer == "hello"
    assert CLI_KEY not in second.stdout + state.read_text()

    # A resume that forgets --var: the state had no key to give.
    third = lines(run_flow_cli(target, *common, "--resume", "ask", "--answer", "again"))
    assert "the token is empty after filling in variables" in "\n".join(third)


def test_a_secret_change_prints_without_a_value() -> None:
    changed = VariableChanged(name="api key", secret=True)
    event = RunFlowResponse(sequence=3, block_id="s", variable_changed=changed)
    assert describe(event) == "#3   [s] api key changed (secret)"
