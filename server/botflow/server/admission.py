"""Admission control: at most `max_concurrent_calls` FlowService calls at once.

One call more is answered at once with RESOURCE_EXHAUSTED and a
`google.rpc.RetryInfo` detail, so a caller (or its retry policy) knows the
server is busy rather than broken, and when to come back. Health and
reflection are never counted: a balancer must see a busy server as alive.

grpc.aio's own `maximum_concurrent_rpcs` is not used: it counts health and
reflection too and answers without a retry hint.
"""

from __future__ import annotations

import datetime
import logging

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from botflow.server import defaults
from botflow.server.interceptors import (
    Context,
    abort_with_status,
)
from botflow.server.metrics import Metrics

log = logging.getLogger("botflow.rpc")


def busy_status(limit: int, retry_after_seconds: float) -> grpc.Status:
    """RESOURCE_EXHAUSTED with a RetryInfo detail, as grpc-status sends it."""
    delay = duration_pb2.Duration()
    delay.FromTimedelta(datetime.timedelta(seconds=retry_after_seconds))
    status = status_pb2.Status(
        code=code_pb2.RESOURCE_EXHAUSTED,
        message=f"the server is running its limit of {limit} calls; retry later",
    )
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


class AdmissionGate:
    """Counts FlowService calls from the moment their handler starts until it
    ends, however it ends (answer, error, abort, cancellation).

    It is the `Gate` of RequestContextInterceptor (`admit`, `refuse`,
    `release`), run inside that one wrapper around each call."""

    def __init__(
        self,
        limit: int,
        metrics: Metrics | None = None,
        retry_after_seconds: float = defaults.DEFAULT_RETRY_AFTER_SECONDS,
    ) -> None:
        self._limit = limit
        self._metrics = metrics
        # Built once: every refusal is the same answer, and refusing must stay
        # cheap exactly when the server is busiest.
        self._busy = busy_status(limit, retry_after_seconds)
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def admit(self) -> bool:
        # No await between the check and the increment: the event loop runs one
        # handler at a time, so this needs no lock.
        if self._in_flight >= self._limit:
            return False
        self._in_flight += 1
        return True

    def release(self) -> None:
        self._in_flight -= 1

    async def refuse(self, method: str, context: Context) -> None:
        log.info(
            "rpc refused",
            extra={"method": method, "code": "RESOURCE_EXHAUSTED", "limit": self._limit},
        )
        if self._metrics is not None:
            self._metrics.rpc_finished(method, "RESOURCE_EXHAUSTED", 0.0)
        await abort_with_status(context, self._busy)
