"""FlowService's handlers wrapped once at registration (`add_wrapped`), and
the one wrapper that runs admission, the request id, the metadata checks and
the call's report."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from botflow.server.admission import AdmissionGate
from botflow.server.interceptors import (
    REQUEST_ID_KEY,
    BearerTokenCheck,
    Handler,
    RequestContextInterceptor,
    add_wrapped,
)
from botflow.server.metrics import Metrics
from botflow.v1 import flow_service_pb2, flow_service_pb2_grpc

SERVICE = "botflow.v1.FlowService"
EXECUTE = f"/{SERVICE}/ExecuteAction"
RUN = f"/{SERVICE}/RunFlow"
TOKEN = "secret"
AUTHORIZED = (("authorization", f"Bearer {TOKEN}"),)


class Aborted(grpc.aio.AbortError):
    pass


class Context:
    """A grpc.aio ServicerContext, as far as the wrapper uses it."""

    def __init__(self, metadata: tuple[tuple[str, str], ...] = AUTHORIZED) -> None:
        self.metadata = metadata
        self.trailing: tuple[tuple[str, str], ...] = ()
        self.initial: tuple[tuple[str, str], ...] = ()
        self.status: grpc.StatusCode | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailing = tuple(metadata)

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.trailing

    async def send_initial_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.initial = tuple(metadata)

    def cancelled(self) -> bool:
        return False

    def code(self) -> grpc.StatusCode | None:
        return self.status

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing: Any = ()) -> None:
        self.status = code
        raise Aborted(details)


class Servicer(flow_service_pb2_grpc.FlowServiceServicer):
    """Answers at once, or as `outcome` says."""

    def __init__(self) -> None:
        self.outcome: BaseException | None = None
        self.calls = 0

    async def ExecuteAction(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.calls += 1
        if self.outcome is not None:
            raise self.outcome
        return flow_service_pb2.ExecuteActionResponse()

    async def RunFlow(self, request: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        self.calls += 1
        for _ in range(3):
            yield flow_service_pb2.RunFlowResponse()


class Registry:
    """Takes a grpc.aio.Server's place: what was registered, and how."""

    def __init__(self) -> None:
        self.generic: list[Any] = []
        self.registered: dict[str, Handler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        self.registered.update({f"/{service}/{name}": h for name, h in handlers.items()})


class Layer:
    """FlowService registered the way app.py does it, limit 1."""

    def __init__(self) -> None:
        self.servicer = Servicer()
        self.admission = AdmissionGate(1, Metrics())
        checks = [BearerTokenCheck(TOKEN)]
        interceptors = [RequestContextInterceptor(Metrics(), self.admission, checks)]
        self.server = Registry()
        add = flow_service_pb2_grpc.add_FlowServiceServicer_to_server
        add_wrapped(self.server, add, self.servicer, interceptors)  # type: ignore[arg-type]

    async def execute(self, context: Context, request: Any = None) -> Any:
        behavior: Any = self.server.registered[EXECUTE].unary_unary
        return await behavior(request or flow_service_pb2.ExecuteActionRequest(), context)

    def run(self, context: Context) -> AsyncIterator[Any]:
        behavior: Any = self.server.registered[RUN].unary_stream
        stream: AsyncIterator[Any] = behavior(flow_service_pb2.RunFlowRequest(), context)
        return stream


class Details:
    """grpc.HandlerCallDetails as a generic handler is asked with."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def _undecodable(layer: Layer) -> Any:
    deserializer = layer.server.registered[EXECUTE].request_deserializer
    assert deserializer is not None
    return deserializer(b"\xff\xff\xff")


def _finished(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.__dict__["code"] for r in caplog.records if r.getMessage() == "rpc finished"]


def test_each_method_is_registered_wrapped_both_ways() -> None:
    layer = Layer()
    assert set(layer.server.registered) == {EXECUTE, RUN}
    (generic,) = layer.server.generic
    for method, handler in layer.server.registered.items():
        assert generic.service(Details(method)) is handler
        behavior = handler.unary_unary or handler.unary_stream
        assert getattr(behavior, "__self__", None) is not layer.servicer  # wrapped


def test_without_interceptors_the_handlers_are_the_servicers_own() -> None:
    servicer, server = Servicer(), Registry()
    add = flow_service_pb2_grpc.add_FlowServiceServicer_to_server
    add_wrapped(server, add, servicer, [])  # type: ignore[arg-type]
    assert server.registered[EXECUTE].unary_unary == servicer.ExecuteAction


async def test_a_unary_call_gets_its_request_id_in_trailing_metadata_and_frees_its_slot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "botflow.rpc")
    layer, context = Layer(), Context((*AUTHORIZED, (REQUEST_ID_KEY, "abc")))
    await layer.execute(context)
    assert context.trailing == ((REQUEST_ID_KEY, "abc"),)
    assert layer.admission.in_flight == 0
    assert _finished(caplog) == ["OK"]


async def test_a_call_over_the_limit_is_refused_before_anything_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "botflow.rpc")
    layer = Layer()
    assert layer.admission.admit()  # the one slot is taken
    context = Context(metadata=())
    with pytest.raises(Aborted):
        await layer.execute(context, _undecodable(layer))
    assert context.status == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert REQUEST_ID_KEY not in dict(context.trailing)
    assert (layer.servicer.calls, layer.admission.in_flight) == (0, 1)
    assert _finished(caplog) == []


async def test_undecodable_bytes_are_refused_before_the_token_is_checked() -> None:
    layer, context = Layer(), Context(metadata=())
    with pytest.raises(Aborted):
        await layer.execute(context, _undecodable(layer))
    assert context.status == grpc.StatusCode.INVALID_ARGUMENT
    assert layer.admission.in_flight == 0


async def test_a_call_without_the_token_is_unauthenticated_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "botflow.rpc")
    layer, context = Layer(), Context(metadata=(("authorization", "Bearer wrong"),))
    with pytest.raises(Aborted, match="bearer token"):
        await layer.execute(context)
    assert context.status == grpc.StatusCode.UNAUTHENTICATED
    assert dict(context.trailing)[REQUEST_ID_KEY]
    assert (layer.servicer.calls, layer.admission.in_flight) == (0, 0)
    assert _finished(caplog) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("outcome", "raised", "code"),
    [
        (RuntimeError("a bug"), Aborted, "INTERNAL"),
        (asyncio.CancelledError(), asyncio.CancelledError, "CANCELLED"),
    ],
)
async def test_a_call_that_fails_frees_its_slot_and_is_reported(
    caplog: pytest.LogCaptureFixture,
    outcome: BaseException,
    raised: type[BaseException],
    code: str,
) -> None:
    caplog.set_level(logging.INFO, "botflow.rpc")
    layer = Layer()
    layer.servicer.outcome = outcome
    with pytest.raises(raised):
        await layer.execute(Context())
    assert layer.admission.in_flight == 0
    assert _finished(caplog) == [code]


async def test_a_stream_names_itself_first_and_reports_once_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "botflow.rpc")
    layer, context = Layer(), Context((*AUTHORIZED, (REQUEST_ID_KEY, "s-1")))
    events = [event async for event in layer.run(context)]
    assert len(events) == 3
    assert context.initial == ((REQUEST_ID_KEY, "s-1"),)
    assert layer.admission.in_flight == 0
    assert _finished(caplog) == ["OK"]


async def test_a_stream_closed_early_is_cancelled_and_frees_its_slot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "botflow.rpc")
    layer = Layer()
    stream: Any = layer.run(Context())
    await stream.__anext__()
    assert layer.admission.in_flight == 1
    await stream.aclose()
    assert layer.admission.in_flight == 0
    assert _finished(caplog) == ["CANCELLED"]
