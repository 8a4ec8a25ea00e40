"""A small typed client for botflow.v1.FlowService over the generated stubs.

    async with BotflowClient("127.0.0.1:50051") as client:
        response = await client.execute_action(request, timeout=30)

Malformed requests raise InvalidRequestError carrying the server's field
violations; other gRPC failures surface as grpc.aio.AioRpcError.
"""

from botflow.client.client import (
    DEFAULT_TIMEOUT,
    BotflowClient,
    InvalidRequestError,
    field_violations,
)

__all__ = ["DEFAULT_TIMEOUT", "BotflowClient", "InvalidRequestError", "field_violations"]
