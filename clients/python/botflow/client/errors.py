"""How a failed call reaches the caller, the same for the async and sync clients.

INVALID_ARGUMENT becomes InvalidRequestError (the server's field violations
decoded, the RPC error kept as its cause); every other failure is the gRPC
error itself. Both are `grpc.RpcError`s with `code()` and `details()`, and
`request_id(error)` gives the server's `x-request-id` of either, the id its
logs carry for the call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

REQUEST_ID_KEY = "x-request-id"


def _status(error: grpc.RpcError) -> status_pb2.Status | None:
    try:
        found: status_pb2.Status | None = rpc_status.from_call(error)
    except ValueError:
        # A status trailer that contradicts the call's own status (a proxy
        # rewrote one of them): its details cannot be trusted, and raising
        # here would hide the RPC error the caller needs.
        return None
    return found


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """The google.rpc.BadRequest field violations of a failed call, by path."""
    if isinstance(error, InvalidRequestError):
        return dict(error.field_violations)
    status = _status(error)
    found: dict[str, str] = {}
    for detail in status.details if status else ():
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def _metadata(error: object, which: str) -> Iterable[tuple[str, Any]]:
    read = getattr(error, which, None)
    # A call that never reached the server has no metadata (None, or
    # grpc.aio's empty Metadata); either way there is nothing to read.
    return (read() if callable(read) else None) or ()


def request_id(error: grpc.RpcError) -> str | None:
    """The `x-request-id` the server answered a failed call with, if any.

    botflow sends it in a unary call's trailing metadata and in a stream's
    initial metadata; both are read.
    """
    if isinstance(error, InvalidRequestError) and error.rpc_error is not None:
        error = error.rpc_error
    for which in ("initial_metadata", "trailing_metadata"):
        for key, value in _metadata(error, which):
            if key == REQUEST_ID_KEY and isinstance(value, str):
                return value
    return None


class InvalidRequestError(grpc.RpcError):
    """The server refused the request (INVALID_ARGUMENT); nothing ran.

    `field_violations` maps each refused field path to what is wrong with it;
    `rpc_error` (also the exception's `__cause__`) is the gRPC error it came
    from, whose code, details and metadata `code()`, `details()`,
    `initial_metadata()`, `trailing_metadata()` and `request_id` pass on.
    """

    def __init__(
        self,
        message: str,
        field_violations: dict[str, str],
        rpc_error: grpc.RpcError | None = None,
    ) -> None:
        super().__init__(message)
        self.field_violations = field_violations
        self.rpc_error = rpc_error

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> InvalidRequestError:
        return cls(error.details() or "invalid request", field_violations(error), error)

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> str:
        return str(self)

    def initial_metadata(self) -> tuple[tuple[str, Any], ...]:
        return tuple(_metadata(self.rpc_error, "initial_metadata"))

    def trailing_metadata(self) -> Any:  # grpc's stubs type this one oddly
        return tuple(_metadata(self.rpc_error, "trailing_metadata"))

    @property
    def request_id(self) -> str | None:
        return request_id(self)


@contextlib.contextmanager
def typed_errors() -> Iterator[None]:
    """Turns INVALID_ARGUMENT into InvalidRequestError (from the RPC error);
    lets every other failure through untouched."""
    try:
        yield
    except grpc.RpcError as error:
        if isinstance(error, InvalidRequestError) or (
            error.code() != grpc.StatusCode.INVALID_ARGUMENT
        ):
            raise
        raise InvalidRequestError.from_rpc_error(error) from error
