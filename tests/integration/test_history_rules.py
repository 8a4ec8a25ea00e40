"""The product page's history rules, replayed through a real server against a
recording OpenAI-compatible server on loopback: exactly these messages go out.

1. A run without resume is the bot starting: unless the request names the
   session to continue, a new bot session starts, and last week's session is
   not "the current bot session".
2. "Only from current bot session" is every message from where the session
   started, whoever sent it (a human agent's untagged message included).
3. "All from conversation" is the whole conversation, up to the server's
   history limit; a cap that left messages out says so in the result.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import grpc

from botflow.server.app import serving
from botflow.server.config import Limits
from botflow.v1.actions_pb2 import ActionOutcome, HistoryMode
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.integration.conftest import TEST_CONFIG
from tests.integration.flows import ai, flow, run
from tests.integration.helpers import RECEIVED, SENT, conversation, openai_request
from tests.support.openai_stub import OpenAIStub

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

SESSION = HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION
ALL = HistoryMode.HISTORY_MODE_ALL_CONVERSATION
LAST_WEEK = conversation(
    (RECEIVED, "Do you ship to Spain?", "monday-session"),
    (SENT, "Yes, in 3 days.", "monday-session"),
    (RECEIVED, "Hi, my parcel is late", ""),
)


def _sent(stub_server: OpenAIStub) -> list[tuple[str, str]]:
    body = stub_server.chat_requests[-1].body
    return [(m["role"], m["content"]) for m in body["messages"]]


async def test_a_bot_started_on_an_old_conversation_does_not_send_last_weeks_session(
    stub: FlowServiceAsyncStub,
) -> None:
    async with OpenAIStub() as stub_server:
        the_flow = flow(ai("ai", provider="openai", base_url=stub_server.base_url, prompt="P"))
        _, finished = await run(stub, the_flow, convo=LAST_WEEK)
        assert _sent(stub_server) == [("user", "P")]
    assert finished.bot_session_started
    assert finished.bot_session_id != "monday-session"


async def test_a_run_that_names_its_session_continues_it(stub: FlowServiceAsyncStub) -> None:
    named = Conversation()
    named.CopyFrom(LAST_WEEK)
    named.current_bot_session_id = "monday-session"
    async with OpenAIStub() as stub_server:
        the_flow = flow(ai("ai", provider="openai", base_url=stub_server.base_url, prompt="P"))
        _, finished = await run(stub, the_flow, convo=named)
        assert _sent(stub_server) == [
            ("system", "P"),
            ("user", "Do you ship to Spain?"),
            ("assistant", "Yes, in 3 days."),
            ("user", "Hi, my parcel is late"),
        ]
    assert not finished.bot_session_started
    assert finished.bot_session_id == "monday-session"


async def test_current_bot_session_includes_an_agents_message_after_the_restart(
    stub: FlowServiceAsyncStub,
) -> None:
    convo = conversation(
        (RECEIVED, "old question", "s1"),
        (SENT, "agent, before the restart", ""),
        (RECEIVED, "bot, help", "s2"),
        (SENT, "Agent Ana here, taking over", ""),
        (RECEIVED, "thanks Ana", ""),
        current="s2",
    )
    async with OpenAIStub() as stub_server:
        request = openai_request(
            provider="openai", base_url=stub_server.base_url, prompt="P", history=SESSION
        )
        request.conversation.CopyFrom(convo)
        response = await stub.ExecuteAction(request, timeout=10)
        assert _sent(stub_server) == [
            ("system", "P"),
            ("user", "bot, help"),
            ("assistant", "Agent Ana here, taking over"),
            ("user", "thanks Ana"),
        ]
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED


def _long_conversation(count: int) -> Conversation:
    return conversation(
        *[((RECEIVED if i % 2 == 0 else SENT), f"message {i}", "") for i in range(count)]
    )


async def test_all_conversation_sends_the_whole_conversation(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub() as stub_server:
        request = openai_request(
            provider="openai", base_url=stub_server.base_url, prompt="P", history=ALL
        )
        request.conversation.CopyFrom(_long_conversation(120))
        response = await stub.ExecuteAction(request, timeout=10)
        sent = _sent(stub_server)
    assert len(sent) == 121
    assert sent[1] == ("user", "message 0")
    assert sent[-1] == ("assistant", "message 119")
    assert response.result.history_messages_omitted == 0


async def test_a_capped_history_is_visible_in_the_result(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub() as stub_server:
        request = openai_request(
            provider="openai",
            base_url=stub_server.base_url,
            prompt="P",
            history=ALL,
            max_history_messages=50,
        )
        request.conversation.CopyFrom(_long_conversation(120))
        response = await stub.ExecuteAction(request, timeout=10)
        sent = _sent(stub_server)
    assert len(sent) == 51
    assert sent[1] == ("user", "message 70")
    assert response.result.history_messages_omitted == 70


async def test_the_servers_history_limit_is_a_setting() -> None:
    config = dataclasses.replace(TEST_CONFIG, limits=Limits(max_history_messages=30))
    async with (
        OpenAIStub() as stub_server,
        serving(config) as running,
        grpc.aio.insecure_channel(running.target) as channel,
    ):
        request = openai_request(
            provider="openai", base_url=stub_server.base_url, prompt="P", history=ALL
        )
        request.conversation.CopyFrom(_long_conversation(120))
        response = await FlowServiceStub(channel).ExecuteAction(request, timeout=10)
        assert len(_sent(stub_server)) == 31
    assert response.result.history_messages_omitted == 90
