"""Mostly valid requests, so that blocks run against hostile upstreams: the
invariant holds whatever the webhook endpoint or the provider answers."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from botflow.v1.actions_pb2 import Action, HttpMethod, ResponseMapping, WebhookAction
from botflow.v1.flow_pb2 import Block, Flow, SendMessageBlock
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from tests.property.exercise import exercise
from tests.property.harness import Harness
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import (
    HOOK,
    completion_answers,
    execute_action_requests,
    run_flow_requests,
    tiny_requests,
    webhook_answers,
)


@scaled(1.0)
@given(request=execute_action_requests(), hook=webhook_answers(), llm=completion_answers())
def test_execute_action_against_hostile_upstreams(
    harness: Harness,
    request: ExecuteActionRequest,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    exercise(harness, request, hook, llm)


@scaled(1.0)
@given(request=run_flow_requests(), hook=webhook_answers(), llm=completion_answers())
def test_run_flow_against_hostile_upstreams(
    harness: Harness,
    request: RunFlowRequest,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    exercise(harness, request, hook, llm)


# Around the server's 4 MiB message limit: requests that fill it leave no room
# for what the response adds (a finish event, a new variable, a result).
MESSAGE_LIMIT = 4 * 1024 * 1024
SLACKS = st.one_of(st.integers(-1, 160), st.sampled_from([512, 4096, 4200, 20_000]))


# Found by this property (see the module docstring): a response over the send
# limit. Kept as explicit examples so that every run checks them.
@example(
    request=RunFlowRequest(
        flow=Flow(blocks=[Block(id="a", send_message=SendMessageBlock(text="hi"))])
    ),
    slack=0,
    hook=(Answer(),),
    llm=(Answer(),),
)
@example(
    request=ExecuteActionRequest(
        action=Action(
            webhook=WebhookAction(
                method=HttpMethod.HTTP_METHOD_GET,
                url="http://" + HOOK,
                response_mappings=[ResponseMapping(path="name", variable="v")],
            )
        )
    ),
    slack=20,
    hook=(Answer(body=b'{"name": "' + b"v" * 300 + b'"}'),),
    llm=(Answer(),),
)
@scaled(0.3)
@given(
    request=st.one_of(tiny_requests(), execute_action_requests(), run_flow_requests()),
    slack=SLACKS,
    hook=webhook_answers(),
    llm=completion_answers(),
)
def test_requests_at_the_message_limit(
    harness: Harness,
    request: ExecuteActionRequest | RunFlowRequest,
    slack: int,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    exercise(harness, request, hook, llm, pad_to=MESSAGE_LIMIT - slack)
