"""InterceptorChain: botflow's interceptors as one grpc interceptor."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from botflow.server.interceptors import (
    BearerTokenInterceptor,
    Handler,
    InterceptorChain,
    ServiceInterceptor,
    rebuilt,
)

PREFIX = "/botflow.v1.FlowService/"
METHOD = f"{PREFIX}ExecuteAction"


class Details:
    """grpc.HandlerCallDetails as a test builds it."""

    def __init__(self, method: str = METHOD, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.method = method
        self.invocation_metadata = metadata


async def _behavior(request: Any, context: Any) -> Any:
    return request


HANDLER: Handler = grpc.unary_unary_rpc_method_handler(_behavior)
# The behaviours here never look at their context.
CONTEXT: Any = None


class Tagging(ServiceInterceptor):
    """Wraps by recording its name around the handler, and counts its wraps."""

    def __init__(self, name: str, per_call: bool = False) -> None:
        self.name = name
        self.per_call = per_call
        self.wraps = 0
        self.order: list[str] = []

    def wrap(self, method: str, handler: Handler, details: grpc.HandlerCallDetails) -> Handler:
        self.wraps += 1
        inner = handler.unary_unary
        assert inner is not None
        name = self.name

        async def tagged(request: Any, context: Any) -> Any:
            return [name, *(await inner(request, context))]

        return rebuilt(handler, tagged)


async def _handler(chain: InterceptorChain, details: Details) -> Handler:
    async def continuation(_: Any) -> Handler:
        return HANDLER

    handler = await chain.intercept_service(continuation, details)  # type: ignore[arg-type]
    assert handler is not None
    return handler


async def test_the_first_interceptor_is_outermost_and_each_method_is_wrapped_once() -> None:
    outer, inner = Tagging("outer"), Tagging("inner")
    chain = InterceptorChain(PREFIX, [outer, inner])
    handlers = [await _handler(chain, Details()) for _ in range(5)]
    assert all(h is handlers[0] for h in handlers)
    assert (outer.wraps, inner.wraps) == (1, 1)
    behavior = handlers[0].unary_unary
    assert behavior is not None
    assert await behavior([], CONTEXT) == ["outer", "inner"]


async def test_a_per_call_interceptor_wraps_every_call() -> None:
    static, per_call = Tagging("static"), Tagging("per-call", per_call=True)
    chain = InterceptorChain(PREFIX, [static, per_call])
    for _ in range(3):
        await _handler(chain, Details())
    assert per_call.wraps == 3


def test_per_call_interceptors_must_come_last() -> None:
    with pytest.raises(ValueError, match="per-call"):
        InterceptorChain(PREFIX, [Tagging("a", per_call=True), Tagging("b")])


async def test_other_services_pass_untouched() -> None:
    tagging = Tagging("t")
    chain = InterceptorChain(PREFIX, [tagging])
    assert await _handler(chain, Details("/grpc.health.v1.Health/Check")) is HANDLER
    assert tagging.wraps == 0


async def test_bearer_refusal_is_one_handler_per_method_and_never_the_real_one() -> None:
    bearer = BearerTokenInterceptor("secret")
    chain = InterceptorChain(PREFIX, [Tagging("outer"), bearer])
    refused = [await _handler(chain, Details()) for _ in range(2)]
    allowed = await _handler(chain, Details(metadata=(("authorization", "Bearer secret"),)))
    assert refused[0] is refused[1]
    assert allowed is not refused[0]
    behavior = allowed.unary_unary
    assert behavior is not None
    assert await behavior([], CONTEXT) == ["outer"]
