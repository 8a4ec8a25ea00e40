"""Webhooks against hostile inputs, through a real server: templates that
render to something HTTP cannot carry, and endpoints that answer with
something botflow cannot use. Every case ends as data (FAILED with a typed
kind and a "Kind: detail" text naming the host at most), and a RunFlow goes on
to its next block and finishes (docs/rules.md, "Webhooks")."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import httpx2
import pytest

from botflow.server.app import serving
from botflow.server.blocks.webhook import url_problem
from botflow.server.config import Limits, ServerConfig
from botflow.v1.actions_pb2 import (
    Action,
    ActionOutcome,
    ErrorKind,
    HttpMethod,
    ResponseMapping,
    WebhookAction,
)
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, ExecuteActionResponse
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from botflow.v1.variables_pb2 import Value
from tests.integration.conftest import TEST_CONFIG
from tests.integration.flows import described, flow, hook, run, send, text
from tests.support.http_endpoint import HttpEndpoint, Respond, redirect

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

POST = HttpMethod.HTTP_METHOD_POST
SUCCEEDED = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
FAILED = ActionOutcome.ACTION_OUTCOME_FAILED
BAD_REQUEST = ErrorKind.ERROR_KIND_BAD_REQUEST
BAD_RESPONSE = ErrorKind.ERROR_KIND_BAD_RESPONSE
COMPLETED = FlowStatus.FLOW_STATUS_COMPLETED
ERROR_VARIABLE = "last webhook failure"
SECRET = "SECRET-7f3a"


def webhook(
    url: str,
    *,
    method: HttpMethod.ValueType = HttpMethod.HTTP_METHOD_GET,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str = "",
    maps: Iterable[tuple[str, str]] = (),
    error_variable: str = "",
) -> WebhookAction:
    return WebhookAction(
        method=method,
        url=url,
        query=dict(query or {}),
        headers=dict(headers or {}),
        body=body,
        timeout_ms=5000,
        response_mappings=[ResponseMapping(path=p, variable=v) for p, v in maps],
        error_variable=error_variable,
    )


async def call(
    stub: FlowServiceAsyncStub, action: WebhookAction, variables: Mapping[str, Value] | None = None
) -> ExecuteActionResponse:
    request = ExecuteActionRequest(action=Action(webhook=action), variables=dict(variables or {}))
    return await stub.ExecuteAction(request, timeout=10)


@asynccontextmanager
async def stub_for(limits: Limits) -> AsyncIterator[FlowServiceAsyncStub]:
    """A second server, configured like the suite's one but for its limits."""
    config: ServerConfig = dataclasses.replace(TEST_CONFIG, limits=limits)
    async with serving(config) as running, grpc.aio.insecure_channel(running.target) as channel:
        yield FlowServiceStub(channel)


@pytest.fixture
async def endpoint() -> AsyncIterator[HttpEndpoint]:
    async with HttpEndpoint() as running:
        yield running


def assert_failed(
    response: ExecuteActionResponse,
    kind: ErrorKind.ValueType,
    error: str,
    *,
    attempts: int,
    http_status: int = 0,
) -> None:
    result = response.result
    assert (result.outcome, result.error_kind, result.error) == (FAILED, kind, error)
    assert (result.attempts, result.http_status) == (attempts, http_status)
    assert response.variables[ERROR_VARIABLE] == text(error)
    assert SECRET not in str(response.result)


def nested(depth: int, kind: str = "array") -> str:
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


# -- header values ------------------------------------------------------------------


