"""Cross-cutting concerns of every RPC: a request id per call (taken from
`x-request-id` metadata or generated, sent back to the caller), one log line
per finished call with its real code (a call the client cancelled is
CANCELLED), request bytes that do not decode answered INVALID_ARGUMENT, and a
last resort for an exception that escaped every barrier (logged with its
class, never its message).

The server applies them once, when it registers its service (`add_wrapped`):
grpc.aio then looks a call's handler up in its table of registered methods,
where a grpc.aio ServerInterceptor would cost every call a chain of
coroutines before the handler even starts (`_find_method_handler` in grpc's
aio/server.pyx.pxi). For the same reason `RequestContextInterceptor` takes
admission and the checks of the caller's metadata (`CallCheck`) into its own
wrapper: one coroutine per call around the behaviour, not one per concern."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, TypeVar, cast

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from botflow.server.logs import request_id
from botflow.server.metrics import Metrics

log = logging.getLogger("botflow.rpc")
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# grpc's stubs type unary_stream as a sync iterator; aio handlers are async ones.
StreamBehavior: TypeAlias = Callable[[Any, Any], AsyncIterator[Any]]
UnaryBehavior: TypeAlias = Callable[[Any, Any], Awaitable[Any]]
Metadata: TypeAlias = Iterable[tuple[str, str | bytes]]
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Servicer = TypeVar("Servicer")
REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID_LENGTH = 64
# A generated request id: this process's random prefix and a call counter,
# unique like a uuid4 without drawing 16 random bytes per call.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def _request_id(metadata: Metadata) -> str:
    for key, value in metadata:
        if key == REQUEST_ID_KEY and isinstance(value, str) and value.isprintable():
            return value[:MAX_REQUEST_ID_LENGTH]
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def _name_call(metadata: Metadata) -> str:
    rid = _request_id(metadata)
    request_id.set(rid)
    return rid


async def abort_with_status(context: Context, status: grpc.Status) -> None:
    """`context.abort_with_status`, keeping the trailing metadata already set
    (a unary call's request id): grpc's own replaces it with the status's."""
    kept = tuple(context.trailing_metadata() or ())
    await context.abort(status.code, status.details, kept + tuple(status.trailing_metadata))


class Undecodable:
    """Stands in for a request whose bytes are not a valid message, so the
    call can be answered INVALID_ARGUMENT instead of gRPC's UNKNOWN."""

    def __init__(self, message_name: str) -> None:
        self.message_name = message_name


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    name = getattr(getattr(deserializer, "__self__", None), "DESCRIPTOR", None)
    message_name = getattr(name, "full_name", "request")

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # protobuf's DecodeError, or anything a parser raises
            return Undecodable(message_name)

    return deserialize


def _undecodable_status(request: Undecodable) -> grpc.Status:
    description = f"the request bytes are not a valid {request.message_name} message"
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=description)
    status.details.add().Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="", description=description)
            ]
        )
    )
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


async def _last_resort(context: Context, error: Exception) -> None:
    """An exception no barrier caught: a bug. Logged once by class; the caller
    gets INTERNAL with the request id to quote, never the exception's text."""
    log.error("unexpected error", extra={"error_type": type(error).__name__})
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"botflow failed unexpectedly ({type(error).__name__}); request id {request_id.get()}",
    )


def _code_name(context: Context, failed: bool) -> str:
    if context.cancelled():
        return "CANCELLED"
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if failed else "OK"


class Gate(Protocol):
    """Admission control (admission.py), run first in the call's wrapper."""

    def admit(self) -> bool:
        """Counts the call in, or False when it must be refused."""

    def release(self) -> None:
        """Counts an admitted call out, however it ended."""

    async def refuse(self, method: str, context: Context) -> None:
        """Answers a call not admitted; raises, as `context.abort` does."""


class CallCheck(Protocol):
    """A test of the caller's metadata made before the behaviour runs (after
    the request id is set and the request decoded)."""

    def refusal(self, metadata: Metadata) -> tuple[grpc.StatusCode, str] | None:
        """The code and details to refuse the call with, or None."""


