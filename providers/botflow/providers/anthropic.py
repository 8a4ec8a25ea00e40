"""The `anthropic` provider: one Messages API attempt through the official SDK.

- The SDK's own retries are off (`max_retries=0`): `botflow.providers.retry`
  is the one retry loop. 429 and 529 (overloaded) are retried there, honouring
  `retry-after`.
- One pool for every call: the context's egress-enforcing client behind one
  base `AsyncAnthropic`. No call builds a client: the key and the timeout go
  on the request, and a client is derived once per base URL (`with_options`
  reuses the same pool; see `botflow.providers.sdk_clients`).
- The server's environment does not steer calls: the key always comes from the
  request and goes in `x-api-key` (never `ANTHROPIC_API_KEY`, a profile, or an
  `Authorization` line of `ANTHROPIC_CUSTOM_HEADERS`), the base URL from the
  request or the `base_url` setting (never `ANTHROPIC_BASE_URL`).
- Messages: the `system` message goes in the request's `system` field;
  consecutive messages of the same role are merged (the API wants user and
  assistant to alternate); `max_tokens`, which the API requires, defaults to
  `ANTHROPIC_MAX_TOKENS` (setting `max_tokens` overrides it).
- Structured answers (`request.output_schema`): one tool whose
  `input_schema` is the schema, and `tool_choice` forcing the model to call
  it; the call's input, as JSON text, is the answer (checked by the server).
- Answers are capped like every provider's (`ProviderContext.transport`) and
  parsed here, not by the SDK; error details are botflow's, never the API's
  message (a 401 message may quote the key).

Settings (`BOTFLOW_PROVIDER_ANTHROPIC_<KEY>`): `BASE_URL`, `MODEL`, `MAX_TOKENS`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import cast

import anthropic
from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam
from anthropic.types.tool_param import InputSchema

from botflow.providers import defaults
from botflow.providers.base import (
    FINISH_CONTENT_FILTER,
    FINISH_LENGTH,
    FINISH_STOP,
    ChatMessage,
    Completion,
    CompletionRequest,
    OptionProblem,
    Usage,
)
from botflow.providers.context import ProviderContext
from botflow.providers.errors import (
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
    transport_error,
    with_provider_code,
)
from botflow.providers.retry_after import parse_retry_after
from botflow.providers.sdk_clients import SdkClients

# Keeps the SDK from reading ANTHROPIC_API_KEY or a profile into the base client,
# which never sends a request itself.
_BASE_CLIENT_KEY = "botflow-unused-placeholder"
_FINISH = {
    "end_turn": FINISH_STOP,
    "stop_sequence": FINISH_STOP,
    "max_tokens": FINISH_LENGTH,
    "model_context_window_exceeded": FINISH_LENGTH,
    "refusal": FINISH_CONTENT_FILTER,
}

log = logging.getLogger(__name__)


class AnthropicProvider:
    """Anthropic's Messages API (and servers that speak it)."""

    name = "anthropic"
    declared_model = defaults.ANTHROPIC_DEFAULT_MODEL

    def __init__(self, context: ProviderContext) -> None:
        self.default_model = context.default_model or self.declared_model
        self.default_base_url = context.setting("base_url", defaults.ANTHROPIC_BASE_URL)
        self.max_tokens = _positive(context.setting("max_tokens"), defaults.ANTHROPIC_MAX_TOKENS)
        self._context = context
        self._clients = SdkClients(self._base_client)

    def _base_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=_BASE_CLIENT_KEY,
            base_url=self.default_base_url,
            max_retries=0,
            http_client=self._context.http_client(anthropic.DefaultAsyncHttpxClient),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        check_token(request.token)
        base_url = request.base_url or self.default_base_url
        check_base_url(base_url)
        system, messages = split_messages(request.messages)
        client = self._clients.get(base_url)
        error: ProviderError
        try:
            raw = await client.messages.with_raw_response.create(
                model=request.model,
                max_tokens=request.max_tokens or self.max_tokens,
                messages=messages,
                system=system if system else anthropic.omit,
                # Not a keyword of this SDK's create(); the API still takes it.
                extra_body=_sampling(request),
                tools=_tools(request),
                tool_choice=_tool_choice(request),
                extra_headers={"x-api-key": request.token, "Authorization": anthropic.omit},
                timeout=request.timeout,
            )
            body = await raw.read()
        except Exception as exc:  # CancelledError is a BaseException and passes
            error = _map_error(exc, request)
        else:
            document = parse_document(body)
            if request.output_schema is not None:
                return _structured(document, request.output_schema.name)
            return _completion(document)
        log.debug(
            "anthropic attempt failed",
            extra={"kind": error.kind, "status": error.status, "attempt": request.attempt},
        )
        raise error

    def check_options(self, options: Mapping[str, str]) -> list[OptionProblem]:
        return check_options(options)

    async def aclose(self) -> None:
        await self._clients.aclose()


