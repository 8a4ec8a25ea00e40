"""BotflowClient: deadlines on every call, rich errors as typed exceptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub

# Seconds a call may take unless the caller passes another timeout.
DEFAULT_TIMEOUT = 60.0


class InvalidRequestError(Exception):
    """The server refused the request (INVALID_ARGUMENT); nothing ran."""

    def __init__(self, message: str, field_violations: dict[str, str]) -> None:
        super().__init__(message)
        self.field_violations = field_violations


def field_violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The google.rpc.BadRequest field violations of a failed call, by path."""
    status = rpc_status.from_call(error)
    found: dict[str, str] = {}
    for detail in status.details if status else ():
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def _typed(error: grpc.aio.AioRpcError) -> Exception:
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequestError(error.details() or "invalid request", field_violations(error))
    return error


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
    ) -> None:
        """Connect to `target` ("host:port").

        TLS is used when `tls` is true or any certificate is given:
        `root_certificates` (PEM) verifies the server (default: the system's
        roots), `client_certificate` is (private key PEM, certificate chain PEM)
        for mutual TLS. `token` is sent as "authorization: Bearer <token>" on
        every call. `credentials` replaces all of that with your own.
        """
        if credentials is None and (tls or root_certificates or client_certificate):
            key, chain = client_certificate or (None, None)
            credentials = grpc.ssl_channel_credentials(root_certificates, key, chain)
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(target)
        else:
            self._channel = grpc.aio.secure_channel(target, credentials)
        self._stub = FlowServiceStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )

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
        self, request: ExecuteActionRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> ExecuteActionResponse:
        """Run one action; a provider failure is in the result, not raised."""
        try:
            response: ExecuteActionResponse = await self._stub.ExecuteAction(
                request, timeout=timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as error:
            raise _typed(error) from None
        return response

    async def run_flow(
        self, request: RunFlowRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> AsyncIterator[RunFlowResponse]:
        """Run a flow, yielding its events as they arrive; the last is `finished`.

        Leaving the loop early cancels the call (and the server's work) when
        the generator is closed: use `contextlib.aclosing(client.run_flow(...))`
        to make that immediate rather than at garbage collection.
        """
        call = self._stub.RunFlow(request, timeout=timeout, metadata=self._metadata)
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as error:
            raise _typed(error) from None
        finally:
            call.cancel()

    async def run_flow_to_finish(
        self, request: RunFlowRequest, *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[RunFlowResponse]:
        """Run a flow and return all its events (the last is the finish event)."""
        return [event async for event in self.run_flow(request, timeout=timeout)]
