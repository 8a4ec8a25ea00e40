"""Hypothesis strategies for botflow requests and for hostile upstream answers.

Two families of requests:

- `from_descriptor` walks a message descriptor and fills every field with
  adversarial values of its type (open enums get unknown numbers, doubles get
  NaN, strings get control characters and 80 KiB runs, …). A few field names
  draw from small pools as well (block ids, variable names, providers, URLs)
  so that some of these random requests get past validation.
- `execute_action_requests` / `run_flow_requests` build requests that are
  mostly valid, so the blocks themselves run: flows whose targets exist, loops,
  variables that templates reference, the fake provider, webhooks and the
  OpenAI provider pointed at the hostile loopback servers.

Strings that stand for things only known at run time are placeholders (see
`SLOTS`), filled in by `fill_slots` right before the call. They are built by
concatenation so that hypothesis, which mines string constants from local
source files, never proposes a placeholder in a field that should not hold one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from botflow.v1.actions_pb2 import (
    Action,
    HistoryMode,
    HttpMethod,
    OpenAIAction,
    ResponseMapping,
    SetVariableAction,
    SetVariableOperation,
    WebhookAction,
)
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.conversation_pb2 import Message as ChatMessage
from botflow.v1.flow_pb2 import (
    AddNoteBlock,
    Block,
    ChoiceBlock,
    ChoiceBranch,
    Condition,
    ConditionOperator,
    Flow,
    JumpToBlock,
    RestartBotBlock,
    SendMessageBlock,
    WaitUserAnswerBlock,
)
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, Resume, RunFlowRequest
from botflow.v1.variables_pb2 import TextList, Value, VariableDefinition
from tests.property.hostile import SELF, TOKEN, Answer, Encoding

M = TypeVar("M", bound=Message)


def _slot(name: str) -> str:
    return "@" + name + "@"


# Run-time values: the webhook script's base ("127.0.0.1:PORT/s/<n>"), the
# OpenAI script's, and the example's secret token.
HOOK = _slot("HOOK")
LLM = _slot("LLM")
SECRET = _slot("SECRET")
SLOTS = (HOOK, LLM, SECRET)


def fill_slots(message: M, values: dict[str, str]) -> M:
    """A copy of `message` with every placeholder in every string replaced."""
    filled = type(message)()
    filled.CopyFrom(message)
    _fill(filled, values)
    return filled


def _replace(text: str, values: dict[str, str]) -> str:
    for slot, value in values.items():
        if slot in text:
            text = text.replace(slot, value)
    return text


def _fill(message: Message, values: dict[str, str]) -> None:
    for field, value in message.ListFields():
        if _is_map(field):
            value_field = _entry(field, "value")
            items = list(value.items())
            value.clear()
            for key, item in items:
                key = _replace(key, values) if isinstance(key, str) else key
                if value_field.message_type is not None:
                    _fill(item, values)
                    value[key].CopyFrom(item)
                else:
                    value[key] = _replace(item, values) if isinstance(item, str) else item
        elif field.is_repeated:
            if field.message_type is not None:
                for item in value:
                    _fill(item, values)
            elif field.type == FieldDescriptor.TYPE_STRING:
                value[:] = [_replace(item, values) for item in value]
        elif field.message_type is not None:
            _fill(value, values)
        elif field.type == FieldDescriptor.TYPE_STRING:
            setattr(message, field.name, _replace(value, values))


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _entry(field: FieldDescriptor, name: str) -> FieldDescriptor:
    """The key or value field of a map field's entry type."""
    entry = field.message_type
    assert entry is not None, f"{field.name} is not a map"
    return entry.fields_by_name[name]


# -- scalar values --------------------------------------------------------------

# Surrogates cannot be sent (protobuf strings are UTF-8); everything else can.
_CHARS = st.characters(codec="utf-8")
_ODD_CHARS = st.sampled_from(
    [
        "\x00",
        "\x01",
        "\t",
        "\n",
        "\r",
        "\x1b",
        "\x7f",
        "\x85",
        "\u2028",
        "\u2029",
        "\ufeff",
        "\u200b",
        "\u202e",
        "\ufffd",
        "\U0001f600",
        "\U0010ffff",
        "é",
        "ß",
        "İ",
        "\u0301",
    ]
)
_TEMPLATE_BITS = [
    "{{",
    "}}",
    "{{x}}",
    "{{ x }}",
    "{{{{x}}}}",
    "{{}}",
    "{{last webhook failure}}",
    "{{items}}",
    "{{n}}",
    "{x}",
    "{{ }}",
    "{{\n}}",
    "{{é}}",
]
INTERESTING_TEXTS = [
    "",
    " ",
    "  \t\n ",
    "0",
    "-0",
    "1",
    "-1",
    "2.5",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "inf",
    "Infinity",
    "0x10",
    " 3 ",
    "1_000",
    "١٢٣",
    "true",
    "null",
    "[]",
    "{}",
    '{"a": 1}',
    "[*]",
    "a.b[0]",
    "products[*].title",
    "..",
    "a[",
    "a[-1]",
    "a[99999999999999999999]",
    "\x00",
    "\r\n",
    "é",
    "😀",
    "\U0010ffff",
    "\ufeff{}",
    "%00",
    "%zz",
    "../../etc/passwd",
    *_TEMPLATE_BITS,
]


