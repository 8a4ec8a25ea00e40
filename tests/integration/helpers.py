"""Request builders and status decoding shared by the integration tests."""

from __future__ import annotations

from collections.abc import Mapping

from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from botflow.v1.variables_pb2 import Value

RECEIVED = Direction.DIRECTION_RECEIVED
SENT = Direction.DIRECTION_SENT


def conversation(
    *messages: tuple[Direction.ValueType, str, str], current: str = ""
) -> Conversation:
    """Messages as (direction, text, bot session id)."""
    return Conversation(
        messages=[Message(direction=d, text=t, bot_session_id=s) for d, t, s in messages],
        current_bot_session_id=current,
    )


def openai_request(
    *,
    token: str = "sk-test-token",
    prompt: str = "You are a helpful assistant.",
    history: int = HistoryMode.HISTORY_MODE_ALL_CONVERSATION,
    provider: str = "fake",
    variables: Mapping[str, Value] | None = None,
    convo: Conversation | None = None,
    **fields: object,
) -> ExecuteActionRequest:
    action = OpenAIAction(token=token, prompt=prompt, history=history, provider=provider, **fields)  # type: ignore[arg-type]
    return ExecuteActionRequest(
        action=Action(openai=action),
        variables=dict(variables or {}),
        conversation=convo or Conversation(),
    )
