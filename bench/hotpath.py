"""The hot path at the limit, as ratios measured in one run (`make bench`).

    .venv/bin/python bench/hotpath.py [--calls 3000] [--rounds 3] [--profile after]

Every server is its own process on loopback, one worker each; one client
process drives them in turn, concurrency 32, the same number of calls each:

- ExecuteAction (fake provider, 10-message history, templates) / bare grpc.aio echo
- RunFlow of 10 blocks (2 fake OpenAI, choice, set x3, send x3, note) / ExecuteAction
- ExecuteAction (openai provider -> a fast loopback OpenAI-compatible server) /
  the same completion made directly with AsyncOpenAI against that server
- p50 latency botflow adds over that direct SDK call, one call at a time
- as references, the same two against the SDK call botflow's provider makes
  (`AsyncOpenAI.post` with its own body, skipping `create`'s typed transform):
  botflow's own overhead, like for like

Each round measures every figure, so a ratio never mixes two moments of a
shared machine; the report gives the median and the spread over the rounds.
With `--profile LABEL`, one more pass runs a botflow server under py-spy and
summarises where its CPU went (bench/results/profile-LABEL.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx2
import openai

from botflow.v1.actions_pb2 import (
    Action,
    HistoryMode,
    OpenAIAction,
    SetVariableAction,
    SetVariableOperation,
)
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_pb2 import (
    AddNoteBlock,
    Block,
    ChoiceBlock,
    ChoiceBranch,
    Condition,
    ConditionOperator,
    Flow,
    SendMessageBlock,
)
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from botflow.v1.variables_pb2 import Value

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "hotpath.json"
BOTFLOW = Path(sys.executable).with_name("botflow")
PY_SPY = Path(sys.executable).with_name("py-spy")
CONCURRENCY = 32
ECHO_METHOD = "/bench.Echo/Echo"
ECHO_SERVER_SOURCE = """
import asyncio, grpc
async def main():
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    stream = grpc.unary_stream_rpc_method_handler(_stream)
    generic = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": handler, "Stream": stream})
    server.add_generic_rpc_handlers([generic])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()
async def _echo(request, context):
    return request
async def _stream(request, context):
    # As many messages as the bench's RunFlow streams, of a typical event size.
    for _ in range(STREAM_EVENTS):
        yield request[:48]
asyncio.run(main())
"""
# Events of the bench's RunFlow (checked against a real run).
STREAM_EVENTS = 14
ECHO_SERVER = ECHO_SERVER_SOURCE.replace("STREAM_EVENTS", str(STREAM_EVENTS))
ECHO_STREAM_METHOD = "/bench.Echo/Stream"
# A fixed chat completion over keep-alive HTTP/1.1: as cheap as a server gets,
# so what the openai figures measure is the client side.
OPENAI_SERVER = r"""
import asyncio
BODY = (b'{"id":"c","object":"chat.completion","created":1,"model":"bench-model",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},'
        b'"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,'
        b'"total_tokens":11}}')
ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(ANSWER)
async def main():
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""
PROMPT = "You are the support bot of {{shop}}."
HISTORY = [f"message {i}" for i in range(10)]


def _conversation() -> Conversation:
    return Conversation(
        messages=[
            Message(direction=Direction.DIRECTION_RECEIVED, text=text, bot_session_id="s")
            for text in HISTORY
        ]
    )


def _action(provider: str, base_url: str = "") -> OpenAIAction:
    return OpenAIAction(
        token="{{key}}",
        prompt=PROMPT,
        history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
        provider=provider,
        answer_variable="answer",
        base_url=base_url,
        model="bench-model" if base_url else "",
    )


VARIABLES = {"key": Value(text="sk-bench"), "shop": Value(text="Acme")}


def execute_request(provider: str = "fake", base_url: str = "") -> ExecuteActionRequest:
    return ExecuteActionRequest(
        action=Action(openai=_action(provider, base_url)),
        conversation=_conversation(),
        variables=VARIABLES,
    )


