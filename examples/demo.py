"""`make demo`: start a botflow server, run an OpenAI action through the Python
client and print the result, then run the support triage example flow
(examples/flows/support_triage.json) end to end, stop the server.

With OPENAI_API_KEY set the OpenAI calls go to OpenAI; without it, to the
built-in `fake` provider (the action is scripted to be rate limited once, then
answer; in the flow the fake classifies the contact's message by the words in
it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from botflow.client import BotflowClient
from botflow.server.run_flow_cli import describe, load_flow, next_state, override_provider
from botflow.server.variables import render_value
from botflow.v1.actions_pb2 import Action, ActionOutcome, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, Resume, RunFlowRequest
from botflow.v1.variables_pb2 import Value

RECEIVED, SENT = Direction.DIRECTION_RECEIVED, Direction.DIRECTION_SENT
TRIAGE_FLOW = Path(__file__).with_name("flows") / "support_triage.json"
TRIAGE_ANSWER = "I was charged twice, billing issue"


def start_server() -> tuple[subprocess.Popen[str], str]:
    # The console script installed next to this interpreter (the venv's bin/).
    command = str(Path(sys.executable).with_name("botflow"))
    # No shutdown delay: no load balancer watches the demo's server.
    env = {**os.environ, "BOTFLOW_SHUTDOWN_DELAY_SECONDS": "0"}
    process = subprocess.Popen(
        [command, "serve", "--port", "0", "--log-format", "text", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "botflow listening on HOST:PORT"
    if not line.startswith("botflow listening on "):
        process.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return process, line.rsplit(" ", 1)[1].strip()


def build_request(api_key: str | None) -> ExecuteActionRequest:
    action = OpenAIAction(
        token="{{openai key}}",
        prompt="You are the support bot of {{shop}}. Answer in one short sentence.",
        history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
        answer_variable="ai answer",
        error_variable="ai error",
        max_attempts=3,
        timeout_ms=20_000,
    )
    if api_key is None:
        action.provider = "fake"
        action.provider_options.update(
            {"fail": "rate_limit,ok", "reply": "{{shop}} ships in 2 days, tracking by email."}
        )
    conversation = Conversation(
        messages=[
            Message(direction=RECEIVED, text="Hi!", bot_session_id="s1"),
            Message(direction=SENT, text="Hello, how can I help?", bot_session_id="s1"),
            Message(direction=RECEIVED, text="How long does delivery take?", bot_session_id="s1"),
        ]
    )
    return ExecuteActionRequest(
        action=Action(openai=action),
        conversation=conversation,
        variables={
            "shop": Value(text="Acme Outdoor"),
            "openai key": Value(text=api_key or "not-a-real-key"),
        },
    )


async def run_action(target: str, api_key: str | None) -> int:
    async with BotflowClient(target) as client:
        response = await client.execute_action(build_request(api_key), timeout=90)
    result = response.result
    print(f"provider:  {'openai' if api_key else 'fake'}")
    print(f"outcome:   {ActionOutcome.Name(result.outcome)}")
    print(f"attempts:  {result.attempts}")
    print(f"elapsed:   {result.elapsed.ToTimedelta().total_seconds():.3f} s")
    usage = result.usage
    print(f"usage:     {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens")
    print(f"ai answer: {response.variables['ai answer'].text}")
    print(f"ai error:  {response.variables['ai error'].text!r}")
    return 0


async def run_triage_flow(target: str, api_key: str | None) -> int:
    """Two RunFlow calls, as a backend makes them: start, then resume with the
    contact's answer, keeping variables and conversation in between."""
    flow = load_flow(TRIAGE_FLOW)
    override_provider(flow, None if api_key else "fake", {})
    variables = {"contact name": Value(text="Ana")}
    if api_key:
        variables["openai key"] = Value(text=api_key)
    request = RunFlowRequest(flow=flow, variables=variables)
    provider = "openai" if api_key else "fake"
    print(f"\n--- RunFlow: examples/flows/{TRIAGE_FLOW.name} ({provider} provider)")
    async with BotflowClient(target) as client:
        events = await client.run_flow_to_finish(request, timeout=90)
        for event in events:
            print(describe(event))
        resume_at = events[-1].finished.resume_block_id
        print(f"\n--- the contact answers {TRIAGE_ANSWER!r}; resume at {resume_at!r}")
        request = next_state(request, events)
        request.flow.CopyFrom(flow)
        if api_key:  # a secret never comes back: every call sends the key again
            request.variables["openai key"].CopyFrom(Value(text=api_key))
        request.resume.CopyFrom(Resume(block_id=resume_at, answer=TRIAGE_ANSWER))
        events = await client.run_flow_to_finish(request, timeout=90)
        for event in events:
            print(describe(event))
    print("final variables:")
    final = events[-1].finished.variables
    for name in sorted(final):
        if name != "openai key":  # the token is a variable too: never print it
            print(f"     {name} = {render_value(final[name])!r}")
    return 0


async def run_demo(target: str, api_key: str | None) -> int:
    return await run_action(target, api_key) or await run_triage_flow(target, api_key)


def main() -> int:
    api_key = os.environ.get("OPENAI_API_KEY") or None
    process, target = start_server()
    print(f"botflow server on {target}\n")
    print("--- ExecuteAction: one OpenAI action")
    try:
        return asyncio.run(run_demo(target, api_key))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        print("\nserver stopped", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
