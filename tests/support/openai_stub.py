"""A scripted OpenAI-compatible HTTP server for tests, bound to 127.0.0.1.

Use it to drive the real OpenAI SDK (or a whole botflow server) over real HTTP
without leaving the machine::

    async with OpenAIStub(Fail(429, headers={"retry-after": "0.3"}), Reply("hi")) as stub:
        provider = OpenAIProvider(provider_context(egress=LOOPBACK_ALLOWED))
        ...  # send requests to stub.base_url ("http://127.0.0.1:PORT/v1")
        assert stub.requests[0].bearer == "sk-test"
        assert stub.gaps()[0] >= 0.3

`POST /v1/chat/completions` answers with the queued steps, one per request, in
order; once the queue is empty every request gets `default` (a `Reply()` unless
given). Every request to any path is recorded in `stub.requests` (those to the
chat completions path also in `stub.chat_requests`), with its monotonic arrival
time, its headers, its parsed JSON body and the client's port. Other paths
answer 404 with an OpenAI-style error body.

Steps:

- `Reply`: 200 with a chat completion and usage.
- `Fail`: an error status with `{"error": {"message", "type", "code"}}` and
  optional headers (`retry-after`, `retry-after-ms`, ...).
- `Stall`: wait, then answer with another step (a client that gives up first
  simply disconnects; closing the stub ends every stall at once).
- `Drop`: send the status line, headers and part of the body, then cut the
  connection (or cut it before any response with `send_headers=False`).
- `Malformed`: a body that is not valid JSON (200 and `application/json` by
  default).
- `RawJson`: any JSON body and status, e.g. a completion with no choices.
- `RawBody`: any bytes with any status and headers, sent as they are (a gzip
  body with `Content-Encoding: gzip`, bytes that are not UTF-8, ...).
  `gzip_bomb(n)` makes a small gzip body that inflates to n bytes.
- `Flood`: a body streamed piece by piece, plain or compressed on the fly, for
  as long as the client reads; `stub.streamed` counts the bytes written.
- `Drip`: a body sent one byte at a time with a pause between bytes.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiohttp import web
from multidict import CIMultiDict

from tests.support.loopback_server import LoopbackServer

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "Drip",
    "Drop",
    "Fail",
    "Flood",
    "Malformed",
    "OpenAIStub",
    "RawBody",
    "RawJson",
    "RecordedRequest",
    "Reply",
    "Stall",
    "Step",
    "completion_body",
    "error_body",
    "gzip_bomb",
]

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    """200 with a chat completion whose single choice says `text`."""

    text: str = "Hello from the stub."
    # None: echo the request's model.
    model: str | None = None
    prompt_tokens: int = 7
    completion_tokens: int = 5
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fail:
    """An error status with an OpenAI-style JSON error body."""

    status: int
    code: str | None = None
    message: str = "scripted failure from the stub"
    type: str = "stub_error"
    # e.g. {"retry-after": "0.3"} or {"retry-after-ms": "250"}
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Malformed:
    """A body that is not valid JSON."""

    body: str = '{"id": "chatcmpl-stub", "choices": [{"index": 0, "mess'
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class RawJson:
    """Any JSON body with any status, sent as is."""

    body: object
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    """Cut the connection in the middle of the response.

    With `send_headers` the status line and headers go out first, declaring a
    body longer than `partial`, which is all that is sent before the cut.
    """

    partial: bytes = b'{"id": "chatcmpl-stub", "choi'
    send_headers: bool = True


@dataclass(frozen=True)
class RawBody:
    """Bytes sent as they are, with the given status and headers."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Flood:
    """`piece` repeated until `decoded_bytes` went out or the client stopped
    reading; with `encoding` ("gzip" or "deflate") compressed on the fly and
    labelled with Content-Encoding. No Content-Length (chunked)."""

    decoded_bytes: int
    encoding: str | None = None
    piece: bytes = b" " * 65536


@dataclass(frozen=True)
class Drip:
    """`body` one byte at a time, `interval` seconds apart, with a
    Content-Length for all of it."""

    body: bytes
    interval: float = 0.05


Answer: TypeAlias = Reply | Fail | Malformed | RawJson | RawBody | Flood | Drip | Drop


@dataclass(frozen=True)
class Stall:
    """Wait `seconds` before answering with `then` (None: the stub's default)."""

    seconds: float
    then: Answer | None = None


