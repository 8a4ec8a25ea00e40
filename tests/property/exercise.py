"""One property example end to end: script the upstreams, fill in the
placeholders, call, check the invariant."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from google.protobuf import text_format
from google.protobuf.message import Message
from hypothesis import event

from botflow.v1.actions_pb2 import ErrorKind, OpenAIAction, WebhookAction
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)
from tests.property.harness import Call, Harness, check_invariant
from tests.property.hostile import Answer
from tests.property.strategies import HOOK, LLM, SECRET, bounded, fill_slots

# Where the secret placeholder may stand with no legitimate way back into a
# response: a token, and webhook header values (never echoed by the endpoint).
_SECRET_HOMES = {
    (OpenAIAction.DESCRIPTOR.full_name, "token"),
    (WebhookAction.DESCRIPTOR.full_name, "headers"),
}


def _secret_elsewhere(message: Message) -> bool:
    """Whether the secret placeholder sits in a field that may come back."""
    for field, value in message.ListFields():
        home = (message.DESCRIPTOR.full_name, field.name) in _SECRET_HOMES
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = value.items()
            for key, item in items:
                if isinstance(item, Message):
                    if SECRET in str(key) or _secret_elsewhere(item):
                        return True
                elif (SECRET in str(key)) or (
                    isinstance(item, str) and SECRET in item and not home
                ):
                    return True
        elif field.is_repeated:
            for item in value:
                if isinstance(item, Message):
                    if _secret_elsewhere(item):
                        return True
                elif isinstance(item, str) and SECRET in item:
                    return True
        elif isinstance(value, Message):
            if _secret_elsewhere(value):
                return True
        elif isinstance(value, str) and SECRET in value and not home:
            return True
    return False


PAD_PREFIX = "pad "
_PAD_CHUNK = 65_000  # under the server's 64 KiB text limit


def pad_variables(request: ExecuteActionRequest | RunFlowRequest, size: int) -> None:
    """Add text variables until the encoded request is `size` bytes: the last
    one is sized to the byte, give or take a length prefix that grows."""
    count = 0
    while request.ByteSize() < size:
        missing = size - request.ByteSize()
        name = f"{PAD_PREFIX}{count}"
        request.variables[name].text = ""
        overhead = request.ByteSize() - (size - missing)
        request.variables[name].text = "p" * max(0, min(_PAD_CHUNK, missing - overhead - 2))
        # The text's own length prefix may take a byte or two more than guessed.
        for _ in range(4):
            over = request.ByteSize() - size
            if over == 0 or (over < 0 and len(request.variables[name].text) >= _PAD_CHUNK):
                break
            text = request.variables[name].text
            request.variables[name].text = "p" * max(0, len(text) - over)
        count += 1
        if count > 200:
            break


def brief(message: Message, width: int = 240) -> str:
    """The request as text, long strings cut: enough to reproduce by hand."""
    lines = text_format.MessageToString(message, as_utf8=True).splitlines()
    cut = [line if len(line) <= width else f"{line[:width]}… ({len(line)} chars)" for line in lines]
    return "\n".join(cut[:400])


@dataclass(frozen=True)
class Prepared:
    """A request ready to send: placeholders filled, upstreams scripted."""

    request: ExecuteActionRequest | RunFlowRequest
    # The secret to look for in the responses; None when the request put it
    # where it may legitimately come back.
    secret: str | None
    scripts: tuple[str, str]


def prepare(
    harness: Harness,
    request: ExecuteActionRequest | RunFlowRequest,
    hook_answers: tuple[Answer, ...],
    llm_answers: tuple[Answer, ...],
    *,
    pad_to: int | None = None,
    bounded_time: bool = True,
) -> Prepared:
    """`pad_to`: grow the request's variables until it is that many bytes;
    `bounded_time`: shrink its waits so that only a hang reaches the deadline."""
    secret = "sk-prop-" + secrets.token_hex(8)
    hook = harness.webhook.script(hook_answers)
    llm = harness.openai.script(llm_answers)
    filled = fill_slots(request, {HOOK: hook, LLM: llm, SECRET: secret})
    if bounded_time:
        filled = bounded(filled)
    if pad_to is not None:
        pad_variables(filled, pad_to)
    return Prepared(filled, None if _secret_elsewhere(request) else secret, (hook, llm))


def verify(harness: Harness, prepared: Prepared, call: Call) -> None:
    """The invariant, with the request appended to any failure."""
    try:
        check_invariant(call, secret=prepared.secret, strict_barrier=harness.strict_barrier)
    except AssertionError as error:
        error.args = (f"{error.args[0]}\n--- request ---\n{brief(prepared.request)}",)
        raise
    _label(call)


def release(harness: Harness, prepared: Prepared) -> None:
    harness.webhook.forget(prepared.scripts[0])
    harness.openai.forget(prepared.scripts[1])


def exercise(
    harness: Harness,
    request: ExecuteActionRequest | RunFlowRequest,
    hook_answers: tuple[Answer, ...],
    llm_answers: tuple[Answer, ...],
    *,
    pad_to: int | None = None,
) -> Call:
    """Run one example and check the invariant on what came back."""
    prepared = prepare(harness, request, hook_answers, llm_answers, pad_to=pad_to)
    try:
        call = harness.call(prepared.request)
        verify(harness, prepared, call)
        return call
    finally:
        release(harness, prepared)


def _label(call: Call) -> None:
    """Statistics (pytest --hypothesis-show-statistics): which paths examples reach."""
    event(f"status {call.code.name}")
    if call.violations:
        event(f"first violation {call.violations[0][0].split('[')[0]}")
    for response in call.responses:
        if isinstance(response, ExecuteActionResponse):
            event(f"error kind {ErrorKind.Name(response.result.error_kind)}")
        elif isinstance(response, RunFlowResponse):
            kind = response.WhichOneof("event")
            if kind == "action_finished":
                event(f"error kind {ErrorKind.Name(response.action_finished.result.error_kind)}")
            elif kind == "finished":
                event(f"flow {FlowStatus.Name(response.finished.status)}")
