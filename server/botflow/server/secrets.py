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

from collections.abc import Iterable, Sequence

from botflow.server.blocks.webhook import SECRET_HEADER
from botflow.server.templating import placeholders
from botflow.server.variables import normalize_name
from botflow.v1.actions_pb2 import Action, OpenAIAction, WebhookAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.variables_pb2 import VariableDefinition


def _add_names(names: set[str], template: str) -> None:
    """The variables `template` names, into `names`."""
    for name in placeholders(template):
        trimmed = normalize_name(name)
        if trimmed:
            names.add(trimmed)


def _add_declared(names: set[str], definitions: Iterable[VariableDefinition]) -> None:
    for definition in definitions:
        if definition.secret:
            trimmed = normalize_name(definition.name)
            if trimmed:
                names.add(trimmed)


def _add_tokens(names: set[str], action: OpenAIAction) -> None:
    """Variables in the action's token and in its fallbacks' tokens."""
    _add_names(names, action.token)
    for fallback in action.fallbacks[:]:  # a slice: see secret_names_of_flow
        _add_names(names, fallback.token)


def _add_headers(names: set[str], action: WebhookAction) -> None:
    """Variables in secret-looking headers and query parameters."""
    for fields in (action.headers, action.query):
        for field_name, template in fields.items():
            if SECRET_HEADER.search(field_name):
                _add_names(names, template)


def _add_kind(names: set[str], holder: Block | Action) -> None:
    """The secrets one block or action implies by its kind."""
    kind = holder.WhichOneof("kind")
    if kind == "openai":
        _add_tokens(names, holder.openai)
    elif kind == "webhook":
        _add_headers(names, holder.webhook)


def secret_names_of_flow(flow: Flow) -> frozenset[str]:
    """The secret names of a RunFlow call: declared, or used by any block."""
    names: set[str] = set()
    # Over slices: iterating a protobuf repeated field itself ends on an
    # IndexError (it has no __iter__), a microsecond per loop, empty or not.
    _add_declared(names, flow.variables[:])
    for block in flow.blocks[:]:
        _add_kind(names, block)
    return frozenset(names)


def secret_names_of_action(
    action: Action, definitions: Sequence[VariableDefinition]
) -> frozenset[str]:
    """The secret names of an ExecuteAction call: declared, or used by the action."""
    names: set[str] = set()
    _add_declared(names, definitions[:])  # a slice: see secret_names_of_flow
    _add_kind(names, action)
    return frozenset(names)
