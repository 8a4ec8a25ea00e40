"""ExecuteAction with the real `openai` provider against a scripted loopback
OpenAI-compatible server: history on the wire, deadlines, and secrets."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from botflow.client import field_violations
from botflow.server.app import serving
from botflow.server.config import Limits, ServerConfig
from botflow.v1.actions_pb2 import ActionOutcome, ErrorKind, HistoryMode
from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from botflow.v1.variables_pb2 import Value
from tests.integration.conftest import TEST_CONFIG
from tests.integration.helpers import RECEIVED, SENT, conversation, openai_request
from tests.support.openai_stub import (
    Drop,
    Fail,
    Malformed,
    OpenAIStub,
    RawBody,
    RawJson,
    Reply,
    Stall,
    completion_body,
    gzip_bomb,
)

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

TOKEN = "sk-proj-SECRETSECRETSECRET1234"
CONVERSATION = conversation(
    (RECEIVED, "Hi, I bought boots", "old"),
    (SENT, "Welcome back!", "old"),
    (RECEIVED, "Where is my order?", "s2"),
    (SENT, "Let me check.", "s2"),
    (RECEIVED, "  ", "s2"),
    (RECEIVED, "It is order 42", "s2"),
    (SENT, "One moment", "s2"),
)


def _request(stub_server: OpenAIStub, **fields: object) -> ExecuteActionRequest:
    defaults: dict[str, object] = {
        "token": TOKEN,
        "provider": "openai",
        "base_url": stub_server.base_url,
        "convo": CONVERSATION,
        "timeout_ms": 2000,
    }
    return openai_request(**{**defaults, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            HistoryMode.HISTORY_MODE_ALL_CONVERSATION,
            [
                ("system", "PROMPT"),
                ("user", "Hi, I bought boots"),
                ("assistant", "Welcome back!"),
                ("user", "Where is my order?"),
                ("assistant", "Let me check."),
                ("user", "It is order 42"),
                ("assistant", "One moment"),
            ],
        ),
        (
            HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
            [
                ("system", "PROMPT"),
                ("user", "Where is my order?"),
                ("assistant", "Let me check."),
                ("user", "It is order 42"),
                ("assistant", "One moment"),
            ],
        ),
        (
            HistoryMode.HISTORY_MODE_LAST_MESSAGE,
            [("system", "PROMPT"), ("user", "It is order 42")],
        ),
        (HistoryMode.HISTORY_MODE_PROMPT_ONLY, [("user", "PROMPT")]),
    ],
)
async def test_history_mode_on_the_wire(
    stub: FlowServiceAsyncStub,
    mode: HistoryMode.ValueType,
    expected: list[tuple[str, str]],
) -> None:
    async with OpenAIStub(Reply("Your order ships today.", prompt_tokens=30)) as stub_server:
        request = _request(stub_server, prompt="PROMPT", history=mode, model="gpt-test")
        response = await stub.ExecuteAction(request, timeout=10)
        sent = stub_server.chat_requests[0]
    assert [(m["role"], m["content"]) for m in sent.body["messages"]] == expected
    assert sent.body["model"] == "gpt-test"
    assert sent.bearer == TOKEN
    assert response.result.answer == "Your order ships today."
    assert response.result.usage.prompt_tokens == 30
    assert response.result.usage.total_tokens == 35
    assert response.result.model == "gpt-test"


async def test_max_history_messages_keeps_the_most_recent(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub() as stub_server:
        request = _request(stub_server, prompt="P", max_history_messages=2)
        await stub.ExecuteAction(request, timeout=10)
        messages = stub_server.chat_requests[0].body["messages"]
    assert [m["content"] for m in messages] == ["P", "It is order 42", "One moment"]


async def test_server_default_model_is_used(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub() as stub_server:
        await stub.ExecuteAction(_request(stub_server), timeout=10)
        assert stub_server.chat_requests[0].body["model"] == ServerConfig().default_model


async def test_rate_limited_then_answer_through_the_rpc(stub: FlowServiceAsyncStub) -> None:
    steps = (Fail(429, headers={"retry-after-ms": "200"}), Reply("ok now"))
    async with OpenAIStub(*steps) as stub_server:
        response = await stub.ExecuteAction(_request(stub_server, answer_variable="a"), timeout=10)
        gaps = stub_server.gaps()
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert response.result.attempts == 2
    assert response.variables["a"] == Value(text="ok now")
    assert gaps[0] >= 0.2


async def test_deadline_shorter_than_the_retries_returns_in_time(
    stub: FlowServiceAsyncStub,
) -> None:
    deadline = 1.5
    async with OpenAIStub(default=Stall(30)) as stub_server:
        request = _request(stub_server, timeout_ms=5000, max_attempts=5)
        response = await stub.ExecuteAction(request, timeout=deadline)
    # Not DEADLINE_EXCEEDED (the call would raise): the action gave up in time
    # and reported it as data.
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert response.result.error_kind == ErrorKind.ERROR_KIND_TIMEOUT
    assert response.variables["last webhook failure"].text.startswith("Timeout: ")


LEAKY_FAILURES = [
    Fail(401, code="invalid_api_key", message=f"Incorrect API key provided: {TOKEN[:8]}***1234"),
    Fail(403, message=f"key {TOKEN} is not allowed"),
    Fail(400, message=f"bad request for {TOKEN}"),
    Fail(500, message=f"internal error {TOKEN}"),
    Malformed(body=f'{{"oops": "{TOKEN}'),
    Drop(),
]


@pytest.mark.parametrize("failure", LEAKY_FAILURES, ids=lambda f: type(f).__name__)
async def test_token_never_reaches_responses_errors_or_logs(
    stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture, failure: object
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAIStub(default=failure) as stub_server:  # type: ignore[arg-type]
        request = _request(
            stub_server,
            token="{{key}}",
            variables={"key": Value(text=TOKEN)},
            max_attempts=2,
            answer_variable="a",
        )
        response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    error_text = response.result.error
    assert error_text
    assert error_text == response.variables["last webhook failure"].text
    # The only place the token may appear is the variable the caller gave us.
    response.variables.pop("key")
    for leak in (TOKEN, TOKEN[:8] + "***", "SECRETSECRET"):
        assert leak not in str(response)
        assert leak not in caplog.text
        assert all(leak not in str(record.__dict__) for record in caplog.records)


async def test_token_never_echoed_in_invalid_argument(
    stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    oversized = TOKEN * 4000  # over the text size limit
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ExecuteAction(openai_request(token=oversized, temperature=9.0), timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"action.openai.token", "action.openai.temperature"}
    assert TOKEN not in str(error.details())
    assert TOKEN not in str(field_violations(error))
    assert TOKEN not in caplog.text


# -- odd input and a hostile provider, end to end -------------------------------------


async def test_token_pasted_with_a_newline_is_sent_trimmed(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub(Reply("trimmed")) as stub_server:
        request = _request(
            stub_server, token="{{key}}", variables={"key": Value(text=f"  {TOKEN}\n")}
        )
        response = await stub.ExecuteAction(request, timeout=10)
        [sent] = stub_server.chat_requests
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert response.result.attempts == 1
    assert sent.bearer == TOKEN


async def test_token_a_header_cannot_carry_is_refused_without_a_request(
    stub: FlowServiceAsyncStub,
) -> None:
    async with OpenAIStub() as stub_server:
        request = _request(stub_server, token="sk-tést-SECRET", max_attempts=3)
        response = await stub.ExecuteAction(request, timeout=10)
        assert stub_server.requests == []
    assert response.result.error_kind == ErrorKind.ERROR_KIND_BAD_REQUEST
    assert response.result.attempts == 1
    assert response.result.error == (
        "BadRequest: the token contains characters an HTTP header cannot carry"
    )


async def test_prompt_too_long_after_rendering_is_bad_request(stub: FlowServiceAsyncStub) -> None:
    third = Value(text="v" * 30_000)
    async with OpenAIStub() as stub_server:
        request = _request(
            stub_server, prompt="{{a}}{{b}}{{c}}", variables={"a": third, "b": third, "c": third}
        )
        response = await stub.ExecuteAction(request, timeout=10)
        assert stub_server.requests == []
    assert response.result.error_kind == ErrorKind.ERROR_KIND_BAD_REQUEST
    assert response.result.attempts == 0
    assert response.result.error == (
        "BadRequest: the prompt is longer than 65536 bytes after filling in variables"
    )


GZIP_BOMB = RawBody(
    gzip_bomb(256 * 1024 * 1024),
    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
)


async def test_gzip_bomb_is_bad_response(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub(default=GZIP_BOMB) as stub_server:
        response = await stub.ExecuteAction(_request(stub_server, max_attempts=3), timeout=10)
        assert len(stub_server.chat_requests) == 1
    assert response.result.error_kind == ErrorKind.ERROR_KIND_BAD_RESPONSE
    assert response.result.attempts == 1
    assert response.result.error == (
        "BadResponse: the provider's answer is larger than 1048576 bytes"
    )


async def test_answer_cap_is_the_servers_max_response_bytes() -> None:
    config = dataclasses.replace(TEST_CONFIG, limits=Limits(max_response_bytes=2048))
    body = json.dumps(completion_body(Reply("z" * 4096), "gpt-test")).encode()
    async with (
        serving(config) as server,
        grpc.aio.insecure_channel(server.target) as channel,
        OpenAIStub(default=RawBody(body)) as stub_server,
    ):
        client: FlowServiceAsyncStub = FlowServiceStub(channel)
        response = await client.ExecuteAction(_request(stub_server), timeout=10)
    assert response.result.error == "BadResponse: the provider's answer is larger than 2048 bytes"


def _hostile_completion() -> dict[str, Any]:
    body = completion_body(Reply("x"), "gpt-test")
    body["choices"][0]["message"]["content"] = "half a pair: \ud83d, done"
    body["model"] = "m" * 1_000_000
    body["usage"] = {"prompt_tokens": 2**40, "completion_tokens": -5, "total_tokens": 2**64}
    return body


async def test_hostile_answer_still_makes_a_valid_response(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub(default=RawJson(_hostile_completion())) as stub_server:
        request = _request(stub_server, model="gpt-requested", answer_variable="a")
        response = await stub.ExecuteAction(request, timeout=10)
    result = response.result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert result.answer == "half a pair: \ufffd, done"
    assert response.variables["a"] == Value(text="half a pair: \ufffd, done")
    assert result.model == "gpt-requested"
    usage = result.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (0, 0, 0)


async def test_answer_over_the_text_limit_fails_the_action() -> None:
    # The fake provider cannot answer past the limit any more (its reply
    # option is held to it), so the real provider and the stub show the rule.
    limit = 200
    config = dataclasses.replace(TEST_CONFIG, limits=Limits(max_text_bytes=limit))
    async with (
        serving(config) as server,
        grpc.aio.insecure_channel(server.target) as channel,
        OpenAIStub(Reply("x" * (limit + 1)), Reply("x" * limit)) as stub_server,
    ):
        client: FlowServiceAsyncStub = FlowServiceStub(channel)
        over = await client.ExecuteAction(_request(stub_server, answer_variable="a"), timeout=10)
        at = await client.ExecuteAction(_request(stub_server, answer_variable="a"), timeout=10)
    assert over.result.error == (
        f"BadResponse: the answer is longer than the server limit of {limit} bytes"
    )
    assert "a" not in over.variables
    assert at.variables["a"] == Value(text="x" * limit)
