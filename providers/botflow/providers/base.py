"""The provider interface: (model, messages, options, token, base_url, timeout)
in, an answer with usage or a typed ProviderError out.

A provider makes one attempt per call. Retries, timeouts and budgets live in
`botflow.providers.retry`, so every provider gets the same policy. What the
server gives a provider is in `botflow.providers.context`; docs/providers.md
walks through writing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from botflow.providers import defaults

Role = Literal["system", "user", "assistant"]
# (option key, what is wrong with its value): reported as a field violation at
# `action.openai.provider_options["<key>"]` before anything runs.
OptionProblem = tuple[str, str]
# Why generation stopped, in one vocabulary for every provider.
FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_CONTENT_FILTER = "content_filter"


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str = field(repr=False)  # message texts are personal data

    def __init__(self, role: Role, content: str) -> None:
        # A frozen dataclass's own __init__ sets each field through
        # object.__setattr__, twice the cost of this, and every history
        # message of every call is one of these.
        fields = self.__dict__
        fields["role"] = role
        fields["content"] = content


@dataclass(frozen=True)
class OutputSchema:
    """A structured answer: one JSON object matching `schema`.

    `schema` is a JSON Schema of an object whose properties are all required
    and that allows no other properties (the shape OpenAI's strict structured
    outputs accept): each property is a string, a number, an array of
    strings, or a string with an `enum`, and may have a `description`.
    `name` is a plain identifier a provider can use as the schema's or tool's
    name. The provider answers with the object as JSON text; the server
    checks it against the fields, so a provider that cannot ask for a schema
    may still answer in JSON.
    """

    name: str
    schema: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class CompletionRequest:
    """One attempt's input. `token` and messages are kept out of repr()."""

    model: str
    messages: tuple[ChatMessage, ...]
    token: str = field(repr=False)
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    options: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Seconds this attempt may take; the retry layer enforces it as well.
    timeout: float = defaults.DEFAULT_ATTEMPT_TIMEOUT
    # 1 for the first attempt; lets scripted providers vary per attempt.
    attempt: int = 1
    # Set when the action names output fields: answer with JSON matching it.
    output_schema: OutputSchema | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    text: str = field(repr=False)
    usage: Usage = Usage()
    model: str = ""
    # FINISH_STOP, FINISH_LENGTH (cut at max_tokens), FINISH_CONTENT_FILTER,
    # another word the provider used, or "" when it said nothing.
    finish_reason: str = ""


@runtime_checkable
class Provider(Protocol):
    """What a provider plugin implements (entry-point group `botflow.providers`).

    The entry point names a class or factory called with one
    `ProviderContext`. Optional members, read with getattr so that a minimal
    provider needs none: `declared_model` on the class (its default model,
    read before it is created), `default_model` on the instance (the model
    used when an action names none; normally `context.default_model`), and
    `check_options(options) -> list[OptionProblem]`, called by the server's
    validation before the action runs.
    """

    name: str

    async def complete(self, request: CompletionRequest) -> Completion:
        """Make one attempt; raise a ProviderError subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release pooled resources when the server stops."""
        ...
