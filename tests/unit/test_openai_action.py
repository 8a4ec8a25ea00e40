"""The OpenAI action block with the fake provider and a recording provider."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from botflow.providers.base import Completion, CompletionRequest, Provider, Usage
from botflow.providers.errors import BadRequestError
from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.server.blocks.context import ActionContext
from botflow.server.blocks.openai_action import run_openai_action
from botflow.server.config import Limits, ServerConfig
from botflow.server.results import ActionRun
from botflow.server.variables import Variables, number_value, text_value
from botflow.v1.actions_pb2 import ActionOutcome, ErrorKind, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message

TOKEN = "sk-unit-SECRET-0123456789"
ERROR_VARIABLE = "last webhook failure"


class RecordingProvider:
    name = "recording"
    default_model = "recording-model-1"

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return Completion(text="recorded answer", usage=Usage(5, 2, 7), model="")

    async def aclose(self) -> None:
        return None


def context(limits: Limits | None = None, **providers: Provider) -> ActionContext:
    config = ServerConfig(providers=("fake",), limits=limits or Limits())
    return ActionContext(
        config=config, registry=ProviderRegistry({"fake": FakeProvider(), **providers})
    )


def make_action(**fields: Any) -> OpenAIAction:
    base: dict[str, Any] = {
        "token": TOKEN,
        "prompt": "You are a helpful assistant",
        "history": HistoryMode.HISTORY_MODE_ALL_CONVERSATION,
        "provider": "fake",
        "answer_variable": "answer",
    }
    base.update(fields)
    return OpenAIAction(**base)


CONVERSATION = Conversation(
    messages=[
        Message(direction=Direction.DIRECTION_RECEIVED, text="old question", bot_session_id="s1"),
        Message(direction=Direction.DIRECTION_SENT, text="old answer", bot_session_id="s1"),
        Message(direction=Direction.DIRECTION_RECEIVED, text="hello bot", bot_session_id="s2"),
        Message(direction=Direction.DIRECTION_SENT, text="hi human", bot_session_id="s2"),
        Message(
            direction=Direction.DIRECTION_RECEIVED, text="what time is it", bot_session_id="s2"
        ),
    ]
)


async def run(
    action: OpenAIAction,
    variables: Variables | None = None,
    ctx: ActionContext | None = None,
    conversation: Conversation = CONVERSATION,
) -> tuple[ActionRun, Variables]:
    variables = variables if variables is not None else Variables()
    outcome = await run_openai_action(action, variables, conversation, ctx or context())
    return outcome, variables


def assert_failed(run_: ActionRun, kind: ErrorKind.ValueType, attempts: int) -> None:
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert run_.result.error_kind == kind
    assert run_.result.attempts == attempts
    assert run_.result.answer == ""


async def test_success_stores_answer_and_clears_error_variable() -> None:
    variables = Variables({ERROR_VARIABLE: text_value("Timeout: stale")})
    run_, variables = await run(make_action(), variables)
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert run_.result.error_kind == ErrorKind.ERROR_KIND_UNSPECIFIED
    assert run_.result.error == ""
    assert run_.result.answer == "what time is it"  # the fake echoes the last user message
    assert run_.result.attempts == 1
    assert run_.result.model == "fake-1"  # the provider's default model
    assert variables.get("answer") == text_value("what time is it")
    assert variables.get(ERROR_VARIABLE) == text_value("")
    assert run_.changes == [
        ("answer", text_value("what time is it")),
        (ERROR_VARIABLE, text_value("")),
    ]
    # The fake counts words: 5 in the prompt + 12 in the history, 4 in the answer.
    usage = run_.result.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (17, 4, 21)


async def test_success_without_answer_variable_only_writes_error_variable() -> None:
    run_, variables = await run(make_action(answer_variable=""))
    assert run_.result.answer == "what time is it"
    assert run_.changes == [(ERROR_VARIABLE, text_value(""))]
    assert set(variables.public_values()) == {ERROR_VARIABLE}


async def test_custom_error_variable() -> None:
    succeeded, variables = await run(make_action(error_variable="  my error  "))
    assert succeeded.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert variables.get("my error") == text_value("")
    assert variables.get(ERROR_VARIABLE) is None
    failed, variables = await run(
        make_action(error_variable="my error", provider_options={"fail": "quota"})
    )
    assert failed.result.error_kind == ErrorKind.ERROR_KIND_QUOTA_EXCEEDED
    assert variables.render("my error") == failed.result.error
    assert variables.render("my error").startswith("QuotaExceeded: ")
    assert variables.get(ERROR_VARIABLE) is None


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"token": "{{missing}}"}, "token"),
        ({"token": "{{ blank }}"}, "token"),
        ({"prompt": "{{missing}}"}, "prompt"),
        ({"prompt": "  {{blank}}  "}, "prompt"),
    ],
)
async def test_empty_after_rendering_is_missing_parameter(
    fields: dict[str, Any], name: str
) -> None:
    variables = Variables({"blank": text_value("   "), "answer": text_value("previous")})
    run_, variables = await run(make_action(**fields), variables)
    assert_failed(run_, ErrorKind.ERROR_KIND_MISSING_PARAMETER, 0)
    text = variables.render(ERROR_VARIABLE)
    assert text.startswith("MissingParameter:")
    assert name in text
    assert run_.result.error == text
    assert variables.render("answer") == "previous"


async def test_token_from_a_variable() -> None:
    variables = Variables({"api key": text_value(TOKEN)})
    recorder = RecordingProvider()
    run_, _ = await run(
        make_action(token="{{ api key }}", provider="recording"),
        variables,
        context(recording=recorder),
    )
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert recorder.requests[0].token == TOKEN
    assert TOKEN.encode() not in run_.result.SerializeToString()
    assert all(TOKEN not in repr(value) for _, value in run_.changes)


async def test_rate_limit_then_ok_succeeds_after_two_attempts() -> None:
    run_, variables = await run(make_action(provider_options={"fail": "rate_limit,ok"}))
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert run_.result.attempts == 2
    assert variables.get(ERROR_VARIABLE) == text_value("")
    assert variables.render("answer") == "what time is it"


@pytest.mark.parametrize(
    ("fail", "max_attempts", "kind", "attempts", "text"),
    [
        (
            "timeout,timeout,timeout",
            0,
            ErrorKind.ERROR_KIND_TIMEOUT,
            3,
            "Timeout: no answer within 15000 ms (3 attempts)",
        ),
        (
            "quota",
            0,
            ErrorKind.ERROR_KIND_QUOTA_EXCEEDED,
            1,
            "QuotaExceeded: the account is out of quota (HTTP 429)",
        ),
        (
            "unauthorized",
            0,
            ErrorKind.ERROR_KIND_UNAUTHORIZED,
            1,
            "Unauthorized: the provider refused the token (HTTP 401)",
        ),
        (
            "bad_request,ok",
            0,
            ErrorKind.ERROR_KIND_BAD_REQUEST,
            1,
            "BadRequest: the provider refused the request (HTTP 400)",
        ),
        (
            "server_error,server_error,server_error",
            2,
            ErrorKind.ERROR_KIND_PROVIDER_ERROR,
            2,
            "ProviderError: the provider failed (HTTP 500) (2 attempts)",
        ),
        (
            "rate_limit,rate_limit,rate_limit,ok",
            0,
            ErrorKind.ERROR_KIND_RATE_LIMITED,
            3,
            "RateLimited: too many requests (HTTP 429) (3 attempts)",
        ),
    ],
)
async def test_failures_are_data(
    fail: str, max_attempts: int, kind: ErrorKind.ValueType, attempts: int, text: str
) -> None:
    action = make_action(provider_options={"fail": fail}, max_attempts=max_attempts)
    variables = Variables({"answer": text_value("previous")})
    run_, variables = await run(action, variables)
    assert_failed(run_, kind, attempts)
    assert run_.result.error == text
    assert variables.get(ERROR_VARIABLE) == text_value(text)
    assert variables.render("answer") == "previous"


async def test_reply_option_is_a_template() -> None:
    variables = Variables({"name": text_value("Ann"), "n": number_value(2.0)})
    run_, variables = await run(
        make_action(provider_options={"reply": "Hi {{name}}, {{ n }} items"}), variables
    )
    assert run_.result.answer == "Hi Ann, 2 items"
    assert variables.render("answer") == "Hi Ann, 2 items"


async def test_max_attempts_is_capped_by_the_server_limit() -> None:
    action = make_action(provider_options={"fail": "rate_limit," * 5}, max_attempts=9)
    run_, variables = await run(action, ctx=context(Limits(max_attempts=2)))
    assert_failed(run_, ErrorKind.ERROR_KIND_RATE_LIMITED, 2)
    assert variables.render(ERROR_VARIABLE).endswith("(2 attempts)")


async def test_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outcomes = []
    for fail in ("", "unauthorized", "rate_limit,bad_request", "rate_limit,ok"):
        run_, variables = await run(make_action(provider_options={"fail": fail}))
        outcomes.append(run_.result.outcome)
        assert TOKEN.encode() not in run_.result.SerializeToString()
        for name, value in variables.public_values().items():
            assert TOKEN not in name
            assert TOKEN.encode() not in value.SerializeToString()
        for _, value in run_.changes:
            assert TOKEN.encode() not in value.SerializeToString()
    assert outcomes == [
        ActionOutcome.ACTION_OUTCOME_SUCCEEDED,
        ActionOutcome.ACTION_OUTCOME_FAILED,
        ActionOutcome.ACTION_OUTCOME_FAILED,
        ActionOutcome.ACTION_OUTCOME_SUCCEEDED,
    ]
    assert caplog.records, "the action logs its outcome"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(vars(record))


async def test_missing_token_does_not_leak_the_template_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    run_, variables = await run(make_action(token=f"{TOKEN}{{{{x}}}}", prompt="{{nothing}}"))
    assert run_.result.error_kind == ErrorKind.ERROR_KIND_MISSING_PARAMETER
    assert TOKEN not in run_.result.error
    assert TOKEN not in variables.render(ERROR_VARIABLE)
    assert all(TOKEN not in repr(vars(record)) for record in caplog.records)


async def test_request_passed_to_the_provider() -> None:
    recorder = RecordingProvider()
    variables = Variables({"topic": text_value("clocks"), "who": text_value("Bo")})
    action = make_action(
        provider="recording",
        prompt="Talk about {{topic}}",
        history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
        temperature=0.3,
        max_tokens=64,
        max_history_messages=2,
        timeout_ms=2500,
        provider_options={"style": "to {{who}}"},
    )
    run_, variables = await run(action, variables, context(recording=recorder))
    assert len(recorder.requests) == 1
    request = recorder.requests[0]
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Talk about clocks"),
        ("assistant", "hi human"),
        ("user", "what time is it"),
    ]
    assert request.model == "recording-model-1"  # the provider's, not the server's
    assert request.temperature == pytest.approx(0.3)
    assert request.max_tokens == 64
    assert request.token == TOKEN
    assert request.base_url is None
    assert request.timeout == 2.5
    assert request.attempt == 1
    assert dict(request.options) == {"style": "to Bo"}
    assert TOKEN not in repr(request)
    assert run_.result.answer == "recorded answer"
    assert run_.result.model == "recording-model-1"  # the answer named none: the requested one
    assert (run_.result.usage.prompt_tokens, run_.result.usage.completion_tokens) == (5, 2)
    assert run_.result.usage.total_tokens == 7


async def test_request_defaults_and_caps() -> None:
    recorder = RecordingProvider()
    many = Conversation(
        messages=[Message(direction=Direction.DIRECTION_RECEIVED, text=f"m{i}") for i in range(10)]
    )
    limits = Limits(max_history_messages=3, max_timeout_ms=1000)
    ctx = context(limits, recording=recorder)
    (first_run, _) = await run(
        make_action(provider="recording", model="my-model"), ctx=ctx, conversation=many
    )
    (second_run, _) = await run(
        make_action(provider="recording", max_history_messages=50, timeout_ms=60_000),
        ctx=ctx,
        conversation=many,
    )
    (third_run, _) = await run(
        make_action(provider="recording", max_history_messages=2), ctx=ctx, conversation=many
    )
    first, second, third = recorder.requests
    assert first.model == "my-model"
    assert first.temperature is None
    assert first.max_tokens is None
    # No cap of the action's own: the server's history limit (3) applies.
    assert [m.content for m in first.messages] == ["You are a helpful assistant", "m7", "m8", "m9"]
    assert first_run.result.history_messages_omitted == 7
    assert first.timeout == 1.0  # default 15 s capped by max_timeout_ms
    assert [m.content for m in second.messages][1:] == ["m7", "m8", "m9"]
    assert second_run.result.history_messages_omitted == 7
    assert second.timeout == 1.0
    assert [m.content for m in third.messages][1:] == ["m8", "m9"]
    assert third_run.result.history_messages_omitted == 8


async def test_prompt_only_sends_the_prompt_as_user() -> None:
    recorder = RecordingProvider()
    await run(
        make_action(provider="recording", history=HistoryMode.HISTORY_MODE_PROMPT_ONLY),
        ctx=context(recording=recorder),
    )
    assert [(m.role, m.content) for m in recorder.requests[0].messages] == [
        ("user", "You are a helpful assistant")
    ]


async def test_elapsed_is_reported() -> None:
    started = time.monotonic()
    run_, _ = await run(make_action(provider_options={"latency_ms": "30"}))
    elapsed = run_.result.elapsed.ToTimedelta().total_seconds()
    assert 0.03 <= elapsed <= time.monotonic() - started


# -- rendered values ------------------------------------------------------------------


@pytest.mark.parametrize("pasted", [f"{TOKEN} ", f"{TOKEN}\n", f"\t {TOKEN}\r\n"])
async def test_rendered_token_is_trimmed(pasted: str) -> None:
    recorder = RecordingProvider()
    variables = Variables({"api key": text_value(pasted)})
    run_, _ = await run(
        make_action(token="{{api key}}", provider="recording"),
        variables,
        context(recording=recorder),
    )
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert recorder.requests[0].token == TOKEN


A_THIRD = "x" * (64 * 1024 // 3 + 1)  # three of them are one byte too many


@pytest.mark.parametrize(
    ("fields", "what"),
    [
        ({"prompt": "{{a}}{{b}}{{c}}"}, "the prompt"),
        ({"token": "sk-{{a}}{{b}}{{c}}"}, "the token"),
        ({"provider_options": {"style": "{{a}}{{b}}{{c}}"}}, "the provider option style"),
        ({"provider_options": {"odd key!": "{{a}}{{b}}{{c}}"}}, "a provider option"),
    ],
    ids=["prompt", "token", "option", "odd-option-name"],
)
async def test_too_long_after_rendering_is_bad_request(fields: dict[str, Any], what: str) -> None:
    recorder = RecordingProvider()
    variables = Variables({n: text_value(A_THIRD) for n in "abc"})
    variables.set("answer", text_value("previous"))
    run_, variables = await run(
        make_action(provider="recording", **fields), variables, context(recording=recorder)
    )
    assert_failed(run_, ErrorKind.ERROR_KIND_BAD_REQUEST, 0)
    assert run_.result.error == (
        f"BadRequest: {what} is longer than 65536 bytes after filling in variables"
    )
    assert recorder.requests == []
    assert variables.render("answer") == "previous"
    assert A_THIRD not in run_.result.error


async def test_rendered_limit_is_the_servers_text_limit() -> None:
    recorder = RecordingProvider()
    variables = Variables({"a": text_value("12345")})
    ctx = context(Limits(max_text_bytes=10), recording=recorder)
    short = {"provider": "recording", "token": "sk-1"}
    await run(make_action(prompt="{{a}}{{a}}", **short), variables, ctx)
    assert recorder.requests[0].messages[0].content == "1234512345"
    over, _ = await run(make_action(prompt="{{a}}{{a}}!", **short), variables, ctx)
    assert over.result.error == (
        "BadRequest: the prompt is longer than 10 bytes after filling in variables"
    )
    assert len(recorder.requests) == 1


# -- whatever the provider returns, the result serializes --------------------------


class ScriptedProvider:
    """Returns the completion it was given, or raises the error."""

    name = "scripted"

    def __init__(self, completion: Completion | None = None, error: Exception | None = None):
        self.completion = completion
        self.error = error

    async def complete(self, request: CompletionRequest) -> Completion:
        if self.error is not None:
            raise self.error
        assert self.completion is not None
        return self.completion

    async def aclose(self) -> None:
        return None


async def run_scripted(provider: ScriptedProvider) -> ActionRun:
    run_, _ = await run(
        make_action(provider="scripted", model="requested-model"),
        ctx=context(scripted=provider),
    )
    run_.result.SerializeToString()  # the rule: never raises
    for _, value in run_.changes:
        value.SerializeToString()
    return run_


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(2**40, 5, 2**40 + 5), (0, 5, 0)),
        (Usage(2**32 - 1, 0, 2**32 - 1), (2**32 - 1, 0, 2**32 - 1)),
        (Usage(2**32, 1, 2**64), (0, 1, 0)),
        (Usage(-1, 3, -2), (0, 3, 0)),
    ],
    ids=["2**40", "uint32-max", "2**32", "negative"],
)
async def test_usage_that_a_uint32_cannot_hold_counts_zero(
    usage: Usage, expected: tuple[int, int, int]
) -> None:
    run_ = await run_scripted(ScriptedProvider(Completion("ok", usage, "m")))
    got = run_.result.usage
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert (got.prompt_tokens, got.completion_tokens, got.total_tokens) == expected


async def test_lone_surrogates_become_replacement_characters() -> None:
    completion = Completion("a\ud800b\udfff", Usage(), model="gpt-\udc80")
    run_ = await run_scripted(ScriptedProvider(completion))
    assert run_.result.answer == "a\ufffdb\ufffd"
    assert run_.result.model == "gpt-\ufffd"
    assert run_.changes[0] == ("answer", text_value("a\ufffdb\ufffd"))


@pytest.mark.parametrize(
    ("model", "expected"),
    [("m" * 256, "m" * 256), ("m" * 257, "requested-model"), ("m" * 1_000_000, "requested-model")],
    ids=["256", "257", "1M"],
)
async def test_long_model_names_are_not_kept(model: str, expected: str) -> None:
    run_ = await run_scripted(ScriptedProvider(Completion("ok", Usage(), model)))
    assert run_.result.model == expected


async def test_answer_that_is_not_text_is_bad_response() -> None:
    broken = Completion(None, Usage(), "m")  # type: ignore[arg-type]
    run_ = await run_scripted(ScriptedProvider(broken))
    assert_failed(run_, ErrorKind.ERROR_KIND_BAD_RESPONSE, 1)
    assert run_.result.error == "BadResponse: the provider's answer has no text"


async def test_answer_over_the_text_limit_after_replacement_is_bad_response() -> None:
    # A lone surrogate cannot even be measured in UTF-8 before it is replaced.
    text = "\ud800" * (64 * 1024)
    run_ = await run_scripted(ScriptedProvider(Completion(text, Usage(), "m")))
    assert_failed(run_, ErrorKind.ERROR_KIND_BAD_RESPONSE, 1)


async def test_plugin_error_detail_with_surrogates_serializes() -> None:
    run_ = await run_scripted(ScriptedProvider(error=BadRequestError("bad \ud800 thing")))
    assert_failed(run_, ErrorKind.ERROR_KIND_BAD_REQUEST, 1)
    assert run_.result.error == "BadRequest: bad \ufffd thing"


# -- finish_reason, empty answers, cancellation (issue 11) ------------------------


async def test_truncated_answer_succeeds_with_length_in_result_and_variable() -> None:
    action = make_action(
        provider_options={"reply": "half an ans", "finish_reason": "length"},
        finish_reason_variable="why stopped",
    )
    run_, variables = await run(action)
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert run_.result.finish_reason == "length"
    assert variables.get("why stopped") == text_value("length")
    assert variables.get("answer") == text_value("half an ans")


async def test_natural_end_is_stop() -> None:
    run_, _ = await run(make_action())
    assert run_.result.finish_reason == "stop"


@pytest.mark.parametrize("reply", ["", "  \n "])
async def test_empty_answer_is_bad_response(reply: str) -> None:
    action = make_action(
        provider_options={"reply": reply, "finish_reason": "length"},
        finish_reason_variable="why stopped",
    )
    run_, variables = await run(action)
    assert_failed(run_, ErrorKind.ERROR_KIND_BAD_RESPONSE, 1)
    assert run_.result.error == (
        "BadResponse: the provider returned an empty answer (finish reason length)"
    )
    assert run_.result.finish_reason == ""
    assert variables.get("why stopped") is None


async def test_an_odd_finish_reason_from_a_plugin_is_dropped() -> None:
    run_, _ = await run(make_action(provider_options={"finish_reason": "stop\nnow"}))
    assert run_.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert run_.result.finish_reason == ""


class HangingProvider:
    name = "hanging"
    default_model = "hang-1"

    async def complete(self, request: CompletionRequest) -> Completion:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


async def test_a_cancelled_action_is_counted_as_cancelled() -> None:
    ctx = context(hanging=HangingProvider())
    task = asyncio.create_task(run(make_action(provider="hanging"), ctx=ctx))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    counted = ctx.metrics.registry.get_sample_value(
        "botflow_actions_total",
        {"action": "openai", "provider": "hanging", "outcome": "failed", "error_kind": "Cancelled"},
    )
    assert counted == 1
