"""Unary throughput of ExecuteAction against a bare grpc.aio echo, same run.

    .venv/bin/python bench/rpc_throughput.py [--calls 4000] [--concurrency 32]

Both servers run as their own processes on loopback; one client process drives
each in turn with the same number of calls and the same concurrency. The
figure that matters is the ratio (botflow / echo), which cancels out how busy
the shared machine is. The botflow call is an OpenAI action on the `fake`
provider: validation, templating, history, the retry layer, the result and the
variables — everything but the network to a provider.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, ExecuteActionResponse
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from botflow.v1.variables_pb2 import Value

ECHO_METHOD = "/bench.Echo/Echo"
ECHO_SERVER = """
import asyncio, grpc
async def main():
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    generic = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler})
    server.add_generic_rpc_handlers([generic])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()
async def _echo(request, context):
    return request
asyncio.run(main())
"""


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.rsplit(" ", 1)[1].strip()


def request() -> ExecuteActionRequest:
    action = OpenAIAction(
        token="{{key}}",
        prompt="You are the support bot of {{shop}}.",
        history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
        provider="fake",
        answer_variable="answer",
    )
    conversation = Conversation(
        messages=[
            Message(direction=Direction.DIRECTION_RECEIVED, text=f"message {i}", bot_session_id="s")
            for i in range(10)
        ]
    )
    return ExecuteActionRequest(
        action=Action(openai=action),
        conversation=conversation,
        variables={"key": Value(text="sk-bench"), "shop": Value(text="Acme")},
    )


async def drive(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> float:
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


async def measure(calls: int, concurrency: int, rounds: int) -> None:
    payload = request()
    botflow, botflow_target = start(
        [
            str(Path(sys.executable).with_name("botflow")),
            "serve",
            "--port",
            "0",
            "--providers",
            "fake",
            "--log-level",
            "WARNING",
        ]
    )
    echo, echo_target = start([sys.executable, "-c", ECHO_SERVER])
    try:
        async with (
            grpc.aio.insecure_channel(botflow_target) as a,
            grpc.aio.insecure_channel(echo_target) as b,
        ):
            stub = FlowServiceStub(a)
            raw = payload.SerializeToString()
            echo_call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = b.unary_unary(ECHO_METHOD)

            async def botflow_call() -> ExecuteActionResponse:
                return await stub.ExecuteAction(payload, timeout=30)

            async def echo_once() -> object:
                return await echo_call(raw, timeout=30)

            await drive(botflow_call, 200, concurrency)  # warm-up
            await drive(echo_once, 200, concurrency)
            ratios, rates = [], []
            for _ in range(rounds):
                echo_rate = await drive(echo_once, calls, concurrency)
                botflow_rate = await drive(botflow_call, calls, concurrency)
                ratios.append(botflow_rate / echo_rate)
                rates.append((botflow_rate, echo_rate))
    finally:
        for process in (botflow, echo):
            process.terminate()
            process.wait(timeout=10)
    for botflow_rate, echo_rate in rates:
        print(f"botflow {botflow_rate:7.0f} calls/s   echo {echo_rate:7.0f} calls/s")
    print(
        f"ExecuteAction / bare echo: median ratio {statistics.median(ratios):.2f}"
        f" over {rounds} rounds"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
