"""The webhook action and block through a real server against a scripted
loopback HTTP endpoint: request building, response mapping, every failure kind,
the egress policy (redirects, resolved and literal addresses), secrets,
validation and the caller's deadline."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.client import field_violations
from botflow.server.app import serving
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
from tests.integration.flows import (
    collect,
    described,
    flow,
    flow_request,
    hook,
    items,
    number,
    run,
    send,
    text,
)
from tests.integration.helpers import openai_request
from tests.support.http_endpoint import HttpEndpoint, Respond, redirect, stall
from tests.support.openai_stub import OpenAIStub

if TYPE_CHECKING:
    from google.protobuf.duration_pb2 import Duration

    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

GET = HttpMethod.HTTP_METHOD_GET
POST = HttpMethod.HTTP_METHOD_POST
SUCCEEDED = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
FAILED = ActionOutcome.ACTION_OUTCOME_FAILED
COMPLETED = FlowStatus.FLOW_STATUS_COMPLETED
ERROR_VARIABLE = "last webhook failure"
HOST = "127.0.0.1"


def webhook(
    url: str,
    *,
    method: HttpMethod.ValueType = GET,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str = "",
    timeout_ms: int = 2000,
    maps: Iterable[tuple[str, str]] = (),
    error_variable: str = "",
) -> WebhookAction:
    return WebhookAction(
        method=method,
        url=url,
        query=dict(query or {}),
        headers=dict(headers or {}),
        body=body,
        timeout_ms=timeout_ms,
        response_mappings=[ResponseMapping(path=p, variable=v) for p, v in maps],
        error_variable=error_variable,
    )


def execute(
    action: WebhookAction, variables: Mapping[str, Value] | None = None
) -> ExecuteActionRequest:
    return ExecuteActionRequest(action=Action(webhook=action), variables=dict(variables or {}))


async def call(
    stub: FlowServiceAsyncStub,
    action: WebhookAction,
    variables: Mapping[str, Value] | None = None,
    *,
    timeout: float = 5,
) -> ExecuteActionResponse:
    return await stub.ExecuteAction(execute(action, variables), timeout=timeout)


def seconds(d: Duration) -> float:
    return d.ToTimedelta().total_seconds()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def localhost_is_127() -> bool:
    """Whether "localhost" resolves to 127.0.0.1 first (the address an allowed
    host name connects to; the endpoints listen on 127.0.0.1 only)."""
    try:
        infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and infos[0][4][0] == HOST


@asynccontextmanager
async def stub_for(**changes: object) -> AsyncIterator[FlowServiceAsyncStub]:
    """A second server, configured like the suite's one except for `changes`."""
    config: ServerConfig = dataclasses.replace(TEST_CONFIG, **changes)  # type: ignore[arg-type]
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
    attempts: int = 1,
    http_status: int = 0,
    error_variable: str = ERROR_VARIABLE,
) -> None:
    result = response.result
    assert result.outcome == FAILED
    assert result.error_kind == kind
    assert result.error == error
    assert result.attempts == attempts
    assert result.http_status == http_status
    assert result.answer == ""
    assert response.variables[error_variable] == text(error)


# -- success and mapping -----------------------------------------------------------

DOCUMENT = {
    "products": [
        {"title": "Boots", "category": "shoes", "price": 59.9},
        {"title": "Hat", "category": "hats", "price": 10},
    ],
    "count": 2,
    "in_stock": True,
    "discount": None,
    "meta": {"page": 1, "tags": ["a", "b"]},
    "mixed": [True, None, 1.5, 3, {"k": "v"}, "plain"],
    "id": 12345678901234567890,
}
MAPPINGS = [
    ("products[1].category", "category"),
    ("count", "count"),
    ("products[*].title", "titles"),
    ("products[0].price", "price"),
    ("in_stock", "in stock"),
    ("discount", "discount"),
    ("meta", "meta"),
    ("mixed[*]", "mixed"),
    ("products[-1].title", "last title"),
    ("id", "id"),
    (" meta.tags[1] ", " tag "),
]
MAPPED = {
    "category": text("hats"),
    "count": number(2),
    "titles": items("Boots", "Hat"),
    "price": number(59.9),
    "in stock": text("true"),
    "discount": text(""),
    "meta": text('{"page":1,"tags":["a","b"]}'),
    "mixed": items("true", "", "1.5", "3", '{"k":"v"}', "plain"),
    "last title": text("Hat"),
    "id": text("12345678901234567890"),
    "tag": text("b"),
}


