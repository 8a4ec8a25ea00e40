"""The `openai` provider: one chat completion attempt through the official SDK.

- The SDK's own retries are off (`max_retries=0`): `botflow.providers.retry` is
  the one retry loop.
- One connection pool for every call, token and base URL: a single
  `httpx2.AsyncClient` (the SDK's `DefaultAsyncHttpxClient`, so the SDK's
  timeouts and limits apply) is created on first use and wrapped by one base
  `AsyncOpenAI` client. Each call derives a client with
  `base.with_options(api_key=..., base_url=..., timeout=...)`, which copies a
  few settings and reuses that same `httpx2.AsyncClient`: no new pool or TLS
  context per call. `aclose()` closes the pool.
- Every connection goes through the egress policy (`botflow.providers.egress`):
  a `base_url` that resolves to a refused address fails with `Blocked` before
  any connection is made. Redirects are not followed at all.
- The server's environment does not steer calls: the token always comes from
  the request (never `OPENAI_API_KEY`, nor an `Authorization` line in
  `OPENAI_CUSTOM_HEADERS`), the base URL from the request or the constructor
  (never `OPENAI_BASE_URL`), and no `OpenAI-Organization` / `OpenAI-Project`
  header is sent (`OPENAI_ORG_ID` / `OPENAI_PROJECT_ID` belong to the
  operator's account, not to the customer's token).
- Errors are mapped to `botflow.providers.errors` with details written here:
  never the token, never message texts, never the provider's own message (a 401
  message quotes part of the key). The provider's error code, an identifier such
  as `model_not_found`, is added when it looks like one.
- What reaches a header is checked before anything is sent: a token that an
  HTTP header cannot carry (non-ASCII, control characters, surrounding
  whitespace) and a base URL with a user name or password (httpx2 would turn
  it into an `Authorization` header that replaces the token) are `BadRequest`,
  never retried.
- An answer is at most `EgressPolicy.max_response_bytes` (decoded, see
  `botflow.providers.capped`); a larger one is `BadResponse`, not retried. The
  body is parsed here rather than by the SDK, whose models are built for every
  choice (a 1 MiB body of empty choices blocks the event loop for seconds);
  only the first choice is read.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam

from botflow.providers.base import ChatMessage, Completion, CompletionRequest, Usage
from botflow.providers.capped import CappedTransport, ResponseTooLargeError
from botflow.providers.egress import EgressPolicy, EgressTransport, blocked_cause
from botflow.providers.errors import (
    QUOTA_CODE,
    BadRequestError,
    BadResponseError,
    BlockedError,
    MalformedResponseError,
    MissingParameterError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    error_for_status,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# The base client never sends a request: every call goes through a copy made
# with the request's token. A placeholder keeps the SDK from reading
# OPENAI_API_KEY into it.
_BASE_CLIENT_KEY = "botflow-unused-placeholder"
_PROVIDER_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# An RFC 9110 field value without obs-text: visible ASCII, inner spaces and
# tabs. Surrounding whitespace is not part of a header value, so it cannot be
# carried either.
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")
_MAX_HOST_NAME = 253
# httpx2 has already IDNA-encoded the host, so a label is plain ASCII.
_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
_E = TypeVar("_E", bound=BaseException)

log = logging.getLogger(__name__)


class OpenAIProvider:
    """OpenAI and OpenAI-compatible endpoints (Azure, vLLM, Ollama, ...)."""

    name = "openai"

    def __init__(
        self,
        default_base_url: str = DEFAULT_BASE_URL,
        *,
        egress: EgressPolicy | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        """`default_base_url` serves requests without a base_url; `egress` is
        the policy every connection must pass (default: refuse non-public
        addresses) and sets the answer size cap; `transport` replaces the
        policy's transport (tests), still under the cap."""
        self.default_base_url = default_base_url
        policy = egress or EgressPolicy()
        self._transport = CappedTransport(
            transport or EgressTransport(policy), policy.max_response_bytes
        )
        self._http: httpx2.AsyncClient | None = None
        self._base: openai.AsyncOpenAI | None = None

    def _base_client(self) -> openai.AsyncOpenAI:
        """The one base client and its pool, created on first use."""
        if self._base is None:
            http = openai.DefaultAsyncHttpxClient(
                follow_redirects=False, transport=self._transport, trust_env=False
            )
            self._http = http
            self._base = openai.AsyncOpenAI(
                api_key=_BASE_CLIENT_KEY,
                base_url=self.default_base_url,
                max_retries=0,
                http_client=http,
            )
        return self._base

    async def complete(self, request: CompletionRequest) -> Completion:
        if not request.token:
            # The server checks this first; never fall back to another key.
            raise MissingParameterError("the token is empty")
        if not _HEADER_VALUE.fullmatch(request.token):
            # httpx2 would refuse it on every attempt, as a connection failure.
            raise BadRequestError("the token contains characters an HTTP header cannot carry")
        base_url = request.base_url or self.default_base_url
        _check_base_url(base_url)
        client = self._base_client().with_options(
            api_key=request.token,
            base_url=base_url,
            timeout=request.timeout,
            max_retries=0,
        )
        error: ProviderError
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=request.model,
                messages=[_message(m) for m in request.messages],
                temperature=openai.omit if request.temperature is None else request.temperature,
                max_tokens=openai.omit if request.max_tokens is None else request.max_tokens,
                extra_headers={
                    # Wins over any Authorization from OPENAI_CUSTOM_HEADERS.
                    "Authorization": f"Bearer {request.token}",
                    "OpenAI-Organization": openai.omit,
                    "OpenAI-Project": openai.omit,
                },
            )
        except Exception as exc:  # CancelledError is a BaseException and passes
            error = _map_error(exc, request)
        else:
            return _completion(_document(raw.content))
        # Raised outside the except block so that the error carries no
        # __context__: the SDK's exception holds the request and its headers.
        log.debug(
            "openai attempt failed",
            extra={"kind": error.kind, "status": error.status, "attempt": request.attempt},
        )
        raise error

    async def aclose(self) -> None:
        http, self._http, self._base = self._http, None, None
        if http is not None:
            await http.aclose()


