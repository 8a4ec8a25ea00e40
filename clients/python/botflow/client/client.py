"""BotflowClient: deadlines on every call, rich errors as typed exceptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

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
from botflow.client.errors import InvalidRequestError, field_violations, typed_errors
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub

# Re-exported: callers imported these from here before they moved.
__all__ = ["DEFAULT_TIMEOUT", "BotflowClient", "InvalidRequestError", "field_violations"]


class BotflowClient:
    """An async client of one botflow server (or a load balancer in front of many)."""

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
        """Connect to `target` ("host:port").

        TLS is used when `tls` is true or any certificate is given:
        `root_certificates` (PEM) verifies the server (default: the system's
        roots), `client_certificate` is (private key PEM, certificate chain PEM)
        for mutual TLS. `token` is sent as "authorization: Bearer <token>" on
        every call. `credentials` replaces all of that with your own.
        `options` are grpc channel arguments.
        """
        credentials = channel_credentials(
            tls=tls,
            root_certificates=root_certificates,
            client_certificate=client_certificate,
            credentials=credentials,
        )
        self._channel = open_channel(
            target, options, credentials, grpc.aio.insecure_channel, grpc.aio.secure_channel
        )
        self._stub = FlowServiceStub(self._channel)
        self._metadata = token_metadata(token)

    async def __aenter__(self) -> BotflowClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def execute_action(
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
            response: ExecuteActionResponse = await self._stub.ExecuteAction(
                request, timeout=timeout, metadata=call_metadata(self._metadata, metadata)
            )
        return response

    async def run_flow(
        self,
        request: RunFlowRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Metadata = (),
    ) -> AsyncIterator[RunFlowResponse]:
        """Run a flow, yielding its events as they arrive; the last is `finished`.

        Leaving the loop early cancels the call (and the server's work) when
        the generator is closed: use `contextlib.aclosing(client.run_flow(...))`
        to make that immediate rather than at garbage collection.
        """
        call = self._stub.RunFlow(
            request, timeout=timeout, metadata=call_metadata(self._metadata, metadata)
        )
        try:
            with typed_errors():
                async for event in call:
                    yield event
        finally:
            call.cancel()

    async def run_flow_to_finish(
        self,
        request: RunFlowRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Metadata = (),
    ) -> list[RunFlowResponse]:
        """Run a flow and return all its events (the last is the finish event)."""
        events = self.run_flow(request, timeout=timeout, metadata=metadata)
        return [event async for event in events]