def _long_text(draw: st.DrawFn) -> str:
    """Runs around the server's 64 KiB text limit (in UTF-8 bytes), up to 80 KiB."""
    unit = draw(st.sampled_from(["a", "é", "😀", "{{x}}", " ", "\x00"]))
    size = len(unit.encode())
    target = draw(st.sampled_from([1024, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 80 * 1024]))
    return unit * max(1, target // size)


@st.composite
def texts(draw: st.DrawFn, long: bool = True) -> str:
    """Any string botflow may receive. The rare kinds sit mid-list because
    sampled_from favours its ends."""
    kind = draw(
        st.sampled_from(
            [
                "short",
                "interesting",
                "odd",
                "astral",
                "template",
                "long",
                "short",
                "mixed",
                "whitespace",
                "short",
            ]
        )
    )
    if kind == "long" and long:
        return _long_text(draw)
    if kind == "interesting":
        return draw(st.sampled_from(INTERESTING_TEXTS))
    if kind == "odd":
        return "".join(draw(st.lists(_ODD_CHARS, min_size=1, max_size=6)))
    if kind == "astral":
        return draw(st.text(st.characters(min_codepoint=0x10000, codec="utf-8"), max_size=6))
    if kind == "template":
        return template(draw)
    if kind == "whitespace":
        return "".join(draw(st.lists(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u3000"), max_size=5)))
    if kind == "mixed":
        return "".join(
            draw(st.lists(st.one_of(st.text(_CHARS, max_size=5), _ODD_CHARS), max_size=4))
        )
    return draw(st.text(_CHARS, max_size=16))


# Variable names that templates, mappings and set_variable refer to, so that
# values flow from block to block. " x" trims to "x": a duplicate in a map.
NAMES = ["x", "n", "items", "answer", "last webhook failure", "err", "é名", "a b", " x", "k"]


def template(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(NAMES).map(lambda n: "{{" + n + "}}"),
                st.text(_CHARS, max_size=6),
                st.sampled_from(_TEMPLATE_BITS),
            ),
            max_size=4,
        )
    )
    return "".join(parts)


@st.composite
def templates(draw: st.DrawFn) -> str:
    return template(draw)


def _floats() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(
            [
                math.nan,
                math.inf,
                -math.inf,
                1e308,
                -1e308,
                5e-324,
                -0.0,
                0.0,
                2.0,
                2.0000001,
                float(2**53 + 1),
                1e16,
                -1.0,
                3.0,
            ]
        ),
    )


_INT_RANGES: dict[int, tuple[int, int]] = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [v for v in (low, high, 0, 1, 2, 3, 5, 50, 200, 1000, 65535, 65536) if low <= v <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high), st.integers(0, 20))


def _enum_numbers(field: FieldDescriptor) -> st.SearchStrategy[int]:
    assert field.enum_type is not None
    known = sorted(field.enum_type.values_by_number)
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known),
        st.sampled_from([99, -1, max(known) + 1, 2**31 - 1, -(2**31)]),
    )


# -- hints by field name: pools that make random requests partly meaningful -----

BLOCK_IDS = ["a", "b", "c", ""]
_ID_FIELDS = {"id", "next", "block_id", "start_block_id", "fallback_next", "timeout_next"}
_NAME_FIELDS = {"variable", "answer_variable", "error_variable", "name"}
JSON_PATHS = [
    "name",
    "products[0].title",
    "products[*].title",
    "a.b",
    "a[1]",
    "[0]",
    "x y",
    "a",
    "a.b.c",
    "products[*]",
    "[*].a",
    "products[-1]",
    "é",
    " name ",
]


def secret_tokens() -> st.SearchStrategy[str]:
    """Token fields: the literal secret (bare, padded, with a newline, non-ASCII,
    as a header value), or a template whose value would not be literal."""
    return st.sampled_from(
        [
            SECRET,
            SECRET,
            SECRET + "\n",
            " " + SECRET + " ",
            SECRET + "é",
            "Bearer " + SECRET,
            SECRET + "\r\n",
            "{{k}}",
            "",
            "   ",
        ]
    )


# The tokens validation accepts (not blank).
_PRESENT_TOKENS = [
    SECRET,
    SECRET + "\n",
    " " + SECRET + " ",
    SECRET + "é",
    "Bearer " + SECRET,
    SECRET + "\r\n",
    "{{k}}",
    SECRET,
]


def base_urls() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "http://" + LLM + "/v1",
            "http://" + LLM + "/v1",
            "http://" + LLM + "/v1",
            "",
            "http://10.0.0.1/v1",
            "http://169.254.169.254/latest",
            "http://127.0.0.1:1/v1",
            "http://[::1]:1/v1",
            "http://127.0.0.2/v1",
            "ftp://127.0.0.1/v1",
            "http://",
            "http://127.0.0.1:70000/v1",
            "http://" + "a" * 70 + ".invalid/v1",
            "http://[::1/v1",
            "http://" + LLM + "/v1?x=1#f",
            "HTTP://" + LLM + "/V1",
            "http://" + LLM,
            "http://user:pass@" + LLM + "/v1",
            "http://localhost:1/v1",
            "{{x}}",
        ]
    )


def webhook_urls() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "http://" + HOOK + "/hook",
            "http://" + HOOK + "/hook",
            "http://" + HOOK + "/h?q={{x}}",
            "http://" + HOOK + "/{{x}}",
            "http://" + HOOK + "/é/😀",
            "http://" + HOOK,
            "http://" + HOOK + "/a%zz",
            "http://" + HOOK + "/hook#frag",
            "{{x}}",
            "http:///x",
            "http://10.0.0.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:1/x",
            "http://[::1]:1/x",
            "http://127.0.0.1:70000/x",
            "http://" + "a" * 70 + ".invalid/",
            "http://0x7f000001:1/",
            "http://localhost:1/x",
            "file:///etc/passwd",
            "http://[",
            "  http://" + HOOK + "/hook  ",
            "http://" + HOOK + "/" + "p" * 9000,
            "https://" + HOOK,
        ]
    )


_HINTS: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "provider": lambda: st.sampled_from(["fake", "openai", "", "FAKE", "nope"]),
    "token": secret_tokens,
    "base_url": base_urls,
    "url": webhook_urls,
    "path": lambda: st.sampled_from(JSON_PATHS),
    "model": lambda: st.sampled_from(["", "gpt-4o-mini", "m\x00", "é"]),
}


