"""Cross-cutting concerns of every RPC, as a grpc.aio server interceptor:
a request id per call (taken from `x-request-id` metadata or generated, sent
back as initial metadata), one log line per finished call with its real code
(a call the client cancelled is CANCELLED), request bytes that do not decode
answered INVALID_ARGUMENT, and a last resort for an exception that escaped
every barrier (logged with its class, never its message).

`InterceptorChain` runs botflow's interceptors as one: grpc.aio awaits every
registered interceptor on every call, so one registration is one hop, and a
method's wrapped handler is built once and reused when no wrapper depends
on the call's own metadata."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeAlias, cast

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from botflow.server.logs import request_id
from botflow.server.metrics import Metrics

log = logging.getLogger("botflow.rpc")
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# grpc's stubs type unary_stream as a sync iterator; aio handlers are async ones.
StreamBehavior: TypeAlias = Callable[[Any, Any], AsyncIterator[Any]]
REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID_LENGTH = 64
# A generated request id: this process's random prefix and a call counter,
# unique like a uuid4 without drawing 16 random bytes per call.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
# grpc hands back the same handler object for a method on every call; the cap
# only matters if some handler did not, so the cache cannot grow without end.
MAX_BUILT_HANDLERS = 1024


def _incoming_request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and value.isprintable():
            return value[:MAX_REQUEST_ID_LENGTH]
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


async def _begin(context: grpc.aio.ServicerContext[Any, Any], *, streaming: bool) -> float:
    """Names the call and tells the caller its request id: a stream in its
    initial metadata, before the first event; a unary call in its trailing
    metadata, which reaches the caller together with the answer. (grpc.aio
    sends initial metadata that has content in a batch of its own, which
    would cost every unary call one more round through the transport.)"""
    rid = _incoming_request_id(context)
    request_id.set(rid)
    if streaming:
        await context.send_initial_metadata(((REQUEST_ID_KEY, rid),))
    else:
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
    return time.monotonic()


async def abort_with_status(
    context: grpc.aio.ServicerContext[Any, Any], status: grpc.Status
) -> None:
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


async def _refuse_undecodable(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    if isinstance(request, Undecodable):
        await abort_with_status(context, _undecodable_status(request))


async def _last_resort(context: grpc.aio.ServicerContext[Any, Any], error: Exception) -> None:
    """An exception no barrier caught: a bug. Logged once by class; the caller
    gets INTERNAL with the request id to quote, never the exception's text."""
    log.error("unexpected error", extra={"error_type": type(error).__name__})
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"botflow failed unexpectedly ({type(error).__name__}); request id {request_id.get()}",
    )


def _code_name(context: grpc.aio.ServicerContext[Any, Any], failed: bool) -> str:
    if context.cancelled():
        return "CANCELLED"
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if failed else "OK"


class _CallReport:
    """Logs and counts one finished call."""

    def __init__(self, method: str, metrics: Metrics) -> None:
        self.method = method
        self.metrics = metrics

    def finish(
        self, context: grpc.aio.ServicerContext[Any, Any], started: float, known: str | None
    ) -> None:
        """`known`: the code when the wrapper saw how the call ended (OK,
        CANCELLED); otherwise the code the call was aborted with."""
        seconds = time.monotonic() - started
        code = known if known == "CANCELLED" else _code_name(context, known is None)
        self.metrics.rpc_finished(self.method, code, seconds)
        log.info(
            "rpc finished",
            extra={"method": self.method, "code": code, "elapsed_ms": round(seconds * 1000)},
        )

    def unary(
        self, behavior: Callable[[Any, Any], Awaitable[Any]]
    ) -> Callable[[Any, Any], Awaitable[Any]]:
        async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started, code = await _begin(context, streaming=False), None
            try:
                await _refuse_undecodable(request, context)
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

        return handler

    def stream(self, behavior: StreamBehavior) -> StreamBehavior:
        async def handler(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            started, code = await _begin(context, streaming=True), None
            try:
                await _refuse_undecodable(request, context)
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
    """Wraps the handlers of botflow's own service (InterceptorChain applies
    it; health and reflection pass untouched)."""

    # Whether `wrap` reads the call's details (metadata); when not, the
    # wrapped handler of a method can be built once (InterceptorChain).
    per_call = False

    def wrap(self, method: str, handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        raise NotImplementedError


class RequestContextInterceptor(ServiceInterceptor):
    """Request ids, call logs and RPC metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def wrap(self, method: str, handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        report = _CallReport(method, self._metrics)
        tolerant = _tolerant(handler.request_deserializer)
        if handler.unary_stream is not None:
            behavior = report.stream(cast(StreamBehavior, handler.unary_stream))
            return rebuilt(handler, behavior, tolerant)
        if handler.unary_unary is not None:
            return rebuilt(handler, report.unary(handler.unary_unary), tolerant)
        return handler


class InterceptorChain(grpc.aio.ServerInterceptor):
    """`interceptors` as one grpc interceptor, the first outermost (as grpc
    would run them registered in that order). Those that depend on the call
    (`per_call`) must come last; the wrapping by the others is kept per
    method and inner handler."""

    def __init__(self, service_prefix: str, interceptors: Sequence[ServiceInterceptor]) -> None:
        static = [i for i in interceptors if not i.per_call]
        per_call = [i for i in interceptors if i.per_call]
        if list(interceptors) != static + per_call:
            raise ValueError("per-call interceptors must come after the others")
        self._prefix = service_prefix
        self._static = static[::-1]  # innermost first
        self._per_call = per_call[::-1]
        self._built: dict[tuple[str, Handler], Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith(self._prefix):
            return handler
        for interceptor in self._per_call:
            handler = interceptor.wrap(method, handler, handler_call_details)
        key = (method, handler)
        built = self._built.get(key)
        if built is None:
            built = handler
            for interceptor in self._static:
                built = interceptor.wrap(method, built, handler_call_details)
            if len(self._built) < MAX_BUILT_HANDLERS:
                self._built[key] = built
        return built


class BearerTokenInterceptor(ServiceInterceptor):
    """Refuses calls without `authorization: Bearer <token>`. Health and
    reflection stay open: load balancers probe them unauthenticated."""

    per_call = True

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()
        # One refusing handler per method: the chain keys its cache on it.
        self._denials: dict[Handler, Handler] = {}

    def _authorized(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                return hmac.compare_digest(given, self._expected)
        return False

    def wrap(self, method: str, handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        if self._authorized(details):
            return handler
        denial = self._denials.get(handler)
        if denial is None:
            deny = _deny_stream if handler.unary_stream is not None else _deny
            denial = self._denials[handler] = rebuilt(handler, deny)
        return denial


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")


async def _deny_stream(
    request: Any, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[Any]:
    await _deny(request, context)
    yield  # pragma: no cover - makes this an async generator
