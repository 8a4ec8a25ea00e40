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
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from botflow.providers.base import ChatMessage, Completion, CompletionRequest, Usage
from botflow.providers.egress import EgressPolicy, EgressTransport, blocked_cause
from botflow.providers.errors import (
    QUOTA_CODE,
    BadRequestError,
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
        addresses); `transport` replaces the policy's transport (tests)."""
        self.default_base_url = default_base_url
        self._transport = transport or EgressTransport(egress or EgressPolicy())
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
            response: Any = await client.chat.completions.create(
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
            return _completion(response)
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


def _map_error(exc: Exception, request: CompletionRequest) -> ProviderError:
    """The typed error for an SDK failure. Order matters: a timeout is a
    connection error, and a validation error is not a status error."""
    blocked = blocked_cause(exc)
    if blocked is not None:
        return BlockedError(str(blocked))
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


def _completion(response: object) -> Completion:
    """The answer and usage of a chat completion; MalformedResponseError when
    the body is not one (the SDK does not validate it)."""
    if not isinstance(response, ChatCompletion):
        raise MalformedResponseError("the provider's answer is not a chat completion")
    choices: Any = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedResponseError("the provider's answer has no choices")
    message: Any = getattr(choices[0], "message", None)
    content: Any = getattr(message, "content", None)
    if not isinstance(content, str):
        if isinstance(getattr(message, "refusal", None), str):
            # A policy refusal: trying again will not change it.
            raise ProviderError("the model refused to answer")
        raise MalformedResponseError("the provider's answer has no text")
    usage: Any = getattr(response, "usage", None)
    prompt = _count(getattr(usage, "prompt_tokens", 0))
    completion = _count(getattr(usage, "completion_tokens", 0))
    total = _count(getattr(usage, "total_tokens", None), default=prompt + completion)
    model: Any = getattr(response, "model", "")
    return Completion(
        text=content,
        usage=Usage(prompt, completion, total),
        model=model if isinstance(model, str) else "",
    )


def _count(value: object, *, default: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default
