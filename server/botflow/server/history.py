"""Which conversation messages go to the LLM with the prompt (docs/rules.md
"History"): the history mode selects, a cap keeps the most recent."""

from __future__ import annotations

from typing import NamedTuple

from botflow.providers.base import ChatMessage, Role
from botflow.v1.actions_pb2 import HistoryMode
from botflow.v1.conversation_pb2 import Conversation, Direction

ROLES: dict[int, Role] = {
    Direction.DIRECTION_RECEIVED: "user",
    Direction.DIRECTION_SENT: "assistant",
}
_RECEIVED = Direction.DIRECTION_RECEIVED
_ALL = HistoryMode.HISTORY_MODE_ALL_CONVERSATION
_SESSION = HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION
_LAST = HistoryMode.HISTORY_MODE_LAST_MESSAGE

# (direction, text) of a selected message: each protobuf field is read once,
# a read costing about as much as a small function call.
_Selected = tuple[int, str]


def current_bot_session(conversation: Conversation) -> str:
    """The explicit current session, else the latest message's session (a
    resume and ExecuteAction; a new RunFlow starts a session instead)."""
    if conversation.current_bot_session_id:
        return conversation.current_bot_session_id
    for message in reversed(conversation.messages):
        if message.bot_session_id:
            return message.bot_session_id
    return ""


def _session_texts(conversation: Conversation) -> list[_Selected]:
    """Every message with text from the first one of the current bot session
    onwards, whoever sent it: the bot "thread" since its last (re)start, a
    human agent's untagged messages in it included (another bot session's
    are not)."""
    session = current_bot_session(conversation)
    if not session:
        return []
    selected: list[_Selected] = []
    started = False
    for message in conversation.messages:
        tag = message.bot_session_id
        if tag == session:
            started = True
        elif tag or not started:
            continue
        text = message.text
        if text.strip():
            selected.append((message.direction, text))
    return selected


def _texts(conversation: Conversation) -> list[_Selected]:
    selected: list[_Selected] = []
    for message in conversation.messages:
        text = message.text
        if text.strip():
            selected.append((message.direction, text))
    return selected


def _last_received(conversation: Conversation) -> list[_Selected]:
    for message in reversed(conversation.messages):
        if message.direction == _RECEIVED:
            text = message.text
            if text.strip():
                return [(_RECEIVED, text)]
    return []


def _selected(conversation: Conversation, mode: int) -> list[_Selected]:
    if mode == _ALL:
        return _texts(conversation)
    if mode == _SESSION:
        return _session_texts(conversation)
    if mode == _LAST:
        return _last_received(conversation)
    return []


class History(NamedTuple):
    """The messages sent after the prompt, and how many a cap left out.
    A NamedTuple: as immutable as a frozen dataclass, built at a third of
    the cost, and every action builds one."""

    messages: list[ChatMessage]
    omitted: int = 0


def select_history(conversation: Conversation, mode: int, limit: int) -> History:
    """The history for `mode`, oldest first, at most the `limit` most recent
    (0 = no cap)."""
    selected = _selected(conversation, mode)
    omitted = max(0, len(selected) - limit) if limit > 0 else 0
    kept = selected[omitted:] if omitted else selected
    return History([ChatMessage(ROLES[direction], text) for direction, text in kept], omitted)


def build_messages(prompt: str, history: list[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The prompt as `system` ahead of the history, or alone as `user`."""
    if not history:
        return (ChatMessage("user", prompt),)
    return (ChatMessage("system", prompt), *history)
