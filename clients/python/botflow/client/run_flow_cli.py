"""`botflow-run-flow FLOW.json` (also `botflow run-flow` where the server is
installed): run a flow on a server and print its events.

The flow file is a botflow.v1.Flow in the proto's JSON mapping. `--state FILE`
plays the caller's part of the resume protocol: it keeps the variables and the
conversation (messages sent, answers given) between calls, as a backend would.
Secret variables (an API key; docs/flows.md "Secret variables") never come back
from the server, so the state never holds them: pass them with `--var` on every
call, the first and each resume.

`--simulate FILE` runs the flow without any network: FILE is a
botflow.v1.Simulation in the proto's JSON mapping, scripting what each OpenAI
and webhook block's calls return (docs/simulation.md). Like secrets, it is not
kept in the state: give it on every call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc
from google.protobuf import json_format

from botflow.client import BotflowClient, InvalidRequestError
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Flow
from botflow.v1.flow_service_pb2 import Resume, RunFlowRequest, RunFlowResponse, Simulation
from botflow.v1.variables_pb2 import Value

DEFAULT_TARGET = "127.0.0.1:50051"
# Variables named like secrets print masked even when the server returns them
# (one that predates secret variables, or a flow that does not mark them).
SECRET_NAME = re.compile(r"key|token|secret|passw|auth|cookie", re.IGNORECASE)


# How the server renders values in templates; repeated here because this
# command ships in botflow-client, which does not contain the server.
LIST_SEPARATOR = ", "


def render_value(value: Value) -> str:
    """The text a value shows in a template: 3.0 → "3", a list → "a, b"."""
    kind = value.WhichOneof("kind")
    if kind == "text":
        return value.text
    if kind == "number":
        number = value.number
        if math.isfinite(number) and number.is_integer() and abs(number) < 1e16:
            return str(int(number))
        return repr(number)
    if kind == "list":
        return LIST_SEPARATOR.join(value.list.items)
    return ""


def starting_session(request: RunFlowRequest) -> str:
    """The bot session the run began in, as far as the request says (the
    server's rule): a resume continues the named session, else the latest
    message's; a new run continues only a named one and otherwise starts one
    whose id only `finished` reports (or, after a restart, nobody: "")."""
    conversation = request.conversation
    if conversation.current_bot_session_id or not request.HasField("resume"):
        return conversation.current_bot_session_id
    for message in reversed(conversation.messages):
        if message.bot_session_id:
            return message.bot_session_id
    return ""


def shown(name: str, value: Value) -> str:
    return "'***'" if SECRET_NAME.search(name) else repr(render_value(value))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `run-flow` subcommand of the server's `botflow` command."""
    _add_arguments(
        sub.add_parser("run-flow", help="run a flow JSON file on a server and print its events")
    )


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("flow", type=Path, help="a botflow.v1.Flow in JSON")
    p.add_argument(
        "--target", default=None, help=f"server address (BOTFLOW_TARGET, default {DEFAULT_TARGET})"
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a text variable; give secrets (an API key) on every call, --state keeps none",
    )
    p.add_argument("--resume", metavar="BLOCK", help="resume at this wait_user_answer block")
    answer = p.add_mutually_exclusive_group()
    answer.add_argument("--answer", help="the contact's answer when resuming")
    answer.add_argument("--no-answer", action="store_true", help="resume with 'no answer in time'")
    p.add_argument("--state", type=Path, help="read and write variables and conversation here")
    p.add_argument("--provider", help="run every OpenAI block with this provider (e.g. fake)")
    p.add_argument("--provider-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--simulate",
        type=Path,
        metavar="FILE",
        help="run without network: a botflow.v1.Simulation in JSON scripting the actions' calls",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="deadline of the call in seconds")
    p.add_argument("--json", action="store_true", help="one JSON event per line")


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes NAME=VALUE, got {item!r}")
        pairs[name.strip()] = value
    return pairs


def load_flow(path: Path) -> Flow:
    return json_format.Parse(path.read_text(), Flow())


def load_simulation(path: Path) -> Simulation:
    """The --simulate file; a file that cannot be read or is no Simulation
    ends the command with a message naming the file."""
    try:
        return json_format.Parse(path.read_text(), Simulation())
    except OSError as error:
        raise SystemExit(f"--simulate {path}: cannot read it ({error.strerror})") from None
    except (json_format.ParseError, UnicodeDecodeError) as error:
        raise SystemExit(
            f"--simulate {path}: not a botflow.v1.Simulation in JSON: {error}"
        ) from None


def override_provider(flow: Flow, provider: str | None, options: dict[str, str]) -> None:
    for block in flow.blocks:
        if block.HasField("openai"):
            if provider:
                block.openai.provider = provider
            block.openai.provider_options.update(options)


def build_request(args: argparse.Namespace) -> RunFlowRequest:
    if args.resume and args.answer is None and not args.no_answer:
        raise SystemExit("--resume needs --answer TEXT or --no-answer")
    if not args.resume and (args.answer is not None or args.no_answer):
        raise SystemExit("--answer and --no-answer need --resume BLOCK")
    request = RunFlowRequest()
    if args.state and args.state.exists():
        json_format.Parse(args.state.read_text(), request)
    request.flow.CopyFrom(load_flow(args.flow))
    override_provider(
        request.flow, args.provider, _pairs(args.provider_option, "--provider-option")
    )
    if args.simulate is not None:
        request.simulation.CopyFrom(load_simulation(args.simulate))
    for name, value in _pairs(args.var, "--var").items():
        request.variables[name].CopyFrom(Value(text=value))
    if args.resume:
        request.resume.CopyFrom(
            Resume(block_id=args.resume, answer=args.answer or "", timed_out=args.no_answer)
        )
    return request


def describe(event: RunFlowResponse) -> str:
    """One line a person can read."""
    kind = event.WhichOneof("event")
    prefix = (
        f"#{event.sequence:<3} [{event.block_id}]" if event.block_id else f"#{event.sequence:<3}"
    )
    if kind == "message_sent":
        return f"{prefix} bot says: {event.message_sent.text}"
    if kind == "note_added":
        return f"{prefix} note: {event.note_added.text}"
    if kind == "variable_changed":
        changed = event.variable_changed
        if changed.secret:
            return f"{prefix} {changed.name} changed (secret)"
        return f"{prefix} {changed.name} = {shown(changed.name, changed.value)}"
    if kind == "action_finished":
        result = event.action_finished.result
        how = " (simulated)" if result.simulated else ""
        if result.error:
            return f"{prefix} action failed after {result.attempts} attempt(s){how}: {result.error}"
        return f"{prefix} action succeeded after {result.attempts} attempt(s){how}"
    if kind == "warning":
        return f"{prefix} warning {event.warning.warning.code}: {event.warning.warning.message}"
    if kind == "bot_restarted":
        return f"{prefix} bot restarted (session {event.bot_restarted.bot_session_id})"
    finished = event.finished
    status = FlowStatus.Name(finished.status).removeprefix("FLOW_STATUS_")
    where = f", resume at {finished.resume_block_id!r}" if finished.resume_block_id else ""
    return f"{prefix} finished: {status}{where} after {finished.steps} step(s)"


def next_state(request: RunFlowRequest, events: list[RunFlowResponse]) -> RunFlowRequest:
    """What the caller keeps for the next call: variables and the conversation.
    No secret: the finished variables leave them out, and `--var` sends them again.

    Each message joins the bot session it was said in: a restart bot block
    starts a new session, so what came before it stays in the old one (or in
    none, when the run started the first session and the restart replaced it).
    """
    finished = events[-1].finished
    state = RunFlowRequest(variables=finished.variables)
    conversation = Conversation()
    conversation.CopyFrom(request.conversation)
    restarted = any(event.HasField("bot_restarted") for event in events)
    session = starting_session(request) if restarted else finished.bot_session_id
    if request.HasField("resume") and not request.resume.timed_out:
        conversation.messages.append(
            Message(
                direction=Direction.DIRECTION_RECEIVED,
                text=request.resume.answer,
                bot_session_id=session,
            )
        )
    for event in events:
        if event.HasField("bot_restarted"):
            session = event.bot_restarted.bot_session_id
        if event.HasField("message_sent"):
            conversation.messages.append(
                Message(
                    direction=Direction.DIRECTION_SENT,
                    text=event.message_sent.text,
                    bot_session_id=session,
                )
            )
    conversation.current_bot_session_id = session
    state.conversation.CopyFrom(conversation)
    return state


async def _run(
    target: str, request: RunFlowRequest, timeout: float, as_json: bool
) -> list[RunFlowResponse]:
    events: list[RunFlowResponse] = []
    async with BotflowClient(target) as client:
        async for event in client.run_flow(request, timeout=timeout):
            events.append(event)
            if as_json:
                print(json.dumps(json_format.MessageToDict(event)), flush=True)
            else:
                print(describe(event), flush=True)
    return events


def run(args: argparse.Namespace, target: str) -> int:
    request = build_request(args)
    try:
        events = asyncio.run(_run(target, request, args.timeout, args.json))
    except InvalidRequestError as error:
        print(f"invalid request: {error}", file=sys.stderr)
        for path, description in error.field_violations.items():
            print(f"  {path}: {description}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as error:
        print(f"call failed: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    if args.state:
        args.state.write_text(json_format.MessageToJson(next_state(request, events)))
    if not args.json:
        for name, value in sorted(events[-1].finished.variables.items()):
            print(f"     {name} = {shown(name, value)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `botflow-run-flow` command."""
    parser = argparse.ArgumentParser(
        prog="botflow-run-flow", description="Run a flow JSON file on a botflow server."
    )
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, args.target or os.environ.get("BOTFLOW_TARGET") or DEFAULT_TARGET)


if __name__ == "__main__":
    raise SystemExit(main())
