"""Secret variables through a real server (docs/flows.md "Secret variables").

A secret renders in templates (the token, a webhook header) but never comes
back: not in ExecuteActionResponse.variables, not in FlowFinished.variables,
not as a value in VariableChanged, not in a log record or a metric.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

import pytest
from prometheus_client import generate_latest

from botflow.server.app import RunningServer
from botflow.server.logs import JsonFormatter, RequestIdFilter
from botflow.v1.actions_pb2 import (
    Action,
    ActionOutcome,
    HistoryMode,
    HttpMethod,
    OpenAIAction,
    ResponseMapping,
    SetVariableAction,
    WebhookAction,
)
from botflow.v1.actions_pb2 import SetVariableOperation as Op
from botflow.v1.events_pb2 import FlowFinished, FlowStatus, VariableChanged
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, Resume, RunFlowResponse
from botflow.v1.variables_pb2 import Value, VariableDefinition
from tests.integration.flows import restart, run, send, set_var, text, wait
from tests.integration.helpers import RECEIVED, conversation, openai_request
from tests.support.http_endpoint import HttpEndpoint, Respond

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

KEY = "sk-SECRET-4f2a9c"
SUCCEEDED = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
FAILED = ActionOutcome.ACTION_OUTCOME_FAILED
MISSING_TOKEN = "MissingParameter: the token is empty after filling in variables"


@pytest.fixture
async def endpoint() -> AsyncIterator[HttpEndpoint]:
    async with HttpEndpoint() as running:
        yield running


def secret(name: str, default: str = "") -> VariableDefinition:
    value = Value(text=default) if default else Value()
    return VariableDefinition(name=name, default_value=value, secret=True)


def ai_block(
    block_id: str, next: str = "", *, token: str = "{{openai key}}", answer: str = "answer"
) -> Block:
    action = OpenAIAction(
        token=token,
        prompt="Be brief.",
        history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
        provider="fake",
        answer_variable=answer,
        error_variable="ai error",
        timeout_ms=2000,
    )
    return Block(id=block_id, next=next, openai=action)


def hook_block(block_id: str, action: WebhookAction, next: str = "") -> Block:
    return Block(id=block_id, next=next, webhook=action)


def get(url: str, **fields: object) -> WebhookAction:
    return WebhookAction(method=HttpMethod.HTTP_METHOD_GET, url=url, timeout_ms=2000, **fields)  # type: ignore[arg-type]


def the_flow(*blocks: Block, variables: Sequence[VariableDefinition] = ()) -> Flow:
    return Flow(name="secrets", variables=list(variables), blocks=list(blocks))


def changes(events: Sequence[RunFlowResponse]) -> list[VariableChanged]:
    return [e.variable_changed for e in events if e.HasField("variable_changed")]


def change_of(events: Sequence[RunFlowResponse], name: str) -> VariableChanged:
    (change,) = [c for c in changes(events) if c.name == name]
    return change


def assert_withheld(change: VariableChanged) -> None:
    assert change.secret
    assert not change.HasField("value")


def results(events: Sequence[RunFlowResponse]) -> list[tuple[int, str]]:
    return [
        (e.action_finished.result.outcome, e.action_finished.result.error)
        for e in events
        if e.HasField("action_finished")
    ]


def carried(finished: FlowFinished) -> dict[str, Value]:
    return dict(finished.variables)


# -- ExecuteAction --------------------------------------------------------------------


async def test_a_token_variable_renders_but_is_not_returned(stub: FlowServiceAsyncStub) -> None:
    request = openai_request(
        token="{{ openai key }}",
        variables={" openai key ": text(KEY), "plan": text("pro")},
        answer_variable="answer",
        provider_options={"reply": "ok for {{plan}}"},
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == SUCCEEDED
    assert response.result.answer == "ok for pro"
    assert set(response.variables) == {"plan", "answer", "last webhook failure"}
    assert KEY not in str(response)


async def test_without_the_key_the_token_renders_empty(stub: FlowServiceAsyncStub) -> None:
    # The other half of the test above: the key really is what the token used.
    request = openai_request(token="{{openai key}}")
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.error == MISSING_TOKEN


async def test_a_declared_secret_and_its_default_are_not_returned(
    stub: FlowServiceAsyncStub,
) -> None:
    action = SetVariableAction(
        variable="pin", operation=Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, value="{{vault}}-1"
    )
    request = ExecuteActionRequest(
        action=Action(set_variable=action),
        variables={"vault": text(KEY)},
        variable_definitions=[secret("vault"), secret("pin"), secret("spare", KEY)],
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == SUCCEEDED
    assert not response.warnings
    assert dict(response.variables) == {}
    assert KEY not in str(response)


async def test_an_answer_into_a_secret_variable_is_withheld_from_the_result(
    stub: FlowServiceAsyncStub,
) -> None:
    request = openai_request(
        answer_variable="minted",
        provider_options={"reply": "fresh-credential"},
    )
    request.variable_definitions.append(secret("minted"))
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == SUCCEEDED
    assert response.result.answer == ""
    assert response.result.attempts == 1
    assert "minted" not in response.variables
    assert "fresh-credential" not in str(response)


async def test_a_secret_looking_webhook_header_makes_its_variables_secret(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    endpoint.route("/hook", Respond(json={"status": "ok"}))
    action = get(
        endpoint.url("/hook"),
        headers={"X-Api-Key": "{{hook key}}", "X-Trace": "{{trace}}"},
        response_mappings=[ResponseMapping(path="status", variable="status")],
    )
    request = ExecuteActionRequest(
        action=Action(webhook=action),
        variables={"hook key": text(KEY), "trace": text("t-1")},
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert response.result.outcome == SUCCEEDED
    assert endpoint.requests_to("/hook")[0].headers["X-Api-Key"] == KEY
    assert set(response.variables) == {"trace", "status", "last webhook failure"}
    assert KEY not in str(response)


# -- RunFlow --------------------------------------------------------------------------


async def test_a_set_variable_into_a_declared_secret_hides_its_value(
    stub: FlowServiceAsyncStub,
) -> None:
    flow = the_flow(
        set_var("store", "api key", Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, KEY, next="ai"),
        ai_block("ai", token="{{api key}}"),
        variables=[secret("api key")],
    )
    events, finished = await run(stub, flow, convo=conversation((RECEIVED, "hi", "s1")))
    assert_withheld(change_of(events, "api key"))
    # The token rendered the value the set wrote: the action succeeded.
    assert results(events) == [(SUCCEEDED, "")]
    assert set(carried(finished)) == {"answer", "ai error"}
    assert KEY not in str(events)


async def test_an_answer_into_a_secret_is_withheld_from_event_and_result(
    stub: FlowServiceAsyncStub,
) -> None:
    flow = the_flow(
        ai_block("ai", token="sk-literal", answer="session"), variables=[secret("session")]
    )
    convo = conversation((RECEIVED, "minted-credential", "s1"))
    events, finished = await run(stub, flow, convo=convo)
    (result,) = [e.action_finished.result for e in events if e.HasField("action_finished")]
    assert (result.outcome, result.answer) == (SUCCEEDED, "")
    assert_withheld(change_of(events, "session"))
    assert not change_of(events, "ai error").secret
    assert "session" not in finished.variables
    assert "minted-credential" not in str(events)


async def test_an_answer_stored_in_a_secret_is_withheld(stub: FlowServiceAsyncStub) -> None:
    flow = the_flow(wait("ask", answer_variable="password", next="done"), send("done", "Thanks"))
    flow.variables.append(secret("password"))
    events, finished = await run(
        stub, flow, resume=Resume(block_id="ask", answer=KEY), convo=conversation(current="s1")
    )
    assert_withheld(change_of(events, "password"))
    assert finished.status == FlowStatus.FLOW_STATUS_COMPLETED
    assert KEY not in str(events)


async def test_a_webhook_mapping_into_a_secret_hides_the_value(
    stub: FlowServiceAsyncStub, endpoint: HttpEndpoint
) -> None:
    # A login answers a session token that a later call sends as Authorization:
    # the header makes the variable secret, so its mapping shows no value.
    endpoint.route("/login", Respond(json={"access_token": KEY}))
    login = get(
        endpoint.url("/login"),
        response_mappings=[ResponseMapping(path="access_token", variable="session token")],
    )
    orders = get(endpoint.url("/orders"), headers={"Authorization": "Bearer {{session token}}"})
    flow = the_flow(hook_block("login", login, next="orders"), hook_block("orders", orders))
    events, finished = await run(stub, flow)
    assert results(events) == [(SUCCEEDED, ""), (SUCCEEDED, "")]
    assert_withheld(change_of(events, "session token"))
    assert endpoint.requests_to("/orders")[0].headers["Authorization"] == f"Bearer {KEY}"
    assert "session token" not in finished.variables
    assert KEY not in str(events)


async def test_a_restart_keeps_the_secrets_secret(stub: FlowServiceAsyncStub) -> None:
    # The defaults come back after a restart; a token's default stays withheld.
    flow = the_flow(
        ai_block("ai", next="again"),
        restart("again"),
        variables=[VariableDefinition(name="openai key", default_value=text(KEY))],
    )
    events, finished = await run(stub, flow, convo=conversation((RECEIVED, "hi", "s1")))
    assert finished.status == FlowStatus.FLOW_STATUS_RESTARTED
    assert "openai key" not in finished.variables
    assert KEY not in str(events)


# -- the resume protocol --------------------------------------------------------------

TRIAGE = the_flow(
    wait("ask", answer_variable="question", next="ai"),
    ai_block("ai", next="reply"),
    send("reply", "AI: {{answer}}"),
)


class Caller:
    """A backend that stores what the server returns, and keeps the key in
    its own secret store: sent with every call, never stored with the rest."""

    def __init__(self, stub: FlowServiceAsyncStub) -> None:
        self.stub = stub
        self.store: dict[str, Value] = {}

    async def call(self, resume: Resume | None, key: Mapping[str, Value]) -> list[RunFlowResponse]:
        events, finished = await run(
            self.stub,
            TRIAGE,
            variables={**self.store, **key},
            resume=resume,
            convo=conversation(current="s1"),
        )
        self.store.update(finished.variables)
        return events


async def test_a_resume_works_when_the_caller_sends_the_key_again(
    stub: FlowServiceAsyncStub,
) -> None:
    caller = Caller(stub)
    key = {"openai key": text(KEY)}
    first = await caller.call(None, {**key, "plan": text("pro")})
    assert first[-1].finished.status == FlowStatus.FLOW_STATUS_WAITING_FOR_ANSWER
    assert set(caller.store) == {"plan"}

    second = await caller.call(Resume(block_id="ask", answer="where is my order"), key)
    assert results(second) == [(SUCCEEDED, "")]
    assert second[-2].message_sent.text == "AI: where is my order"
    assert "openai key" not in caller.store
    assert KEY not in str([*first, *second])


async def test_a_resume_without_the_key_renders_an_empty_token(
    stub: FlowServiceAsyncStub,
) -> None:
    caller = Caller(stub)
    await caller.call(None, {"openai key": text(KEY)})
    events = await caller.call(Resume(block_id="ask", answer="hello"), {})
    assert results(events) == [(FAILED, MISSING_TOKEN)]


# -- logs and metrics ------------------------------------------------------------------


async def _every_kind_of_call(stub: FlowServiceAsyncStub, endpoint: HttpEndpoint) -> str:
    """Calls that put KEY through the token, a header and a set variable, in
    success and in failure; everything they answered, as text."""
    key = {"openai key": text(KEY)}
    answered: list[object] = []
    for options in ({}, {"fail": "unauthorized"}, {"fail": "rate_limit,timeout,ok"}):
        request = openai_request(token="{{openai key}}", variables=key, provider_options=options)
        answered.append(await stub.ExecuteAction(request, timeout=10))
    endpoint.route("/fail", Respond(status=401, json={"error": "bad key"}))
    for path in ("/ok", "/fail"):
        action = get(endpoint.url(path), headers={"Authorization": "Bearer {{openai key}}"})
        request = ExecuteActionRequest(action=Action(webhook=action), variables=key)
        answered.append(await stub.ExecuteAction(request, timeout=10))
    flow = the_flow(
        set_var("copy", "vault", Op.SET_VARIABLE_OPERATION_TEXT_APPEND, "{{openai key}}", "ai"),
        ai_block("ai"),
        variables=[secret("vault")],
    )
    events, _ = await run(stub, flow, variables=key, convo=conversation((RECEIVED, "hi", "s1")))
    answered.append(events)
    return str(answered)


async def test_a_secret_reaches_no_response_event_log_or_metric(
    server: RunningServer,
    stub: FlowServiceAsyncStub,
    endpoint: HttpEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answered = await _every_kind_of_call(stub, endpoint)
    assert KEY not in answered
    assert len(endpoint.requests) == 2  # the key did go out, where it belongs
    formatter, request_id = JsonFormatter(), RequestIdFilter()
    assert caplog.records, "the calls were logged"
    for record in caplog.records:
        request_id.filter(record)
        assert KEY not in formatter.format(record), record.name
        assert KEY not in str(vars(record)), record.name
    assert KEY not in generate_latest(server.metrics.registry).decode()


# -- provider options ------------------------------------------------------------


async def test_a_fake_reply_cannot_echo_a_secret(stub: FlowServiceAsyncStub) -> None:
    """Provider options render a secret as empty: they are no place for keys."""
    request = openai_request(
        token="{{openai key}}",
        variables={"openai key": text(KEY), "name": text("Ana")},
        provider_options={"reply": "the key is {{openai key}}, {{name}}"},
    )
    response = await stub.ExecuteAction(request, timeout=10)
    assert KEY not in str(response)
    assert response.result.answer == "the key is , Ana"