def split_messages(messages: tuple[ChatMessage, ...]) -> tuple[str, list[MessageParam]]:
    """The system text apart, and the rest with same-role neighbours merged."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    merged: list[tuple[str, list[str]]] = []
    for message in messages:
        if message.role == "system":
            continue
        if merged and merged[-1][0] == message.role:
            merged[-1][1].append(message.content)
        else:
            merged.append((message.role, [message.content]))
    return system, [_param(role, "\n\n".join(texts)) for role, texts in merged]


def _param(role: str, text: str) -> MessageParam:
    if role == "assistant":
        return {"role": "assistant", "content": text}
    return {"role": "user", "content": text}


def _sampling(request: CompletionRequest) -> dict[str, object] | None:
    return None if request.temperature is None else {"temperature": request.temperature}


def _positive(value: str, default: int) -> int:
    return int(value) if value.isdigit() and int(value) > 0 else default


def _map_error(exc: Exception, request: CompletionRequest) -> ProviderError:
    """The typed error for an SDK failure; a timeout is a connection error, so first."""
    underneath = transport_error(exc)
    if underneath is not None:
        return underneath
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderTimeoutError(f"no answer within {round(request.timeout * 1000)} ms")
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderConnectionError(
            "the connection to the provider failed or dropped before a complete answer"
        )
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, request.token)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return MalformedResponseError("the provider's answer is not valid JSON")
    return ProviderError(f"the provider call failed ({type(exc).__name__})")


def _status_error(exc: anthropic.APIStatusError, token: str) -> ProviderError:
    error = error_for_status(exc.status_code, retry_after=parse_retry_after(exc.response.headers))
    return with_provider_code(error, field_of(field_of(exc.body, "error"), "type"), token)


def _completion(document: object) -> Completion:
    """The answer of a Messages API response: its text blocks, joined."""
    if not isinstance(document, dict):
        raise MalformedResponseError("the provider's answer is not a message")
    blocks = document.get("content")
    if not isinstance(blocks, list):
        raise MalformedResponseError("the provider's answer has no content")
    texts = [field_of(b, "text") for b in blocks if field_of(b, "type") == "text"]
    stop = document.get("stop_reason")
    if not all(isinstance(t, str) for t in texts):
        raise MalformedResponseError("the provider's answer has no text")
    if not texts and stop == "refusal":
        raise ProviderError("the model refused to answer")
    model = document.get("model")
    return Completion(
        text="".join(t for t in texts if isinstance(t, str)),
        usage=_usage(document.get("usage")),
        model=model if isinstance(model, str) else "",
        finish_reason=_FINISH.get(stop, stop) if isinstance(stop, str) else "",
    )


def _tools(request: CompletionRequest) -> list[ToolParam] | anthropic.Omit:
    """A structured answer is asked for as one tool whose input is the schema."""
    if request.output_schema is None:
        return anthropic.omit
    schema = dict(request.output_schema.schema)
    return [
        {
            "name": request.output_schema.name,
            "description": "Record the answer. Call it exactly once.",
            "input_schema": cast(InputSchema, schema),
        }
    ]


def _tool_choice(request: CompletionRequest) -> ToolChoiceToolParam | anthropic.Omit:
    """The model must call that tool: its input is the answer."""
    if request.output_schema is None:
        return anthropic.omit
    return {"type": "tool", "name": request.output_schema.name}


def _structured(document: object, tool: str) -> Completion:
    """The forced tool call's input, as JSON text, is the answer."""
    if not isinstance(document, dict):
        raise MalformedResponseError("the provider's answer is not a message")
    blocks = document.get("content")
    if not isinstance(blocks, list):
        raise MalformedResponseError("the provider's answer has no content")
    stop = document.get("stop_reason")
    calls = [
        field_of(b, "input")
        for b in blocks
        if field_of(b, "type") == "tool_use" and field_of(b, "name") == tool
    ]
    if not calls:
        if stop == "refusal":
            raise ProviderError("the model refused to answer")
        if stop in ("max_tokens", "model_context_window_exceeded"):
            # Cut before the call: an empty answer the server reports as such.
            return _completion(document)
        raise MalformedResponseError("the provider's answer has no structured answer")
    model = document.get("model")
    return Completion(
        text=json.dumps(calls[0], ensure_ascii=False),
        usage=_usage(document.get("usage")),
        model=model if isinstance(model, str) else "",
        finish_reason=_tool_finish(stop),
    )


def _tool_finish(stop: object) -> str:
    """A forced tool call ends with "tool_use": the answer is complete."""
    if stop == "tool_use":
        return FINISH_STOP
    return _FINISH.get(stop, stop) if isinstance(stop, str) else ""


def _usage(usage: object) -> Usage:
    prompt = count(field_of(usage, "input_tokens"))
    completion = count(field_of(usage, "output_tokens"))
    return Usage(prompt, completion, prompt + completion)


def check_options(options: Mapping[str, str]) -> list[OptionProblem]:
    """The anthropic provider reads no options; any given is a mistake."""
    return [(key, "the anthropic provider takes no options") for key in options]