async def test_a_non_ascii_header_value_is_sent_as_utf8(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    action = webhook(endpoint.url("/hook"), headers={"X-Contact": "{{name}} <{{mail}}>"})
    response = await call(stub, action, {"name": text("José Müller 日本"), "mail": text("j@x")})
    assert response.result.outcome == SUCCEEDED, response.result.error
    [request] = endpoint.requests
    # aiohttp decodes header bytes as UTF-8: the name arrives as written.
    assert request.headers["X-Contact"] == "José Müller 日本 <j@x>"


async def test_header_values_lose_surrounding_whitespace_and_keep_inner_tabs(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    action = webhook(endpoint.url("/hook"), headers={"X-A": " {{a}}\t", "X-B": "{{b}}"})
    response = await call(stub, action, {"a": text("one\ttwo"), "b": text("  ")})
    assert response.result.outcome == SUCCEEDED, response.result.error
    [request] = endpoint.requests
    assert (request.headers["X-A"], request.headers["X-B"]) == ("one\ttwo", "")


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f"])
async def test_a_control_character_in_a_header_value_is_bad_request(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, control: str
) -> None:
    action = webhook(endpoint.url("/hook"), headers={"X-Token": "{{t}}"})
    response = await call(stub, action, {"t": text(f"{SECRET}{control}x")})
    assert_failed(
        response,
        BAD_REQUEST,
        "BadRequest: a header value contains a control character after filling in variables",
        attempts=0,
    )
    assert endpoint.requests == []


# -- the url ------------------------------------------------------------------------


async def test_a_query_of_64_kib_is_bad_request(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # One variable holds 64 KiB at most; two of them make a query httpx2 refuses.
    action = webhook(endpoint.url("/hook"), query={"q": "{{big}}{{big}}", "k": SECRET})
    response = await call(stub, action, {"big": text("x" * 40_000)})
    assert_failed(
        response,
        BAD_REQUEST,
        "BadRequest: the url is longer than 8192 bytes after filling in variables",
        attempts=0,
    )
    assert endpoint.requests == []


async def test_the_url_limit_counts_the_url_as_sent(endpoint: HttpEndpoint) -> None:
    base = endpoint.url("/hook")
    limit = len(base) + 200
    fits = "a" * (limit - len(base) - len("?q="))
    async with stub_for(limits=Limits(max_url_bytes=limit)) as small:
        exact = await call(small, webhook(base, query={"q": fits}))
        assert exact.result.outcome == SUCCEEDED, exact.result.error
        over = await call(small, webhook(base, query={"q": fits + "a"}))
        # Short as written, but each "é" is 6 bytes once percent-encoded.
        encoded = await call(small, webhook(base + "?q={{v}}"), {"v": text("é" * 60)})
    error = f"BadRequest: the url is longer than {limit} bytes after filling in variables"
    assert_failed(over, BAD_REQUEST, error, attempts=0)
    assert_failed(encoded, BAD_REQUEST, error, attempts=0)
    assert [r.query["q"] for r in endpoint.requests] == [fits]


@pytest.mark.parametrize(
    "host",
    [
        "a" * 64 + ".example",
        "a..example",
        ".example",
        ".".join(["a" * 63] * 4),  # 255 characters
        "exa mple.example",
        "exa%41mple.example",
    ],
    ids=["label-64", "empty-label", "leading-dot", "name-255", "space", "percent"],
)
async def test_a_host_that_is_not_a_host_name_is_bad_request(
    stub: FlowServiceAsyncStub, host: str
) -> None:
    response = await call(stub, webhook("http://{{host}}/hook"), {"host": text(host)})
    assert_failed(
        response, BAD_REQUEST, "BadRequest: the url's host is not a valid host name", attempts=0
    )


@pytest.mark.parametrize("port", ["0", "65536", "99999", "99999999999999999999"])
async def test_a_port_out_of_range_is_bad_request(stub: FlowServiceAsyncStub, port: str) -> None:
    response = await call(stub, webhook("http://127.0.0.1:{{port}}/hook"), {"port": text(port)})
    assert_failed(
        response,
        BAD_REQUEST,
        "BadRequest: the url's port must be between 1 and 65535",
        attempts=0,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://" + ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61]) + "/",  # 253
        "http://" + ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61]) + "./",
        "http://under_score-and-hyphen.example:65535/",
        "http://[2606:4700::1]:1/",
        "http://josé.example/",  # sent as its IDNA form
    ],
)
def test_the_longest_valid_host_names_and_ports_pass(url: str) -> None:
    # Checked without a request: a valid name would be resolved for real.
    assert url_problem(httpx2.URL(url)) is None


