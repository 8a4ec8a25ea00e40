"""Which conversation messages go with the prompt, and how many a cap left out."""

from __future__ import annotations

import pytest

from botflow.providers.base import ChatMessage
from botflow.server.history import History, build_messages, current_bot_session, select_history
from botflow.v1.actions_pb2 import HistoryMode
from botflow.v1.conversation_pb2 import Conversation, Direction, Message

IN = Direction.DIRECTION_RECEIVED
OUT = Direction.DIRECTION_SENT
ALL = HistoryMode.HISTORY_MODE_ALL_CONVERSATION
SESSION = HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION
LAST = HistoryMode.HISTORY_MODE_LAST_MESSAGE
PROMPT_ONLY = HistoryMode.HISTORY_MODE_PROMPT_ONLY


def conversation(
    *messages: tuple[Direction.ValueType, str, str], current: str = ""
) -> Conversation:
    return Conversation(
        messages=[Message(direction=d, text=t, bot_session_id=s) for d, t, s in messages],
        current_bot_session_id=current,
    )


def pairs(history: History) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in history.messages]


SAMPLE = conversation(
    (IN, "hi before bot", ""),
    (OUT, "agent reply", ""),
    (IN, "first bot question", "s1"),
    (OUT, "first bot answer", "s1"),
    (IN, "   ", "s2"),
    (IN, "second session question", "s2"),
    (OUT, "second session answer", "s2"),
    (OUT, "", "s2"),
)


def test_all_conversation_keeps_order_and_maps_roles() -> None:
    assert pairs(select_history(SAMPLE, ALL, 0)) == [
        ("user", "hi before bot"),
        ("assistant", "agent reply"),
        ("user", "first bot question"),
        ("assistant", "first bot answer"),
        ("user", "second session question"),
        ("assistant", "second session answer"),
    ]


def test_current_bot_session_inferred_from_latest_message_with_a_session() -> None:
    conv = conversation(
        (IN, "old", "s1"),
        (IN, "new q", "s2"),
        (OUT, "new a", "s2"),
        (OUT, "agent after bot", ""),
    )
    assert current_bot_session(conv) == "s2"
    assert pairs(select_history(conv, SESSION, 0)) == [
        ("user", "new q"),
        ("assistant", "new a"),
        ("assistant", "agent after bot"),
    ]


def test_current_bot_session_explicit_id_wins() -> None:
    conv = conversation(
        (IN, "q1", "s1"), (OUT, "a1", "s1"), (IN, "q2", "s2"), (OUT, "none", ""), current="s1"
    )
    assert current_bot_session(conv) == "s1"
    assert pairs(select_history(conv, SESSION, 0)) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("assistant", "none"),
    ]


def test_current_bot_session_starts_where_the_session_started() -> None:
    """An agent's untagged message after the restart belongs to the bot thread;
    one before the session started does not, nor does another session's."""
    conv = conversation(
        (IN, "before the bot", ""),
        (OUT, "agent before", ""),
        (IN, "question", "s3"),
        (OUT, "agent joins in", ""),
        (OUT, "a stray other session", "s1"),
        (OUT, "bot answer", "s3"),
        current="s3",
    )
    assert pairs(select_history(conv, SESSION, 0)) == [
        ("user", "question"),
        ("assistant", "agent joins in"),
        ("assistant", "bot answer"),
    ]


def test_current_bot_session_excludes_messages_before_it_started() -> None:
    assert pairs(select_history(SAMPLE, SESSION, 0)) == [
        ("user", "second session question"),
        ("assistant", "second session answer"),
    ]


def test_current_bot_session_without_any_session_is_empty() -> None:
    conv = conversation((IN, "q", ""), (OUT, "a", ""))
    assert current_bot_session(conv) == ""
    assert select_history(conv, SESSION, 0).messages == []


def test_current_bot_session_explicit_id_with_no_messages_is_empty() -> None:
    conv = conversation((IN, "q", "s1"), current="s9")
    assert select_history(conv, SESSION, 0).messages == []


def test_last_message_is_the_last_received_even_if_sent_messages_follow() -> None:
    conv = conversation((IN, "first", "s1"), (IN, "second", "s1"), (OUT, "bot", "s1"))
    assert pairs(select_history(conv, LAST, 0)) == [("user", "second")]


def test_last_message_with_only_sent_messages_is_empty() -> None:
    conv = conversation((OUT, "bot 1", "s1"), (OUT, "bot 2", "s1"))
    assert select_history(conv, LAST, 0).messages == []


def test_last_message_skips_whitespace_texts() -> None:
    conv = conversation((IN, "real", "s1"), (IN, " \n\t", "s1"), (OUT, "bot", "s1"))
    assert pairs(select_history(conv, LAST, 0)) == [("user", "real")]


def test_prompt_only_selects_nothing() -> None:
    assert select_history(SAMPLE, PROMPT_ONLY, 0).messages == []


@pytest.mark.parametrize("mode", [ALL, SESSION, LAST, PROMPT_ONLY])
def test_empty_texts_are_skipped_in_every_mode(mode: HistoryMode.ValueType) -> None:
    conv = conversation((IN, "", "s1"), (OUT, "   ", "s1"), (IN, "\n", "s1"))
    assert select_history(conv, mode, 0).messages == []


@pytest.mark.parametrize(
    ("mode", "limit", "expected"),
    [
        (ALL, 2, [("user", "second session question"), ("assistant", "second session answer")]),
        (ALL, 1, [("assistant", "second session answer")]),
        (SESSION, 1, [("assistant", "second session answer")]),
        (
            SESSION,
            10,
            [("user", "second session question"), ("assistant", "second session answer")],
        ),
        (LAST, 1, [("user", "second session question")]),
    ],
)
def test_limit_keeps_the_most_recent(
    mode: HistoryMode.ValueType, limit: int, expected: list[tuple[str, str]]
) -> None:
    assert pairs(select_history(SAMPLE, mode, limit)) == expected


@pytest.mark.parametrize(
    ("mode", "limit", "omitted"),
    [(ALL, 2, 4), (ALL, 6, 0), (ALL, 0, 0), (SESSION, 1, 1), (LAST, 1, 0), (PROMPT_ONLY, 1, 0)],
)
def test_omitted_counts_what_the_cap_left_out(
    mode: HistoryMode.ValueType, limit: int, omitted: int
) -> None:
    assert select_history(SAMPLE, mode, limit).omitted == omitted


def test_limit_zero_means_no_cap() -> None:
    history = select_history(SAMPLE, ALL, 0)
    assert len(history.messages) == 6
    assert history.omitted == 0


def test_build_messages_prompt_first_as_system_with_history() -> None:
    history = [ChatMessage("user", "q"), ChatMessage("assistant", "a")]
    messages = build_messages("Be brief", history)
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Be brief"),
        ("user", "q"),
        ("assistant", "a"),
    ]


def test_build_messages_prompt_alone_as_user_without_history() -> None:
    messages = build_messages("Tell a joke", [])
    assert [(m.role, m.content) for m in messages] == [("user", "Tell a joke")]