def _string_field(field: FieldDescriptor) -> st.SearchStrategy[str]:
    hint: st.SearchStrategy[str] | None = None
    if field.name in _HINTS:
        hint = _HINTS[field.name]()
    elif field.name in _ID_FIELDS:
        hint = st.sampled_from(BLOCK_IDS)
    elif field.name in _NAME_FIELDS:
        hint = st.sampled_from(NAMES)
    if hint is None:
        return texts()
    return st.one_of(hint, hint, texts())


# -- messages from descriptors ----------------------------------------------------

MAX_DEPTH = 6


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _string_field(field)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=32)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return _floats()
    if kind == FieldDescriptor.TYPE_ENUM:
        return _enum_numbers(field)
    low, high = _INT_RANGES[kind]
    return _ints(low, high)


def _map_entries(field: FieldDescriptor, depth: int) -> st.SearchStrategy[dict[Any, Any]]:
    key_field = _entry(field, "key")
    value_field = _entry(field, "value")
    keys: st.SearchStrategy[Any]
    if key_field.type == FieldDescriptor.TYPE_STRING:
        pool = ["fail", "latency_ms", "reply", "Authorization", "X-Api-Key", "Content-Type", "q"]
        keys = st.one_of(st.sampled_from(NAMES + pool), texts(long=False))
    else:
        keys = _scalar(key_field)
    values = _value_of(value_field, depth + 1)
    return st.dictionaries(keys, values, max_size=4)


def _value_of(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None:
        return from_descriptor(field.message_type, depth)
    entry = field.containing_type
    if field.name == "value" and entry is not None and entry.GetOptions().map_entry:
        # provider_options values: the fake provider's scripts, and headers
        return st.one_of(
            texts(),
            st.sampled_from(
                [
                    "timeout",
                    "rate_limit,ok",
                    "server_error,server_error",
                    "ok",
                    "bogus",
                    "5",
                    "-5",
                    "nan",
                    "inf",
                    "1e9",
                    "abc",
                    "Bearer " + SECRET,
                    "0.5",
                ]
            ),
        )
    return _scalar(field)


def _field_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if _is_map(field):
        return _map_entries(field, depth)
    element = _value_of(field, depth)
    if field.is_repeated:
        # A few long lists, mostly short ones: long lists of messages are slow.
        top = 40 if field.message_type is None else 6
        return st.one_of(st.lists(element, max_size=3), st.lists(element, max_size=top))
    return element


def _set(message: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    if _is_map(field):
        value_field = _entry(field, "value")
        for key, item in value.items():
            if value_field.message_type is not None:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.is_repeated:
        if field.message_type is not None:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(message, field.name, value)


def _is_synthetic_oneof(field: FieldDescriptor) -> bool:
    oneof = field.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and oneof.name == "_" + field.name


_CACHE: dict[tuple[str, int], st.SearchStrategy[Any]] = {}


def from_descriptor(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    """Messages of `descriptor`'s type with any field set to any value of its type
    (or left unset), one member per oneof, nested messages up to MAX_DEPTH."""
    key = (descriptor.full_name, depth)
    if key not in _CACHE:
        _CACHE[key] = st.deferred(lambda: _build(descriptor, depth))
    return _CACHE[key]


def _tagged(field: FieldDescriptor) -> Callable[[Any], list[tuple[FieldDescriptor, Any]]]:
    return lambda value: [(field, value)]


def _build(descriptor: Descriptor, depth: int) -> st.SearchStrategy[Any]:
    cls = GetMessageClass(descriptor)
    if depth >= MAX_DEPTH:
        return st.just(cls())
    plain = [f for f in descriptor.fields if f.containing_oneof is None or _is_synthetic_oneof(f)]
    parts: list[st.SearchStrategy[list[tuple[FieldDescriptor, Any]]]] = []
    for f in plain:
        parts.append(st.one_of(st.just([]), _field_values(f, depth + 1).map(_tagged(f))))
    for oneof in descriptor.oneofs:
        members = [f for f in oneof.fields if not _is_synthetic_oneof(f)]
        if not members:
            continue
        choices: list[st.SearchStrategy[list[tuple[FieldDescriptor, Any]]]] = [st.just([])]
        choices += [_field_values(f, depth + 1).map(_tagged(f)) for f in members]
        parts.append(st.one_of(choices))

    def assemble(chosen: Sequence[list[tuple[FieldDescriptor, Any]]]) -> Message:
        message = cls()
        for pairs in chosen:
            for f, v in pairs:
                _set(message, f, v)
        return message

    return st.tuples(*parts).map(assemble)


# -- realistic requests -------------------------------------------------------------
#
# Each example first draws whether it means to be valid. A valid one draws
# every part from values the server accepts, so most examples run their blocks;
# the others draw from wider pools (blank names, unknown enums, NaN, targets
# that name nothing, …) and mostly exercise validation.

# Distinct after trimming, none blank.
VALID_NAMES = [n for n in NAMES if n.strip() and n == n.strip()]


def _validity() -> st.SearchStrategy[bool]:
    return st.sampled_from([True, True, False, True, True])


def _names(valid: bool, *, blank: bool = True) -> st.SearchStrategy[str]:
    pool = VALID_NAMES if valid else [*NAMES, "", "  "]
    return st.sampled_from([*pool, ""] if blank else pool)


def numbers() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e308, -1e308, 5e-324, float(2**53 + 1)]),
        st.integers(-1000, 1000).map(float),
    )


@st.composite
def values(draw: st.DrawFn, valid: bool = True) -> Value:
    kinds = ["text", "number", "list", "empty", "text", "url", "number"]
    kind = draw(st.sampled_from(kinds if valid else [*kinds, "bad_number"]))
    if kind == "url":
        # Templated URLs ("{{x}}") are only checked when they render, at run time.
        return Value(text=draw(st.one_of(webhook_urls(), base_urls())))
    if kind == "text":
        return Value(text=draw(texts(long=not valid)))
    if kind == "number":
        return Value(number=draw(numbers()))
    if kind == "bad_number":
        return Value(number=draw(st.sampled_from([math.nan, math.inf, -math.inf])))
    if kind == "list":
        return Value(list=TextList(items=draw(st.lists(texts(long=False), max_size=5))))
    return Value()


