"""The providers an OpenAI action tries, in order: the primary, then each
fallback (docs/rules.md "Fallback providers").

- A fallback's empty fields take the primary's values when its provider is
  the primary's (model, token, base URL, and the whole options map), and the
  provider's defaults otherwise (a different provider has its own token:
  validation requires it).
- The next provider is tried only when the last one ended, after its own
  retries, in Timeout, RateLimited, ProviderError or QuotaExceeded. Any other
  failure (Unauthorized, BadRequest, Blocked, MissingParameter of a token
  that renders empty, ...) ends the chain: it is a mistake in the flow or the
  account, and another provider would hide it.
- Every provider goes through `ActionContext.complete` once, with the
  action's retry policy. With a caller deadline, each provider may use at
  most an equal share of the time left for it and the providers not yet
  tried; what it leaves unused passes on. No provider starts with less than
  the policy's `min_attempt_time` left.
- When every provider tried failed, the action fails with the last one's
  kind and one text naming each provider tried and how it failed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from botflow.providers.base import Completion, CompletionRequest, Provider
from botflow.providers.errors import Kind, ProviderError, kind_of
from botflow.providers.retry import RetryPolicy
from botflow.server.blocks.context import ActionContext
from botflow.server.results import error_text
from botflow.v1.actions_pb2 import OpenAIAction

FALLBACK_KINDS = frozenset(
    {Kind.TIMEOUT, Kind.RATE_LIMITED, Kind.PROVIDER_ERROR, Kind.QUOTA_EXCEEDED}
)


@dataclass(frozen=True)
class Link:
    """One provider of the chain, with the primary's values filled in."""

    index: int  # 0 = the primary, n = the n-th fallback
    provider: str
    model: str
    token: str = field(repr=False)  # a template
    base_url: str
    options: Mapping[str, str] = field(repr=False)  # templates

    @property
    def label(self) -> str:
        where = "primary" if self.index == 0 else f"fallback {self.index}"
        return f"{where} {self.provider}/{self.model}"


def chain_links(
    action: OpenAIAction, primary: str, default_model: Callable[[str], str]
) -> list[Link]:
    """The primary and the fallbacks, in order."""
    model = action.model or default_model(primary)
    links = [Link(0, primary, model, action.token, action.base_url, dict(action.provider_options))]
    for i, fallback in enumerate(action.fallbacks, start=1):
        provider = fallback.provider or primary
        same = provider == primary
        links.append(
            Link(
                index=i,
                provider=provider,
                model=fallback.model or (model if same else default_model(provider)),
                token=fallback.token or (action.token if same else ""),
                base_url=fallback.base_url or (action.base_url if same else ""),
                options=dict(fallback.provider_options)
                or (dict(action.provider_options) if same else {}),
            )
        )
    return links


@dataclass(frozen=True)
class Tried:
    """How one provider of the chain ended."""

    link: Link
    attempts: int
    completion: Completion | None
    error: ProviderError | None

    def text(self) -> str:
        return error_text(self.error, self.attempts) if self.error is not None else ""


@dataclass(frozen=True)
class ChainOutcome:
    tried: list[Tried]
    # Providers not started because the deadline left too little time.
    out_of_time: bool = False

    @property
    def last(self) -> Tried:
        return self.tried[-1]

    @property
    def attempts(self) -> int:
        return sum(t.attempts for t in self.tried)

    @property
    def error(self) -> ProviderError | None:
        """The action's failure (the last provider's), or None when one answered."""
        return self.last.error

    def error_text(self) -> str:
        """The one text of a failed chain: single provider → its own text."""
        if len(self.tried) == 1 and not self.out_of_time:
            return self.last.text()
        assert self.last.error is not None
        parts = "; ".join(f"[{t.link.label}] {t.text()}" for t in self.tried)
        count = len(self.tried)
        head = "the provider failed" if count == 1 else f"{count} providers failed"
        tail = "; no time left for the other fallbacks" if self.out_of_time else ""
        return f"{kind_of(self.last.error).value}: {head}: {parts}{tail}"


# Builds one link's request; raises ProviderError when it cannot be sent
# (a token that renders empty, a value too long after rendering).
Prepare = Callable[[Link], CompletionRequest]
# The registry's provider for a name.
Lookup = Callable[[str], Provider]


async def run_chain(
    links: Sequence[Link],
    prepare: Prepare,
    lookup: Lookup,
    ctx: ActionContext,
    policy: RetryPolicy,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ChainOutcome:
    """Try the links in order until one answers or the chain must stop."""
    tried: list[Tried] = []
    for position, link in enumerate(links):
        if position:
            previous = tried[-1].error
            if previous is None or kind_of(previous) not in FALLBACK_KINDS:
                break
            if not time_for_another(ctx.deadline, policy, clock()):
                return ChainOutcome(tried, out_of_time=True)
        try:
            request = prepare(link)
        except ProviderError as refused:
            tried.append(Tried(link, 0, None, refused))
            continue
        share = share_of(ctx.deadline, len(links) - position, clock())
        scoped = ctx if share == ctx.deadline else dataclasses.replace(ctx, deadline=share)
        outcome = await scoped.complete(lookup(link.provider), request, policy)
        tried.append(Tried(link, outcome.attempts, outcome.completion, outcome.error))
        if outcome.error is None:
            break
    return ChainOutcome(tried)


def time_for_another(deadline: float | None, policy: RetryPolicy, now: float) -> bool:
    return deadline is None or deadline - now >= policy.min_attempt_time


def share_of(deadline: float | None, links_left: int, now: float) -> float | None:
    """The deadline of a provider with `links_left - 1` providers after it:
    an equal share of the time left (the last one gets all of it)."""
    if deadline is None or links_left <= 1:
        return deadline
    return now + max(0.0, deadline - now) / links_left
