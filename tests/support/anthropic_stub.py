"""A scripted Anthropic Messages API server for tests, bound to 127.0.0.1.

The same script as `tests.support.openai_stub` (Reply, Fail, Stall, Drop,
Malformed, RawJson, RawBody, Flood, Drip), answering `POST /v1/messages` in the
Messages API's shapes::

    async with AnthropicStub(Fail(529, type="overloaded_error"), Reply("hi")) as stub:
        ...  # base URL stub.base_url ("http://127.0.0.1:PORT"); the SDK adds /v1/messages
        assert stub.chat_requests[0].headers["x-api-key"] == "sk-ant-test"

`Reply` becomes a `message` with one text block, `stop_reason` (default
"end_turn") and usage; `Fail` an `{"type": "error", "error": {...}}` body whose
`error.type` is the step's `type`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.openai_stub import OpenAIStub, Reply

MESSAGES_PATH = "/v1/messages"


@dataclass(frozen=True)
class MessageReply(Reply):
    """A Reply with the Messages API's stop reason."""

    stop_reason: str = "end_turn"


def message_body(reply: Reply, request_model: str) -> dict[str, Any]:
    """The Messages API `message` the stub sends for `reply`."""
    stop = reply.stop_reason if isinstance(reply, MessageReply) else "end_turn"
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": reply.model if reply.model is not None else request_model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens},
    }


def anthropic_error(message: str, type_: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}}


class AnthropicStub(OpenAIStub):
    """A scripted Messages API server on 127.0.0.1 (an async context manager)."""

    served_path = MESSAGES_PATH

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply_body(self, reply: Reply, model: str) -> dict[str, Any]:
        return message_body(reply, model)

    def error_json(self, message: str, type_: str, code: str | None) -> dict[str, Any]:
        return anthropic_error(message, type_)
