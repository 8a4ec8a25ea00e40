"""A scripted HTTP endpoint for webhook tests, bound to 127.0.0.1 on a free port.

Every request to any path is recorded (method, path, query, headers, raw body,
arrival time); each path answers with the responses scripted for it, in order,
the last one repeating; unscripted paths answer `default` (200 with ``{}``)::

    async with HttpEndpoint() as endpoint:
        endpoint.route("/hook", Respond(json={"ok": True}))
        endpoint.route("/old", redirect(endpoint.url("/hook")))
        endpoint.route("/slow", stall(30))
        ...  # point a webhook at endpoint.url("/hook?x=1")
        assert endpoint.requests[0].query == {"x": "1"}

A `Respond` sends JSON (`json`), raw bytes or text (`body`, sent as is with
`content_type`), a huge body (`size` bytes of JSON, streamed), gzip-compressed
when `compress`; `headers` are added; `delay` waits first (a stall: a client
that gives up disconnects, which cancels the wait; closing the endpoint ends
every wait at once).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.support.loopback_server import LoopbackServer

__all__ = ["HttpEndpoint", "RecordedRequest", "Respond", "redirect", "stall"]

_NO_JSON = object()
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Respond:
    """One scripted answer."""

    status: int = 200
    # The JSON body (ignored when `body` or `size` is given). The default is {}.
    json: Any = _NO_JSON
    # A raw body, sent as is with `content_type`.
    body: bytes | str | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    # Seconds to wait before answering.
    delay: float = 0.0
    # > 0: a JSON body of exactly `size` bytes, streamed in chunks.
    size: int = 0
    # gzip the body (Content-Encoding: gzip).
    compress: bool = False

    def payload(self) -> bytes:
        if self.size > 0:
            return huge_json(self.size)
        if self.body is not None:
            return self.body.encode() if isinstance(self.body, str) else self.body
        return json.dumps({} if self.json is _NO_JSON else self.json).encode()


def redirect(location: str, status: int = 302) -> Respond:
    """A redirect to `location` (absolute or relative)."""
    return Respond(
        status=status, body=b"", content_type="text/plain", headers={"Location": location}
    )


def stall(seconds: float = 30.0, then: Respond | None = None) -> Respond:
    """Wait `seconds`, then answer like `then` (default: 200 with {})."""
    base = then or Respond()
    return Respond(
        status=base.status,
        json=base.json,
        body=base.body,
        content_type=base.content_type,
        headers=base.headers,
        delay=seconds,
        size=base.size,
        compress=base.compress,
    )


def huge_json(size: int) -> bytes:
    """A valid JSON document of exactly `size` (>= 12) bytes: {"pad": "xxx…"}."""
    overhead = len(b'{"pad": ""}')
    return b'{"pad": "' + b"x" * max(0, size - overhead) + b'"}'


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the endpoint received it."""

    arrived: float
    method: str
    path: str
    # The query string's parameters (the last value of a repeated name wins);
    # `raw_query` is the undecoded query string.
    query: Mapping[str, str]
    raw_query: str
    # Case-insensitive.
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class HttpEndpoint(LoopbackServer):
    """A scripted HTTP server on 127.0.0.1 (an async context manager)."""

    def __init__(self, default: Respond | None = None) -> None:
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.default = default or Respond()
        self._routes: dict[str, list[Respond]] = {}

    # -- script ---------------------------------------------------------------

    def route(self, path: str, *answers: Respond) -> None:
        """Answer requests to `path` with `answers` in order; the last repeats."""
        if not answers:
            raise ValueError("give at least one answer")
        self._routes[path] = list(answers)

    # -- where and what -------------------------------------------------------

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """e.g. "http://127.0.0.1:43210/hook"; `host` may be "localhost", "[::1]"…"""
        return f"http://{host}:{self.port}{path}"

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- serving --------------------------------------------------------------

    def _next_answer(self, path: str) -> Respond:
        answers = self._routes.get(path)
        if not answers:
            return self.default
        return answers.pop(0) if len(answers) > 1 else answers[0]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                arrived=time.monotonic(),
                method=request.method,
                path=request.path,
                query=dict(request.query),
                raw_query=request.query_string,
                headers=CIMultiDict(request.headers),
                body=body,
            )
        )
        answer = self._next_answer(request.path)
        if answer.delay > 0:
            try:
                await asyncio.wait_for(self._closing.wait(), timeout=answer.delay)
            except TimeoutError:
                pass
            else:  # closing: cut the connection
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=503)
        return await self._answer(request, answer)

    async def _answer(self, request: web.Request, answer: Respond) -> web.StreamResponse:
        payload = answer.payload()
        headers = CIMultiDict(answer.headers)
        headers.setdefault("Content-Type", answer.content_type)
        if answer.compress:
            payload = gzip.compress(payload)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(payload))
        response = web.StreamResponse(status=answer.status, headers=headers)
        await response.prepare(request)
        try:
            for start in range(0, len(payload), _CHUNK):
                await response.write(payload[start : start + _CHUNK])
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading (e.g. a size cap): fine
        return response
