"""Request validation: every violation at once, before anything runs.

Descriptions name the rule, never the offending value, so a secret typed into
the wrong field cannot come back in an error text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import grpc
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from botflow.server.config import Limits
from botflow.server.defaults import DEFAULT_ERROR_VARIABLE
from botflow.server.json_paths import PathSyntaxError, parse_path
from botflow.server.templating import placeholders
from botflow.server.variables import longer_than
from botflow.v1.actions_pb2 import (
    HistoryMode,
    HttpMethod,
    OpenAIAction,
    OutputType,
    ProviderFallback,
    SetVariableAction,
    SetVariableOperation,
    WebhookAction,
)
from botflow.v1.conversation_pb2 import Conversation, Direction
from botflow.v1.variables_pb2 import Value, VariableDefinition

MAX_TEMPERATURE = 2.0
MAX_FALLBACKS = 3
# Rules of structured answers (docs/rules.md "Structured answers").
MAX_OUTPUT_FIELDS = 32
MAX_CHOICES = 100
MAX_CHOICE_CHARS = 256
OUTPUT_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# Read once: an enum constant's attribute lookup costs microseconds, and
# these are compared for every request (the direction for every message).
_NO_DIRECTION = Direction.DIRECTION_UNSPECIFIED
_NO_HISTORY = HistoryMode.HISTORY_MODE_UNSPECIFIED
_NO_OUTPUT_TYPE = OutputType.OUTPUT_TYPE_UNSPECIFIED
_ONE_OF = OutputType.OUTPUT_TYPE_ONE_OF
_NO_OPERATION = SetVariableOperation.SET_VARIABLE_OPERATION_UNSPECIFIED
_NO_METHOD = HttpMethod.HTTP_METHOD_UNSPECIFIED
_DIRECTIONS = frozenset(Direction.DESCRIPTOR.values_by_number)


def fold_choice(choice: str) -> str:
    """How ONE_OF choices compare: case and surrounding whitespace ignored."""
    return choice.strip().casefold()


@dataclass
class Violations:
    """Collects (field path, description) pairs; paths use proto field names."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, description: str) -> None:
        self.items.append((path, description))

    def __bool__(self) -> bool:
        return bool(self.items)

    def to_status(self) -> grpc.Status:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=path, description=text)
                for path, text in self.items
            ]
        )
        summary = "; ".join(f"{path}: {text}" for path, text in self.items[:5])
        more = f" (and {len(self.items) - 5} more)" if len(self.items) > 5 else ""
        status = status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT,
            message=f"invalid request, {len(self.items)} violation(s): {summary}{more}",
        )
        status.details.add().Pack(bad_request)
        converted: grpc.Status = rpc_status.to_status(status)
        return converted


# (provider name, provider_options) → the provider's (key, problem) pairs.
OptionsCheck = Callable[[str, Mapping[str, str]], list[tuple[str, str]]]


def _no_options_check(provider: str, options: Mapping[str, str]) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class ValidationContext:
    limits: Limits
    enabled_providers: Collection[str]
    default_provider: str
    # Each provider judges its own options (ProviderRegistry.check_options).
    check_options: OptionsCheck = _no_options_check


