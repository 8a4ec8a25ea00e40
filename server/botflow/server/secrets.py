"""Which variables of a call are secret (docs/flows.md "Secret variables").

A secret's value renders in templates but is never returned, never put in an
event and never logged. These are secret:

- the variables declared `secret: true`;
- every variable an OpenAI action's `token` template (or a fallback's) names: a key the caller
  sends as a variable must not come back to be stored with the conversation;
- every variable named in the value of a webhook header or query parameter
  that looks secret (`Authorization`, `X-Api-Key`, `?api_key=`, ...; the
  pattern webhooks use to keep such headers from other origins).

The names are those of the whole flow, not of the blocks a run reaches: a
variable is secret or not for the entire call, so a run cannot return it
before the block that makes it secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from botflow.server.blocks.webhook import SECRET_HEADER
from botflow.server.templating import placeholders
from botflow.server.variables import normalize_name
from botflow.v1.actions_pb2 import Action, OpenAIAction, WebhookAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.variables_pb2 import VariableDefinition


def _named(names: Iterable[str]) -> frozenset[str]:
    trimmed = (normalize_name(name) for name in names)
    return frozenset(name for name in trimmed if name)


def declared_secrets(definitions: Iterable[VariableDefinition]) -> frozenset[str]:
    return _named(d.name for d in definitions if d.secret)


def token_secrets(action: OpenAIAction) -> frozenset[str]:
    """Variables in the action's token and in its fallbacks' tokens."""
    tokens = [action.token, *(fallback.token for fallback in action.fallbacks)]
    return _named(name for token in tokens for name in placeholders(token))


def header_secrets(action: WebhookAction) -> frozenset[str]:
    """Variables in secret-looking headers and query parameters."""
    fields = [*action.headers.items(), *action.query.items()]
    return _named(
        name
        for field_name, template in fields
        if SECRET_HEADER.search(field_name)
        for name in placeholders(template)
    )


def _kind_secrets(holder: Block | Action) -> frozenset[str]:
    """The secrets one block or action implies by its kind."""
    kind = holder.WhichOneof("kind")
    if kind == "openai":
        return token_secrets(holder.openai)
    if kind == "webhook":
        return header_secrets(holder.webhook)
    return frozenset()


def secret_names_of_flow(flow: Flow) -> frozenset[str]:
    """The secret names of a RunFlow call: declared, or used by any block."""
    names = set(declared_secrets(flow.variables))
    for block in flow.blocks:
        names |= _kind_secrets(block)
    return frozenset(names)


def secret_names_of_action(
    action: Action, definitions: Iterable[VariableDefinition]
) -> frozenset[str]:
    """The secret names of an ExecuteAction call: declared, or used by the action."""
    return declared_secrets(definitions) | _kind_secrets(action)