def variable_maps(valid: bool = True) -> st.SearchStrategy[dict[str, Value]]:
    return st.dictionaries(_names(valid, blank=not valid), values(valid), max_size=5)


@st.composite
def definitions(draw: st.DrawFn, valid: bool = True) -> list[VariableDefinition]:
    names = draw(st.lists(_names(valid, blank=not valid), max_size=4, unique=valid))
    return [
        VariableDefinition(
            name=name,
            default_value=draw(values(valid)),
            secret=draw(st.booleans()),
        )
        for name in names
    ]


@st.composite
def conversations(draw: st.DrawFn, valid: bool = True) -> Conversation:
    sessions = ["", "s1", "s2", "é"]
    directions: list[Any] = [1, 2] if valid else [1, 2, 0, 99, -1]
    messages = [
        ChatMessage(
            direction=draw(st.sampled_from(directions)),
            text=draw(texts(long=not valid)),
            bot_session_id=draw(st.sampled_from(sessions)),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    return Conversation(messages=messages, current_bot_session_id=draw(st.sampled_from(sessions)))


def _enum(enum_values: Sequence[int], valid: bool) -> st.SearchStrategy[Any]:
    """Known values; unless `valid`, also unspecified (0) and unknown numbers."""
    known = [v for v in enum_values if v != 0]
    return st.sampled_from(known if valid else [*known, 0, 99, -1])


def _fake_options(valid: bool) -> st.SearchStrategy[dict[str, str]]:
    scripts = [
        "timeout",
        "rate_limit,ok",
        "server_error",
        "ok",
        "quota",
        "unauthorized",
        "bad_request",
        "",
        "rate_limit, RATE_LIMIT ,ok",
    ]
    # Validation does not read latency_ms: odd ones are valid requests. "nan"
    # is left to test_deadlines.py, on a server of its own: it corrupts the
    # event loop's timers, which would stall every later example here.
    latencies = ["0", "5", "20", "", " 5 ", "-5", "inf", "1e9", "abc", "0x10", "1e-400"]
    odd = ["bogus", "-5", "inf", "1e9", "abc", "0x10", "1e-400"]
    if not valid:
        scripts, latencies = scripts + odd, latencies + odd
    return st.fixed_dictionaries(
        {},
        optional={
            "reply": st.one_of(texts(long=False), templates()),
            "latency_ms": st.sampled_from(latencies),
            "fail": st.sampled_from(scripts),
            "other": texts(long=False),
        },
    )


@st.composite
def openai_actions(draw: st.DrawFn, valid: bool = True) -> OpenAIAction:
    providers = ["fake", "fake", "openai", "openai", ""]
    provider = draw(st.sampled_from(providers if valid else [*providers, "nope", "FAKE"]))
    tokens = secret_tokens() if not valid else st.sampled_from(_PRESENT_TOKENS)
    action = OpenAIAction(
        token=draw(tokens),
        prompt=draw(st.one_of(st.just("Be brief."), texts(long=not valid))),
        history=draw(_enum(HistoryMode.values(), valid)),
        answer_variable=draw(_names(valid)),
        error_variable=draw(_names(valid)),
        model=draw(st.sampled_from(["", "", "gpt-4o-mini", "é"])),
        provider=provider,
        timeout_ms=draw(st.sampled_from([100, 300, 1000, 2000, 0])),
        # More than two attempts against a failing stub costs seconds of backoff.
        max_attempts=draw(st.sampled_from([1, 1, 2, 1, 0])),
        max_history_messages=draw(st.sampled_from([0, 1, 3, 500, 2**32 - 1])),
    )
    if not action.prompt.strip():
        action.prompt = "Be brief." if valid else action.prompt
    if provider != "fake":
        action.base_url = draw(base_urls())
    if draw(st.booleans()):
        temperatures = [0.0, 0.7, 2.0, 5e-324]
        action.temperature = draw(
            st.sampled_from(temperatures if valid else [*temperatures, 2.1, -0.1, math.nan])
        )
    if draw(st.booleans()):
        action.max_tokens = draw(st.sampled_from([1, 16, 2**32 - 1] if valid else [0, 1]))
    action.provider_options.update(draw(_fake_options(valid)))
    if action.provider_options.get("latency_ms") in ("nan", "inf", "1e9"):
        # Never answers: only the attempt timeout ends it, keep that short.
        action.timeout_ms, action.max_attempts = 100, 1
    return action


_HEADER_NAMES = [
    "Authorization",
    "X-Api-Key",
    "Content-Type",
    "X-Trace",
    "Cookie",
    "Accept-Encoding",
    "Host",
    "Content-Length",
    "Token",
    "Transfer-Encoding",
]


@st.composite
def webhook_actions(draw: st.DrawFn, valid: bool = True) -> WebhookAction:
    header_values = st.one_of(
        texts(long=False),
        st.sampled_from(
            [
                "Bearer " + SECRET,
                SECRET,
                "application/json",
                "text/plain",
                "application/json; x",
                "café",
                "é\u2028",
                "gzip",
                "{{x}}",
                "a\r\nX-Injected: 1",
                "chunked",
                "0",
                "-1",
            ]
        ),
    )
    names = _HEADER_NAMES if valid else [*_HEADER_NAMES, "bad name", "é", "", "a:b"]
    urls = webhook_urls()
    if valid:
        urls = urls.filter(lambda u: u.strip().startswith(("http://", "https://", "{{")))
    paths = st.sampled_from(JSON_PATHS)
    return WebhookAction(
        method=draw(_enum(HttpMethod.values(), valid)),
        url=draw(urls),
        query=draw(
            st.dictionaries(st.sampled_from(["q", "x", "é", "", "a b"]), texts(), max_size=3)
        ),
        headers=draw(st.dictionaries(st.sampled_from(names), header_values, max_size=3)),
        body=draw(
            st.one_of(
                st.just(""),
                st.sampled_from(['{"a": "{{x}}"}', '{"n": {{n}}}', "[{{items}}]", "{{x}}", "{"]),
                texts(long=not valid),
            )
        ),
        timeout_ms=draw(st.sampled_from([200, 1000, 3000, 0, 1])),
        response_mappings=[
            ResponseMapping(path=p, variable=v)
            for p, v in draw(st.lists(st.tuples(paths, _names(valid, blank=not valid)), max_size=3))
        ],
        error_variable=draw(_names(valid)),
    )


@st.composite
def set_variable_actions(draw: st.DrawFn, valid: bool = True) -> SetVariableAction:
    return SetVariableAction(
        variable=draw(_names(valid, blank=not valid)),
        operation=draw(_enum(SetVariableOperation.values(), valid)),
        value=draw(
            st.one_of(
                texts(long=not valid),
                st.sampled_from(
                    [
                        "1",
                        "-2.5",
                        "0",
                        "1e308",
                        "{{n}}",
                        "{{x}}",
                        "NaN",
                        "1e309",
                        "{{items}}",
                        "{{n}}{{n}}",
                        "-0",
                        " 7 ",
                        # Doubling in a loop: outgrows every text and output limit fast.
                        "{{x}}{{x}}{{x}}{{x}}",
                        "{{items}}{{items}}",
                    ]
                ),
            )
        ),
    )


@st.composite
def actions(draw: st.DrawFn, valid: bool = True) -> Action:
    kind = draw(st.sampled_from(["openai", "webhook", "set_variable"]))
    if kind == "openai":
        return Action(openai=draw(openai_actions(valid)))
    if kind == "webhook":
        return Action(webhook=draw(webhook_actions(valid)))
    return Action(set_variable=draw(set_variable_actions(valid)))


@st.composite
def execute_action_requests(draw: st.DrawFn) -> ExecuteActionRequest:
    valid = draw(_validity())
    return ExecuteActionRequest(
        action=draw(actions(valid)),
        variables=draw(variable_maps(valid)),
        variable_definitions=draw(definitions(valid)),
        conversation=draw(conversations(valid)),
    )


_BLOCK_KINDS = [
    "send_message",
    "wait_user_answer",
    "choice",
    "set_variable",
    "openai",
    "webhook",
    "add_note",
    "jump_to",
    "restart_bot",
    "set_variable",
    "send_message",
    "choice",
    "webhook",
    "openai",
]


def _condition(draw: st.DrawFn, valid: bool) -> Condition:
    return Condition(
        variable=draw(_names(valid)),
        operator=draw(_enum(ConditionOperator.values(), valid)),
        value=draw(st.one_of(texts(long=False), st.sampled_from(["1", "{{n}}", "yes", ""]))),
    )


def _branch(draw: st.DrawFn, valid: bool, target: st.SearchStrategy[str]) -> ChoiceBranch:
    count = draw(st.integers(1, 3) if valid else st.integers(0, 3))
    joins: list[Any] = [1, 2] if valid and count > 1 else [0, 1, 2]
    return ChoiceBranch(
        conditions=[_condition(draw, valid) for _ in range(count)],
        join=draw(st.sampled_from(joins)),
        next=draw(target.filter(bool) if valid else target),
    )


def _required_text(draw: st.DrawFn, valid: bool) -> str:
    text = draw(texts(long=not valid))
    return text if text.strip() or not valid else text + "{{x}}."


def _block(draw: st.DrawFn, block_id: str, targets: list[str], valid: bool) -> Block:
    target = st.sampled_from(targets)
    block = Block(id=block_id, next=draw(target))
    kind = draw(st.sampled_from(_BLOCK_KINDS))
    if kind == "send_message":
        block.send_message.CopyFrom(SendMessageBlock(text=_required_text(draw, valid)))
    elif kind == "add_note":
        block.add_note.CopyFrom(AddNoteBlock(text=_required_text(draw, valid)))
    elif kind == "wait_user_answer":
        block.wait_user_answer.CopyFrom(
            WaitUserAnswerBlock(answer_variable=draw(_names(valid)), timeout_next=draw(target))
        )
    elif kind == "choice":
        branches = [
            _branch(draw, valid, target)
            for _ in range(draw(st.integers(1, 3) if valid else st.integers(0, 3)))
        ]
        block.choice.CopyFrom(ChoiceBlock(branches=branches, fallback_next=draw(target)))
    elif kind == "set_variable":
        block.set_variable.CopyFrom(draw(set_variable_actions(valid)))
    elif kind == "openai":
        block.openai.CopyFrom(draw(openai_actions(valid)))
    elif kind == "webhook":
        block.webhook.CopyFrom(draw(webhook_actions(valid)))
    elif kind == "jump_to":
        block.jump_to.CopyFrom(JumpToBlock(block_id=draw(target.filter(bool) if valid else target)))
    else:
        block.restart_bot.CopyFrom(RestartBotBlock())
    return block


@st.composite
def flows(draw: st.DrawFn, valid: bool = True) -> Flow:
    count = draw(st.integers(1, 7))
    ids = [f"b{i}" for i in range(count)]
    if valid and count > 1 and draw(st.booleans()):
        ids[-1] = draw(st.sampled_from(["é", "b 1", "{{x}}", "😀"]))
    if not valid:
        ids[-1] = draw(st.sampled_from(["b0", "", " ", "é", "b0 ", ids[-1]]))
    # Real targets mostly, so flows loop and branch; the end; (invalid) nowhere.
    targets = [*ids, *ids, ""] if valid else [*ids, "", "nowhere"]
    blocks = [_block(draw, block_id, targets, valid) for block_id in ids]
    return Flow(
        name=draw(texts(long=False)),
        start_block_id=draw(st.sampled_from(["", *ids, ""])),
        variables=draw(definitions(valid)),
        blocks=blocks,
    )


@st.composite
def run_flow_requests(draw: st.DrawFn) -> RunFlowRequest:
    valid = draw(_validity())
    flow = draw(flows(valid))
    request = RunFlowRequest(
        flow=flow,
        variables=draw(variable_maps(valid)),
        conversation=draw(conversations(valid)),
        # Small budgets mostly: blocks that call out take milliseconds each.
        max_steps=draw(st.sampled_from([1, 3, 10, 30, 0, 5, 2])),
    )
    waits = [b.id for b in flow.blocks if b.HasField("wait_user_answer")]
    resume = draw(st.booleans())
    if waits and resume:
        timed_out = draw(st.booleans())
        request.resume.CopyFrom(
            Resume(
                block_id=draw(st.sampled_from(waits)),
                answer="" if timed_out else draw(texts(long=not valid)),
                timed_out=timed_out,
            )
        )
    return request


# -- hostile upstream answers ---------------------------------------------------------


def _deep(depth: int, opener: str) -> bytes:
    closer = "]" if opener == "[" else "}"
    if opener == "{":
        return ('{"a":' * depth + "1" + closer * depth).encode()
    return (opener * depth + closer * depth).encode()


_JSON_KEYS = st.sampled_from(["name", "products", "title", "a", "b", "c", "x y", "é", ""])


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(_JSON_KEYS, inner, max_size=4))


@st.composite
def json_documents(draw: st.DrawFn) -> Any:
    """JSON values shaped like what the mappings look for, with odd leaves."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        texts(long=False),
        st.sampled_from([10**400, -(10**400), 1e308, 2**64]),
    )
    return draw(st.recursive(leaves, _json_containers, max_leaves=12))


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            [
                "json",
                "json",
                "deep",
                "raw",
                "dupes",
                "bom",
                "bad_utf8",
                "surrogate",
                "huge_number",
                "json",
                "nan",
                "empty",
                "big_text",
                "products",
                "scalar",
                "utf16",
            ]
        )
    )
    if kind == "json":
        return json.dumps(draw(json_documents())).encode()
    if kind == "products":
        titles = draw(st.lists(texts(long=False), max_size=4))
        document = {"name": draw(texts()), "products": [{"title": t} for t in titles]}
        return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()
    if kind == "deep":
        depth = draw(st.sampled_from([63, 64, 65, 200, 1000, 100_000]))
        return _deep(depth, draw(st.sampled_from(["[", "{"])))
    if kind == "raw":
        return draw(st.binary(max_size=64))
    if kind == "dupes":
        return b'{"name": 1, "name": "two", "a": {"b": 1, "b": [2]}}'
    if kind == "bom":
        return b"\xef\xbb\xbf" + json.dumps({"name": "bom"}).encode()
    if kind == "utf16":
        return json.dumps({"name": "wide"}).encode("utf-16")
    if kind == "bad_utf8":
        return b'{"name": "\xff\xfe\xc3(", "a": "\xed\xa0\x80"}'
    if kind == "surrogate":
        return b'{"name": "\\ud800", "a": "\\udfff\\ud800x", "products": [{"title": "\\ud83d"}]}'
    if kind == "huge_number":
        return b'{"name": 1' + b"0" * draw(st.sampled_from([400, 5000, 100_000])) + b"}"
    if kind == "nan":
        return b'{"name": NaN, "a": Infinity, "b": -Infinity}'
    if kind == "big_text":
        return json.dumps(
            {"name": "x" * draw(st.sampled_from([65_537, 70_000, 1_100_000]))}
        ).encode()
    if kind == "scalar":
        return draw(st.sampled_from([b"null", b"1", b'"name"', b"[]", b"true", b"1e999"]))
    return b""


_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/html",
    "application/json; charset=bogus",
    "application/json; charset=utf-16",
    "",
    "application/problem+json",
    "text/plain; charset=latin-1",
    "*/*",
    "é/json",
]
_REDIRECT_TARGETS = [
    SELF + "/again",
    SELF + "/again",
    "/relative",
    "relative",
    "//127.0.0.1:1/x",
    "http://10.0.0.1/x",
    "http://169.254.169.254/latest",
    "ftp://127.0.0.1/x",
    "http://[",
    "http://127.0.0.1:70000/",
    "http://" + "a" * 70 + ".invalid/",
    "",
    "\u00e9",
    "http://localhost:1/",
    "file:///etc/passwd",
    SELF + "/%zz",
    "javascript:alert(1)",
]


def _headers(draw: st.DrawFn, status: int) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    if draw(st.sampled_from([True, True, True, False])):
        headers.append(("Content-Type", draw(st.sampled_from(_CONTENT_TYPES))))
    if 300 <= status < 400 or draw(st.integers(0, 9)) == 3:
        headers.append(("Location", draw(st.sampled_from(_REDIRECT_TARGETS))))
    extra = st.tuples(
        st.sampled_from(
            ["X-Odd", "Set-Cookie", "Retry-After", "retry-after-ms", "Link", "X-Request-Id"]
        ),
        st.sampled_from(
            [
                "1",
                "0",
                "-1",
                "nan",
                "inf",
                "1e400",
                "abc",
                "",
                "café",
                "0.01",
                "Wed, 21 Oct 2015 07:28:00 GMT",
                "Sat, 01 Jan 10000 00:00:00 GMT",
                "a=b; Path=/",
                "x" * 9000,
            ]
        ),
    )
    headers += draw(st.lists(extra, max_size=3))
    return tuple(headers)


def _status() -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from(
            [
                200,
                200,
                201,
                204,
                299,
                301,
                302,
                303,
                307,
                308,
                304,
                400,
                401,
                403,
                404,
                408,
                409,
                429,
                500,
                502,
                503,
            ]
        ),
        st.integers(200, 599),
    )


RAW_RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\n[\r\n" * 5000,
    b"HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 \xc3\xa9\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nX-Bad\x00: 1\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 5000 + b"Content-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\n{}",
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"name": "no length"}',
    b"HTTP/1.1 302 Found\r\nLocation: " + SELF.encode() + b"/raw\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: \xff\xfe\r\nContent-Length: 0\r\n\r\n",
    b'HTTP/1.0 200 OK\r\n\r\n{"name": 1}',
    b"HTTP/2 200\r\n\r\n{}",
    b"garbage\r\n\r\n",
    b"",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
]


def _raw_answers() -> st.SearchStrategy[Answer]:
    return st.builds(Answer, raw=st.sampled_from(RAW_RESPONSES))


@st.composite
def webhook_answers(draw: st.DrawFn) -> tuple[Answer, ...]:
    """One to three answers, served in turn (a redirect's target gets the next)."""
    answer = st.one_of(_answer(bodies()), _answer(bodies()), _answer(bodies()), _raw_answers())
    return tuple(draw(st.lists(answer, min_size=1, max_size=3)))


@st.composite
def _answer(draw: st.DrawFn, body: st.SearchStrategy[bytes]) -> Answer:
    status = draw(_status())
    return Answer(
        status=status,
        headers=_headers(draw, status),
        body=draw(body),
        encoding=draw(
            st.sampled_from(
                [Encoding.IDENTITY] * 6
                + [
                    Encoding.GZIP,
                    Encoding.GZIP_TRUNCATED,
                    Encoding.GZIP_GARBAGE,
                    Encoding.GZIP_BOMB,
                    Encoding.DEFLATE,
                    Encoding.UNKNOWN,
                ]
                + [Encoding.IDENTITY] * 2
            )
        ),
        truncate=draw(st.sampled_from([False] * 7 + [True] + [False] * 2)),
        delay_ms=draw(st.sampled_from([0] * 8 + [50] + [0] * 2)),
    )


@dataclass(frozen=True)
class _Missing:
    """A key dropped from a generated completion."""


_DROP = _Missing()


def _pick(draw: st.DrawFn, good: Any) -> Any:
    how = draw(st.sampled_from(["good", "good", "good", "drop", "null", "wrong", "good"]))
    if how == "good":
        return good
    if how == "drop":
        return _DROP
    if how == "null":
        return None
    return draw(st.sampled_from([[], {}, 1, "x", True, -1, 1e308, [good]]))


def _object(pairs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pairs.items() if v is not _DROP}


def _contents() -> st.SearchStrategy[str]:
    # "\ud800" becomes a lone surrogate *escape* in the JSON (ensure_ascii).
    return st.one_of(texts(), st.sampled_from(["\ud800", "a\udfffb", "\ud83d", "", "\x00"]))


@st.composite
def completion_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            ["completion", "completion", "error", "completion", "raw", "completion", "error"]
        )
    )
    if kind == "raw":
        return draw(bodies())
    if kind == "error":
        reflected = TOKEN
        error = _object(
            {
                "message": _pick(draw, draw(st.sampled_from(["bad key " + reflected, "nope"]))),
                "type": _pick(draw, draw(st.sampled_from(["insufficient_quota", reflected, "x"]))),
                "code": _pick(
                    draw,
                    draw(
                        st.sampled_from(
                            [
                                "invalid_api_key",
                                reflected,
                                "insufficient_quota",
                                "rate_limit_exceeded",
                                "code " + reflected,
                                "é",
                            ]
                        )
                    ),
                ),
                "param": _pick(draw, None),
            }
        )
        return json.dumps(_object({"error": _pick(draw, error)})).encode()
    usage_number = st.sampled_from([0, 1, 7, -1, 2**32, 2**64, 10**30, 1.5, "12", None, 1e308])
    message = _object(
        {
            "role": _pick(draw, "assistant"),
            "content": _pick(draw, draw(_contents())),
            "refusal": _pick(draw, draw(st.sampled_from([None, "no", "\ud800"]))),
            "tool_calls": draw(st.sampled_from([_DROP, _DROP, None, [], [{"id": 1}]])),
        }
    )
    choice = _object(
        {
            "index": _pick(draw, 0),
            "message": _pick(draw, message),
            "finish_reason": _pick(draw, draw(st.sampled_from(["stop", "length", "weird"]))),
            "logprobs": _pick(draw, None),
        }
    )
    usage = _object(
        {
            "prompt_tokens": _pick(draw, draw(usage_number)),
            "completion_tokens": _pick(draw, draw(usage_number)),
            "total_tokens": _pick(draw, draw(usage_number)),
        }
    )
    choices = draw(st.sampled_from(["one", "one", "none", "many", "one"]))
    document = _object(
        {
            "id": _pick(draw, "chatcmpl-prop"),
            "object": _pick(draw, "chat.completion"),
            "created": _pick(draw, draw(st.sampled_from([0, -1, 2**63, 10**20, 1.5]))),
            "model": _pick(draw, draw(st.sampled_from(["stub", "", "é", "\ud800"]))),
            "choices": _pick(draw, {"one": [choice], "none": [], "many": [choice] * 3}[choices]),
            "usage": _pick(draw, usage),
        }
    )
    return json.dumps(document, allow_nan=True).encode()