# -- the body -----------------------------------------------------------------------


async def test_a_body_nested_too_deep_is_bad_request(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # The variable lands outside a string, so it can open brackets.
    action = webhook(endpoint.url("/hook"), method=POST, body='{"a": {{v}}}')
    fits = await call(stub, action, {"v": text(nested(63))})
    assert fits.result.outcome == SUCCEEDED, fits.result.error
    deep = await call(stub, action, {"v": text(nested(5_000))})
    assert_failed(
        deep,
        BAD_REQUEST,
        "BadRequest: the body is nested deeper than 64 levels after filling in variables",
        attempts=0,
    )
    assert len(endpoint.requests) == 1


# -- answers ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["array", "object"])
async def test_an_answer_nested_too_deep_is_bad_response(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, kind: str
) -> None:
    endpoint.route("/64", Respond(body=nested(64, kind)))
    endpoint.route("/65", Respond(body=nested(65, kind)))
    endpoint.route("/1000", Respond(body=nested(1000, kind)))
    path = "[0]" * 64 if kind == "array" else ".".join(["a"] * 64)
    fits = await call(stub, webhook(endpoint.url("/64"), maps=[(path, "v")]))
    assert fits.result.outcome == SUCCEEDED, fits.result.error
    assert fits.variables["v"] == Value(number=1)
    for deep in ("/65", "/1000"):
        response = await call(stub, webhook(endpoint.url(deep), maps=[("x", "v")]))
        assert_failed(
            response,
            BAD_RESPONSE,
            "BadResponse: the answer from 127.0.0.1 is nested deeper than 64 levels",
            attempts=1,
            http_status=200,
        )
        assert "v" not in response.variables


async def test_the_depth_limit_is_configurable(endpoint: HttpEndpoint) -> None:
    endpoint.route("/hook", Respond(body=nested(4)))
    async with stub_for(limits=Limits(max_json_depth=3)) as small:
        response = await call(small, webhook(endpoint.url("/hook")))
    assert_failed(
        response,
        BAD_RESPONSE,
        "BadResponse: the answer from 127.0.0.1 is nested deeper than 3 levels",
        attempts=1,
        http_status=200,
    )


async def test_brackets_inside_strings_do_not_count(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(json={"a": "[" * 1000, "b": '\\"{{' * 100}))
    response = await call(stub, webhook(endpoint.url("/hook"), maps=[("a", "a")]))
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["a"] == text("[" * 1000)


# Half of a compressed document: gzip stops early, the JSON is cut short.
_NUMBERS = json.dumps({"a": list(range(5000))}).encode()
TRUNCATED_GZIP = gzip.compress(_NUMBERS)[: len(gzip.compress(_NUMBERS)) // 2]


@pytest.mark.parametrize(
    ("answer", "path", "error"),
    [
        (
            Respond(body=b'{"a": "\\ud800"}'),
            "a",
            "BadResponse: the value at a is not valid Unicode text",
        ),
        (
            Respond(body=b'{"a": ["ok", "\\udfff"]}'),
            "a[*]",
            "BadResponse: the value at a[*] is not valid Unicode text",
        ),
        (
            Respond(body=b'{"a": "\xff\xfe"}'),
            "a",
            "BadResponse: the answer from 127.0.0.1 is not JSON",
        ),
        (
            Respond(body=b"garbage", headers={"Content-Encoding": "gzip"}),
            "a",
            "BadResponse: the answer from 127.0.0.1 cannot be decoded (its Content-Encoding)",
        ),
        (
            Respond(body=b"garbage", headers={"Content-Encoding": "deflate"}),
            "a",
            "BadResponse: the answer from 127.0.0.1 cannot be decoded (its Content-Encoding)",
        ),
        (
            Respond(
                body=TRUNCATED_GZIP,
                headers={"Content-Encoding": "gzip"},
            ),
            "a",
            "BadResponse: the answer from 127.0.0.1 is not JSON",
        ),
    ],
    ids=["surrogate", "surrogate-in-list", "invalid-utf8", "gzip", "deflate", "truncated-gzip"],
)
async def test_undecodable_answers_are_bad_response(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, answer: Respond, path: str, error: str
) -> None:
    endpoint.route("/hook", answer)
    response = await call(stub, webhook(endpoint.url("/hook"), maps=[(path, "v")]))
    assert_failed(response, BAD_RESPONSE, error, attempts=1, http_status=200)
    assert "v" not in response.variables


async def test_an_unknown_content_encoding_is_read_as_is(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(json={"a": "plain"}, headers={"Content-Encoding": "x-rot13"}))
    response = await call(stub, webhook(endpoint.url("/hook"), maps=[("a", "a")]))
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["a"] == text("plain")


async def test_numbers_beyond_every_limit_are_kept_as_their_text(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    digits = "9" * 5000  # past Python's 4300-digit int parsing limit
    endpoint.route("/hook", Respond(body=f'{{"big": {digits}, "huge": 1e999999}}'))
    action = webhook(endpoint.url("/hook"), maps=[("big", "big"), ("huge", "huge")])
    response = await call(stub, action)
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["big"] == text(digits)
    assert response.variables["huge"] == text("1e999999")


@asynccontextmanager
async def raw_endpoint(answer: bytes) -> AsyncIterator[int]:
    """A loopback TCP server that answers every request with `answer`, as is
    (what aiohttp would refuse to send), then closes; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


BROKE_OFF = (
    "BadResponse: no usable answer from 127.0.0.1"
    " (the connection broke off or the answer is not HTTP)"
)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 2\r\n\r\n{}", 0),
        (b"HTTP/1.1 999999 WHAT\r\nContent-Length: 2\r\n\r\n{}", 0),
        (b"\x00\x01 garbage\r\n\r\n", 0),
        (b"", 0),
        # Broken after the status line: the status is kept.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 70\r\n\r\n{}", 200),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200),
    ],
    ids=["huge-header", "bad-status", "garbage", "nothing", "short-body", "bad-chunk"],
)
async def test_answers_that_are_not_http_are_bad_response(
    stub: FlowServiceAsyncStub, answer: bytes, status: int
) -> None:
    async with raw_endpoint(answer) as port:
        response = await call(stub, webhook(f"http://127.0.0.1:{port}/hook?k={SECRET}"))
    assert_failed(response, BAD_RESPONSE, BROKE_OFF, attempts=1, http_status=status)


# -- redirects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("ftp://127.0.0.1/file", "a URL that is not an absolute http or https URL"),
        (
            "http+unix://%2Fvar%2Frun%2Fdocker.sock/",
            "a URL that is not an absolute http or https URL",
        ),
        ("file:///etc/passwd", "a URL that is not an absolute http or https URL"),
        ("http://[::1", "a URL that is not valid"),
        ("http://127.0.0.1:99999/", "a URL whose port is not between 1 and 65535"),
        ("http://127.0.0.1:0/", "a URL whose port is not between 1 and 65535"),
        ("http://" + "a" * 64 + ".example/", "a URL whose host is not a valid host name"),
        ("http://a..example/", "a URL whose host is not a valid host name"),
        ("http://127.0.0.1/?" + "a" * 70_000, "a URL that is not valid"),
    ],
    ids=[
        "ftp",
        "unix",
        "file",
        "garbage",
        "port-99999",
        "port-0",
        "label-64",
        "empty-label",
        "too-long",
    ],
)
async def test_a_redirect_to_an_unusable_url_is_bad_response(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, location: str, target: str
) -> None:
    endpoint.route("/hook", redirect(location))
    response = await call(stub, webhook(endpoint.url("/hook"), headers={"X-Api-Key": SECRET}))
    assert_failed(
        response, BAD_RESPONSE, f"BadResponse: 127.0.0.1 redirected to {target}", attempts=1
    )
    assert len(endpoint.requests) == 1


async def test_a_redirect_body_is_never_read(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # It announces 10 MB and sends a few bytes: reading it would fail (and a
    # compressed one could decode to gigabytes); the redirect is followed.
    endpoint.route("/final", Respond(json={"ok": "yes"}))
    head = (
        "HTTP/1.1 302 Found\r\n"
        f"Location: {endpoint.url('/final')}\r\n"
        "Content-Encoding: gzip\r\n"
        "Content-Length: 10000000\r\n\r\n"
    )
    async with raw_endpoint(head.encode() + gzip.compress(b"x" * 100_000)[:100]) as port:
        response = await call(stub, webhook(f"http://127.0.0.1:{port}/hook", maps=[("ok", "ok")]))
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["ok"] == text("yes")
    assert [r.path for r in endpoint.requests] == ["/final"]


async def test_a_relative_redirect_still_works(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", redirect("/final?x=1"))
    endpoint.route("/final", Respond(json={"ok": "yes"}))
    response = await call(stub, webhook(endpoint.url("/hook"), maps=[("ok", "ok")]))
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["ok"] == text("yes")


# -- RunFlow ------------------------------------------------------------------------


async def test_run_flow_goes_on_after_every_hostile_webhook(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/deep", Respond(body=nested(1000)))
    endpoint.route("/redirect", redirect("http://127.0.0.1:99999/"))
    endpoint.route("/ok", Respond(json={"greeting": "hi"}))
    cases: Mapping[str, tuple[WebhookAction, str]] = {
        "accent": (
            webhook(
                endpoint.url("/ok"), headers={"X-Contact": "{{name}}"}, maps=[("greeting", "g")]
            ),
            "",
        ),
        "control": (
            webhook(endpoint.url("/ok"), headers={"X-Token": "{{token}}\x01"}),
            "BadRequest: a header value contains a control character after filling in variables",
        ),
        "long": (
            webhook(endpoint.url("/ok"), query={"q": "{{big}}{{big}}"}),
            "BadRequest: the url is longer than 8192 bytes after filling in variables",
        ),
        "port": (
            webhook("http://127.0.0.1:{{port}}/x"),
            "BadRequest: the url's port must be between 1 and 65535",
        ),
        "label": (
            webhook("http://{{label}}.example/x"),
            "BadRequest: the url's host is not a valid host name",
        ),
        "deep": (
            webhook(endpoint.url("/deep")),
            "BadResponse: the answer from 127.0.0.1 is nested deeper than 64 levels",
        ),
        "redirect": (
            webhook(endpoint.url("/redirect")),
            "BadResponse: 127.0.0.1 redirected to a URL whose port is not between 1 and 65535",
        ),
    }
    names = list(cases)
    blocks = [
        hook(
            name,
            with_error_variable(action, f"error {name}"),
            next=names[i + 1] if i + 1 < len(names) else "done",
        )
        for i, (name, (action, _)) in enumerate(cases.items())
    ]
    the_flow = flow(*blocks, send("done", "still here, {{g}}"))
    variables = {
        "name": text("José"),
        "token": text(SECRET),
        "big": text(SECRET * 4_000),
        "port": text("65536"),
        "label": text("a" * 64),
    }
    events, finished = await run(stub, the_flow, variables=variables)
    assert finished.status == COMPLETED
    assert described(events)[-2:] == [
        ("done", "message_sent", "still here, hi"),
        ("done", "finished", COMPLETED),
    ]
    results = {
        e.block_id: e.action_finished.result for e in events if e.HasField("action_finished")
    }
    assert {n: r.error for n, r in results.items()} == {n: e for n, (_, e) in cases.items()}
    assert {n: r.outcome for n, r in results.items()} == {
        n: SUCCEEDED if not e else FAILED for n, (_, e) in cases.items()
    }
    for name, (_, error) in cases.items():
        assert finished.variables[f"error {name}"] == text(error)
    assert SECRET not in str(events[:-1])
    assert endpoint.requests[0].headers["X-Contact"] == "José"
    assert [r.path for r in endpoint.requests] == ["/ok", "/deep", "/redirect"]


def with_error_variable(action: WebhookAction, error_variable: str) -> WebhookAction:
    copy = WebhookAction()
    copy.CopyFrom(action)
    copy.error_variable = error_variable
    return copy
