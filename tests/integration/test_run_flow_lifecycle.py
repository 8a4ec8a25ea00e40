"""RunFlow's life cycle: a caller that leaves early stops the engine and the
provider call in flight; a deadline that expires mid-run leaves the events
already streamed intact; OpenAI blocks run one after the other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.client import BotflowClient
from botflow.providers.base import Completion, CompletionRequest, Usage
from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.server.app import RunningServer, serving
from botflow.v1.actions_pb2 import ActionOutcome, ErrorKind, HistoryMode, OpenAIAction
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Block, Flow, SendMessageBlock
from botflow.v1.flow_service_pb2 import RunFlowRequest, RunFlowResponse
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

# Generous: only reached when something is broken.
PATIENCE = 10.0


class Probe:
    """A provider that records how it is called: concurrency, order, cancellation."""

    name = "probe"

    def __init__(self, delay: float, *, stubborn: bool = False) -> None:
        self.delay = delay
        # Stubborn: the first cancellation is ignored (a provider slow to give up).
        self.stubborn = stubborn
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self.log: list[str] = []
        self.entered = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        number = self.calls
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.log.append(f"start {number}")
        self.entered.set()
        try:
            try:
                await asyncio.sleep(self.delay)
            except asyncio.CancelledError:
                self.log.append(f"cancelled {number}")
                if not self.stubborn:
                    raise
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.active -= 1
        self.log.append(f"end {number}")
        return Completion(text=f"answer {number}", usage=Usage(1, 2, 3), model="probe-1")

    async def aclose(self) -> None:
        return None


def send(block_id: str, text: str, next_id: str = "") -> Block:
    return Block(id=block_id, next=next_id, send_message=SendMessageBlock(text=text))


def ask(block_id: str, next_id: str = "", provider: str = "probe", **options: str) -> Block:
    action = OpenAIAction(
        token="sk-test",
        prompt="Answer briefly.",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        answer_variable=f"{block_id} answer",
        provider=provider,
        provider_options=options,
    )
    return Block(id=block_id, next=next_id, openai=action)


@contextlib.asynccontextmanager
async def _serving(probe: Probe) -> AsyncIterator[RunningServer]:
    registry = ProviderRegistry({"fake": FakeProvider(), "probe": probe})
    async with serving(replace(TEST_CONFIG, providers=("fake", "probe")), registry) as running:
        yield running


CANCEL_FLOW = Flow(
    blocks=[
        send("hello", "Hello!", "think"),
        ask("think", "bye"),
        send("bye", "Bye!", "think again"),
        ask("think again"),
    ]
)


async def _cancel_by_leaving_the_client_loop(target: str, probe: Probe) -> RunFlowResponse:
    first = RunFlowResponse()
    async with BotflowClient(target) as client:
        async for event in client.run_flow(RunFlowRequest(flow=CANCEL_FLOW), timeout=60):
            first = event
            await asyncio.wait_for(probe.entered.wait(), PATIENCE)
            break
        # The client stays open: only leaving the loop may cancel the call.
        await asyncio.wait_for(probe.cancelled.wait(), PATIENCE)
    return first


async def _cancel_the_call(target: str, probe: Probe) -> RunFlowResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub: FlowServiceAsyncStub = FlowServiceStub(channel)
        call = stub.RunFlow(RunFlowRequest(flow=CANCEL_FLOW), timeout=60)
        event: RunFlowResponse = await call.read()  # type: ignore[assignment]
        await asyncio.wait_for(probe.entered.wait(), PATIENCE)
        assert call.cancel()
        await asyncio.wait_for(probe.cancelled.wait(), PATIENCE)
        assert call.cancelled()
        with pytest.raises(asyncio.CancelledError):
            await call.read()
    return event


@pytest.mark.parametrize("cancel", [_cancel_by_leaving_the_client_loop, _cancel_the_call])
async def test_cancelled_stream_stops_the_provider_call_and_the_engine(
    cancel: Callable[[str, Probe], Awaitable[RunFlowResponse]],
) -> None:
    probe = Probe(delay=60)
    async with _serving(probe) as running:
        first = await cancel(running.target, probe)
        assert (first.sequence, first.block_id, first.message_sent.text) == (1, "hello", "Hello!")
    # The server has stopped, so every handler is done: nothing ran after the
    # cancelled provider call (the second OpenAI block would have called again).
    assert probe.log == ["start 1", "cancelled 1"]
    assert probe.calls == 1


async def _run_until_the_end(target: str, flow: Flow) -> tuple[list[RunFlowResponse], object]:
    """Every event the call streamed, and how it ended (None = OK, else the code)."""
    events: list[RunFlowResponse] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub: FlowServiceAsyncStub = FlowServiceStub(channel)
        try:
            async for event in stub.RunFlow(RunFlowRequest(flow=flow), timeout=0.5):
                events.append(event)
        except grpc.aio.AioRpcError as error:
            return events, error.code()
    return events, None


@pytest.mark.parametrize(
    "slow",
    [
        # Far longer than the deadline: the retry layer clips the attempt to the
        # caller's deadline, so the action fails with Timeout and the flow goes
        # on (the engine usually finishes inside the deadline).
        ask("slow", "two", provider="fake", latency_ms="20000"),
        # A provider that ignores the first cancellation: the deadline expires
        # while it still runs.
        ask("slow", "two", provider="probe"),
    ],
    ids=["fake-latency", "stubborn-provider"],
)
async def test_deadline_mid_run_keeps_the_streamed_events_intact(slow: Block) -> None:
    flow = Flow(
        blocks=[
            send("one", "One", "slow"),
            slow,
            send("two", "Two", "three"),
            send("three", "Three"),
        ]
    )
    probe = Probe(delay=30, stubborn=True)
    async with _serving(probe) as running:
        events, code = await _run_until_the_end(running.target, flow)

    assert events, "the first message goes out long before the deadline"
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    described = [(e.block_id, e.WhichOneof("event")) for e in events]
    full = [
        ("one", "message_sent"),
        ("slow", "action_finished"),
        ("slow", "variable_changed"),  # the error variable
        ("two", "message_sent"),
        ("three", "message_sent"),
        ("three", "finished"),
    ]
    assert described == full[: len(events)]
    assert events[0].message_sent.text == "One"
    if len(events) > 1:
        result = events[1].action_finished.result
        assert result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
        assert result.error_kind == ErrorKind.ERROR_KIND_TIMEOUT
        assert result.error.startswith("Timeout: no answer within ")
        assert result.attempts == 1
    if len(events) > 2:
        changed = events[2].variable_changed
        assert (changed.name, changed.value.text) == ("last webhook failure", result.error)
    if code is None:
        # The engine finished inside the deadline: the whole run arrived.
        assert described == full
        assert events[-1].finished.status == FlowStatus.FLOW_STATUS_COMPLETED
    else:
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert not any(e.HasField("finished") for e in events)
    if slow.openai.provider == "probe":
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert described == full[:1]
        # Cancelled by the attempt timeout (ignored), then by the deadline.
        assert probe.log == ["start 1", "cancelled 1"]
        assert probe.cancelled.is_set()


async def test_consecutive_openai_blocks_never_run_in_parallel() -> None:
    probe = Probe(delay=0.02)
    flow = Flow(blocks=[ask("a", "b"), ask("b", "c"), ask("c")])
    async with _serving(probe) as running, BotflowClient(running.target) as client:
        events = await client.run_flow_to_finish(RunFlowRequest(flow=flow), timeout=30)
    assert probe.max_active == 1
    assert probe.log == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    answers = [
        (e.block_id, e.action_finished.result.answer)
        for e in events
        if e.HasField("action_finished")
    ]
    assert answers == [("a", "answer 1"), ("b", "answer 2"), ("c", "answer 3")]
    assert events[-1].finished.status == FlowStatus.FLOW_STATUS_COMPLETED