@st.composite
def completion_answers(draw: st.DrawFn) -> tuple[Answer, ...]:
    answer = st.one_of(_llm_answer(), _llm_answer(), _llm_answer(), _raw_answers())
    return tuple(draw(st.lists(answer, min_size=1, max_size=3)))


@st.composite
def _llm_answer(draw: st.DrawFn) -> Answer:
    answer = draw(_answer(completion_bodies()))
    # Mostly 200 (so the body is read as a completion), else an error status;
    # retry hints stay small so that retries cost little.
    status = draw(st.sampled_from([200, 200, 200, answer.status, 429, 500, 401, 200]))
    headers = tuple(
        (k, v) for k, v in answer.headers if k.lower() not in ("retry-after", "retry-after-ms")
    )
    hint = draw(
        st.sampled_from(
            [
                (),
                (),
                (("retry-after-ms", "10"),),
                (("retry-after", "0"),),
                (("retry-after", "nan"),),
                (("retry-after-ms", "-5"),),
                (("retry-after", "Sat, 01 Jan 10000 00:00:00 GMT"),),
            ]
        )
    )
    return Answer(
        status=status,
        headers=headers + hint,
        body=answer.body,
        encoding=answer.encoding,
        truncate=answer.truncate,
        delay_ms=answer.delay_ms,
    )


