"""The webhook block and action: one HTTP request, built from
templates, whose JSON answer maps into variables.

Success is a 2xx answer with a JSON body; then the mapped variables are set and
the error variable is emptied. Anything else stores "Kind: detail" in the error
variable and the flow goes on; no mapped variable changes (nothing half-done).
Requests go through the server's egress policy; webhooks are not retried (the
endpoint may not be idempotent). Header values, the URL's path and query, and
bodies are never logged or put in an error text: only the host is named.

Whatever a template renders to and whatever the endpoint answers, the action
ends as data: a request botflow will not send is BadRequest, an answer it
cannot use is BadResponse (docs/rules.md, "Webhooks").

In a simulated run (docs/simulation.md) the request is built and checked the
same way, then the block's scripted response takes the place of the exchange
and goes through the same status check, JSON parsing and mappings.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
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
from botflow.providers.http_checks import valid_host
from botflow.server import defaults
from botflow.server.blocks.base import Outcome, RunState, action_outcome
from botflow.server.blocks.context import ActionContext
from botflow.server.config import Limits
from botflow.server.json_paths import PathNotFoundError, extract, nesting_depth, parse_path
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


# Header names whose values are secrets: never logged, and never sent
# on to another origin when a webhook redirects.
SECRET_HEADER = re.compile(
    r"authorization|cookie|api[-_]?key|token|secret|passw|session|signature", re.I
)
# The origin a webhook was sent to, carried along its redirects.
ORIGIN = "botflow.origin"
MAX_PORT = 65535
# A header value may hold TAB; every other C0 control and DEL is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_OWS = " \t"


@dataclass(frozen=True)
class UrlProblem:
    """Why botflow will not send a request to a URL."""

    # The BadRequest detail when the webhook's own URL has the problem.
    request: str
    # What "HOST redirected to ..." names when a redirect target has it.
    redirect: str


NOT_HTTP = UrlProblem(
    "the url must be an absolute http or https URL",
    "a URL that is not an absolute http or https URL",
)
INVALID_URL = UrlProblem("the url is not a valid URL", "a URL that is not valid")
BAD_HOST = UrlProblem(
    "the url's host is not a valid host name", "a URL whose host is not a valid host name"
)
BAD_PORT = UrlProblem(
    f"the url's port must be between 1 and {MAX_PORT}",
    f"a URL whose port is not between 1 and {MAX_PORT}",
)


class UnusableRedirectError(Exception):
    """A redirect points where botflow will not send a request; raised from the
    client's hooks before httpx2 would fail on it with a raw exception."""

    def __init__(self, problem: UrlProblem) -> None:
        super().__init__(problem.redirect)
        self.problem = problem


def url_problem(url: httpx2.URL) -> UrlProblem | None:
    """What stops a request to `url`, or None."""
    if url.scheme not in ("http", "https") or not url.host:
        return NOT_HTTP
    # raw_host is the IDNA (xn--) form that name resolution gets.
    if not valid_host(url.raw_host.decode("ascii", "replace")):
        return BAD_HOST
    if url.port is not None and not 1 <= url.port <= MAX_PORT:
        return BAD_PORT
    return None


async def _keep_secrets_at_origin(request: httpx2.Request) -> None:
    """httpx2 drops only Authorization and Cookie on a cross-origin redirect;
    every secret-looking header goes."""
    origin = request.extensions.get(ORIGIN)
    if origin is not None and request.url.origin != origin:
        for name in [n for n in request.headers if SECRET_HEADER.search(n)]:
            del request.headers[name]


async def _refuse_unusable_target(request: httpx2.Request) -> None:
    """The webhook's own URL was checked when it was built: a problem here is
    a redirect's target."""
    problem = url_problem(request.url)
    if problem is not None:
        raise UnusableRedirectError(problem)


