"""The `openai` provider: one chat completion attempt through the official SDK.

- The SDK's own retries are off (`max_retries=0`): `botflow.providers.retry` is
  the one retry loop.
- One connection pool for every call, token and base URL: a single
  `httpx2.AsyncClient` (the SDK's `DefaultAsyncHttpxClient`, so the SDK's
  timeouts and limits apply) is created on first use and wrapped by one base
  `AsyncOpenAI` client. No call builds a client: the token goes on the
  request (its `Authorization` or `api-key` header), and so does the timeout
  (`timeout=`); the base URL picks one of a few clients derived once per base
  URL (`with_options(base_url=...)`, which reuses that same
  `httpx2.AsyncClient`; see `botflow.providers.sdk_clients`). `aclose()`
  closes the pool.
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
- The request body is built here too and sent with the SDK's `post`
  (its client, headers, timeout and typed errors), not with
  `chat.completions.create`, whose type-driven transform of the parameters
  costs milliseconds of CPU per call and leaves plain strings as they are.
- The token limit is sent as `max_completion_tokens` to OpenAI itself
  (api.openai.com) and Azure OpenAI, whose o-series and gpt-5 models refuse
  `max_tokens`; as `max_tokens` to other OpenAI-compatible servers, most of
  which know only that. The provider option `max_tokens_field` overrides.
- Structured answers (`request.output_schema`) are asked for with
  `response_format` `json_schema`, `strict: true`; the answer is the
  message's content (the JSON text), checked by the server. A refusal
  (`message.refusal`) is a ProviderError.
- Azure OpenAI: a base URL on `*.openai.azure.com` or
  `*.cognitiveservices.azure.com`, or the option `api_version`, selects it.
  The call goes to `/openai/deployments/<deployment>/chat/completions` with
  `?api-version=` (option `api_version`, default `AZURE_OPENAI_API_VERSION`)
  and the token in an `api-key` header; the deployment is the option
  `deployment`, else the model.

Settings (`BOTFLOW_PROVIDER_OPENAI_<KEY>`): `BASE_URL` (default endpoint),
`MODEL` (default model).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from botflow.providers import defaults
from botflow.providers.base import (
    ChatMessage,
    Completion,
    CompletionRequest,
    OptionProblem,
    OutputSchema,
    Usage,
)
from botflow.providers.context import ProviderContext
from botflow.providers.errors import (
    QUOTA_CODE,
    BadRequestError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    error_for_status,
)
from botflow.providers.http_checks import (
    check_base_url,
    check_token,
    count,
    field_of,
    parse_document,
    plain_word,
    transport_error,
    with_provider_code,
)
from botflow.providers.retry_after import parse_retry_after
from botflow.providers.sdk_clients import SdkClients

DEFAULT_BASE_URL = defaults.OPENAI_BASE_URL
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
# Hosts of OpenAI itself and of Azure OpenAI: they take max_completion_tokens.
_OPENAI_HOSTS = ("api.openai.com",)
_AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")

# The clients' own key is never sent: every call carries the request's token
# in a header of its own, which wins. A placeholder keeps the SDK from reading
# OPENAI_API_KEY into them.
_BASE_CLIENT_KEY = "botflow-unused-placeholder"
# Distinct base URLs whose check is remembered.
_CHECKED_BASE_URLS = 256

log = logging.getLogger(__name__)


class OpenAIProvider:
    """OpenAI and OpenAI-compatible endpoints (Azure, vLLM, Ollama, ...)."""

    name = "openai"
    declared_model = defaults.OPENAI_DEFAULT_MODEL

    def __init__(self, context: ProviderContext) -> None:
        """Every connection goes through `context.transport` (egress policy and
        answer cap); `base_url` and `model` settings set the defaults."""
        self.default_base_url = context.setting("base_url", DEFAULT_BASE_URL)
        self.default_model = context.default_model or self.declared_model
        self._context = context
        self._clients = SdkClients(self._base_client)

    def _base_client(self) -> openai.AsyncOpenAI:
        """The one base client and its pool."""
        return openai.AsyncOpenAI(
            api_key=_BASE_CLIENT_KEY,
            base_url=self.default_base_url,
            max_retries=0,
            http_client=self._context.http_client(openai.DefaultAsyncHttpxClient),
        )

    def check_options(self, options: Mapping[str, str]) -> list[OptionProblem]:
        return check_options(options)

    async def complete(self, request: CompletionRequest) -> Completion:
        check_token(request.token)
        target = _target(request, request.base_url or self.default_base_url)
        client = self._clients.get(target.base_url)
        error: ProviderError
        try:
            raw = await client.post(
                "/chat/completions",
                cast_to=httpx2.Response,
                body=_body(request, target),
                options={
                    "headers": {**_auth_headers(target, request.token), **_OMITTED_HEADERS},
                    "params": target.query,
                    "timeout": request.timeout,
                },
            )
        except Exception as exc:  # CancelledError is a BaseException and passes
            error = _map_error(exc, request)
        else:
            return _completion(parse_document(raw.content))
        log.debug(
            "openai attempt failed",
            extra={"kind": error.kind, "status": error.status, "attempt": request.attempt},
        )
        raise error

    async def aclose(self) -> None:
        await self._clients.aclose()


# No organisation or project of the operator's account goes with a customer's token.
_OMITTED_HEADERS: dict[str, str] = {
    "OpenAI-Organization": openai.omit,  # type: ignore[dict-item]
    "OpenAI-Project": openai.omit,  # type: ignore[dict-item]
}


@dataclass(frozen=True)
class _Target:
    """Where one call goes and what dialect it speaks."""

    base_url: str
    azure: bool
    token_field: str
    query: dict[str, object]


def check_options(options: Mapping[str, str]) -> list[OptionProblem]:
    problems: list[OptionProblem] = []
    field = options.get("max_tokens_field", "")
    if field and field not in MAX_TOKENS_FIELDS:
        problems.append(("max_tokens_field", "must be max_tokens or max_completion_tokens"))
    for key in ("deployment", "api_version"):
        value = options.get(key, "")
        if value and "{{" not in value and not plain_word(value):
            problems.append((key, "must be 1 to 64 letters, digits, '.', '_' or '-'"))
    return problems


@lru_cache(maxsize=_CHECKED_BASE_URLS)
def _host(base_url: str) -> str:
    # Parsing the URL costs more than the rest of a call's own work, and a
    # server sees few base URLs. A refused one raises, so it is never kept.
    return check_base_url(base_url)


def _target(request: CompletionRequest, base_url: str) -> _Target:
    host = _host(base_url)
    options = request.options
    azure = host.endswith(_AZURE_HOST_SUFFIXES) or bool(options.get("api_version"))
    official = azure or host in _OPENAI_HOSTS
    field = options.get("max_tokens_field") or (
        "max_completion_tokens" if official else "max_tokens"
    )
    if field not in MAX_TOKENS_FIELDS:
        raise BadRequestError("the provider option max_tokens_field is not a token field")
    if not azure:
        return _Target(base_url, azure=False, token_field=field, query={})
    deployment = _url_word("deployment", options.get("deployment") or request.model)
    version = _url_word(
        "api_version", options.get("api_version") or defaults.AZURE_OPENAI_API_VERSION
    )
    root = base_url.rstrip("/").removesuffix("/openai")
    return _Target(
        f"{root}/openai/deployments/{deployment}",
        azure=True,
        token_field=field,
        query={"api-version": version},
    )


def _url_word(name: str, value: str) -> str:
    if not plain_word(value):  # an Azure deployment or api-version goes into the URL as it is
        raise BadRequestError(f"the Azure {name} cannot be part of a URL")
    return value


def _auth_headers(target: _Target, token: str) -> dict[str, str]:
    if target.azure:
        return {"api-key": token, "Authorization": openai.omit}  # type: ignore[dict-item]
    # Wins over any Authorization from OPENAI_CUSTOM_HEADERS.
    return {"Authorization": f"Bearer {token}"}


def _body(request: CompletionRequest, target: _Target) -> dict[str, object]:
    """The chat completion request's JSON body. Built here and sent with the
    SDK's `post` rather than `chat.completions.create`, whose type-driven
    transform of the parameters costs a few milliseconds of CPU per call for
    a ten-message conversation and changes nothing in these plain strings
    (bench/RESULTS.md)."""
    body: dict[str, object] = {
        "model": request.model,
        "messages": [_message(m) for m in request.messages],
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.output_schema is not None:
        body["response_format"] = _response_format(request.output_schema)
    if request.max_tokens is not None:
        body[target.token_field] = request.max_tokens
    return body


def _response_format(schema: OutputSchema) -> ResponseFormat:
    """Structured outputs: the answer must match the schema (strict mode)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": schema.name, "strict": True, "schema": dict(schema.schema)},
    }