async def test_success_maps_paths_into_typed_variables_and_clears_the_error(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/products", Respond(json=DOCUMENT))
    before = {"unrelated": text("keep"), ERROR_VARIABLE: text("Timeout: an earlier failure")}
    started = time.monotonic()
    response = await call(stub, webhook(endpoint.url("/products"), maps=MAPPINGS), before)
    wall = time.monotonic() - started
    result = response.result
    assert result.outcome == SUCCEEDED
    assert result.error_kind == ErrorKind.ERROR_KIND_UNSPECIFIED
    assert result.error == ""
    assert result.attempts == 1
    assert result.http_status == 200
    assert 0 < seconds(result.elapsed) <= wall
    assert dict(response.variables) == {
        **MAPPED,
        "unrelated": text("keep"),
        ERROR_VARIABLE: text(""),
    }
    assert len(endpoint.requests) == 1


async def test_success_clears_a_custom_error_variable_only(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(json={"ok": True}))
    before = {"hook error": text("BadResponse: stale"), ERROR_VARIABLE: text("from the AI")}
    action = webhook(endpoint.url("/hook"), maps=[("ok", "ok")], error_variable=" hook error ")
    response = await call(stub, action, before)
    assert response.result.outcome == SUCCEEDED
    assert dict(response.variables) == {
        "ok": text("true"),
        "hook error": text(""),
        ERROR_VARIABLE: text("from the AI"),
    }


async def test_run_flow_success_events_then_the_flow_continues(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/products", Respond(json=DOCUMENT))
    action = webhook(
        endpoint.url("/products"),
        maps=[("products[1].category", "category"), ("count", "count"), ("products[*].title", "t")],
        error_variable="hook error",
    )
    the_flow = flow(
        hook("lookup", action, next="tell"),
        send("tell", "{{count}} products: {{t}}; second is {{category}}{{hook error}}"),
        defaults={"category": text("unknown"), "hook error": text("stale")},
    )
    events, finished = await run(stub, the_flow)
    assert described(events) == [
        ("lookup", "action_finished", (SUCCEEDED, "")),
        ("lookup", "variable_changed", ("category", text("hats"))),
        ("lookup", "variable_changed", ("count", number(2))),
        ("lookup", "variable_changed", ("t", items("Boots", "Hat"))),
        ("lookup", "variable_changed", ("hook error", text(""))),
        ("tell", "message_sent", "2 products: Boots, Hat; second is hats"),
        ("tell", "finished", COMPLETED),
    ]
    result = events[0].action_finished.result
    assert (result.attempts, result.http_status, result.error) == (1, 200, "")
    assert seconds(result.elapsed) > 0
    assert finished.variables["category"] == text("hats")


async def test_gzip_compressed_answer_is_decoded(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # Real servers compress JSON whenever the client accepts it (and httpx2
    # announces gzip): the body must be decoded before it is parsed.
    endpoint.route("/hook", Respond(json={"name": "Ann"}, compress=True))
    response = await call(stub, webhook(endpoint.url("/hook"), maps=[("name", "name")]))
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["name"] == text("Ann")


async def test_cookies_set_by_one_webhook_are_not_sent_by_the_next(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # The server is stateless and its HTTP pool is shared by every caller: a
    # cookie one conversation's webhook received must never ride along on
    # another call.
    endpoint.route("/login", Respond(json={}, headers={"Set-Cookie": "sid=tenant-a; Path=/"}))
    first = await call(stub, webhook(endpoint.url("/login")))
    second = await call(stub, webhook(endpoint.url("/orders")))
    assert (first.result.outcome, second.result.outcome) == (SUCCEEDED, SUCCEEDED)
    assert [r.path for r in endpoint.requests] == ["/login", "/orders"]
    assert "Cookie" not in endpoint.requests[1].headers


async def test_numbers_a_double_cannot_hold_do_not_poison_the_variables(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # 1e400 overflows a double: stored as its text (like integers beyond 2^53),
    # so that the variables can be sent back in the next request.
    endpoint.route("/big", Respond(body=b'{"big": 1e400, "neg": -1e999, "ok": 2.5}'))
    action = webhook(endpoint.url("/big"), maps=[("big", "big"), ("neg", "neg"), ("ok", "ok")])
    response = await call(stub, action)
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.variables["big"] == text("1e400")
    assert response.variables["neg"] == text("-1e999")
    assert response.variables["ok"] == number(2.5)
    again = await call(stub, webhook(endpoint.url("/big")), response.variables)
    assert again.result.outcome == SUCCEEDED


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_json_number_constants_are_a_bad_response(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, constant: str
) -> None:
    endpoint.route("/nan", Respond(body=f'{{"x": {constant}}}'))
    response = await call(stub, webhook(endpoint.url("/nan"), maps=[("x", "x")]))
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_BAD_RESPONSE,
        f"BadResponse: the answer from {HOST} is not JSON",
        http_status=200,
    )
    assert "x" not in response.variables


async def test_a_mapped_text_over_the_server_limit_is_a_bad_response(
    endpoint: HttpEndpoint,
) -> None:
    # A value the server would refuse in the next request (over max_text_bytes)
    # is never stored: the conversation's variables stay sendable.
    endpoint.route("/long", Respond(json={"short": "ok", "long": "x" * 101}))
    async with stub_for(limits=Limits(max_text_bytes=100)) as small:
        action = webhook(endpoint.url("/long"), maps=[("short", "s"), ("long", "l")])
        response = await call(small, action, {"s": text("old")})
        assert_failed(
            response,
            ErrorKind.ERROR_KIND_BAD_RESPONSE,
            "BadResponse: the value at long is larger than the server limit of 100 bytes",
            http_status=200,
        )
        assert response.variables["s"] == text("old")
        assert "l" not in response.variables
        # Exactly at the limit is fine, lists included.
        endpoint.route("/fits", Respond(json={"v": "y" * 100, "l": ["z" * 100]}))
        fits = await call(small, webhook(endpoint.url("/fits"), maps=[("v", "v"), ("l[*]", "l")]))
        assert fits.result.outcome == SUCCEEDED, fits.result.error
        assert fits.variables["l"] == items("z" * 100)


# -- request building --------------------------------------------------------------


async def test_request_is_built_from_templates(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    name = 'Ann "the" O\'Neil\nsecond line \\ end\ttab é'
    variables = {
        "base": text(endpoint.url("")),
        "order id": number(42),
        "term": text("red shoes & socks"),
        "name": text(name),
        "count": number(3),
        "tags": items("a", "b"),
    }
    action = webhook(
        "{{base}}/orders/{{ order id }}?source=bot&lang=en",
        method=POST,
        query={"q": "{{term}}", "page": "2"},
        headers={"X-Trace": "order-{{order id}}", "Accept": "application/json"},
        body='{"name": "{{name}}", "count": {{count}}, "tags": "{{tags}}"}',
    )
    response = await call(stub, action, variables)
    assert response.result.outcome == SUCCEEDED, response.result.error
    [request] = endpoint.requests
    assert request.method == "POST"
    assert request.path == "/orders/42"
    assert request.query == {"source": "bot", "lang": "en", "q": "red shoes & socks", "page": "2"}
    assert request.headers["X-Trace"] == "order-42"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"name": name, "count": 3, "tags": "a, b"}


@pytest.mark.parametrize(
    ("method", "wire"),
    [
        (HttpMethod.HTTP_METHOD_GET, "GET"),
        (HttpMethod.HTTP_METHOD_POST, "POST"),
        (HttpMethod.HTTP_METHOD_PUT, "PUT"),
        (HttpMethod.HTTP_METHOD_PATCH, "PATCH"),
        (HttpMethod.HTTP_METHOD_DELETE, "DELETE"),
    ],
)
async def test_method_without_body_sends_no_body_and_no_content_type(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, method: HttpMethod.ValueType, wire: str
) -> None:
    response = await call(stub, webhook(endpoint.url("/m"), method=method))
    assert response.result.outcome == SUCCEEDED
    [request] = endpoint.requests
    assert (request.method, request.path, request.body) == (wire, "/m", b"")
    assert "Content-Type" not in request.headers


async def test_body_with_another_content_type_is_sent_as_is(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    action = webhook(
        endpoint.url("/plain"),
        method=POST,
        headers={"content-type": "text/plain; charset=utf-8"},
        body='Hello {{name}}, "quoted" {not json',
    )
    response = await call(stub, action, {"name": text('Ann "A"\nB')})
    assert response.result.outcome == SUCCEEDED
    [request] = endpoint.requests
    assert request.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert request.text == 'Hello Ann "A"\nB, "quoted" {not json'


@pytest.mark.parametrize(
    ("body", "variables"),
    [
        ('{"count": {{count}}}', {}),
        ("{{payload}}", {"payload": text("not json")}),
        ('{"a": 1', {}),
    ],
    ids=["empty-number", "text-payload", "literal"],
)
async def test_body_rendering_to_invalid_json_is_bad_request_and_sends_nothing(
    stub: FlowServiceAsyncStub,
    endpoint: HttpEndpoint,
    body: str,
    variables: dict[str, Value],
) -> None:
    action = webhook(endpoint.url("/hook"), method=POST, body=body, maps=[("a", "a")])
    response = await call(stub, action, variables)
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_BAD_REQUEST,
        "BadRequest: the body is not valid JSON after filling in variables",
        attempts=0,
    )
    assert endpoint.requests == []


async def test_header_value_with_a_line_break_is_bad_request_and_sends_nothing(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    action = webhook(endpoint.url("/hook"), headers={"X-Name": "{{name}}"})
    response = await call(stub, action, {"name": text("Ann\r\nX-Injected: 1")})
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_BAD_REQUEST,
        "BadRequest: a header value contains a line break after filling in variables",
        attempts=0,
    )
    assert endpoint.requests == []


# -- failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind", "detail", "status"),
    [
        (
            Respond(404, json={"error": "no such order"}),
            ErrorKind.ERROR_KIND_BAD_REQUEST,
            "BadRequest: 127.0.0.1 refused the request (HTTP 404)",
            404,
        ),
        (
            Respond(422, json={}),
            ErrorKind.ERROR_KIND_BAD_REQUEST,
            "BadRequest: 127.0.0.1 refused the request (HTTP 422)",
            422,
        ),
        (
            Respond(500, body="boom", content_type="text/plain"),
            ErrorKind.ERROR_KIND_BAD_RESPONSE,
            "BadResponse: 127.0.0.1 answered HTTP 500",
            500,
        ),
        (
            Respond(503, json={"retry": True}),
            ErrorKind.ERROR_KIND_BAD_RESPONSE,
            "BadResponse: 127.0.0.1 answered HTTP 503",
            503,
        ),
        (
            Respond(200, body="<html>hi</html>", content_type="text/html"),
            ErrorKind.ERROR_KIND_BAD_RESPONSE,
            "BadResponse: the answer from 127.0.0.1 is not JSON",
            200,
        ),
        (
            Respond(200, body=b""),
            ErrorKind.ERROR_KIND_BAD_RESPONSE,
            "BadResponse: the answer from 127.0.0.1 is not JSON",
            200,
        ),
        (
            Respond(204, body=b""),
            ErrorKind.ERROR_KIND_BAD_RESPONSE,
            "BadResponse: the answer from 127.0.0.1 is not JSON",
            204,
        ),
    ],
    ids=["404", "422", "500", "503", "html", "empty", "204"],
)
async def test_unusable_answers_fail_into_the_error_variable(
    stub: FlowServiceAsyncStub,
    endpoint: HttpEndpoint,
    answer: Respond,
    kind: ErrorKind.ValueType,
    detail: str,
    status: int,
) -> None:
    endpoint.route("/hook", answer)
    action = webhook(endpoint.url("/hook"), maps=[("error", "mapped")], error_variable="why")
    response = await call(stub, action, {"mapped": text("untouched")})
    assert_failed(response, kind, detail, http_status=status, error_variable="why")
    assert response.variables["mapped"] == text("untouched")
    assert ERROR_VARIABLE not in response.variables
    assert len(endpoint.requests) == 1  # never retried


async def test_stall_past_the_timeout_is_timeout(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/slow", stall(30))
    response = await call(stub, webhook(endpoint.url("/slow"), timeout_ms=300))
    # The stall lasts 30 s: a Timeout answer is the proof; the lower bound says
    # the timeout did not fire early.
    assert_failed(
        response, ErrorKind.ERROR_KIND_TIMEOUT, "Timeout: no answer from 127.0.0.1 within 300 ms"
    )
    assert seconds(response.result.elapsed) >= 0.3


async def test_path_that_matches_nothing_is_key_error_and_nothing_is_half_done(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(json={"a": 1, "b": {"c": "two"}}))
    action = webhook(endpoint.url("/hook"), maps=[("a", "va"), ("b.c", "vc"), ("b.missing", "vm")])
    response = await call(stub, action, {"va": text("old a")})
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_KEY_ERROR,
        "KeyError: the answer has no value at b.missing",
        http_status=200,
    )
    assert dict(response.variables) == {
        "va": text("old a"),
        ERROR_VARIABLE: text("KeyError: the answer has no value at b.missing"),
    }


@pytest.mark.parametrize(
    "path", ["products[5].title", "products[-3]", "count[*]", "products.title", "[0]", "count.x"]
)
async def test_paths_that_reach_nothing(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, path: str
) -> None:
    endpoint.route("/products", Respond(json=DOCUMENT))
    response = await call(stub, webhook(endpoint.url("/products"), maps=[(path, "v")]))
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_KEY_ERROR,
        f"KeyError: the answer has no value at {path}",
        http_status=200,
    )


async def test_run_flow_key_error_changes_only_the_error_variable_and_continues(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(json={"a": 1}))
    action = webhook(endpoint.url("/hook"), maps=[("a", "va"), ("nope", "vn")])
    the_flow = flow(
        hook("h", action, next="after"),
        send("after", "a={{va}} / {{last webhook failure}}"),
        defaults={"va": text("default")},
    )
    events, finished = await run(stub, the_flow)
    error = "KeyError: the answer has no value at nope"
    assert described(events) == [
        ("h", "action_finished", (FAILED, "")),
        ("h", "variable_changed", (ERROR_VARIABLE, text(error))),
        ("after", "message_sent", f"a=default / {error}"),
        ("after", "finished", COMPLETED),
    ]
    result = events[0].action_finished.result
    assert (result.error_kind, result.error, result.http_status) == (
        ErrorKind.ERROR_KIND_KEY_ERROR,
        error,
        200,
    )
    assert finished.variables["va"] == text("default")
    assert "vn" not in finished.variables


async def test_run_flow_http_failure_continues_with_the_next_block(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(500))
    the_flow = flow(
        hook("h", webhook(endpoint.url("/hook"), error_variable="e"), next="after"),
        send("after", "failed with {{e}}"),
    )
    events, _ = await run(stub, the_flow)
    error = "BadResponse: 127.0.0.1 answered HTTP 500"
    assert described(events) == [
        ("h", "action_finished", (FAILED, "")),
        ("h", "variable_changed", ("e", text(error))),
        ("after", "message_sent", f"failed with {error}"),
        ("after", "finished", COMPLETED),
    ]
    result = events[0].action_finished.result
    assert (result.error_kind, result.attempts, result.http_status) == (
        ErrorKind.ERROR_KIND_BAD_RESPONSE,
        1,
        500,
    )


@pytest.mark.parametrize("variables", [{}, {"hook url": text("  ")}], ids=["unset", "blank"])
async def test_url_rendering_empty_is_missing_parameter(
    stub: FlowServiceAsyncStub, variables: dict[str, Value]
) -> None:
    response = await call(stub, webhook("{{hook url}}"), variables)
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_MISSING_PARAMETER,
        "MissingParameter: the url is empty after filling in variables",
        attempts=0,
    )


@pytest.mark.parametrize(
    "rendered",
    ["ftp://example.com/file", "/relative/path", "http://"],
    ids=["ftp", "rel", "nohost"],
)
async def test_url_rendering_to_a_non_http_url_is_bad_request(
    stub: FlowServiceAsyncStub, rendered: str
) -> None:
    response = await call(stub, webhook("{{u}}"), {"u": text(rendered)})
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_BAD_REQUEST,
        "BadRequest: the url must be an absolute http or https URL",
        attempts=0,
    )