# -- tiny requests: nearly all of their bytes are the variables -----------------------


@st.composite
def tiny_requests(draw: st.DrawFn) -> ExecuteActionRequest | RunFlowRequest:
    """One short block or action: padded to the message limit, the response
    (which repeats the variables) is then larger than the request."""
    kind = draw(
        st.sampled_from(
            ["send_message", "restart_bot", "set_variable", "wait", "openai", "webhook"]
        )
    )
    action = Action()
    if kind == "set_variable":
        action.set_variable.CopyFrom(
            SetVariableAction(
                variable="x", operation=draw(_enum(SetVariableOperation.values(), True)), value="1"
            )
        )
    elif kind == "openai":
        action.openai.CopyFrom(
            OpenAIAction(
                token="t",
                prompt="p",
                history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
                provider="fake",
                answer_variable=draw(st.sampled_from(["", "a"])),
            )
        )
    elif kind == "webhook":
        action.webhook.CopyFrom(
            WebhookAction(
                method=HttpMethod.HTTP_METHOD_GET,
                url="http://" + HOOK,
                response_mappings=[ResponseMapping(path="name", variable="v")],
            )
        )
    if draw(st.booleans()) and action.WhichOneof("kind") is not None:
        return ExecuteActionRequest(action=action)
    block = Block(id="a")
    if kind == "send_message":
        block.send_message.CopyFrom(SendMessageBlock(text="hi"))
    elif kind == "restart_bot":
        block.restart_bot.CopyFrom(RestartBotBlock())
    elif kind == "wait":
        block.wait_user_answer.CopyFrom(WaitUserAnswerBlock(answer_variable="a"))
    elif kind == "set_variable":
        block.set_variable.CopyFrom(action.set_variable)
    elif kind == "openai":
        block.openai.CopyFrom(action.openai)
    else:
        block.webhook.CopyFrom(action.webhook)
    request = RunFlowRequest(flow=Flow(blocks=[block]))
    if kind == "wait" and draw(st.booleans()):
        request.resume.CopyFrom(Resume(block_id="a", answer=draw(st.sampled_from(["", "yes"]))))
    return request


