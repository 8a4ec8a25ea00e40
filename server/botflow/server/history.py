"""Which conversation messages go to the LLM with the prompt (docs/rules.md
"History"): the history mode selects, a cap keeps the most recent."""

from __future__ import annotations

from dataclasses import dataclass

from botflow.providers.base import ChatMessage, Role
from botflow.v1.actions_pb2 import HistoryMode
from botflow.v1.conversation_pb2 import Conversation, Direction, Message

ROLES: dict[int, Role] = {
    Direction.DIRECTION_RECEIVED: "user",
    Direction.DIRECTION_SENT: "assistant",
}


def current_bot_session(conversation: Conversation) -> str:
    """The explicit current session, else the latest message's session (a
    resume and ExecuteAction; a new RunFlow starts a session instead)."""
    if conversation.current_bot_session_id:
        return conversation.current_bot_session_id
    for message in reversed(conversation.messages):
        if message.bot_session_id:
            return message.bot_session_id
    return ""


def _has_text(message: Message) -> bool:
    return bool(message.text.strip())


def session_messages(conversation: Conversation) -> list[Message]:
    """Every message from the first one of the current bot session onwards,
    whoever sent it: the bot "thread" since its last (re)start, a human
    agent's untagged messages in it included (another bot session's are not)."""
    session = current_bot_session(conversation)
    messages = conversation.messages
    if not session:
        return []
    start = next((i for i, m in enumerate(messages) if m.bot_session_id == session), None)
    if start is None:
        return []
    return [m for m in messages[start:] if m.bot_session_id in ("", session)]


def _selected(conversation: Conversation, mode: int) -> list[Message]:
    if mode == HistoryMode.HISTORY_MODE_ALL_CONVERSATION:
        return [m for m in conversation.messages if _has_text(m)]
    if mode == HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION:
        return [m for m in session_messages(conversation) if _has_text(m)]
    if mode == HistoryMode.HISTORY_MODE_LAST_MESSAGE:
        received = [
            m
            for m in conversation.messages
            if m.direction == Direction.DIRECTION_RECEIVED and _has_text(m)
        ]
        return received[-1:]
    return []


@dataclass(frozen=True)
class History:
    """The messages sent after the prompt, and how many a cap left out."""

    messages: list[ChatMessage]
    omitted: int = 0


def select_history(conversation: Conversation, mode: int, limit: int) -> History:
    """The history for `mode`, oldest first, at most the `limit` most recent
    (0 = no cap)."""
    selected = _selected(conversation, mode)
    omitted = max(0, len(selected) - limit) if limit > 0 else 0
    kept = selected[omitted:]
    return History([ChatMessage(ROLES[m.direction], m.text) for m in kept], omitted)


def build_messages(prompt: str, history: list[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The prompt as `system` ahead of the history, or alone as `user`."""
    if not history:
        return (ChatMessage("user", prompt),)
    return (ChatMessage("system", prompt), *history)
