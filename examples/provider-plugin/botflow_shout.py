"""A botflow provider in one file (see docs/providers.md).

`shout` answers the last user message in capitals (or lower case, with the
option `style=lower`), after the `prefix` setting
(`BOTFLOW_PROVIDER_SHOUT_PREFIX`). It makes no network call; a provider that
does would build its client with `context.http_client()`, the only client
that passes the server's egress policy.

The option `fail=refuse` raises BadRequest; `fail=odd` raises an error whose
kind botflow does not know, which the server reports as ProviderError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from botflow.providers.base import (
    FINISH_STOP,
    Completion,
    CompletionRequest,
    OptionProblem,
    Usage,
)
from botflow.providers.context import ProviderContext
from botflow.providers.errors import BadRequestError, ProviderError

STYLES = ("upper", "lower")


class OddError(ProviderError):
    """A kind outside botflow's list: it becomes ProviderError in results."""

    kind: ClassVar[str] = "Exploded"


class ShoutProvider:
    name = "shout"
    # Read by the registry before the provider exists; BOTFLOW_PROVIDER_SHOUT_MODEL wins.
    declared_model = "shout-1"

    def __init__(self, context: ProviderContext) -> None:
        self.default_model = context.default_model
        self.prefix = context.setting("prefix")

    def check_options(self, options: Mapping[str, str]) -> list[OptionProblem]:
        """Called by the server's validation: problems become field violations."""
        if options.get("style", "upper") not in STYLES:
            return [("style", "must be upper or lower")]
        return []

    async def complete(self, request: CompletionRequest) -> Completion:
        failure = request.options.get("fail", "")
        if failure == "refuse":
            raise BadRequestError("the shout provider was told to refuse")
        if failure == "odd":
            raise OddError("something new went wrong")
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        shouted = last.lower() if request.options.get("style") == "lower" else last.upper()
        text = f"{self.prefix}{shouted}"
        words = len(last.split())
        return Completion(
            text=text,
            usage=Usage(words, words, 2 * words),
            model=request.model,
            finish_reason=FINISH_STOP,
        )

    async def aclose(self) -> None:
        return None
