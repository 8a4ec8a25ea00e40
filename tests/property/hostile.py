"""Loopback HTTP servers whose answers hypothesis writes: a webhook endpoint and
an OpenAI-compatible endpoint, both hostile on purpose.

Each example scripts its answers under a fresh path prefix (`/s/<n>/…`), so one
server pair serves the whole session and a late request of an earlier example
can never be answered with a later example's script. Requests under an unknown
prefix get a plain, valid answer.

An answer's body and headers may contain the placeholders below, filled in when
the answer is sent: that is how a redirect points back at the same script and
how a provider reflects the caller's token into its error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import itertools
import json
import zlib
from dataclasses import dataclass
from enum import Enum

from aiohttp import web

from tests.support.loopback_server import LoopbackServer

# Replaced, when an answer is sent, by "http://127.0.0.1:PORT/s/<n>" (this script's base).
SELF = "@SELF@"
# Replaced by the bearer token the request carried, JSON-escaped (no quotes).
TOKEN = "@TOKEN@"

_PREFIX = "/s/"
_CHUNK = 16 * 1024


class Encoding(Enum):
    """How the body travels; the broken ones are what a hostile upstream sends."""

    IDENTITY = "identity"
    GZIP = "gzip"
    # Content-Encoding: gzip with the compressed stream cut in the middle.
    GZIP_TRUNCATED = "gzip-truncated"
    # Content-Encoding: gzip on bytes that are not gzip at all.
    GZIP_GARBAGE = "gzip-garbage"
    # A small gzip body that inflates to far more than any server limit.
    GZIP_BOMB = "gzip-bomb"
    DEFLATE = "deflate"
    # A Content-Encoding no client knows.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, exactly as sent (no header is added except Content-Length)."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    body: bytes = b"{}"
    encoding: Encoding = Encoding.IDENTITY
    # Declare a longer body than is sent, then cut the connection.
    truncate: bool = False
    delay_ms: int = 0
    # Sent as is instead of an HTTP response (status line included), then the
    # connection closes: framing no HTTP library would produce.
    raw: bytes | None = None


VALID_COMPLETION = Answer(
    body=json.dumps(
        {
            "id": "chatcmpl-prop",
            "object": "chat.completion",
            "created": 0,
            "model": "stub",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()
)


@functools.cache
def gzip_bomb() -> bytes:
    """64 MiB of JSON whitespace-free text in about 64 KiB of gzip: far over every
    decoded-size cap (1 MiB by default), built once per session."""
    return gzip.compress(b'{"pad": "' + b"0" * (64 * 1024 * 1024) + b'"}', compresslevel=9)


def _encoded(answer: Answer, body: bytes) -> tuple[bytes, str | None]:
    match answer.encoding:
        case Encoding.IDENTITY:
            return body, None
        case Encoding.GZIP:
            return gzip.compress(body), "gzip"
        case Encoding.GZIP_TRUNCATED:
            packed = gzip.compress(body)
            return packed[: max(1, len(packed) // 2)], "gzip"
        case Encoding.GZIP_GARBAGE:
            return b"\x1f\x8b" + body, "gzip"
        case Encoding.GZIP_BOMB:
            return gzip_bomb(), "gzip"
        case Encoding.DEFLATE:
            return zlib.compress(body), "deflate"
        case Encoding.UNKNOWN:
            return body, "x-prop-unknown"


def _json_inner(text: str) -> str:
    return json.dumps(text)[1:-1]


class ScriptedServer(LoopbackServer):
    """Answers each request under `/s/<n>/` with the n-th script's answers in
    order (cycling), and records how many requests each script received."""

    def __init__(self, default: Answer) -> None:
        super().__init__()
        self.default = default
        self._scripts: dict[str, tuple[Answer, ...]] = {}
        self._served: dict[str, int] = {}
        self._ids = itertools.count(1)

    def script(self, answers: tuple[Answer, ...]) -> str:
        """Register `answers`; returns the "127.0.0.1:PORT/s/<n>" they answer under.

        Called from the test thread while the server runs in its own: a dict
        assignment is atomic, and the key is new, so no answer is ever torn.
        """
        key = str(next(self._ids))
        self._scripts[key] = answers or (self.default,)
        return f"127.0.0.1:{self.port}{_PREFIX}{key}"

    def served(self, hostport_path: str) -> int:
        return self._served.get(hostport_path.rsplit("/", 1)[-1], 0)

    def forget(self, hostport_path: str) -> None:
        key = hostport_path.rsplit("/", 1)[-1]
        self._scripts.pop(key, None)
        self._served.pop(key, None)

    def _lookup(self, path: str) -> tuple[str, Answer]:
        if not path.startswith(_PREFIX):
            return "", self.default
        key = path[len(_PREFIX) :].split("/", 1)[0]
        answers = self._scripts.get(key)
        if answers is None:
            return key, self.default
        count = self._served.get(key, 0)
        self._served[key] = count + 1
        return key, answers[count % len(answers)]

    def _fill(self, text: str, key: str, request: web.Request) -> str:
        base = f"http://127.0.0.1:{self.port}{_PREFIX}{key}"
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        return text.replace(SELF, base).replace(TOKEN, _json_inner(token))

    def _fill_bytes(self, raw: bytes, key: str, request: web.Request) -> bytes:
        text = raw.decode("utf-8", "surrogateescape")
        return self._fill(text, key, request).encode("utf-8", "surrogateescape")

    async def _send_raw(self, request: web.Request, raw: bytes) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.write(raw)
            transport.close()
        # The closed connection cancels this handler (handler_cancellation=True);
        # returning a response instead would make aiohttp write after the close.
        await asyncio.sleep(30)
        return web.Response(status=500)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with contextlib.suppress(Exception):
            await request.read()
        key, answer = self._lookup(request.path)
        if answer.delay_ms > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=answer.delay_ms / 1000)
        if answer.raw is not None:
            return await self._send_raw(request, self._fill_bytes(answer.raw, key, request))
        raw = self._fill(answer.body.decode("utf-8", "surrogateescape"), key, request)
        payload, encoding = _encoded(answer, raw.encode("utf-8", "surrogateescape"))
        response = web.StreamResponse(status=answer.status)
        for name, value in answer.headers:
            response.headers.add(name, self._fill(value, key, request))
        if encoding is not None:
            response.headers["Content-Encoding"] = encoding
        declared = len(payload) + (1024 if answer.truncate else 0)
        response.headers["Content-Length"] = str(declared)
        try:
            await response.prepare(request)
            sent = payload[: len(payload) // 2] if answer.truncate else payload
            for start in range(0, len(sent), _CHUNK):
                await response.write(sent[start : start + _CHUNK])
            if answer.truncate:
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write_eof()
        except (ConnectionError, RuntimeError, ValueError):
            # The client stopped reading (a size cap, a timeout), or aiohttp
            # refused a generated header: either way the client sees a broken answer.
            if request.transport is not None:
                request.transport.abort()
        return response


class HostileWebhook(ScriptedServer):
    def __init__(self) -> None:
        super().__init__(default=Answer())


class HostileOpenAI(ScriptedServer):
    """Only `…/chat/completions` is scripted; the SDK posts nowhere else."""

    def __init__(self) -> None:
        super().__init__(default=VALID_COMPLETION)