def _message(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _check_base_url(base_url: str) -> None:
    try:
        url = httpx2.URL(base_url)
    except (httpx2.InvalidURL, TypeError, ValueError):
        raise BadRequestError("the base_url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise BadRequestError("the base_url must be an http or https URL")
    if url.userinfo:
        raise BadRequestError("the base_url must not contain a user name or password")
    if url.port is not None and not 0 < url.port < 65536:
        raise BadRequestError("the base_url's port is out of range")
    if not _valid_host(url.raw_host.decode("ascii", "replace")):
        raise BadRequestError("the base_url's host name is not valid")


def _valid_host(host: str) -> bool:
    """An IP address, or a DNS name whose labels fit (else the resolver fails
    with an error that is neither a refusal nor a connection failure)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    name = host.removesuffix(".")
    labels = name.split(".")
    return len(name) <= _MAX_HOST_NAME and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _map_error(exc: Exception, request: CompletionRequest) -> ProviderError:
    """The typed error for an SDK failure. Order matters: a timeout is a
    connection error, and a validation error is not a status error."""
    blocked = blocked_cause(exc)
    if blocked is not None:
        return BlockedError(str(blocked))
    too_large = _cause(exc, ResponseTooLargeError)
    if too_large is not None:
        return BadResponseError(f"the provider's answer is larger than {too_large.cap} bytes")
    if _cause(exc, httpx2.DecodingError) is not None:
        return MalformedResponseError("the provider's answer could not be decompressed")
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeoutError(f"no answer within {round(request.timeout * 1000)} ms")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderConnectionError(
            "the connection to the provider failed or dropped before a complete answer"
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, request.token)
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError):
        return MalformedResponseError("the provider's answer is not valid JSON")
    return ProviderError(f"the provider call failed ({type(exc).__name__})")


def _cause(error: BaseException, kind: type[_E]) -> _E | None:
    """The first `kind` in the cause chain: the SDK wraps transport errors."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _status_error(exc: openai.APIStatusError, token: str) -> ProviderError:
    code = exc.code
    if code is None and exc.type == QUOTA_CODE:  # some servers say it in `type` only
        code = QUOTA_CODE
    error = error_for_status(
        exc.status_code, code=code, retry_after=parse_retry_after(exc.response.headers)
    )
    shown = _shown_code(code, token)
    if shown is None:
        return error
    detail = f"{error.detail}, provider code {shown}"
    return type(error)(detail, status=error.status, retry_after=error.retry_after)


def _shown_code(code: str | None, token: str) -> str | None:
    """The provider's error code when it is a plain identifier worth showing."""
    if not code or not _PROVIDER_CODE.fullmatch(code) or (token and token in code):
        return None
    return code


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` (milliseconds) or else `retry-after`
    (seconds or an HTTP date); None when absent or unreadable. Never negative."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _document(content: bytes) -> object:
    """The parsed body. Any JSON is accepted whatever the content type says.
    Bytes that are not UTF-8 become U+FFFD, as the action does with lone
    surrogates from `\\ud800` escapes: one bad character does not cost the
    whole answer. A nesting deeper than the parser's stack or an integer too
    long to convert is as unreadable as a syntax error."""
    try:
        return json.loads(content.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError):
        raise MalformedResponseError("the provider's answer is not valid JSON") from None


def _field(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def _completion(document: object) -> Completion:
    """The answer and usage of a chat completion; MalformedResponseError when
    the body is not one. Only the first choice is looked at."""
    if not isinstance(document, dict):
        raise MalformedResponseError("the provider's answer is not a chat completion")
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedResponseError("the provider's answer has no choices")
    message = _field(choices[0], "message")
    content = _field(message, "content")
    if not isinstance(content, str):
        if isinstance(_field(message, "refusal"), str):
            # A policy refusal: trying again will not change it.
            raise ProviderError("the model refused to answer")
        raise MalformedResponseError("the provider's answer has no text")
    model = document.get("model")
    return Completion(
        text=content,
        usage=_usage(document.get("usage")),
        model=model if isinstance(model, str) else "",
    )


def _usage(usage: object) -> Usage:
    prompt = _count(_field(usage, "prompt_tokens"))
    completion = _count(_field(usage, "completion_tokens"))
    total = _count(_field(usage, "total_tokens"), default=prompt + completion)
    return Usage(prompt, completion, total)


def _count(value: object, *, default: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default
