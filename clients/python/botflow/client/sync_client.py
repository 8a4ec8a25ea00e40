"""SyncBotflowClient: the blocking twin of BotflowClient, for code without an
event loop (Django, Flask, Celery workers).

    with SyncBotflowClient("127.0.0.1:50051") as client:
        response = client.execute_action(request, timeout=30)

It is safe to share one client between threads: a gRPC channel multiplexes
calls, so a web process keeps one per server rather than one per request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import grpc

from botflow.client.connection import (
    DEFAULT_TIMEOUT,
    ChannelOptions,
    Metadata,
    call_metadata,
    channel_credentials,
    open_channel,
    token_metadata,
)
from botflow.client.errors import request_id, typed_errors
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub


class FlowEvents(Iterator[RunFlowResponse]):
    """The events of one RunFlow call as they arrive; the last is `finished`.

    `cancel()` (from any thread) or leaving a `with` block cancels the call
    and the server's work; the iteration then ends without an error, so
    a run that ended early is one whose last event is not `finished`.
    """

    def __init__(self, call: Any) -> None:
        # grpc's stubs type a unary-stream call as a plain iterator, but it
        # is also a grpc.Call (cancel, metadata), which is what is used here.
        self._call = call
        self._cancelled = threading.Event()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> RunFlowResponse:
        try:
            with typed_errors():
                event: RunFlowResponse = next(self._call)
        except grpc.RpcError as error:
            if self._cancelled.is_set() and error.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise
        return event

    def cancel(self) -> None:
        self._cancelled.set()
        self._call.cancel()

    @property
    def request_id(self) -> str | None:
        """The server's `x-request-id` for this run (waits for its first answer)."""
        return request_id(self._call)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class SyncBotflowClient:
    """A blocking client of one botflow server (or a load balancer in front of many)."""

    def __init__(
        self,
        target: str,
        *,
        tls: bool = False,
        root_certificates: bytes | None = None,
        client_certificate: tuple[bytes, bytes] | None = None,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: ChannelOptions = (),
    ) -> None:
        """Connect to `target` ("host:port"); the arguments mean what they
        mean for BotflowClient (TLS, token, credentials, channel options)."""
        credentials = channel_credentials(
            tls=tls,
            root_certificates=root_certificates,
            client_certificate=client_certificate,
            credentials=credentials,
        )
        channel = open_channel(
            target, options, credentials, grpc.insecure_channel, grpc.secure_channel
        )
        self._init(channel, token, owns_channel=True)

    @classmethod
    def from_channel(cls, channel: grpc.Channel, *, token: str | None = None) -> Self:
        """A client over a channel you made (and close yourself): with your
        own interceptors, or a grpc_testing channel in tests."""
        client = cls.__new__(cls)
        client._init(channel, token, owns_channel=False)
        return client

    def _init(self, channel: grpc.Channel, token: str | None, *, owns_channel: bool) -> None:
        self._channel = channel
        self._owns_channel = owns_channel
        self._stub = FlowServiceStub(channel)
        self._metadata = token_metadata(token)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (if this client opened it); calls in flight are cancelled."""
        if self._owns_channel:
            self._channel.close()

    def execute_action(
        self,
        request: ExecuteActionRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Metadata = (),
    ) -> ExecuteActionResponse:
        """Run one action; a provider failure is in the result, not raised.

        `metadata` is added to the call's, e.g. (("x-request-id", "..."),).
        """
        with typed_errors():
            response: ExecuteActionResponse = self._stub.ExecuteAction(
                request, timeout=timeout, metadata=call_metadata(self._metadata, metadata)
            )
        return response

    def run_flow(
        self,
        request: RunFlowRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Metadata = (),
    ) -> FlowEvents:
        """Start a flow run; iterate the result for its events as they arrive.

        The call starts at once. Use it in a `with` block (or call `cancel()`)
        so that stopping early also stops the server's work.
        """
        call = self._stub.RunFlow(
            request, timeout=timeout, metadata=call_metadata(self._metadata, metadata)
        )
        return FlowEvents(call)

    def run_flow_to_finish(
        self,
        request: RunFlowRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Metadata = (),
    ) -> list[RunFlowResponse]:
        """Run a flow and return all its events (the last is the finish event)."""
        with self.run_flow(request, timeout=timeout, metadata=metadata) as events:
            return list(events)