class _CallReport:
    """The wrapper around one method's behaviour: admission, request id,
    checks, and the log line and metric of the finished call. One function
    each for unary and streaming calls, so a call runs one coroutine (or
    async generator) around its behaviour, not one per concern."""

    def __init__(
        self, method: str, metrics: Metrics, gate: Gate | None, checks: Sequence[CallCheck]
    ) -> None:
        self.method = method
        self.metrics = metrics
        self.gate = gate
        self.checks = tuple(checks)

    def finish(self, context: Context, started: float, known: str | None) -> None:
        """`known`: the code when the wrapper saw how the call ended (OK,
        CANCELLED); otherwise the code the call was aborted with."""
        seconds = time.monotonic() - started
        code = known if known == "CANCELLED" else _code_name(context, known is None)
        self.metrics.rpc_finished(self.method, code, seconds)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "rpc finished",
                extra={"method": self.method, "code": code, "elapsed_ms": round(seconds * 1000)},
            )

    async def _checked(self, request: Any, context: Context, metadata: Metadata) -> None:
        """Refuses undecodable bytes, then what a check refuses (by aborting).
        A coroutine of its own only for servers with checks (a token) or a
        request that did not decode: the others skip it."""
        if isinstance(request, Undecodable):
            await abort_with_status(context, _undecodable_status(request))
        for check in self.checks:
            refused = check.refusal(metadata)
            if refused is not None:
                await context.abort(*refused)

    def unary(self, behavior: UnaryBehavior) -> UnaryBehavior:
        gate, checks = self.gate, self.checks

        async def handler(request: Any, context: Context) -> Any:
            if gate is not None and not gate.admit():
                await gate.refuse(self.method, context)  # raises: the call ends here
                return None
            try:
                metadata = context.invocation_metadata() or ()
                # In the trailing metadata, which reaches the caller with the
                # answer: grpc.aio sends initial metadata that has content in
                # a batch of its own, one more round through the transport.
                context.set_trailing_metadata(((REQUEST_ID_KEY, _name_call(metadata)),))
                started, code = time.monotonic(), None
                try:
                    if checks or isinstance(request, Undecodable):
                        await self._checked(request, context, metadata)
                    response = await behavior(request, context)
                    code = "OK"
                    return response
                except asyncio.CancelledError:
                    code = "CANCELLED"
                    raise
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await _last_resort(context, error)
                finally:
                    self.finish(context, started, code)
            finally:
                if gate is not None:
                    gate.release()

        return handler

    def stream(self, behavior: StreamBehavior) -> StreamBehavior:
        gate, checks = self.gate, self.checks

        async def handler(request: Any, context: Context) -> AsyncIterator[Any]:
            if gate is not None and not gate.admit():
                await gate.refuse(self.method, context)  # raises: the call ends here
                return
            try:
                metadata = context.invocation_metadata() or ()
                # Before the first event, so the caller can name the call at once.
                await context.send_initial_metadata(((REQUEST_ID_KEY, _name_call(metadata)),))
                started, code = time.monotonic(), None
                try:
                    if checks or isinstance(request, Undecodable):
                        await self._checked(request, context, metadata)
                    async for item in behavior(request, context):
                        yield item
                    code = "OK"
                except (asyncio.CancelledError, GeneratorExit):
                    code = "CANCELLED"
                    raise
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await _last_resort(context, error)
                finally:
                    self.finish(context, started, code)
            finally:
                if gate is not None:
                    gate.release()

        return handler


def rebuilt(
    handler: Handler,
    behavior: Callable[[Any, Any], Any],
    deserializer: Callable[[bytes], Any] | None = None,
) -> Handler:
    """The same RPC with its behaviour (and maybe its request deserializer)
    replaced (unary or server-streaming)."""
    request_deserializer = deserializer or handler.request_deserializer
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            behavior,
            request_deserializer=request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=request_deserializer,
        response_serializer=handler.response_serializer,
    )


class ServiceInterceptor:
    """Wraps the handlers of botflow's own service, once, when `add_wrapped`
    registers them (health and reflection pass untouched). What depends on a
    call's metadata runs inside the wrapper (`CallCheck`)."""

    def wrap(self, method: str, handler: Handler) -> Handler:
        raise NotImplementedError


class RequestContextInterceptor(ServiceInterceptor):
    """Request ids, call logs and RPC metrics; with `gate`, admission first,
    and `checks` of the caller's metadata before the behaviour runs."""

    def __init__(
        self, metrics: Metrics, gate: Gate | None = None, checks: Sequence[CallCheck] = ()
    ) -> None:
        self._metrics = metrics
        self._gate = gate
        self._checks = tuple(checks)

    def wrap(self, method: str, handler: Handler) -> Handler:
        report = _CallReport(method, self._metrics, self._gate, self._checks)
        tolerant = _tolerant(handler.request_deserializer)
        if handler.unary_stream is not None:
            behavior = report.stream(cast(StreamBehavior, handler.unary_stream))
            return rebuilt(handler, behavior, tolerant)
        if handler.unary_unary is not None:
            return rebuilt(handler, report.unary(handler.unary_unary), tolerant)
        return handler


def wrapped_once(
    method: str, handler: Handler, interceptors: Sequence[ServiceInterceptor]
) -> Handler:
    """`handler` wrapped by `interceptors`, the first outermost."""
    for interceptor in reversed(interceptors):
        handler = interceptor.wrap(method, handler)
    return handler


class _Captured:
    """Takes the server's place in a generated `add_*Servicer_to_server`, to
    get the method handlers it would register."""

    def __init__(self) -> None:
        self.services: list[tuple[str, dict[str, Handler]]] = []

    def add_generic_rpc_handlers(self, generic_rpc_handlers: object) -> None:
        """The generated code registers the same handlers both ways."""

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, Handler]
    ) -> None:
        self.services.append((service_name, dict(method_handlers)))


def add_wrapped(
    server: grpc.aio.Server,
    add_servicer: Callable[[Servicer, Any], None],
    servicer: Servicer,
    interceptors: Sequence[ServiceInterceptor],
) -> None:
    """`add_servicer(servicer, server)` (a generated `add_*Servicer_to_server`)
    with each handler wrapped once by `interceptors`: registered the same two
    ways, and grpc.aio finds a call's handler without running an interceptor."""
    captured = _Captured()
    add_servicer(servicer, captured)
    if not captured.services:
        raise ValueError("the generated code registers no method handlers; regenerate it")
    for service, handlers in captured.services:
        wrapped = {
            name: wrapped_once(f"/{service}/{name}", handler, interceptors)
            for name, handler in handlers.items()
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, wrapped),))
        server.add_registered_method_handlers(service, wrapped)


class BearerTokenCheck:
    """Refuses calls without `authorization: Bearer <token>` (a `CallCheck`).
    Health and reflection stay open: load balancers probe them
    unauthenticated."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def _authorized(self, metadata: Metadata) -> bool:
        for key, value in metadata:
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                return hmac.compare_digest(given, self._expected)
        return False

    def refusal(self, metadata: Metadata) -> tuple[grpc.StatusCode, str] | None:
        return None if self._authorized(metadata) else _DENIAL


_DENIAL = (grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
