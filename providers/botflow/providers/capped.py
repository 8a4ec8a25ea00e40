"""A size cap on HTTP answers, counted after Content-Encoding is undone.

httpx2 decodes a body as it reads it and keeps all of it, so a 1 MiB gzip body
that inflates to 1 GiB costs 1 GiB before anyone can look at its size. The
transport here decodes the body itself, a bounded piece at a time, and stops
reading as soon as the decoded size passes the cap. It hands the body on
without its Content-Encoding header so that httpx2 does not decode it again.

- Supported codings: gzip, deflate (zlib-wrapped or raw) and identity; the
  request's Accept-Encoding is set to exactly these, so a server has no reason
  to send anything else. A body in any other coding is passed on as it came
  (the caller then fails to parse it), still under the cap.
- The bytes on the wire are held to the same cap: zlib keeps whatever follows
  the end of a compressed stream, and that must not grow without limit either.
- Only size is limited here. Time is the caller's business: a body that
  trickles in is stopped by the attempt's timeout.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Protocol

import httpx2

ACCEPT_ENCODING = "gzip, deflate"
# Each decompress call yields at most this much, so one call never inflates
# far past the cap.
DECODE_CHUNK_BYTES = 64 * 1024
_GZIP_WBITS = zlib.MAX_WBITS | 16


class ResponseTooLargeError(Exception):
    """The answer passed the cap; reading stopped there."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the answer is larger than {cap} bytes")
        self.cap = cap


class _Stage(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        yield from ()


class _Zlib:
    """gzip or deflate, drained in bounded pieces. A `deflate` body is
    zlib-wrapped by the standard but raw in some servers: the first piece
    decides, as in httpx2."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._inflater = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._drain(data)
        except zlib.error as exc:
            if not self._raw_fallback:
                raise httpx2.DecodingError("the compressed answer is corrupt") from exc
            self._raw_fallback = False
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self.decode(data)
        else:
            self._raw_fallback = False

    def _drain(self, data: bytes) -> Iterator[bytes]:
        piece = self._inflater.decompress(data, DECODE_CHUNK_BYTES)
        while piece:
            yield piece
            piece = self._inflater.decompress(self._inflater.unconsumed_tail, DECODE_CHUNK_BYTES)

    def flush(self) -> Iterator[bytes]:
        try:
            rest = self._inflater.flush(DECODE_CHUNK_BYTES)
        except zlib.error as exc:
            raise httpx2.DecodingError("the compressed answer is corrupt") from exc
        if rest:
            yield rest


def _stage(coding: str) -> _Stage | None:
    if coding == "gzip":
        return _Zlib(_GZIP_WBITS)
    if coding == "deflate":
        return _Zlib(zlib.MAX_WBITS, raw_fallback=True)
    if coding == "identity":
        return _Identity()
    return None


def decoder_for(codings: Iterable[str]) -> list[_Stage]:
    """The stages that undo `codings` (given in the order they were applied);
    none when one of them is unknown, so that the body passes as it came."""
    stages = [_stage(c.strip().lower()) for c in codings if c.strip()]
    known = [s for s in stages if s is not None]
    return known[::-1] if len(known) == len(stages) else []


def _pipe(stages: list[_Stage], data: bytes) -> Iterator[bytes]:
    """Lazily through every stage: a consumer that stops pulling stops all."""
    pieces: Iterator[bytes] = iter((data,))
    for stage in stages:
        pieces = _through(stage, pieces)
    return pieces


def _through(stage: _Stage, upstream: Iterator[bytes]) -> Iterator[bytes]:
    for piece in upstream:
        yield from stage.decode(piece)


def _flush(stages: list[_Stage]) -> Iterator[bytes]:
    pieces: Iterator[bytes] = iter(())
    for stage in stages:
        pieces = _flushed(stage, pieces)
    return pieces


def _flushed(stage: _Stage, upstream: Iterator[bytes]) -> Iterator[bytes]:
    yield from _through(stage, upstream)
    yield from stage.flush()


class CappedStream(httpx2.AsyncByteStream):
    """The decoded body of `inner`, raising ResponseTooLargeError past `cap`."""

    def __init__(self, inner: httpx2.AsyncByteStream, stages: list[_Stage], cap: int) -> None:
        self._inner = inner
        self._stages = stages
        self._cap = cap
        self.wire_bytes = 0
        self.decoded_bytes = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for data in self._inner:
            self.wire_bytes += len(data)
            if self.wire_bytes > self._cap:
                raise ResponseTooLargeError(self._cap)
            for piece in _pipe(self._stages, data):
                yield self._counted(piece)
        for piece in _flush(self._stages):
            yield self._counted(piece)

    def _counted(self, piece: bytes) -> bytes:
        self.decoded_bytes += len(piece)
        if self.decoded_bytes > self._cap:
            raise ResponseTooLargeError(self._cap)
        return piece

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """Wraps a transport so that no answer body is larger than `cap` bytes."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, cap: int) -> None:
        self.inner = inner
        self.cap = cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.headers["Accept-Encoding"] = ACCEPT_ENCODING
        response = await self.inner.handle_async_request(request)
        codings = response.headers.get_list("content-encoding", split_commas=True)
        headers: httpx2.Headers | list[tuple[bytes, bytes]] = response.headers
        if codings:
            # httpx2 must never decode (it would not count): the body leaves
            # here decoded, or as it came when the coding is unknown.
            headers = _without(response.headers, b"content-encoding", b"content-length")
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=headers,
            stream=CappedStream(response.stream, decoder_for(codings), self.cap),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _without(headers: httpx2.Headers, *names: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers.raw if k.lower() not in names]
