"""The webhook block and action (SPEC §5, §8): one HTTP request, built from
templates, whose JSON answer maps into variables.

Success is a 2xx answer with a JSON body; then the mapped variables are set and
the error variable is emptied. Anything else stores "Kind: detail" in the error
variable and the flow goes on; no mapped variable changes (nothing half-done).
Requests go through the server's egress policy; webhooks are not retried (the
endpoint may not be idempotent). Header values, the URL's path and query, and
bodies are never logged or put in an error text: only the host is named.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from botflow.providers.egress import EgressBlockedError, EgressPolicy, EgressTransport
from botflow.providers.errors import (
    BadRequestError,
    BadResponseError,
    BlockedError,
    MissingParameterError,
    ProviderError,
    ProviderTimeoutError,
    ResponseKeyError,
)
from botflow.server import defaults
from botflow.server.blocks.base import Outcome, RunState
from botflow.server.blocks.context import ActionContext
from botflow.server.events import action_finished, variables_changed
from botflow.server.json_paths import PathNotFoundError, extract, parse_path
from botflow.server.results import ActionRun, VariableWriter, duration
from botflow.server.templating import render_template
from botflow.server.variables import Variables
from botflow.v1.actions_pb2 import ActionResult, HttpMethod, WebhookAction
from botflow.v1.flow_pb2 import Block
from botflow.v1.variables_pb2 import Value

log = logging.getLogger(__name__)

METHODS = {
    HttpMethod.HTTP_METHOD_GET: "GET",
    HttpMethod.HTTP_METHOD_POST: "POST",
    HttpMethod.HTTP_METHOD_PUT: "PUT",
    HttpMethod.HTTP_METHOD_PATCH: "PATCH",
    HttpMethod.HTTP_METHOD_DELETE: "DELETE",
}
JSON_TYPE = "application/json"


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that stores nothing: the pool is shared by every caller, and a
    cookie one call received must never be sent by another."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


# Header names whose values are secrets (SPEC §8): never logged, and never sent
# on to another origin when a webhook redirects.
SECRET_HEADER = re.compile(
    r"authorization|cookie|api[-_]?key|token|secret|passw|session|signature", re.I
)
# The origin a webhook was sent to, carried along its redirects.
ORIGIN = "botflow.origin"


async def _keep_secrets_at_origin(request: httpx2.Request) -> None:
    """httpx2 drops only Authorization and Cookie on a cross-origin redirect;
    every secret-looking header goes."""
    origin = request.extensions.get(ORIGIN)
    if origin is not None and request.url.origin != origin:
        for name in [n for n in request.headers if SECRET_HEADER.search(n)]:
            del request.headers[name]


def new_http_client(policy: EgressPolicy) -> httpx2.AsyncClient:
    """The server's one pool for webhooks, behind the egress policy."""
    return httpx2.AsyncClient(
        event_hooks={"request": [_keep_secrets_at_origin]},
        transport=EgressTransport(policy),
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        trust_env=False,
        cookies=_no_cookies(),
    )


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: httpx2.URL
    headers: dict[str, str]
    body: bytes


def _json_escaped(lookup: Callable[[str], str]) -> Callable[[str], str]:
    """Values dropped into a JSON body are escaped as the inside of a string."""
    return lambda name: json.dumps(lookup(name), ensure_ascii=False)[1:-1]


