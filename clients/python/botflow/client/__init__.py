"""Typed clients for botflow.v1.FlowService over the generated stubs.

    async with BotflowClient("127.0.0.1:50051") as client:   # grpc.aio
        response = await client.execute_action(request, timeout=30)

    with SyncBotflowClient("127.0.0.1:50051") as client:     # blocking
        response = client.execute_action(request, timeout=30)

Malformed requests raise InvalidRequestError carrying the server's field
violations, with the RPC error as its cause; other gRPC failures surface as
the grpc.RpcError itself. `request_id(error)` is the server's x-request-id
of either.
"""

from botflow.client.client import BotflowClient
from botflow.client.connection import DEFAULT_TIMEOUT
from botflow.client.errors import InvalidRequestError, field_violations, request_id
from botflow.client.sync_client import FlowEvents, SyncBotflowClient

__all__ = [
    "DEFAULT_TIMEOUT",
    "BotflowClient",
    "FlowEvents",
    "InvalidRequestError",
    "SyncBotflowClient",
    "field_violations",
    "request_id",
]