async def test_answer_over_the_default_cap_is_bad_response(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    cap = 1024 * 1024
    endpoint.route("/exact", Respond(size=cap))
    endpoint.route("/over", Respond(size=cap + 1))
    exact = await call(stub, webhook(endpoint.url("/exact")))
    assert exact.result.outcome == SUCCEEDED, exact.result.error
    over = await call(stub, webhook(endpoint.url("/over"), maps=[("pad", "p")]))
    assert_failed(
        over,
        ErrorKind.ERROR_KIND_BAD_RESPONSE,
        f"BadResponse: the response is larger than {cap} bytes",
        http_status=200,
    )
    assert "p" not in over.variables


async def test_answer_over_a_configured_cap_is_bad_response(endpoint: HttpEndpoint) -> None:
    endpoint.route("/exact", Respond(size=1000))
    endpoint.route("/over", Respond(size=1001))
    # Compressed, 5000 bytes travel as a few dozen: the cap is on the decoded size.
    endpoint.route("/bomb", Respond(size=5000, compress=True))
    async with stub_for(limits=Limits(max_response_bytes=1000)) as small:
        exact = await call(small, webhook(endpoint.url("/exact"), maps=[("pad", "p")]))
        assert exact.result.outcome == SUCCEEDED, exact.result.error
        assert len(exact.variables["p"].text) == 1000 - len('{"pad": ""}')
        for path in ("/over", "/bomb"):
            response = await call(small, webhook(endpoint.url(path)))
            assert_failed(
                response,
                ErrorKind.ERROR_KIND_BAD_RESPONSE,
                "BadResponse: the response is larger than 1000 bytes",
                http_status=200,
            )


async def test_connection_refused_is_bad_response(stub: FlowServiceAsyncStub) -> None:
    response = await call(stub, webhook(f"http://{HOST}:{closed_port()}/hook"))
    assert_failed(
        response,
        ErrorKind.ERROR_KIND_BAD_RESPONSE,
        "BadResponse: no usable answer from 127.0.0.1 (the connection failed)",
    )


# -- egress ------------------------------------------------------------------------


async def test_up_to_three_redirects_are_followed(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/r1", redirect("/r2"))
    endpoint.route("/r2", redirect(endpoint.url("/r3"), status=301))
    endpoint.route("/r3", redirect("/final?from=r3", status=307))
    endpoint.route("/final", Respond(json={"where": "final"}))
    response = await call(stub, webhook(endpoint.url("/r1"), maps=[("where", "w")]))
    assert response.result.outcome == SUCCEEDED, response.result.error
    assert response.result.http_status == 200
    assert response.variables["w"] == text("final")
    assert [r.path for r in endpoint.requests] == ["/r1", "/r2", "/r3", "/final"]
    assert endpoint.requests[-1].query == {"from": "r3"}


async def test_a_fourth_redirect_is_bad_response(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    for hop in range(1, 5):
        endpoint.route(f"/r{hop}", redirect(f"/r{hop + 1}"))
    endpoint.route("/r5", Respond(json={}))
    response = await call(stub, webhook(endpoint.url("/r1"), maps=[("x", "x")]))
    result = response.result
    assert (result.outcome, result.error_kind) == (FAILED, ErrorKind.ERROR_KIND_BAD_RESPONSE)
    assert result.error == "BadResponse: 127.0.0.1 redirected more than allowed"
    assert response.variables[ERROR_VARIABLE] == text(result.error)
    assert [r.path for r in endpoint.requests] == ["/r1", "/r2", "/r3", "/r4"]


@pytest.mark.skipif(not localhost_is_127(), reason="localhost does not resolve to 127.0.0.1 first")
async def test_redirect_to_a_refused_address_is_blocked_and_never_reached(
    endpoint: HttpEndpoint,
) -> None:
    # Only the host name "localhost" is allowed: the first hop goes out, the
    # redirect to the literal loopback address is re-checked and refused.
    async with HttpEndpoint() as target, stub_for(egress_allow=("localhost",)) as named:
        endpoint.route("/same-host", redirect(endpoint.url("/final", host="localhost")))
        endpoint.route("/final", Respond(json={"ok": 1}))
        allowed = await call(named, webhook(endpoint.url("/same-host", host="localhost")))
        assert allowed.result.outcome == SUCCEEDED, allowed.result.error

        endpoint.route("/away", redirect(target.url("/target")))
        response = await call(named, webhook(endpoint.url("/away", host="localhost")))
        result = response.result
        assert (result.outcome, result.error_kind) == (FAILED, ErrorKind.ERROR_KIND_BLOCKED)
        assert result.error == "Blocked: 127.0.0.1 is a loopback address"
        assert response.variables[ERROR_VARIABLE] == text(result.error)
        assert target.requests == []
        assert [r.path for r in endpoint.requests] == ["/same-host", "/final", "/away"]

        # The literal address itself is refused on this server, too.
        direct = await call(named, webhook(target.url("/target")))
        assert direct.result.error == "Blocked: 127.0.0.1 is a loopback address"
        assert target.requests == []


async def test_host_name_resolving_to_loopback_is_blocked(endpoint: HttpEndpoint) -> None:
    async with stub_for(egress_allow=()) as strict:
        response = await call(strict, webhook(endpoint.url("/hook", host="localhost")))
    result = response.result
    assert (result.outcome, result.error_kind) == (FAILED, ErrorKind.ERROR_KIND_BLOCKED)
    assert result.error == "Blocked: localhost resolves to a loopback address"
    assert result.http_status == 0
    assert response.variables[ERROR_VARIABLE] == text(result.error)
    assert endpoint.requests == []


async def test_ipv4_mapped_ipv6_loopback_is_blocked(endpoint: HttpEndpoint) -> None:
    async with stub_for(egress_allow=()) as strict:
        response = await call(strict, webhook(endpoint.url("/hook", host="[::ffff:127.0.0.1]")))
    assert response.result.error_kind == ErrorKind.ERROR_KIND_BLOCKED
    assert response.result.error == "Blocked: ::ffff:127.0.0.1 is a loopback address"
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://10.1.2.3/", "Blocked: 10.1.2.3 is a private address"),
        (
            "http://169.254.169.254/latest/meta-data",
            "Blocked: 169.254.169.254 is a link-local address",
        ),
        ("http://[fd00:ec2::254]/latest/meta-data", "Blocked: fd00:ec2::254 is a private address"),
    ],
)
async def test_literal_refused_addresses_are_blocked(
    stub: FlowServiceAsyncStub, url: str, error: str
) -> None:
    # The suite's guard (tests/conftest.py) fails any attempt to connect there.
    response = await call(stub, webhook(url, maps=[("x", "x")]), {"x": text("before")})
    result = response.result
    assert (result.outcome, result.error_kind, result.error) == (
        FAILED,
        ErrorKind.ERROR_KIND_BLOCKED,
        error,
    )
    assert result.http_status == 0
    assert response.variables == {"x": text("before"), ERROR_VARIABLE: text(error)}


async def test_openai_base_url_on_a_refused_address_is_blocked() -> None:
    async with OpenAIStub() as openai_stub, stub_for(egress_allow=()) as strict:
        request = openai_request(
            provider="openai", base_url=openai_stub.base_url, answer_variable="answer"
        )
        response = await strict.ExecuteAction(request, timeout=10)
        assert openai_stub.requests == []
    result = response.result
    assert (result.outcome, result.error_kind) == (FAILED, ErrorKind.ERROR_KIND_BLOCKED)
    assert result.error.startswith("Blocked: ")
    assert response.variables[ERROR_VARIABLE] == text(result.error)
    assert "answer" not in response.variables


# -- secrets -----------------------------------------------------------------------

SECRETS = ("SECRET-abc", "SECRET-def", "SECRET-ghi", "SECRET-jkl")
SECRET_HEADERS = {
    "Authorization": "Bearer SECRET-abc",
    "X-Api-Key": "SECRET-def",
    "Cookie": "sid=SECRET-ghi",
}
SECRET_SCENARIOS: dict[str, tuple[Respond, int, tuple[tuple[str, str], ...]]] = {
    # name: (answer, timeout_ms, mappings)
    "refused-401": (Respond(401, json={"error": "bad key"}), 2000, ()),
    "server-500": (Respond(500, body="boom", content_type="text/plain"), 2000, ()),
    "not-json": (Respond(body="<html>", content_type="text/html"), 2000, ()),
    "key-error": (Respond(json={"a": 1}), 2000, (("missing", "m"),)),
    "timeout": (stall(30), 300, ()),
    "redirect-loop": (redirect("/hook?token=SECRET-jkl"), 2000, ()),
    "blocked-redirect": (redirect("http://10.1.2.3/collect?token=SECRET-jkl"), 2000, ()),
    "success": (Respond(json={"a": 1}), 2000, (("a", "a"),)),
}


def assert_no_secret(where: str, caplog: pytest.LogCaptureFixture) -> None:
    for secret in SECRETS:
        assert secret not in where
        for record in caplog.records:
            assert secret not in record.getMessage(), record.name
            assert secret not in str(record.__dict__), record.name


@pytest.mark.parametrize("scenario", list(SECRET_SCENARIOS))
async def test_secrets_never_reach_results_errors_or_logs(
    stub: FlowServiceAsyncStub,
    endpoint: HttpEndpoint,
    caplog: pytest.LogCaptureFixture,
    scenario: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    answer, timeout_ms, maps = SECRET_SCENARIOS[scenario]
    endpoint.route("/hook", answer)
    action = webhook(
        endpoint.url("/hook") + "?token=SECRET-jkl",
        headers=SECRET_HEADERS,
        timeout_ms=timeout_ms,
        maps=maps,
    )
    response = await call(stub, action)
    # The secrets really went out (to the endpoint, and nowhere else).
    first = endpoint.requests[0]
    assert first.query == {"token": "SECRET-jkl"}
    assert {k: first.headers[k] for k in SECRET_HEADERS} == SECRET_HEADERS
    expected = SUCCEEDED if scenario == "success" else FAILED
    assert response.result.outcome == expected
    assert_no_secret(str(response), caplog)


async def test_secrets_never_reach_run_flow_events_or_logs(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blocks = []
    names = list(SECRET_SCENARIOS)
    for i, name in enumerate(names):
        answer, timeout_ms, maps = SECRET_SCENARIOS[name]
        path = f"/{name}"
        if name == "redirect-loop":
            answer = redirect(f"{path}?token=SECRET-jkl")
        endpoint.route(path, answer)
        action = webhook(
            endpoint.url(path) + "?token={{token}}",
            headers={"Authorization": "Bearer {{key}}", "X-Api-Key": "SECRET-def"},
            timeout_ms=timeout_ms,
            maps=maps,
            error_variable=f"error {name}",
        )
        blocks.append(hook(name, action, next=names[i + 1] if i + 1 < len(names) else ""))
    request = flow_request(
        flow(*blocks),
        variables={"token": text("SECRET-jkl"), "key": text("SECRET-abc")},
    )
    events = await collect(stub, request)
    finished = events[-1].finished
    assert finished.status == COMPLETED
    assert {n: finished.variables[f"error {n}"].text.split(":")[0] for n in names} == {
        "refused-401": "BadRequest",
        "server-500": "BadResponse",
        "not-json": "BadResponse",
        "key-error": "KeyError",
        "timeout": "Timeout",
        "redirect-loop": "BadResponse",
        "blocked-redirect": "Blocked",
        "success": "",
    }
    # The only place a secret may appear is the variables the caller gave us;
    # "key" is not even there: the Authorization header makes it secret.
    del finished.variables["token"]
    assert "key" not in finished.variables
    assert_no_secret(str(events), caplog)


# -- validation --------------------------------------------------------------------

BAD_WEBHOOK = WebhookAction(
    method=HttpMethod.HTTP_METHOD_UNSPECIFIED,
    url="ftp://example.com/file",
    headers={"Bad Header": "v", "X-Ok": "1", "": "empty"},
    response_mappings=[
        ResponseMapping(path="a[", variable="x"),
        ResponseMapping(path="a..b", variable="y"),
        ResponseMapping(path="ok", variable=""),
        ResponseMapping(path="", variable="z"),
        ResponseMapping(path="fine[*].x", variable="   "),
    ],
    error_variable="  ",
)


def bad_webhook_paths(prefix: str) -> set[str]:
    return {
        f"{prefix}.method",
        f"{prefix}.url",
        f'{prefix}.headers["Bad Header"]',
        f'{prefix}.headers[""]',
        f"{prefix}.response_mappings[0].path",
        f"{prefix}.response_mappings[1].path",
        f"{prefix}.response_mappings[2].variable",
        f"{prefix}.response_mappings[3].path",
        f"{prefix}.response_mappings[4].variable",
        f"{prefix}.error_variable",
    }


async def test_execute_action_validation_lists_every_webhook_violation(
    stub: FlowServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(execute(BAD_WEBHOOK), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(caught.value)
    assert set(violations) == bad_webhook_paths("action.webhook")
    assert violations["action.webhook.url"] == "must be an absolute http or https URL"
    assert violations["action.webhook.method"] == "must be set to an HTTP_METHOD_* value"
    assert violations["action.webhook.response_mappings[2].variable"] == "is required"


async def test_run_flow_validation_lists_every_webhook_violation(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    good = webhook(endpoint.url("/hook"))
    the_flow = flow(hook("ok", good, next="bad"), hook("bad", BAD_WEBHOOK, next="end"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub, flow_request(the_flow))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == bad_webhook_paths("flow.blocks[1].webhook") | {
        "flow.blocks[1].next"
    }
    assert endpoint.requests == []  # nothing half-run


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "is required"),
        ("   ", "is required"),
        ("example.com/hook", "must be an absolute http or https URL"),
        ("http://[::1/x", "must be an absolute http or https URL"),
    ],
)
async def test_literal_url_violations(stub: FlowServiceAsyncStub, url: str, message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(execute(webhook(url)), timeout=5)
    assert field_violations(caught.value) == {"action.webhook.url": message}


async def test_templated_url_is_not_checked_before_rendering(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    response = await call(stub, webhook("{{base}}/hook"), {"base": text(endpoint.url(""))})
    assert response.result.outcome == SUCCEEDED
    assert [r.path for r in endpoint.requests] == ["/hook"]


# -- deadline ----------------------------------------------------------------------


async def test_the_callers_deadline_caps_the_webhook_timeout(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/slow", stall(30))
    # A 1 s deadline: an answer at all (not DEADLINE_EXCEEDED) proves the
    # webhook's 10 s timeout was cut to the caller's deadline.
    response = await call(stub, webhook(endpoint.url("/slow"), timeout_ms=10_000), timeout=1)
    result = response.result
    assert (result.outcome, result.error_kind) == (FAILED, ErrorKind.ERROR_KIND_TIMEOUT)
    assert result.error.startswith("Timeout: no answer from 127.0.0.1 within ")
    waited_ms = int(result.error.removeprefix("Timeout: no answer from 127.0.0.1 within ")[:-3])
    assert 800 <= waited_ms < 1000
    assert response.variables[ERROR_VARIABLE] == text(result.error)


# -- secrets across redirects ----------------------------------------------------

SECRET_HEADERS = {
    "Authorization": "Bearer SECRET-auth",
    "X-Api-Key": "SECRET-key",
    "X-Session-Token": "SECRET-session",
}


async def test_secret_headers_stay_with_their_origin(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # 127.0.0.1 and localhost are different origins (both allowed by the test
    # allowlist): the hop to the other origin loses every secret-looking header.
    endpoint.route("/start", redirect(endpoint.url("/same")))
    endpoint.route("/same", redirect(endpoint.url("/other", host="localhost")))
    endpoint.route("/other", Respond(json={"ok": True}))
    headers = {**SECRET_HEADERS, "X-Trace": "trace-1"}
    response = await stub.ExecuteAction(
        execute(webhook(endpoint.url("/start"), headers=headers, maps=[("ok", "ok")])),
        timeout=10,
    )
    assert response.result.outcome == SUCCEEDED
    same, other = endpoint.requests_to("/same")[0], endpoint.requests_to("/other")[0]
    assert {k: same.headers.get(k) for k in SECRET_HEADERS} == SECRET_HEADERS
    assert [k for k in SECRET_HEADERS if k in other.headers] == []
    assert other.headers.get("X-Trace") == "trace-1"