def _message(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _map_error(exc: Exception, request: CompletionRequest) -> ProviderError:
    """The typed error for an SDK failure. Order matters: a timeout is a
    connection error, and a validation error is not a status error."""
    underneath = transport_error(exc)
    if underneath is not None:
        return underneath
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
    return with_provider_code(error, code, token)


def _completion(document: object) -> Completion:
    """The answer and usage of a chat completion; MalformedResponseError when
    the body is not one. Only the first choice is looked at."""
    if not isinstance(document, dict):
        raise MalformedResponseError("the provider's answer is not a chat completion")
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedResponseError("the provider's answer has no choices")
    message = field_of(choices[0], "message")
    content = field_of(message, "content")
    if not isinstance(content, str):
        if isinstance(field_of(message, "refusal"), str):
            # A policy refusal: trying again will not change it.
            raise ProviderError("the model refused to answer")
        raise MalformedResponseError("the provider's answer has no text")
    model = document.get("model")
    finish = field_of(choices[0], "finish_reason")
    return Completion(
        text=content,
        usage=_usage(document.get("usage")),
        model=model if isinstance(model, str) else "",
        finish_reason=finish if isinstance(finish, str) else "",
    )


def _usage(usage: object) -> Usage:
    prompt = count(field_of(usage, "prompt_tokens"))
    completion = count(field_of(usage, "completion_tokens"))
    total = count(field_of(usage, "total_tokens"), default=prompt + completion)
    return Usage(prompt, completion, total)
