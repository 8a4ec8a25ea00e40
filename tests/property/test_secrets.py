"""A token given literally in an OpenAI action never comes back, in any part
of any response, whatever the provider answers (even quoting the token)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from tests.property.exercise import exercise
from tests.property.harness import Harness
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import (
    LLM,
    SECRET,
    completion_answers,
    reflecting_errors,
)

# The token as callers get it wrong: padded, with a line break, a scheme prefix.
TOKENS = st.sampled_from(
    [SECRET, " " + SECRET + " ", SECRET + "\n", "Bearer " + SECRET, "\t" + SECRET, SECRET + "\r\n"]
)


@scaled(0.5)
@given(
    token=TOKENS,
    attempts=st.sampled_from([1, 2]),
    in_flow=st.booleans(),
    llm=st.one_of(reflecting_errors(), completion_answers()),
)
def test_literal_token_never_comes_back(
    harness: Harness, token: str, attempts: int, in_flow: bool, llm: tuple[Answer, ...]
) -> None:
    action = OpenAIAction(
        token=token,
        prompt="Answer.",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        provider="openai",
        base_url="http://" + LLM + "/v1",
        answer_variable="answer",
        error_variable="err",
        timeout_ms=1000,
        max_attempts=attempts,
    )
    request: ExecuteActionRequest | RunFlowRequest
    if in_flow:
        request = RunFlowRequest(flow=Flow(blocks=[Block(id="ask", openai=action)]))
    else:
        request = ExecuteActionRequest(action=Action(openai=action))
    # exercise() checks every response byte for the secret: it sits only in the token.
    exercise(harness, request, (), llm)