def _set(block_id: str, variable: str, value: str, next_id: str) -> Block:
    operation = SetVariableOperation.SET_VARIABLE_OPERATION_TEXT_REPLACE
    action = SetVariableAction(variable=variable, operation=operation, value=value)
    return Block(id=block_id, next=next_id, set_variable=action)


def _send(block_id: str, text: str, next_id: str) -> Block:
    return Block(id=block_id, next=next_id, send_message=SendMessageBlock(text=text))


def flow_request() -> RunFlowRequest:
    """Ten blocks: 2 fake OpenAI, a choice, 3 set-variables, 3 sends, a note."""
    branch = ChoiceBranch(
        conditions=[
            Condition(variable="answer", operator=ConditionOperator.CONDITION_OPERATOR_IS_MESSAGE)
        ],
        next="set1",
    )
    blocks = [
        Block(id="ai1", next="choice", openai=_action("fake")),
        Block(id="choice", choice=ChoiceBlock(branches=[branch], fallback_next="set1")),
        _set("set1", "topic", "billing for {{shop}}", "set2"),
        _set("set2", "tier", "gold", "send1"),
        _send("send1", "Hello from {{shop}}", "ai2"),
        Block(id="ai2", next="set3", openai=_action("fake")),
        _set("set3", "summary", "{{topic}} / {{tier}}", "send2"),
        _send("send2", "{{answer}}", "note"),
        Block(id="note", next="send3", add_note=AddNoteBlock(text="topic {{topic}}")),
        _send("send3", "Anything else?", ""),
    ]
    flow = Flow(name="bench", start_block_id="ai1", blocks=blocks)
    # The run continues the conversation's bot session, so both actions see
    # its 10 messages, as the ExecuteAction figure's action does.
    conversation = _conversation()
    conversation.current_bot_session_id = "s"
    return RunFlowRequest(flow=flow, conversation=conversation, variables=VARIABLES)