def build_request(action: WebhookAction, variables: Variables) -> HttpRequest:
    lookup = variables.render
    raw_url = render_template(action.url, lookup).strip()
    if not raw_url:
        raise MissingParameterError("the url is empty after filling in variables")
    try:
        url = httpx2.URL(raw_url)
    except (httpx2.InvalidURL, ValueError):
        raise BadRequestError("the url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise BadRequestError("the url must be an absolute http or https URL")
    if action.query:
        url = url.copy_merge_params(
            {k: render_template(v, lookup) for k, v in action.query.items()}
        )
    headers = {name.strip(): render_template(v, lookup) for name, v in action.headers.items()}
    if any("\r" in v or "\n" in v for v in headers.values()):
        raise BadRequestError("a header value contains a line break after filling in variables")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    body = ""
    if action.body:
        if content_type is None:
            headers["Content-Type"] = content_type = JSON_TYPE
        is_json = content_type.split(";")[0].strip().lower().endswith("json")
        body = render_template(action.body, _json_escaped(lookup) if is_json else lookup)
        if is_json:
            try:
                json.loads(body)
            except ValueError:
                raise BadRequestError(
                    "the body is not valid JSON after filling in variables"
                ) from None
    return HttpRequest(METHODS[action.method], url, headers, body.encode())


async def _read_capped(response: httpx2.Response, cap: int) -> bytes:
    """The decoded (gunzipped, …) body; the cap is on the decoded size."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > cap:
            raise BadResponseError(
                f"the response is larger than {cap} bytes", status=response.status_code
            )
    return bytes(body)


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _finite_or_literal(literal: str) -> float | str:
    """A number a double cannot hold (1e400) is kept as its text, like big integers."""
    number = float(literal)
    return number if math.isfinite(number) else literal


def _status_error(status: int, host: str) -> ProviderError:
    if 400 <= status < 500:
        return BadRequestError(f"{host} refused the request (HTTP {status})", status=status)
    return BadResponseError(f"{host} answered HTTP {status}", status=status)


async def exchange(
    client: httpx2.AsyncClient, request: HttpRequest, timeout: float, cap: int
) -> tuple[int, object]:
    """Send the request; the status and parsed JSON of a 2xx answer, or raise."""
    host = request.url.host
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body or None,
                timeout=timeout,
                extensions={ORIGIN: request.url.origin},
            ) as response:
                if not 200 <= response.status_code < 300:
                    raise _status_error(response.status_code, host)
                body = await _read_capped(response, cap)
    except (TimeoutError, httpx2.TimeoutException):
        raise ProviderTimeoutError(
            f"no answer from {host} within {round(timeout * 1000)} ms"
        ) from None
    except EgressBlockedError as blocked:
        raise BlockedError(str(blocked)) from None
    except httpx2.TooManyRedirects:
        raise BadResponseError(f"{host} redirected more than allowed") from None
    except httpx2.HTTPError:
        raise BadResponseError(f"no usable answer from {host} (the connection failed)") from None
    try:
        document = json.loads(body, parse_float=_finite_or_literal, parse_constant=_not_json)
        return response.status_code, document
    except ValueError:
        raise BadResponseError(
            f"the answer from {host} is not JSON", status=response.status_code
        ) from None


def map_response(
    document: object, action: WebhookAction, max_text_bytes: int
) -> list[tuple[str, Value]]:
    """The mapped values; a text the server would refuse in the next request
    (over `max_text_bytes`) is a BadResponse rather than a stored value."""
    values: list[tuple[str, Value]] = []
    for mapping in action.response_mappings:
        try:
            value = extract(document, parse_path(mapping.path))
        except PathNotFoundError:
            raise ResponseKeyError(f"the answer has no value at {mapping.path.strip()}") from None
        texts = [value.text] if value.HasField("text") else list(value.list.items)
        if any(len(t.encode()) > max_text_bytes for t in texts):
            raise BadResponseError(
                f"the value at {mapping.path.strip()} is larger than the server limit"
                f" of {max_text_bytes} bytes"
            )
        values.append((mapping.variable, value))
    return values


def _timeout(action: WebhookAction, ctx: ActionContext) -> float:
    limit = min(
        action.timeout_ms or defaults.DEFAULT_WEBHOOK_TIMEOUT_MS, ctx.config.limits.max_timeout_ms
    )
    seconds = limit / 1000
    if ctx.deadline is not None:
        seconds = min(seconds, ctx.deadline - time.monotonic())
    return max(0.0, seconds)


async def run_webhook_action(
    action: WebhookAction, variables: Variables, ctx: ActionContext
) -> ActionRun:
    run = await _run(action, variables, ctx)
    ctx.report("webhook", METHODS.get(action.method, "").lower(), run.result)
    return run


async def _run(action: WebhookAction, variables: Variables, ctx: ActionContext) -> ActionRun:
    started = time.monotonic()
    writer = VariableWriter(variables)
    error_variable = action.error_variable.strip() or defaults.DEFAULT_ERROR_VARIABLE
    attempts, status = 0, 0
    try:
        request = build_request(action, variables)
        attempts = 1
        assert ctx.http is not None, "the server gives every action context an HTTP client"
        status, document = await exchange(
            ctx.http, request, _timeout(action, ctx), ctx.egress.max_response_bytes
        )
        values = map_response(document, action, ctx.config.limits.max_text_bytes)
    except ProviderError as error:
        run = writer.fail(error_variable, error, attempts, time.monotonic() - started)
        run.result.http_status = error.status or status
        return run
    for name, value in values:
        writer.set(name, value)
    result = ActionResult(
        attempts=1, elapsed=duration(time.monotonic() - started), http_status=status
    )
    return writer.succeed(error_variable, result)


async def run(block: Block, state: RunState) -> Outcome:
    action_run = await run_webhook_action(block.webhook, state.variables, state.actions)
    events = [action_finished(action_run.result), *variables_changed(action_run.changes)]
    return Outcome(events, next=block.next)
