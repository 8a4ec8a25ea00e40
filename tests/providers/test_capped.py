"""The capped transport on its own: decoding, the running cap, and how much
of a body it pulls before it gives up (an in-memory inner transport counts)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Sequence

import httpx2
import pytest

from botflow.providers.capped import (
    ACCEPT_ENCODING,
    DECODE_CHUNK_BYTES,
    CappedTransport,
    ResponseTooLargeError,
)

URL = "http://127.0.0.1:1/v1/chat/completions"


class CountingStream(httpx2.AsyncByteStream):
    """Hands out `pieces` and counts how many were pulled."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = pieces
        self.pulled = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.pulled += 1
            yield piece

    async def aclose(self) -> None:
        self.closed = True


class FixedTransport(httpx2.AsyncBaseTransport):
    """Answers every request with the same headers and stream."""

    def __init__(self, stream: CountingStream, headers: dict[str, str]) -> None:
        self.stream = stream
        self.headers = headers
        self.seen: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        return httpx2.Response(200, headers=self.headers, stream=self.stream)


async def fetch(
    pieces: Sequence[bytes], cap: int, encoding: str | None = None
) -> tuple[httpx2.Response, CountingStream, FixedTransport]:
    stream = CountingStream(pieces)
    headers = {"Content-Type": "application/json"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    inner = FixedTransport(stream, headers)
    async with httpx2.AsyncClient(transport=CappedTransport(inner, cap)) as client:
        response = await client.get(URL)
    return response, stream, inner


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


BODY = b'{"choices": [{"message": {"content": "' + b"x" * 5000 + b'"}}]}'


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        (None, BODY),
        ("identity", BODY),
        ("gzip", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),
        ("deflate", raw_deflate(BODY)),
        ("gzip, gzip", gzip.compress(gzip.compress(BODY))),
        ("deflate, gzip", gzip.compress(zlib.compress(BODY))),
    ],
    ids=["none", "identity", "gzip", "deflate-zlib", "deflate-raw", "gzip-twice", "deflate-gzip"],
)
async def test_decodes_what_it_is_given(encoding: str | None, encoded: bytes) -> None:
    response, _, inner = await fetch(split(encoded, 100), cap=len(BODY), encoding=encoding)

    assert response.content == BODY
    assert "content-encoding" not in response.headers
    assert inner.seen[0].headers["accept-encoding"] == ACCEPT_ENCODING


async def test_one_byte_over_the_cap_fails() -> None:
    with pytest.raises(ResponseTooLargeError) as caught:
        await fetch(split(BODY, 100), cap=len(BODY) - 1)
    assert caught.value.cap == len(BODY) - 1
    assert str(caught.value) == f"the answer is larger than {len(BODY) - 1} bytes"


async def test_the_cap_counts_decoded_bytes() -> None:
    encoded = gzip.compress(BODY)
    assert len(encoded) < 200 < len(BODY)
    with pytest.raises(ResponseTooLargeError):
        await fetch([encoded], cap=200, encoding="gzip")


async def test_the_cap_counts_bytes_on_the_wire() -> None:
    # Whatever follows the end of a gzip stream decodes to nothing: only the
    # wire count stops it.
    trailing = [gzip.compress(b"{}")] + [b"\0" * 1000] * 100
    with pytest.raises(ResponseTooLargeError):
        await fetch(trailing, cap=10_000, encoding="gzip")


async def test_a_bomb_stops_soon_after_the_cap() -> None:
    # 64 MiB of spaces as gzip, handed out in 1 KiB wire pieces, each of
    # which inflates to about 1 MiB.
    pieces = split(gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9), 1024)
    stream = CountingStream(pieces)
    inner = FixedTransport(stream, {"Content-Encoding": "gzip"})
    async with httpx2.AsyncClient(transport=CappedTransport(inner, 1024 * 1024)) as client:
        with pytest.raises(ResponseTooLargeError):
            await client.get(URL)
    assert len(pieces) > 50
    assert stream.pulled <= 2
    assert stream.closed


async def test_an_identity_flood_stops_after_the_cap_and_one_piece() -> None:
    pieces = [b" " * 4096] * 10_000  # 40 MiB
    stream = CountingStream(pieces)
    inner = FixedTransport(stream, {"Content-Type": "application/json"})
    async with httpx2.AsyncClient(transport=CappedTransport(inner, 64 * 1024)) as client:
        with pytest.raises(ResponseTooLargeError):
            await client.get(URL)
    assert stream.pulled == 64 * 1024 // 4096 + 1
    assert stream.closed


async def test_decoded_pieces_are_bounded() -> None:
    bomb = gzip.compress(b" " * (8 * 1024 * 1024))
    stream = CountingStream([bomb])
    inner = FixedTransport(stream, {"Content-Encoding": "gzip"})
    sizes: list[int] = []
    transport = CappedTransport(inner, 16 * 1024 * 1024)
    async with (
        httpx2.AsyncClient(transport=transport) as client,
        client.stream("GET", URL) as response,
    ):
        async for piece in response.aiter_raw():
            sizes.append(len(piece))
    assert sum(sizes) == 8 * 1024 * 1024
    assert max(sizes) <= DECODE_CHUNK_BYTES


async def test_an_unknown_coding_passes_as_it_came() -> None:
    response, _, _ = await fetch([b"\x1b\x03not-brotli"], cap=1000, encoding="br")
    # Not decoded here and, without the header, not by httpx2 either.
    assert response.content == b"\x1b\x03not-brotli"
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_corrupt_body_is_a_decoding_error(encoding: str) -> None:
    with pytest.raises(httpx2.DecodingError):
        await fetch([b"this is not compressed at all"], cap=1000, encoding=encoding)