def key_path(path: str, key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{escaped}"]'


def _check_text(v: Violations, path: str, text: str, limits: Limits) -> None:
    if longer_than(text, limits.max_text_bytes):
        v.add(path, f"longer than the server limit of {limits.max_text_bytes} bytes")


_BLANK_NAME = "a variable name must not be only whitespace"


def check_variable_name(v: Violations, path: str, name: str, *, required: bool) -> None:
    if name and not name.strip():
        v.add(path, _BLANK_NAME)
    elif required and not name:
        v.add(path, "is required")


def check_optional_name(v: Violations, path: str, member: str, name: str) -> None:
    """check_variable_name(required=False) of `path`'s `member`, with the
    path built only when it is reported."""
    if name and not name.strip():
        v.add(f"{path}.{member}", _BLANK_NAME)


def _check_value(v: Violations, path: str, value: Value, limits: Limits) -> None:
    kind = value.WhichOneof("kind")
    if kind == "number" and not math.isfinite(value.number):
        v.add(path, "a number must be finite")
    elif kind == "text":
        _check_text(v, path, value.text, limits)
    elif kind == "list":
        for i, item in enumerate(value.list.items):
            _check_text(v, f"{path}.list.items[{i}]", item, limits)


def _value_fits(value: Value, max_bytes: int) -> bool:
    """Whether _check_value finds nothing: asked first, so that a value's
    path is built only when it has a problem."""
    kind = value.WhichOneof("kind")
    if kind == "number":
        return math.isfinite(value.number)
    if kind == "text":
        return not longer_than(value.text, max_bytes)
    if kind == "list":
        for item in value.list.items:
            if longer_than(item, max_bytes):
                return False
    return True


def check_variables(v: Violations, path: str, values: Mapping[str, Value], limits: Limits) -> None:
    if len(values) > limits.max_variables:
        v.add(path, f"more than the server limit of {limits.max_variables} variables")
    max_bytes = limits.max_text_bytes
    seen: set[str] = set()
    for name in sorted(values):
        trimmed = name.strip()
        value = values[name]
        if not trimmed or trimmed in seen or not _value_fits(value, max_bytes):
            _report_variable(v, key_path(path, name), trimmed, seen, value, limits)
        seen.add(trimmed)


def _report_variable(
    v: Violations, where: str, trimmed: str, seen: set[str], value: Value, limits: Limits
) -> None:
    if not trimmed:
        v.add(where, "a variable name must not be empty")
    elif trimmed in seen:
        v.add(where, "two variable names are equal after trimming whitespace")
    _check_value(v, where, value, limits)


def check_definitions(
    v: Violations, path: str, definitions: Iterable[VariableDefinition], limits: Limits
) -> None:
    max_bytes = limits.max_text_bytes
    seen: set[str] = set()
    for i, definition in enumerate(definitions):
        name = definition.name.strip()
        value = definition.default_value
        if not name or name in seen or not _value_fits(value, max_bytes):
            _report_definition(v, f"{path}[{i}]", name, seen, value, limits)
        seen.add(name)


def _report_definition(
    v: Violations, where: str, name: str, seen: set[str], value: Value, limits: Limits
) -> None:
    if not name:
        v.add(f"{where}.name", "a variable name must not be empty")
    elif name in seen:
        v.add(f"{where}.name", "the variable is declared twice")
    _check_value(v, f"{where}.default_value", value, limits)


def check_conversation(
    v: Violations,
    path: str,
    conversation: Conversation,
    limits: Limits,
    *,
    texts_fit: bool = False,
) -> bool:
    """`texts_fit`: the caller knows every text is within max_text_bytes
    (the whole request is), so none is read for its size.

    Returns whether the conversation's enums are all valid, read along the
    way: then check_enums need not read them again (its `checked`)."""
    messages = conversation.messages
    if len(messages) > limits.max_conversation_messages:
        v.add(
            f"{path}.messages",
            f"more than the server limit of {limits.max_conversation_messages} messages",
        )
        return False
    known = True
    for i, message in enumerate(messages):
        # Paths are built only for a message that has a problem.
        direction = message.direction
        if direction not in _DIRECTIONS:
            known = False
        elif direction == _NO_DIRECTION:
            v.add(f"{path}.messages[{i}].direction", "must be RECEIVED or SENT")
        if not texts_fit and longer_than(message.text, limits.max_text_bytes):
            _check_text(v, f"{path}.messages[{i}].text", message.text, limits)
    return known and _ONLY_DIRECTIONS


def _check_url(v: Violations, path: str, url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed or invalid "[...]" IPv6 host
        valid = False
    if not valid:
        v.add(path, "must be an absolute http or https URL")


def check_openai_action(
    v: Violations, path: str, action: OpenAIAction, ctx: ValidationContext
) -> None:
    limits = ctx.limits
    _check_required_text(v, path, "token", action.token, limits)
    _check_required_text(v, path, "prompt", action.prompt, limits)
    if action.history == _NO_HISTORY:
        v.add(f"{path}.history", "must be set to a HISTORY_MODE_* value")
    check_optional_name(v, path, "answer_variable", action.answer_variable)
    check_optional_name(v, path, "error_variable", action.error_variable)
    provider = action.provider or ctx.default_provider
    if provider not in ctx.enabled_providers:
        enabled = ", ".join(sorted(ctx.enabled_providers))
        v.add(f"{path}.provider", f"unknown or disabled provider; enabled: {enabled}")
    if action.HasField("temperature") and not 0 <= action.temperature <= MAX_TEMPERATURE:
        v.add(f"{path}.temperature", f"must be between 0 and {MAX_TEMPERATURE:g}")
    if action.HasField("max_tokens") and action.max_tokens == 0:
        v.add(f"{path}.max_tokens", "must be at least 1 when set")
    if action.base_url:
        _check_url(v, f"{path}.base_url", action.base_url)
    check_optional_name(v, path, "finish_reason_variable", action.finish_reason_variable)
    if provider in ctx.enabled_providers:
        for key, problem in ctx.check_options(provider, action.provider_options):
            v.add(key_path(f"{path}.provider_options", key), problem)
    if action.outputs:
        _check_outputs(v, path, action, limits)
    if action.fallbacks:
        _check_fallbacks(v, path, action, provider, ctx)


def _check_required_text(v: Violations, path: str, member: str, text: str, limits: Limits) -> None:
    if not text.strip():
        v.add(f"{path}.{member}", "is required")
    _check_member_text(v, path, member, text, limits)


def _check_member_text(v: Violations, path: str, member: str, text: str, limits: Limits) -> None:
    """_check_text of `path`'s `member`, with the path built only when it
    is reported."""
    if longer_than(text, limits.max_text_bytes):
        _check_text(v, f"{path}.{member}", text, limits)


def _check_outputs(v: Violations, path: str, action: OpenAIAction, limits: Limits) -> None:
    if len(action.outputs) > MAX_OUTPUT_FIELDS:
        v.add(f"{path}.outputs", f"at most {MAX_OUTPUT_FIELDS} output fields")
        return
    names: set[str] = set()
    # Variables the action writes itself: an output field must not overwrite them.
    taken = {
        name.strip()
        for name in (action.answer_variable, action.finish_reason_variable)
        if name.strip()
    }
    taken.add(action.error_variable.strip() or DEFAULT_ERROR_VARIABLE)
    for i, output in enumerate(action.outputs):
        where = f"{path}.outputs[{i}]"
        if not OUTPUT_FIELD_NAME.fullmatch(output.name):
            v.add(
                f"{where}.name",
                "must be a letter or '_', then letters, digits or '_', at most 64 characters",
            )
        elif output.name in names:
            v.add(f"{where}.name", "two output fields have the same name")
        names.add(output.name)
        if output.type == _NO_OUTPUT_TYPE:
            v.add(f"{where}.type", "must be set to an OUTPUT_TYPE_* value")
        check_variable_name(v, f"{where}.variable", output.variable, required=True)
        variable = output.variable.strip()
        if variable and variable in taken:
            v.add(
                f"{where}.variable",
                "is already written by this action (another output field, the answer, "
                "error or finish reason variable)",
            )
        taken.add(variable)
        _check_text(v, f"{where}.description", output.description, limits)
        _check_choices(v, where, output.type, output.choices)


def _check_choices(v: Violations, where: str, kind: int, choices: Sequence[str]) -> None:
    if kind != _ONE_OF:
        if choices:
            v.add(f"{where}.choices", "only a ONE_OF field has choices")
        return
    if not choices:
        v.add(f"{where}.choices", "a ONE_OF field needs at least one choice")
    elif len(choices) > MAX_CHOICES:
        v.add(f"{where}.choices", f"at most {MAX_CHOICES} choices")
        return
    seen: set[str] = set()
    for j, choice in enumerate(choices):
        folded = fold_choice(choice)
        if not folded:
            v.add(f"{where}.choices[{j}]", "a choice must not be empty")
        elif len(choice) > MAX_CHOICE_CHARS:
            v.add(f"{where}.choices[{j}]", f"longer than {MAX_CHOICE_CHARS} characters")
        elif folded in seen:
            v.add(
                f"{where}.choices[{j}]",
                "two choices are equal once case and surrounding spaces are ignored",
            )
        seen.add(folded)


def _check_fallbacks(
    v: Violations, path: str, action: OpenAIAction, primary: str, ctx: ValidationContext
) -> None:
    if len(action.fallbacks) > MAX_FALLBACKS:
        v.add(f"{path}.fallbacks", f"at most {MAX_FALLBACKS} fallbacks")
        return
    for i, fallback in enumerate(action.fallbacks):
        _check_fallback(v, f"{path}.fallbacks[{i}]", fallback, primary, ctx)


def _check_fallback(
    v: Violations, where: str, fallback: ProviderFallback, primary: str, ctx: ValidationContext
) -> None:
    provider = fallback.provider or primary
    same = provider == primary
    if provider not in ctx.enabled_providers:
        enabled = ", ".join(sorted(ctx.enabled_providers))
        v.add(f"{where}.provider", f"unknown or disabled provider; enabled: {enabled}")
    if fallback.token and not fallback.token.strip():
        v.add(f"{where}.token", "must not be only whitespace")
    elif not same and not fallback.token:
        v.add(f"{where}.token", "is required when the provider differs from the action's")
    _check_text(v, f"{where}.token", fallback.token, ctx.limits)
    _check_text(v, f"{where}.model", fallback.model, ctx.limits)
    if fallback.base_url:
        _check_url(v, f"{where}.base_url", fallback.base_url)
    if same and not (
        fallback.model or fallback.token or fallback.base_url or fallback.provider_options
    ):
        v.add(where, "repeats the action's own provider: set a model, token, base_url or options")
    if provider in ctx.enabled_providers:
        for key, problem in ctx.check_options(provider, fallback.provider_options):
            v.add(key_path(f"{where}.provider_options", key), problem)


def check_set_variable(v: Violations, path: str, action: SetVariableAction) -> None:
    variable = action.variable
    if not variable.strip():  # the path is built only for a problem
        check_variable_name(v, f"{path}.variable", variable, required=True)
    if action.operation == _NO_OPERATION:
        v.add(f"{path}.operation", "must be set to a SET_VARIABLE_OPERATION_* value")


# RFC 9110 token characters: what a header name may be made of.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_webhook_action(v: Violations, path: str, action: WebhookAction, limits: Limits) -> None:
    if action.method == _NO_METHOD:
        v.add(f"{path}.method", "must be set to an HTTP_METHOD_* value")
    if not action.url.strip():
        v.add(f"{path}.url", "is required")
    elif not placeholders(action.url):
        _check_url(v, f"{path}.url", action.url.strip())
    _check_member_text(v, path, "url", action.url, limits)
    _check_member_text(v, path, "body", action.body, limits)
    for name in sorted(action.headers):
        if not HEADER_NAME.fullmatch(name.strip()):
            v.add(key_path(f"{path}.headers", name), "is not a valid HTTP header name")
    for i, mapping in enumerate(action.response_mappings):
        where = f"{path}.response_mappings[{i}]"
        try:
            parse_path(mapping.path)
        except PathSyntaxError as error:
            v.add(f"{where}.path", str(error))
        check_variable_name(v, f"{where}.variable", mapping.variable, required=True)
    check_optional_name(v, path, "error_variable", action.error_variable)


def _reaches_enum(descriptor: Descriptor, seen: frozenset[str] = frozenset()) -> bool:
    """Whether a message of this type can hold an enum field at any depth."""
    if descriptor.full_name in seen:
        return False
    for f in descriptor.fields:
        if f.enum_type is not None:
            return True
        if f.message_type is not None and _reaches_enum(
            f.message_type, seen | {descriptor.full_name}
        ):
            return True
    return False


@functools.cache
def _enum_fields(descriptor: Descriptor) -> tuple[FieldDescriptor, ...]:
    """The fields worth walking for enums: enums, and messages that hold some."""
    return tuple(
        f
        for f in descriptor.fields
        if f.enum_type is not None or (f.message_type is not None and _reaches_enum(f.message_type))
    )


def _enum_prefix(enum: EnumDescriptor) -> str:
    return enum.values_by_number[0].name.removesuffix("UNSPECIFIED")


def _check_enum(v: Violations, path: str, enum: EnumDescriptor, number: int) -> None:
    if number not in enum.values_by_number:
        v.add(path, f"is not a known {_enum_prefix(enum)}* value")


def check_enums(
    v: Violations, message: Message, path: str = "", *, checked: frozenset[str] = frozenset()
) -> None:
    """Every enum field at any depth holds a number its enum defines. Proto3
    enums are open, so a client can send 99; no code past validation sees it.

    `checked`: fields of `message` whose enums the caller has found valid
    already (check_conversation's answer), not read a second time."""
    if not _steps_valid(message, _plan_without(message.DESCRIPTOR, checked)):
        _report_enums(v, message, path)


@functools.cache
def _plan_without(descriptor: Descriptor, checked: frozenset[str]) -> tuple[_EnumStep, ...]:
    return tuple(step for step in _enum_plan(descriptor) if step.name not in checked)


@dataclass(frozen=True)
class _EnumStep:
    """How _enums_valid reads one field, worked out once per message type."""

    name: str
    # "map" (its values), "many" (repeated), "one" (a scalar enum),
    # "message" (a singular message, read only when set) or "oneof" (`name`
    # is a oneof: only its set member is read, one of `members`).
    shape: str
    # The numbers the enum defines when the items are enums; None: messages.
    allowed: frozenset[int] | None
    # Messages whose enums are all plain fields of their own (a
    # conversation's messages): those fields' names and numbers, checked
    # without recursion.
    flat: tuple[tuple[str, frozenset[int]], ...] | None = None
    # For "oneof": the steps of its members that hold enums, by member name.
    members: Mapping[str, _EnumStep] | None = None


# The message types _enum_plan is working out, for types that hold themselves.
_PLANNING: set[str] = set()


@functools.cache
def _enum_plan(descriptor: Descriptor) -> tuple[_EnumStep, ...]:
    _PLANNING.add(descriptor.full_name)
    try:
        return _grouped(_planned(descriptor), descriptor)
    finally:
        _PLANNING.discard(descriptor.full_name)


def _planned(descriptor: Descriptor) -> list[_EnumStep]:
    steps = []
    for member in _enum_fields(descriptor):
        items = member
        if member.message_type is not None and member.message_type.GetOptions().map_entry:
            shape, items = "map", member.message_type.fields_by_name["value"]
        elif member.is_repeated:
            shape = "many"
        else:
            shape = "one" if member.message_type is None else "message"
        if items.enum_type is not None:
            steps.append(_EnumStep(member.name, shape, frozenset(items.enum_type.values_by_number)))
            continue
        flat, child = None, items.message_type
        assert child is not None, "_enum_fields keeps only enums and messages"
        if child.full_name not in _PLANNING:  # a type that holds itself
            flat = _flat(_enum_plan(child))
        steps.append(_EnumStep(member.name, shape, None, flat))
    return steps


def _flat(plan: tuple[_EnumStep, ...]) -> tuple[tuple[str, frozenset[int]], ...] | None:
    """A plan of scalar enums only, as (name, numbers) pairs; else None."""
    fields = []
    for step in plan:
        if step.shape != "one" or step.allowed is None:
            return None
        fields.append((step.name, step.allowed))
    return tuple(fields)


def _grouped(steps: list[_EnumStep], descriptor: Descriptor) -> tuple[_EnumStep, ...]:
    """The singular messages of a oneof as one step: one WhichOneof instead
    of a HasField per member (a block's kind has four that hold enums)."""
    oneofs: dict[str, dict[str, _EnumStep]] = {}
    grouped: list[_EnumStep] = []
    for step in steps:
        oneof = descriptor.fields_by_name[step.name].containing_oneof
        if step.shape != "message" or oneof is None:
            grouped.append(step)
            continue
        if oneof.name not in oneofs:
            oneofs[oneof.name] = {}
            grouped.append(_EnumStep(oneof.name, "oneof", None, members=oneofs[oneof.name]))
        oneofs[oneof.name][step.name] = step
    return tuple(grouped)


def _enums_valid(message: Message) -> bool:
    return _steps_valid(message, _enum_plan(message.DESCRIPTOR))


def _steps_valid(message: Message, plan: tuple[_EnumStep, ...]) -> bool:
    """check_enums' question without building a path per field: the answer
    for nearly every request, so the paths are built only for a bad one."""
    for step in plan:
        shape = step.shape
        if shape == "one":
            assert step.allowed is not None
            if getattr(message, step.name) not in step.allowed:
                return False
        elif shape == "oneof":
            assert step.members is not None
            chosen = step.members.get(message.WhichOneof(step.name) or "")
            if chosen is not None and not _message_valid(chosen, getattr(message, chosen.name)):
                return False
        elif shape == "message":
            if message.HasField(step.name) and not _message_valid(
                step, getattr(message, step.name)
            ):
                return False
        else:
            items = getattr(message, step.name)
            if not _items_valid(step, items.values() if shape == "map" else items):
                return False
    return True


def _message_valid(step: _EnumStep, message: Message) -> bool:
    """One message of a step's field."""
    if step.flat is None:
        return _enums_valid(message)
    for name, allowed in step.flat:  # noqa: SIM110 (a loop: see _items_valid)
        if getattr(message, name) not in allowed:
            return False
    return True


def _items_valid(step: _EnumStep, items: Iterable[Any]) -> bool:
    """The items of a repeated field or a map: enums or messages."""
    if step.allowed is not None:
        return step.allowed.issuperset(items)
    # Loops, not all() over generators, and no call per flat item: most
    # fields hold a few items, a conversation's messages a few dozen.
    if step.flat is not None:
        for item in items:
            for name, allowed in step.flat:
                if getattr(item, name) not in allowed:
                    return False
        return True
    for item in items:  # noqa: SIM110
        if not _enums_valid(item):
            return False
    return True


def _report_enums(v: Violations, message: Message, path: str) -> None:
    for member in _enum_fields(message.DESCRIPTOR):
        where = f"{path}.{member.name}" if path else member.name
        value = getattr(message, member.name)
        if member.message_type is not None and member.message_type.GetOptions().map_entry:
            value_field = member.message_type.fields_by_name["value"]
            for key in sorted(value):
                _check_member(v, key_path(where, str(key)), value_field, value[key])
        elif member.is_repeated:
            for i, item in enumerate(value):
                _check_member(v, f"{where}[{i}]", member, item)
        elif member.message_type is None or message.HasField(member.name):
            _check_member(v, where, member, value)


def _check_member(v: Violations, path: str, member: FieldDescriptor, value: Any) -> None:
    if member.enum_type is not None:
        _check_enum(v, path, member.enum_type, value)
    else:
        _report_enums(v, value, path)


# check_conversation reads every message's direction: that covers all of a
# conversation's enums as long as they are only those directions.
_ONLY_DIRECTIONS = _enum_plan(Conversation.DESCRIPTOR) == (
    _EnumStep("messages", "many", None, (("direction", _DIRECTIONS),)),
)
