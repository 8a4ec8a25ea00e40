"""`botflow run-flow FLOW --simulate FILE` as a person runs it: the support
triage example through each of its branches with the simulation files of
examples/simulations/support_triage/, on a `botflow serve` subprocess with
its default providers and egress policy; and what a bad file gets.

The files rely on the flow's OpenAI block "classify" (a structured answer
with intent, urgency and language, and one fallback model); a change of the
flow that breaks them fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from botflow.v1.flow_service_pb2 import RunFlowResponse
from tests.support.botflow_process import botflow_server, run_flow_cli

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = str(ROOT / "examples" / "flows" / "support_triage.json")
SIMULATIONS = ROOT / "examples" / "simulations" / "support_triage"

BILLING = "Got it, a billing question. Our billing team will reply within a day."
DELIVERY = "Got it, a delivery question. Please have your order number ready."
OTHER = "Thanks! We will route your message to the right team."
URGENT = "Understood, this is urgent. An agent is picking it up now."
HANDOVER = "Thanks! An agent will get back to you shortly."
ISSUE = "I was charged twice and my parcel is late"

# Simulation file → (messages the bot sends after the answer, notes it adds).
BRANCHES = {
    "billing": ([BILLING], []),
    "delivery_after_fallback": ([DELIVERY], []),
    "other_in_spanish": (
        [OTHER],
        ["The contact writes in Spanish: route to an agent who speaks it."],
    ),
    "urgent": ([URGENT], [f"Urgent delivery issue (urgency 5): {ISSUE}"]),
    "triage_failed": (
        [HANDOVER],
        [
            "Automatic triage failed (ProviderError: 2 providers failed:"
            " [primary openai/gpt-4o-mini] Timeout: no answer within 15000 ms (3 attempts);"
            " [fallback 1 openai/gpt-4.1-mini] ProviderError: the provider failed (HTTP 503)"
            f" (3 attempts)). Issue: {ISSUE}"
        ],
    ),
}


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """`botflow serve` with its default providers (openai, fake) and egress
    policy: a simulated run needs nothing more."""
    with botflow_server(["--grace-seconds", "1"]) as address:
        yield address


def events_of(result: subprocess.CompletedProcess[str]) -> list[RunFlowResponse]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [json_format.Parse(line, RunFlowResponse()) for line in result.stdout.splitlines()]


def test_every_example_simulation_is_listed() -> None:
    assert sorted(p.stem for p in SIMULATIONS.glob("*.json")) == sorted(BRANCHES)


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_each_simulation_takes_its_branch_of_the_triage_flow(
    target: str, tmp_path: Path, name: str
) -> None:
    simulate = ("--simulate", str(SIMULATIONS / f"{name}.json"))
    state = ("--state", str(tmp_path / "state.json"))
    first = events_of(run_flow_cli(target, TRIAGE, "--json", *simulate, *state))
    assert first[-1].finished.resume_block_id == "ask issue"

    resume = ("--resume", "ask issue", "--answer", ISSUE)
    events = events_of(run_flow_cli(target, TRIAGE, "--json", *simulate, *state, *resume))
    sent, notes = BRANCHES[name]
    assert [e.message_sent.text for e in events if e.HasField("message_sent")] == sent
    assert [e.note_added.text for e in events if e.HasField("note_added")] == notes
    results = [e.action_finished.result for e in events if e.HasField("action_finished")]
    assert [e.block_id for e in events if e.HasField("action_finished")] == ["classify"]
    assert all(r.simulated for r in results)


def test_the_text_output_marks_simulated_actions(target: str) -> None:
    result = run_flow_cli(
        target,
        TRIAGE,
        "--simulate",
        str(SIMULATIONS / "billing.json"),
        "--resume",
        "ask issue",
        "--answer",
        ISSUE,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "#2   [classify] action succeeded after 1 attempt(s) (simulated)"
    assert f"[billing] bot says: {BILLING}" in result.stdout


def _doc_outputs() -> list[list[str]]:
    """The `text` blocks of docs/simulation.md's worked example."""
    doc = (ROOT / "docs" / "simulation.md").read_text()
    return [block.splitlines() for block in re.findall(r"```text\n(.*?)```", doc, re.DOTALL)]


@pytest.mark.parametrize(("name", "block"), [("triage_failed", 0), ("billing", 1)])
def test_the_worked_example_prints_what_the_docs_show(
    target: str, tmp_path: Path, name: str, block: int
) -> None:
    args = ("--simulate", str(SIMULATIONS / f"{name}.json"), "--state", str(tmp_path / "s.json"))
    assert run_flow_cli(target, TRIAGE, *args).returncode == 0
    second = run_flow_cli(
        target, TRIAGE, *args, "--resume", "ask issue", "--answer", "I was charged twice"
    )
    assert second.returncode == 0, second.stderr
    shown = _doc_outputs()[block]
    assert second.stdout.splitlines()[: len(shown)] == shown


def test_a_file_that_cannot_be_read_is_named(target: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = run_flow_cli(target, TRIAGE, "--simulate", str(missing))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"--simulate {missing}: cannot read it (No such file or directory)\n"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"blocks": {"classify": {"outcomes": [{"answr": {}}]}}}),
        json.dumps({"blocks": {"classify": {"outcomes": [{"answer": {}, "failure": {}}]}}}),
        json.dumps(["a list"]),
    ],
)
def test_a_file_that_is_no_simulation_is_refused_before_any_call(
    target: str, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "sim.json"
    path.write_text(content)
    result = run_flow_cli(target, TRIAGE, "--simulate", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"--simulate {path}: not a botflow.v1.Simulation in JSON: ")


def test_a_simulation_the_server_refuses_is_an_invalid_request(target: str, tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"kinds": {"webhook": {"outcomes": [{"httpResponse": {}}]}}}))
    result = run_flow_cli(target, TRIAGE, "--simulate", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert '  simulation.blocks["classify"]: ' in result.stderr
    assert '  simulation.kinds["webhook"].outcomes[0].http_response.status: ' in result.stderr