# -- a provider that quotes the caller's token back -----------------------------------


@st.composite
def reflecting_errors(draw: st.DrawFn) -> tuple[Answer, ...]:
    """Error answers whose code, type or message quote the bearer token, as
    some proxies do: whatever botflow shows of them must not include it."""
    quoted = draw(st.sampled_from([TOKEN, TOKEN, "code_" + TOKEN, TOKEN + " ", "Bearer " + TOKEN]))
    error = {
        "message": draw(st.sampled_from(["invalid key " + TOKEN, "nope"])),
        "type": draw(st.sampled_from([quoted, "invalid_request_error", "insufficient_quota"])),
        "code": draw(st.sampled_from([quoted, quoted, "insufficient_quota", None])),
        "param": draw(st.sampled_from([None, quoted])),
    }
    status = draw(st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 503]))
    return (Answer(status=status, body=json.dumps({"error": error}).encode()),)


# -- bounded time ----------------------------------------------------------------------

# A call's worst case (every attempt timing out, every loop step calling out)
# stays well under the client's deadline, so that DEADLINE_EXCEEDED means a hang,
# not a legitimately slow request. Values stay valid; only waits shrink.
MAX_ACTION_MS = 1000
MAX_FLOW_ACTION_MS = 300
MAX_ATTEMPTS = 2
CALL_BUDGET_SECONDS = 5.0
DEFAULT_STEPS, STEP_CAP = 200, 10_000
_BACKOFF_SECONDS = 0.5