Step: TypeAlias = Answer | Stall


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stub received it."""

    # time.monotonic() when the request's headers and body had arrived.
    arrived: float
    method: str
    path: str
    # Case-insensitive.
    headers: Mapping[str, str] = field(repr=False)
    # The parsed JSON body; None when the body is empty or not JSON.
    body: Any = field(repr=False)
    # The step that answered (None for paths the stub does not serve).
    step: Step | None = None
    # The client's TCP port: equal ports mean a reused (pooled) connection.
    client_port: int | None = None

    @property
    def bearer(self) -> str | None:
        """The token of an `Authorization: Bearer ...` header, if any."""
        value = self.headers.get("authorization")
        if value is None or not value.startswith("Bearer "):
            return None
        return value.removeprefix("Bearer ")


def completion_body(reply: Reply, request_model: str) -> dict[str, Any]:
    """The chat.completion JSON the stub sends for `reply`."""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model if reply.model is not None else request_model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _compressor(encoding: str) -> zlib._Compress:
    wbits = {"gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}[encoding]
    return zlib.compressobj(9, zlib.DEFLATED, wbits)


@functools.cache
def gzip_bomb(decoded_bytes: int, piece: bytes = b" " * 65536) -> bytes:
    """A gzip body that inflates to `decoded_bytes` (about 1000:1), built
    without ever holding the inflated text."""
    compressor = _compressor("gzip")
    parts: list[bytes] = []
    for offset in range(0, decoded_bytes, len(piece)):
        parts.append(compressor.compress(piece[: decoded_bytes - offset]))
    parts.append(compressor.flush())
    return b"".join(parts)


class OpenAIStub(LoopbackServer):
    """A scripted OpenAI-compatible server on 127.0.0.1 (an async context manager).

    Another vendor's stub overrides `served_path`, `reply_body` and `error_json`.
    """

    served_path = CHAT_COMPLETIONS_PATH

    def __init__(self, *steps: Step, default: Step | None = None) -> None:
        super().__init__()
        self.requests: list[RecordedRequest] = []
        # Bytes written so far by each Flood or Drip answer, in order; live.
        self.streamed: list[int] = []
        self.default: Step = default if default is not None else Reply()
        self._steps: deque[Step] = deque(steps)

    # -- script ---------------------------------------------------------------

    def enqueue(self, *steps: Step) -> None:
        """Queue more steps after those already waiting."""
        self._steps.extend(steps)

    @property
    def pending(self) -> int:
        """How many queued steps have not been used yet."""
        return len(self._steps)

    # -- what happened --------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. "http://127.0.0.1:43210/v1"."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The requests to POST /v1/chat/completions, in arrival order."""
        return [r for r in self.requests if r.step is not None]

    def gaps(self) -> list[float]:
        """Seconds between the arrivals of successive chat completion requests."""
        times = [r.arrived for r in self.chat_requests]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    # -- serving --------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        served = request.method == "POST" and request.path == self.served_path
        step: Step | None = None
        if served:
            step = self._steps.popleft() if self._steps else self.default
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(
            RecordedRequest(
                arrived=time.monotonic(),
                method=request.method,
                path=request.path,
                headers=CIMultiDict(request.headers),
                body=body,
                step=step,
                client_port=int(peer[1]) if peer else None,
            )
        )
        if step is None:
            return web.json_response(
                self.error_json(f"no route for {request.method} {request.path}", "not_found", None),
                status=404,
            )
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        if isinstance(step, Stall):
            if await self._stall(step.seconds):
                return await self._abort(request)
            answer = step.then if step.then is not None else self.default
            if isinstance(answer, Stall):  # a default that stalls: answer with a Reply
                answer = Reply()
        else:
            answer = step
        return await self._answer(request, answer, model)

    def reply_body(self, reply: Reply, model: str) -> dict[str, Any]:
        return completion_body(reply, model)

    def error_json(self, message: str, type_: str, code: str | None) -> dict[str, Any]:
        return error_body(message, type_, code)

    async def _stall(self, seconds: float) -> bool:
        """Wait; True when the stub is closing meanwhile."""
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _answer(self, request: web.Request, answer: Answer, model: str) -> web.StreamResponse:
        if isinstance(answer, Reply):
            return web.json_response(self.reply_body(answer, model), headers=dict(answer.headers))
        if isinstance(answer, Fail):
            return web.json_response(
                self.error_json(answer.message, answer.type, answer.code),
                status=answer.status,
                headers=dict(answer.headers),
            )
        if isinstance(answer, RawJson):
            return web.json_response(
                answer.body, status=answer.status, headers=dict(answer.headers)
            )
        if isinstance(answer, Malformed):
            return web.Response(
                text=answer.body, status=answer.status, content_type=answer.content_type
            )
        if isinstance(answer, RawBody):
            return web.Response(body=answer.body, status=answer.status, headers=answer.headers)
        if isinstance(answer, Flood):
            return await self._flood(request, answer)
        if isinstance(answer, Drip):
            return await self._drip(request, answer)
        if answer.send_headers:
            response = web.StreamResponse(
                status=200,
                headers={
                    "Content-Type": "application/json",
                    "Content-Length": str(len(answer.partial) + 1024),
                },
            )
            await response.prepare(request)
            if answer.partial:
                await response.write(answer.partial)
        return await self._abort(request)

    async def _flood(self, request: web.Request, flood: Flood) -> web.StreamResponse:
        headers = {"Content-Type": "application/json"}
        if flood.encoding:
            headers["Content-Encoding"] = flood.encoding
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        index = self._start_stream()
        compressor = _compressor(flood.encoding) if flood.encoding else None
        for offset in range(0, flood.decoded_bytes, len(flood.piece)):
            piece = flood.piece[: flood.decoded_bytes - offset]
            if compressor is not None:
                # Flushed piece by piece: zlib would otherwise hold the output
                # back for megabytes, and the client would wait for nothing.
                piece = compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
            await self._send(response, index, piece)
            await asyncio.sleep(0)
        if compressor is not None:
            await self._send(response, index, compressor.flush())
        await response.write_eof()
        return response

    async def _drip(self, request: web.Request, drip: Drip) -> web.StreamResponse:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(drip.body))}
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        index = self._start_stream()
        for byte in drip.body:
            if await self._stall(drip.interval):
                return await self._abort(request)
            await self._send(response, index, bytes((byte,)))
        await response.write_eof()
        return response

    def _start_stream(self) -> int:
        self.streamed.append(0)
        return len(self.streamed) - 1

    async def _send(self, response: web.StreamResponse, index: int, data: bytes) -> None:
        if data:
            await response.write(data)
            self.streamed[index] += len(data)

    async def _abort(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # The lost connection cancels this handler (handler_cancellation=True).
        await asyncio.sleep(5)
        raise RuntimeError("the connection was cut but the handler was not cancelled")
