"""Which conversation messages go to the LLM with the prompt (SPEC §3, §4)."""

from __future__ import annotations

from collections.abc import Sequence

from botflow.providers.base import ChatMessage, Role
from botflow.v1.actions_pb2 import HistoryMode
from botflow.v1.conversation_pb2 import Conversation, Direction, Message

ROLES: dict[int, Role] = {
    Direction.DIRECTION_RECEIVED: "user",
    Direction.DIRECTION_SENT: "assistant",
}


def current_bot_session(conversation: Conversation) -> str:
    """The explicit current session, else the latest message's session."""
    if conversation.current_bot_session_id:
        return conversation.current_bot_session_id
    for message in reversed(conversation.messages):
        if message.bot_session_id:
            return message.bot_session_id
    return ""


def _has_text(message: Message) -> bool:
    return bool(message.text.strip())


def _selected(conversation: Conversation, mode: int) -> Sequence[Message]:
    messages = [m for m in conversation.messages if _has_text(m)]
    if mode == HistoryMode.HISTORY_MODE_ALL_CONVERSATION:
        return messages
    if mode == HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION:
        session = current_bot_session(conversation)
        return [m for m in messages if session and m.bot_session_id == session]
    if mode == HistoryMode.HISTORY_MODE_LAST_MESSAGE:
        received = [m for m in messages if m.direction == Direction.DIRECTION_RECEIVED]
        return received[-1:]
    return []


def select_history(conversation: Conversation, mode: int, limit: int) -> list[ChatMessage]:
    """The history for `mode`, oldest first, at most the `limit` most recent."""
    selected = _selected(conversation, mode)
    if limit > 0:
        selected = selected[-limit:]
    return [ChatMessage(ROLES[m.direction], m.text) for m in selected]


def build_messages(prompt: str, history: list[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The prompt as `system` ahead of the history, or alone as `user`."""
    if not history:
        return (ChatMessage("user", prompt),)
    return (ChatMessage("system", prompt), *history)