def _bound_action(message: Message, cap_ms: int) -> float:
    """Shrink one action's waits; its worst-case seconds after that."""
    if isinstance(message, OpenAIAction):
        message.timeout_ms = min(message.timeout_ms or cap_ms, cap_ms)
        message.max_attempts = min(message.max_attempts or MAX_ATTEMPTS, MAX_ATTEMPTS)
        attempts = message.max_attempts
        return attempts * message.timeout_ms / 1000 + (attempts - 1) * _BACKOFF_SECONDS
    if isinstance(message, WebhookAction):
        message.timeout_ms = min(message.timeout_ms or cap_ms, cap_ms)
        return message.timeout_ms / 1000
    return 0.0


def bounded(request: M) -> M:
    """A copy of `request` whose worst case fits CALL_BUDGET_SECONDS."""
    copy = type(request)()
    copy.CopyFrom(request)
    if isinstance(copy, ExecuteActionRequest):
        kind = copy.action.WhichOneof("kind")
        if kind is not None:
            _bound_action(getattr(copy.action, kind), MAX_ACTION_MS)
    elif isinstance(copy, RunFlowRequest):
        worst = 0.0
        for block in copy.flow.blocks:
            block_kind = block.WhichOneof("kind")
            if block_kind in ("openai", "webhook"):
                action = getattr(block, block_kind)
                worst = max(worst, _bound_action(action, MAX_FLOW_ACTION_MS))
        if worst > 0:
            allowed = max(1, int(CALL_BUDGET_SECONDS / worst))
            steps = min(copy.max_steps or DEFAULT_STEPS, STEP_CAP)
            if steps > allowed:
                copy.max_steps = allowed
    return copy
