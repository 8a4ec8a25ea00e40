"""The fallback chain of the OpenAI action: which provider is tried next,
with which values, and how the providers share the caller's deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from botflow.providers.base import Completion, CompletionRequest, Provider, Usage
from botflow.providers.errors import (
    BadRequestError,
    BadResponseError,
    BlockedError,
    MissingParameterError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from botflow.providers.fake import FakeProvider
from botflow.providers.registry import ProviderRegistry
from botflow.providers.retry import CallOutcome, RetryPolicy
from botflow.server.blocks.context import ActionContext
from botflow.server.blocks.openai_action import run_openai_action
from botflow.server.config import ServerConfig
from botflow.server.fallback_chain import Link, chain_links, run_chain, share_of
from botflow.server.variables import Variables, text_value
from botflow.v1.actions_pb2 import (
    ActionOutcome,
    ErrorKind,
    HistoryMode,
    OpenAIAction,
    ProviderFallback,
)
from botflow.v1.conversation_pb2 import Conversation

POLICY = RetryPolicy(max_attempts=2, attempt_timeout=15.0)


def defaults(provider: str) -> str:
    return f"{provider}-default"


def test_a_fallback_at_the_same_provider_takes_the_primarys_values() -> None:
    action = OpenAIAction(
        token="{{key}}",
        provider="openai",
        model="big",
        base_url="https://a.example/v1",
        provider_options={"deployment": "d1"},
        fallbacks=[
            ProviderFallback(model="small"),
            ProviderFallback(base_url="https://b.example/v1"),
            ProviderFallback(provider="anthropic", token="{{other key}}"),
        ],
    )
    links = chain_links(action, "openai", defaults)
    assert [
        (lk.index, lk.provider, lk.model, lk.token, lk.base_url, lk.options) for lk in links
    ] == [
        (0, "openai", "big", "{{key}}", "https://a.example/v1", {"deployment": "d1"}),
        (1, "openai", "small", "{{key}}", "https://a.example/v1", {"deployment": "d1"}),
        (2, "openai", "big", "{{key}}", "https://b.example/v1", {"deployment": "d1"}),
        (3, "anthropic", "anthropic-default", "{{other key}}", "", {}),
    ]
    assert [lk.label for lk in links] == [
        "primary openai/big",
        "fallback 1 openai/small",
        "fallback 2 openai/big",
        "fallback 3 anthropic/anthropic-default",
    ]


def test_own_options_replace_the_primarys_whole_map() -> None:
    action = OpenAIAction(
        provider="fake",
        provider_options={"fail": "quota", "reply": "a"},
        fallbacks=[ProviderFallback(provider_options={"reply": "b"})],
    )
    assert chain_links(action, "fake", defaults)[1].options == {"reply": "b"}


def test_each_provider_gets_an_equal_share_of_the_time_left() -> None:
    assert share_of(None, 3, 100.0) is None
    assert share_of(130.0, 3, 100.0) == 110.0
    assert share_of(130.0, 2, 110.0) == 120.0
    assert share_of(130.0, 1, 120.0) == 130.0
    assert share_of(99.0, 2, 100.0) == 100.0  # already past: nothing to share


@dataclass(frozen=True)
class ScriptedContext(ActionContext):
    """Answers each provider call from a script and records the deadline the
    call was given, without running anything."""

    outcomes: list[CallOutcome] = field(default_factory=list)
    calls: list[tuple[str, float | None]] = field(default_factory=list)

    async def complete(
        self, provider: Provider, request: CompletionRequest, policy: RetryPolicy
    ) -> CallOutcome:
        self.calls.append((request.model, self.deadline))
        return self.outcomes.pop(0)


def failure(error: ProviderError, attempts: int = 1) -> CallOutcome:
    return CallOutcome(None, error, attempts, 0.0)


def answer(text: str = "ok") -> CallOutcome:
    return CallOutcome(Completion(text=text, usage=Usage(1, 1, 2)), None, 1, 0.0)


def scripted(*outcomes: CallOutcome, deadline: float | None = None) -> ScriptedContext:
    return ScriptedContext(
        config=ServerConfig(providers=("fake",)),
        registry=ProviderRegistry({"fake": FakeProvider()}),
        deadline=deadline,
        outcomes=list(outcomes),
    )


def links(count: int) -> list[Link]:
    return [Link(i, "fake", f"m{i}", "t", "", {}) for i in range(count)]


def prepare(link: Link) -> CompletionRequest:
    return CompletionRequest(model=link.model, messages=(), token="t")


def lookup(name: str) -> Provider:
    return FakeProvider()


async def test_the_deadline_is_shared_and_what_a_provider_leaves_passes_on() -> None:
    # Read once per provider for its share, and before each fallback.
    clock = iter([100.0, 101.0, 101.0, 125.0, 125.0])
    ctx = scripted(
        failure(ProviderTimeoutError("t")),
        failure(QuotaExceededError("q")),
        answer(),
        deadline=130.0,
    )
    outcome = await run_chain(links(3), prepare, lookup, ctx, POLICY, clock=lambda: next(clock))
    # 30 s for three: the primary may use 10; the first fallback (started at
    # 101 with 29 left for two) 14.5; the last one everything that is left.
    assert ctx.calls == [("m0", 110.0), ("m1", 115.5), ("m2", 130.0)]
    assert outcome.error is None
    assert outcome.last.link.index == 2


async def test_without_a_deadline_every_provider_gets_its_whole_policy() -> None:
    ctx = scripted(failure(ServerError("s"), 2), answer())
    await run_chain(links(2), prepare, lookup, ctx, POLICY)
    assert ctx.calls == [("m0", None), ("m1", None)]


async def test_no_provider_starts_when_too_little_time_is_left() -> None:
    clock = iter([100.0, 130.0 - POLICY.min_attempt_time / 2])
    ctx = scripted(failure(RateLimitedError("r"), 2), deadline=130.0)
    outcome = await run_chain(links(3), prepare, lookup, ctx, POLICY, clock=lambda: next(clock))
    assert [m for m, _ in ctx.calls] == ["m0"]
    assert outcome.out_of_time
    assert outcome.error_text() == (
        "RateLimited: the provider failed: [primary fake/m0] RateLimited: r (2 attempts); "
        "no time left for the other fallbacks"
    )


@pytest.mark.parametrize(
    "error",
    [
        ProviderTimeoutError("t"),
        RateLimitedError("r"),
        ServerError("s"),
        ProviderError("p"),
        QuotaExceededError("q"),
    ],
)
async def test_falls_back_after_availability_and_quota_failures(error: ProviderError) -> None:
    ctx = scripted(failure(error), answer())
    outcome = await run_chain(links(2), prepare, lookup, ctx, POLICY)
    assert len(ctx.calls) == 2
    assert outcome.error is None


@pytest.mark.parametrize(
    "error",
    [
        UnauthorizedError("u"),
        BadRequestError("b"),
        BadResponseError("r"),
        BlockedError("x"),
        MissingParameterError("m"),
    ],
)
async def test_does_not_fall_back_after_other_failures(error: ProviderError) -> None:
    ctx = scripted(failure(error), answer())
    outcome = await run_chain(links(2), prepare, lookup, ctx, POLICY)
    assert len(ctx.calls) == 1
    assert outcome.error is error
    assert outcome.error_text() == error.text()  # one provider tried: its own text


async def test_a_fallback_that_cannot_be_prepared_ends_the_chain_without_a_call() -> None:
    def refuse_fallbacks(link: Link) -> CompletionRequest:
        if link.index:
            raise MissingParameterError("the token is empty after filling in variables")
        return prepare(link)

    ctx = scripted(failure(QuotaExceededError("out of quota")), answer())
    outcome = await run_chain(links(3), refuse_fallbacks, lookup, ctx, POLICY)
    assert [m for m, _ in ctx.calls] == ["m0"]
    assert [(t.link.index, t.attempts) for t in outcome.tried] == [(0, 1), (1, 0)]
    assert outcome.attempts == 1
    assert outcome.error_text() == (
        "MissingParameter: 2 providers failed: [primary fake/m0] QuotaExceeded: out of quota; "
        "[fallback 1 fake/m1] MissingParameter: the token is empty after filling in variables"
    )


# -- through the action: secrets, rendering and what is written ----------------------


def action(**fields: Any) -> OpenAIAction:
    base: dict[str, Any] = {
        "token": "{{key}}",
        "prompt": "Be brief.",
        "history": HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        "provider": "fake",
        "answer_variable": "answer",
    }
    return OpenAIAction(**(base | fields))


async def test_a_fallback_token_is_rendered_only_when_the_fallback_is_reached() -> None:
    variables = Variables({"key": text_value("sk-1")})
    ctx = ActionContext(
        config=ServerConfig(providers=("fake",)),
        registry=ProviderRegistry({"fake": FakeProvider()}),
    )
    # The fallback's token renders empty, but the primary answers: no failure.
    run = await run_openai_action(
        action(fallbacks=[ProviderFallback(token="{{missing}}")]), variables, Conversation(), ctx
    )
    assert run.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert [(a.model, a.attempts) for a in run.result.provider_attempts] == [("fake-1", 1)]

    failing = action(
        provider_options={"fail": "quota"}, fallbacks=[ProviderFallback(token="{{missing}}")]
    )
    run = await run_openai_action(failing, variables, Conversation(), ctx)
    assert run.result.error_kind == ErrorKind.ERROR_KIND_MISSING_PARAMETER
    assert [(a.attempts, a.error_kind) for a in run.result.provider_attempts] == [
        (1, ErrorKind.ERROR_KIND_QUOTA_EXCEEDED),
        (0, ErrorKind.ERROR_KIND_MISSING_PARAMETER),
    ]
    assert "sk-1" not in run.result.error
