"""A Django-style function view that asks botflow for a reply, synchronously.

In a Django project this module would be `views.py`: the view takes the
request's JSON body and returns what `JsonResponse(body, status=status)`
would send. Nothing here needs Django, so the pattern is plain to see:

- one SyncBotflowClient per process, at module level: a gRPC channel is
  thread-safe and multiplexes calls, so every request thread shares it (and
  it connects lazily, so importing the module does not block);
- every call has a deadline shorter than the web request's own;
- a refused request (InvalidRequestError) is the caller's 400, anything else
  from botflow is a 502; both quote botflow's request id for the logs.

The server is BOTFLOW_TARGET (default 127.0.0.1:50051). With OPENAI_API_KEY
set the reply comes from OpenAI; without it from botflow's `fake` provider.
"""

from __future__ import annotations

import os
from typing import Any

import grpc

from botflow.client import InvalidRequestError, SyncBotflowClient, request_id
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_service_pb2 import ExecuteActionRequest
from botflow.v1.variables_pb2 import Value

OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
PROVIDER = "openai" if OPENAI_API_KEY else "fake"
# Below a typical 30 s web timeout, so the view answers before its caller gives up.
BOTFLOW_TIMEOUT_SECONDS = 20.0

botflow = SyncBotflowClient(os.environ.get("BOTFLOW_TARGET", "127.0.0.1:50051"))

Response = tuple[int, dict[str, Any]]


def _request(shop: str, message: str) -> ExecuteActionRequest:
    action = OpenAIAction(
        provider=PROVIDER,
        token="{{openai key}}",
        prompt="You are the support bot of {{shop}}. Answer in one short sentence.",
        history=HistoryMode.HISTORY_MODE_LAST_MESSAGE,
        answer_variable="reply",
        error_variable="reply error",
    )
    return ExecuteActionRequest(
        action=Action(openai=action),
        variables={
            "shop": Value(text=shop),
            "openai key": Value(text=OPENAI_API_KEY or "unused-by-fake"),
        },
        conversation=Conversation(
            messages=[Message(direction=Direction.DIRECTION_RECEIVED, text=message)]
        ),
    )


def suggest_reply(payload: dict[str, Any]) -> Response:
    """POST {"shop": "...", "message": "..."} → {"reply": "..."}.

    A provider failure is not an exception: the reply is empty and
    "reply error" says why (`RateLimited: ...`), so the page can say so.
    """
    try:
        response = botflow.execute_action(
            _request(str(payload.get("shop", "")), str(payload.get("message", ""))),
            timeout=BOTFLOW_TIMEOUT_SECONDS,
        )
    except InvalidRequestError as error:
        return 400, {"errors": error.field_violations, "request_id": error.request_id}
    except grpc.RpcError as error:
        return 502, {"error": error.code().name, "request_id": request_id(error)}
    variables = response.variables
    return 200, {"reply": variables["reply"].text, "error": variables["reply error"].text}