class _UnreadBody(httpx2.AsyncByteStream):
    """A redirect's body, left unread: httpx2 reads it whole, decoded and
    without a cap, before it follows the redirect."""

    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        return
        yield b""  # an empty async generator

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _check_redirect(response: httpx2.Response) -> None:
    """httpx2 reports a Location it cannot parse as a protocol error, which
    would read like a failed connection."""
    if not response.has_redirect_location:
        return
    if isinstance(response.stream, httpx2.AsyncByteStream):
        response.stream = _UnreadBody(response.stream)
    try:
        httpx2.URL(response.headers["Location"])
    except (httpx2.InvalidURL, ValueError):
        raise UnusableRedirectError(INVALID_URL) from None


def new_http_client(policy: EgressPolicy) -> httpx2.AsyncClient:
    """The server's one pool for webhooks, behind the egress policy."""
    return httpx2.AsyncClient(
        event_hooks={
            "request": [_keep_secrets_at_origin, _refuse_unusable_target],
            "response": [_check_redirect],
        },
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
    # Values are UTF-8: a name filled into a header arrives as written.
    headers: dict[bytes, bytes]
    body: bytes


def _json_escaped(lookup: Callable[[str], str]) -> Callable[[str], str]:
    """Values dropped into a JSON body are escaped as the inside of a string."""
    return lambda name: json.dumps(lookup(name), ensure_ascii=False)[1:-1]


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _too_long(max_bytes: int) -> BadRequestError:
    return BadRequestError(f"the url is longer than {max_bytes} bytes after filling in variables")


def _build_url(action: WebhookAction, lookup: Callable[[str], str], max_bytes: int) -> httpx2.URL:
    raw_url = render_template(action.url, lookup).strip()
    if not raw_url:
        raise MissingParameterError("the url is empty after filling in variables")
    query = {k: render_template(v, lookup) for k, v in action.query.items()}
    # Measured before httpx2 sees it: past 64 KiB a component is InvalidURL.
    if _size(raw_url) + sum(_size(k) + _size(v) + 2 for k, v in query.items()) > max_bytes:
        raise _too_long(max_bytes)
    try:
        url = httpx2.URL(raw_url)
    except (httpx2.InvalidURL, ValueError):
        raise BadRequestError(INVALID_URL.request) from None
    problem = url_problem(url)
    if problem is not None:
        raise BadRequestError(problem.request)
    if query:
        url = url.copy_merge_params(query)
    if _size(str(url)) > max_bytes:  # percent-encoding grew it
        raise _too_long(max_bytes)
    return url


def _build_headers(action: WebhookAction, lookup: Callable[[str], str]) -> dict[str, str]:
    # HTTP drops whitespace around a value, and h11 refuses to send it.
    headers = {n.strip(): render_template(v, lookup).strip(_OWS) for n, v in action.headers.items()}
    if any("\r" in v or "\n" in v for v in headers.values()):
        raise BadRequestError("a header value contains a line break after filling in variables")
    if any(_CONTROL.search(v) for v in headers.values()):
        raise BadRequestError(
            "a header value contains a control character after filling in variables"
        )
    return headers


def _build_body(
    action: WebhookAction, lookup: Callable[[str], str], headers: dict[str, str], max_depth: int
) -> str:
    """The body; a body without a Content-Type is JSON and gets the header."""
    if not action.body:
        return ""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is None:
        headers["Content-Type"] = content_type = JSON_TYPE
    is_json = content_type.split(";")[0].strip().lower().endswith("json")
    body = render_template(action.body, _json_escaped(lookup) if is_json else lookup)
    if is_json:
        # A variable dropped outside a string can open brackets; json.loads
        # recurses once per level.
        if nesting_depth(body) > max_depth:
            raise BadRequestError(
                f"the body is nested deeper than {max_depth} levels after filling in variables"
            )
        try:
            json.loads(body)
        except ValueError:
            raise BadRequestError("the body is not valid JSON after filling in variables") from None
    return body


def _encoded(headers: Mapping[str, str]) -> dict[bytes, bytes]:
    return {name.encode("ascii"): value.encode() for name, value in headers.items()}


def build_request(action: WebhookAction, variables: Variables, limits: Limits) -> HttpRequest:
    lookup = variables.render
    try:
        url = _build_url(action, lookup, limits.max_url_bytes)
        headers = _build_headers(action, lookup)
        body = _build_body(action, lookup, headers, limits.max_json_depth)
        return HttpRequest(METHODS[action.method], url, _encoded(headers), body.encode())
    except (httpx2.InvalidURL, ValueError):
        # What the checks above did not foresee (an encoding error, a URL
        # httpx2 refuses while merging the query) still fails as data.
        raise BadRequestError(
            "the request cannot be built from the templates after filling in variables"
        ) from None


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


async def _read_body(response: httpx2.Response, cap: int) -> bytes:
    """The body; a failure past the status line keeps the status it came with."""
    host, status = response.request.url.host, response.status_code
    try:
        return await _read_capped(response, cap)
    except httpx2.DecodingError:
        raise BadResponseError(_UNDECODABLE.format(host=host), status=status) from None
    except httpx2.RemoteProtocolError:
        raise BadResponseError(_BROKE_OFF.format(host=host), status=status) from None


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _finite_or_literal(literal: str) -> float | str:
    """A number a double cannot hold (1e400) is kept as its text, like big integers."""
    number = float(literal)
    return number if math.isfinite(number) else literal


def _int_or_literal(literal: str) -> int | str:
    """An integer past Python's digit limit (4300) is kept as its text too."""
    try:
        return int(literal)
    except ValueError:
        return literal


_UNDECODABLE = "the answer from {host} cannot be decoded (its Content-Encoding)"
# httpcore2 raises the same error for a dropped connection as for a malformed answer.
_BROKE_OFF = "no usable answer from {host} (the connection broke off or the answer is not HTTP)"


def _status_error(status: int, host: str) -> ProviderError:
    if 400 <= status < 500:
        return BadRequestError(f"{host} refused the request (HTTP {status})", status=status)
    return BadResponseError(f"{host} answered HTTP {status}", status=status)


async def _fetch(
    client: httpx2.AsyncClient, request: HttpRequest, timeout: float, cap: int
) -> tuple[int, bytes]:
    """Send the request; the status and body of a 2xx answer, or raise."""
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
                raise _status_error(response.status_code, host=request.url.host)
            return response.status_code, await _read_body(response, cap)


def _transport_error(error: Exception, host: str, timeout: float) -> ProviderError:
    """The typed failure for whatever the HTTP stack raised."""
    if isinstance(error, TimeoutError | httpx2.TimeoutException):
        return ProviderTimeoutError(f"no answer from {host} within {round(timeout * 1000)} ms")
    if isinstance(error, EgressBlockedError):
        return BlockedError(str(error))
    if isinstance(error, UnusableRedirectError):
        return BadResponseError(f"{host} redirected to {error.problem.redirect}")
    if isinstance(error, httpx2.TooManyRedirects):
        return BadResponseError(f"{host} redirected more than allowed")
    if isinstance(error, httpx2.RemoteProtocolError):
        return BadResponseError(_BROKE_OFF.format(host=host))
    if isinstance(error, httpx2.LocalProtocolError):
        return BadRequestError(f"the request to {host} cannot be sent as valid HTTP")
    if not isinstance(error, httpx2.HTTPError):
        # Its text may quote the URL or a header: only the type is logged.
        log.warning("unexpected webhook failure", extra={"error_type": type(error).__name__})
    return BadResponseError(f"no usable answer from {host} (the connection failed)")


def parse_answer(body: bytes, host: str, status: int, max_depth: int) -> object:
    """The JSON document of an answer; its depth is measured before parsing."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        if nesting_depth(text) > max_depth:
            raise BadResponseError(
                f"the answer from {host} is nested deeper than {max_depth} levels", status=status
            )
        return json.loads(
            text,
            parse_float=_finite_or_literal,
            parse_int=_int_or_literal,
            parse_constant=_not_json,
        )
    except ValueError:
        raise BadResponseError(f"the answer from {host} is not JSON", status=status) from None


async def exchange(
    client: httpx2.AsyncClient, request: HttpRequest, timeout: float, cap: int, max_depth: int
) -> tuple[int, object]:
    """Send the request; the status and parsed JSON of a 2xx answer, or raise."""
    host = request.url.host
    try:
        status, body = await _fetch(client, request, timeout, cap)
    except ProviderError:
        raise
    except Exception as error:  # every failure of the HTTP stack is data
        raise _transport_error(error, host, timeout) from None
    return status, parse_answer(body, host, status, max_depth)


def _mapped(document: object, path: str, max_text_bytes: int) -> Value:
    try:
        value = extract(document, parse_path(path))
        texts = [value.text] if value.HasField("text") else list(value.list.items)
        too_large = any(len(t.encode()) > max_text_bytes for t in texts)
    except PathNotFoundError:
        raise ResponseKeyError(f"the answer has no value at {path}") from None
    except UnicodeError:
        # JSON may escape a lone surrogate ("\ud800"): no variable can hold it.
        raise BadResponseError(f"the value at {path} is not valid Unicode text") from None
    if too_large:
        raise BadResponseError(
            f"the value at {path} is larger than the server limit of {max_text_bytes} bytes"
        )
    return value


def map_response(
    document: object, action: WebhookAction, max_text_bytes: int
) -> list[tuple[str, Value]]:
    """The mapped values; a text the server would refuse in the next request
    (over `max_text_bytes`) is a BadResponse rather than a stored value."""
    return [
        (m.variable, _mapped(document, m.path.strip(), max_text_bytes))
        for m in action.response_mappings
    ]


def _timeout_ms(action: WebhookAction, ctx: ActionContext) -> int:
    return min(
        action.timeout_ms or defaults.DEFAULT_WEBHOOK_TIMEOUT_MS, ctx.config.limits.max_timeout_ms
    )


def _timeout(action: WebhookAction, ctx: ActionContext) -> float:
    seconds = _timeout_ms(action, ctx) / 1000
    if ctx.deadline is not None:
        seconds = min(seconds, ctx.deadline - time.monotonic())
    return max(0.0, seconds)


def simulated_exchange(
    action: WebhookAction, request: HttpRequest, ctx: ActionContext
) -> tuple[int, object]:
    """A simulated run's exchange: the block's scripted response goes
    through the live checks (status, size, JSON); a scripted failure raises
    as a live one would. No egress check: it would resolve the host."""
    host = request.url.host
    status, body = ctx.scripted().http_response(host, _timeout_ms(action, ctx))
    if not 200 <= status < 300:
        raise _status_error(status, host=host)
    cap = ctx.egress.max_response_bytes
    if len(body) > cap:
        raise BadResponseError(f"the response is larger than {cap} bytes", status=status)
    return status, parse_answer(body, host, status, ctx.config.limits.max_json_depth)


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
        limits = ctx.config.limits
        request = build_request(action, variables, limits)
        attempts = 1
        if ctx.simulated:
            status, document = simulated_exchange(action, request, ctx)
        else:
            assert ctx.http is not None, "the server gives every action context an HTTP client"
            status, document = await exchange(
                ctx.http,
                request,
                _timeout(action, ctx),
                ctx.egress.max_response_bytes,
                limits.max_json_depth,
            )
        values = map_response(document, action, limits.max_text_bytes)
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
    ctx = state.actions.for_block(block.id, state.variables)
    action_run = await run_webhook_action(block.webhook, state.variables, ctx)
    return action_outcome(action_run, block.next, ctx.simulated)