def _start(
    command: list[str], stderr: int | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=environment
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"{command[0]} did not start"
    return process, line.rsplit(" ", 1)[1].strip()


@contextmanager
def _process(command: list[str], stderr: int | None = None) -> Iterator[str]:
    process, target = _start(command, stderr)
    try:
        yield target
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def _botflow(openai_target: str, profile: Path | None) -> Iterator[str]:
    """A botflow server; with `profile`, py-spy samples it until the end.
    Its log lines are written (formatting included) but not kept."""
    process, target = _start(botflow_command(openai_target), subprocess.DEVNULL)
    spy = None
    if profile is not None:
        # --nonblocking: sampling never pauses the server it measures; --gil:
        # only the thread running Python code counts, not idle pool threads.
        command = [str(PY_SPY), "record", "--gil", "--nonblocking", "-r", "250"]
        command += ["-f", "raw"]
        command += ["-o", str(profile), "--pid", str(process.pid)]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # py-spy attaches before the load starts
    try:
        yield target
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(timeout=60)
        process.terminate()
        process.wait(timeout=60)


def botflow_command(openai_target: str) -> list[str]:
    """One worker, the default log level: a production server, not a tuned one."""
    return [
        str(BOTFLOW),
        "serve",
        "--port",
        "0",
        "--workers",
        "1",
        "--providers",
        "fake,openai",
        "--egress-allow",
        openai_target.rsplit(":", 1)[0],
        "--shutdown-delay-seconds",
        "0",
        "--grace-seconds",
        "1",
        "--log-format",
        "json",
    ]


Call = Callable[[], Awaitable[object]]


async def rate(call: Call, calls: int, concurrency: int = CONCURRENCY) -> float:
    """Calls per second for `calls` calls, `concurrency` at a time."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - started)


async def p50_ms(call: Call, calls: int) -> float:
    """Median latency of `calls` calls made one at a time, in ms."""
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies)


class Calls:
    """The calls the figures compare, bound to running servers."""

    def __init__(
        self, botflow: grpc.aio.Channel, echo: grpc.aio.Channel, sdk: openai.AsyncOpenAI
    ) -> None:
        stub = FlowServiceStub(botflow)
        fake, flow = execute_request(), flow_request()
        via_openai = execute_request("openai", str(sdk.base_url))
        raw = fake.SerializeToString()
        echo_call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = echo.unary_unary(ECHO_METHOD)
        echo_stream: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = echo.unary_stream(
            ECHO_STREAM_METHOD
        )

        async def bare_stream() -> object:
            return [message async for message in echo_stream(raw, timeout=30)]

        messages: list[Any] = [{"role": "system", "content": "You are the support bot of Acme."}]
        messages += [{"role": "user", "content": text} for text in HISTORY]

        async def run_flow() -> object:
            return [event async for event in stub.RunFlow(flow, timeout=30)]

        async def direct() -> object:
            answer = await sdk.chat.completions.create(model="bench-model", messages=messages)
            assert answer.choices[0].message.content
            return answer

        async def direct_post() -> object:
            # The SDK call botflow's openai provider makes: its own request
            # body through the SDK's client, without create's typed transform.
            answer = await sdk.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                body={"model": "bench-model", "messages": messages},
            )
            assert answer.status_code == 200
            return answer

        async def action(request: ExecuteActionRequest) -> object:
            response = await stub.ExecuteAction(request, timeout=30)
            assert not response.result.error, response.result.error
            return response

        self.echo: Call = lambda: echo_call(raw, timeout=30)
        self.echo_stream: Call = bare_stream
        self.execute: Call = lambda: action(fake)
        self.run_flow: Call = run_flow
        self.openai: Call = lambda: action(via_openai)
        self.direct: Call = direct
        self.direct_post: Call = direct_post


class _NoCall:
    """The little of a grpc ServicerContext the service reads."""

    def time_remaining(self) -> float:
        return 30.0

    def invocation_metadata(self) -> tuple[()]:
        return ()


async def own_work_us(n: int) -> dict[str, float]:
    """CPU µs of botflow's own handlers per call, called in this process with
    no gRPC, interceptors or logs: the part of a call's cost that is
    botflow's code, whatever grpc and the machine add around it."""
    from botflow.server.app import egress_policy
    from botflow.server.blocks.webhook import new_http_client
    from botflow.server.config import ServerConfig
    from botflow.server.metrics import Metrics
    from botflow.server.provider_wiring import create_registry
    from botflow.server.service import FlowService

    config = ServerConfig()
    egress = egress_policy(config)
    http = new_http_client(egress)
    service = FlowService(
        config, create_registry(config, egress), http=http, egress=egress, metrics=Metrics()
    )
    context: Any = _NoCall()
    execute, flow = execute_request(), flow_request()

    async def run_flow() -> None:
        async for _ in service.RunFlow(flow, context):
            pass

    async def per_call(call: Callable[[], Awaitable[object]], count: int) -> float:
        await call()
        started = time.process_time()
        for _ in range(count):
            await call()
        return (time.process_time() - started) / count * 1e6

    logging.disable(logging.CRITICAL)
    try:
        return {
            "execute_own_us": await per_call(lambda: service.ExecuteAction(execute, context), n),
            "run_flow_own_us": await per_call(run_flow, n // 4),
        }
    finally:
        logging.disable(logging.NOTSET)
        await http.aclose()


async def one_round(calls: Calls, n: int) -> dict[str, float]:
    echo = await rate(calls.echo, n)
    execute = await rate(calls.execute, n)
    run_flow = await rate(calls.run_flow, n // 2)
    echo_stream = await rate(calls.echo_stream, n // 2)
    direct = await rate(calls.direct, n // 2)
    via_openai = await rate(calls.openai, n // 2)
    direct_post = await rate(calls.direct_post, n // 2)
    direct_p50 = await p50_ms(calls.direct, n // 10)
    direct_post_p50 = await p50_ms(calls.direct_post, n // 10)
    openai_p50 = await p50_ms(calls.openai, n // 10)
    echo_p50 = await p50_ms(calls.echo, n // 10)
    own = await own_work_us(n // 2)
    return {
        **own,
        "echo_stream": echo_stream,
        "echo_p50_ms": echo_p50,
        "echo": echo,
        "execute": execute,
        "run_flow": run_flow,
        "direct_sdk": direct,
        "openai": via_openai,
        "direct_sdk_p50_ms": direct_p50,
        "direct_post": direct_post,
        "direct_post_p50_ms": direct_post_p50,
        "openai_p50_ms": openai_p50,
    }


def ratios(round_: dict[str, float]) -> dict[str, float]:
    return {
        "ExecuteAction / echo": round_["execute"] / round_["echo"],
        "RunFlow(10) / ExecuteAction": round_["run_flow"] / round_["execute"],
        "openai path / direct SDK": round_["openai"] / round_["direct_sdk"],
        "p50 added over direct SDK (ms)": round_["openai_p50_ms"] - round_["direct_sdk_p50_ms"],
    }


def references(round_: dict[str, float]) -> dict[str, float]:
    """What grpc alone does with the same shapes: the ceilings the ratios above
    are read against (no goals)."""
    echo_us = 1e6 / round_["echo"]
    stream_per_echo = round_["echo_stream"] / round_["echo"]
    return {
        f"bare {STREAM_EVENTS}-message stream / echo": stream_per_echo,
        f"RunFlow(10) / ExecuteAction if botflow's flow work were free (bare {STREAM_EVENTS}-"
        "message stream / ExecuteAction)": round_["echo_stream"] / round_["execute"],
        f"RunFlow(10) / ExecuteAction at most, were ExecuteAction / echo 0.85 (bare {STREAM_EVENTS}"
        "-message stream / echo / 0.85)": stream_per_echo / GOALS["ExecuteAction / echo"][1],
        "bare echo p50 (ms)": round_["echo_p50_ms"],
        "openai path / direct SDK post (the SDK call botflow makes)": round_["openai"]
        / round_["direct_post"],
        "p50 added over direct SDK post (ms)": round_["openai_p50_ms"]
        - round_["direct_post_p50_ms"],
        "botflow's own work per ExecuteAction (CPU µs, in-process)": round_["execute_own_us"],
        "botflow's own work per RunFlow(10) (CPU µs, in-process)": round_["run_flow_own_us"],
        "time per call left for botflow at ExecuteAction / echo = 0.85 (µs)": echo_us / 0.85
        - echo_us,
    }


GOALS = {
    "ExecuteAction / echo": (">=", 0.85),
    "RunFlow(10) / ExecuteAction": (">=", 0.67),
    "openai path / direct SDK": (">=", 0.90),
    "p50 added over direct SDK (ms)": ("<=", 0.5),
}


@contextmanager
def _servers(profile: Path | None) -> Iterator[tuple[str, str, str]]:
    with (
        _process([sys.executable, "-c", OPENAI_SERVER]) as openai_target,
        _botflow(openai_target, profile) as botflow_target,
        _process([sys.executable, "-c", ECHO_SERVER]) as echo_target,
    ):
        yield botflow_target, echo_target, openai_target


async def _with_calls(profile: Path | None, body: Callable[[Calls], Awaitable[Any]]) -> Any:
    with _servers(profile) as (botflow_target, echo_target, openai_target):
        sdk = openai.AsyncOpenAI(
            api_key="sk-bench", base_url=f"http://{openai_target}/v1", max_retries=0
        )
        async with (
            grpc.aio.insecure_channel(botflow_target) as botflow,
            grpc.aio.insecure_channel(echo_target) as echo,
            sdk,
        ):
            return await body(Calls(botflow, echo, sdk))


async def measure(calls: int, rounds: int) -> list[dict[str, float]]:
    async def body(bound: Calls) -> list[dict[str, float]]:
        events = await bound.run_flow()
        if not isinstance(events, list) or len(events) != STREAM_EVENTS:
            raise SystemExit("the bench RunFlow changed: update STREAM_EVENTS")
        await one_round(bound, max(200, calls // 10))  # warm-up: connections, caches
        results = []
        for number in range(rounds):
            results.append(await one_round(bound, calls))
            figures = ratios(results[-1]) | references(results[-1])
            print(f"round {number + 1}: " + _format(figures), flush=True)
        return results

    result: list[dict[str, float]] = await _with_calls(None, body)
    return result


async def profile_pass(calls: int, raw: Path) -> None:
    """The botflow server under py-spy, through the three botflow figures."""

    async def body(bound: Calls) -> None:
        await rate(bound.execute, calls)
        await rate(bound.run_flow, calls // 2)
        await rate(bound.openai, calls // 2)

    await _with_calls(raw, body)


# Where a sampled frame's code lives: py-spy names a file by its path inside
# its package directory ("server/engine.py", "openai/_client.py").
AREAS = {
    "server": "botflow",
    "providers": "botflow",
    "tenacity": "tenacity",
    "openai": "openai SDK",
    "httpx2": "httpx2/httpcore2",
    "httpcore2": "httpx2/httpcore2",
    "h11": "httpx2/httpcore2",
    "anyio": "httpx2/httpcore2",
    "sniffio": "httpx2/httpcore2",
    "grpc": "grpc (Python part)",
    "protobuf": "protobuf",
    "google": "protobuf",
    "logging": "logging",
    "json": "logging",
    "prometheus_client": "prometheus",
    "asyncio": "asyncio (and grpc's C core it calls)",
    "pydantic": "pydantic",
}


def _area(frame: str) -> str:
    where = frame.partition(" (")[2]
    return AREAS.get(where.split("/", 1)[0], "other")


def summarise(raw: Path, label: str, top: int = 25) -> str:
    """py-spy's collapsed stacks as text: CPU by area (self time) and the
    functions with the most self time."""
    by_area: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        by_area[_area(leaf)] += count
        by_function[_short(leaf)] += count
        for name in {_short(f) for f in frames if _area(f) == "botflow"}:
            inclusive[name] += count
    if total == 0:
        return f"profile {label}: no samples\n"
    lines = [f"profile {label}: {total} samples of the botflow server (py-spy --gil, 250 Hz)", ""]
    lines.append("self time by area:")
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in by_area.most_common()]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in by_function.most_common(top)]
    lines += ["", "botflow functions by inclusive time (top 15):"]
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in inclusive.most_common(15)]
    return "\n".join(lines) + "\n"


def _short(frame: str) -> str:
    """`func (path/to/module.py:12)` as `func (module.py)`."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:])})" if parts else name


def _format(figures: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in figures.items())


def report(results: list[dict[str, float]]) -> dict[str, Any]:
    per_round = [ratios(r) for r in results]
    figures = {}
    for name, (relation, goal) in GOALS.items():
        values = [r[name] for r in per_round]
        median = statistics.median(values)
        met = median >= goal if relation == ">=" else median <= goal
        figures[name] = {
            "median": median,
            "min": min(values),
            "max": max(values),
            "goal": f"{relation} {goal}",
            "met": met,
        }
    refs = {}
    for name in references(results[0]):
        values = [references(r)[name] for r in results]
        refs[name] = _spread(values)
    return {"rounds": results, "figures": figures, "references": refs}


# The ablation: botflow with parts of its per-call path switched off
# (bench/ablated_server.py), each part's cost read from the server's CPU.
ECHO_LABEL = "bare grpc.aio echo"
AS_IT_IS = "botflow as it is"
ANSWERED_AT_ONCE = "ExecuteAction answers at once (interceptors on)"
GRPC_ALONE = "answers at once, no interceptors (grpc alone)"
ABLATIONS = {
    AS_IT_IS: "",
    "no log records": "nolog",
    "no interceptors": "nochain",
    ANSWERED_AT_ONCE: "nohandler",
    GRPC_ALONE: "nohandler,nochain",
}
ABLATED_SERVER = BENCH / "ablated_server.py"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _server_cost(pid: int, call: Call, calls: int) -> dict[str, float]:
    """The server's CPU µs per call and the calls/s, under the usual load."""
    await rate(call, max(200, calls // 10))
    before = _cpu_seconds(pid)
    calls_per_second = await rate(call, calls)
    return {
        "cpu_us": (_cpu_seconds(pid) - before) / calls * 1e6,
        "calls_per_second": calls_per_second,
    }


async def _ablation_round(calls: int) -> dict[str, dict[str, float]]:
    raw = execute_request().SerializeToString()
    request = execute_request()
    results = {}
    process, target = _start([sys.executable, "-c", ECHO_SERVER])
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            echo: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(ECHO_METHOD)
            results[ECHO_LABEL] = await _server_cost(
                process.pid, lambda: echo(raw, timeout=30), calls
            )
    finally:
        process.terminate()
        process.wait(timeout=60)
    for label, parts in ABLATIONS.items():
        command = [sys.executable, str(ABLATED_SERVER), *botflow_command("127.0.0.1:1")[1:]]
        process, target = _start(command, subprocess.DEVNULL, env={"ABLATE": parts})
        try:
            async with grpc.aio.insecure_channel(target) as channel:
                call = FlowServiceStub(channel).ExecuteAction
                results[label] = await _server_cost(
                    process.pid, functools.partial(call, request, timeout=30), calls
                )
        finally:
            process.terminate()
            process.wait(timeout=60)
    return results


def ablation_reading(costs: dict[str, dict[str, float]]) -> dict[str, float]:
    """What the ExecuteAction goal leaves botflow, from one ablation round's
    server CPU per call: grpc's own ceiling for the ratio, the allowance on
    top of grpc, and what the wrapper and the handler take of it."""
    echo = costs[ECHO_LABEL]["cpu_us"]
    grpc_alone = costs[GRPC_ALONE]["cpu_us"]
    answered = costs[ANSWERED_AT_ONCE]["cpu_us"]
    whole = costs[AS_IT_IS]["cpu_us"]
    allowed = echo / GOALS["ExecuteAction / echo"][1]
    return {
        "ExecuteAction / echo if botflow cost nothing (echo / grpc alone)": echo / grpc_alone,
        "what the goal leaves botflow on top of grpc (echo / 0.85 - grpc alone)": allowed
        - grpc_alone,
        "the wrapper: request id, admission, metric, log line": answered - grpc_alone,
        "the handler: validation, the action, its result": whole - answered,
    }


async def ablation(calls: int, rounds: int) -> dict[str, Any]:
    """Every ablation server under the same load, `rounds` times; each figure
    as its median and spread over the rounds."""
    measured = [await _ablation_round(calls) for _ in range(rounds)]
    costs = {
        label: _spread([r[label]["cpu_us"] for r in measured])
        | {"calls_per_second": statistics.median(r[label]["calls_per_second"] for r in measured)}
        for label in measured[0]
    }
    readings = [ablation_reading(r) for r in measured]
    reading = {name: _spread([r[name] for r in readings]) for name in readings[0]}
    return {"costs": costs, "reading": reading}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def profile(label: str, calls: int) -> str:
    """Profile a server under the load, summarise it into profile-LABEL.txt."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    raw = RESULTS.parent / f"profile-{label}.raw"
    asyncio.run(profile_pass(calls, raw))
    summary = summarise(raw, label)
    (RESULTS.parent / f"profile-{label}.txt").write_text(summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="", help="label of a py-spy pass (before, after)")
    parser.add_argument("--profile-only", action="store_true", help="no figures, the profile")
    parser.add_argument(
        "--ablation", action="store_true", help="also the server's CPU per call, part by part"
    )
    args = parser.parse_args()
    if args.profile_only:
        print(profile(args.profile or "now", args.calls))
        return
    results = asyncio.run(measure(args.calls, args.rounds))
    run = report(results)
    run["calls"], run["concurrency"] = args.calls, CONCURRENCY
    if args.ablation:
        run["ablation"] = asyncio.run(ablation(args.calls, args.rounds))
        for label, cost in run["ablation"]["costs"].items():
            print(f"ablation, {label}: median {cost['median']:.0f} CPU µs per call")
        for name, value in run["ablation"]["reading"].items():
            print(f"ablation, {name}: median {value['median']:.2f}")
    if args.profile:
        print(profile(args.profile, args.calls))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(run, indent=2))
    for name, figure in run["figures"].items():
        print(
            f"{name}: median {figure['median']:.2f} (min {figure['min']:.2f}, "
            f"max {figure['max']:.2f}) over {args.rounds} rounds, goal {figure['goal']}"
        )
    for name, figure in run["references"].items():
        print(f"reference, {name}: median {figure['median']:.2f}")


if __name__ == "__main__":
    main()
