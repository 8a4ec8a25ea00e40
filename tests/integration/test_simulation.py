"""Simulated runs (RunFlowRequest.simulation) through a real server: scripted
OpenAI answers and failures, scripted webhook responses and failures, the
successive-outcome rule, templates, validation, and the proof that nothing
reaches the network (the flows point at loopback servers that record every
request, and that the same flow run live does reach)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
import pytest

from botflow.client import field_violations
from botflow.server.app import RunningServer
from botflow.server.simulation import MAX_OUTCOMES
from botflow.v1.actions_pb2 import (
    ActionOutcome,
    ActionResult,
    ErrorKind,
    HttpMethod,
    ResponseMapping,
    TokenUsage,
    WebhookAction,
)
from botflow.v1.actions_pb2 import SetVariableOperation as Op
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import ConditionOperator, Flow
from botflow.v1.flow_service_pb2 import (
    RunFlowRequest,
    RunFlowResponse,
    SimulatedAnswer,
    SimulatedFailure,
    SimulatedHttpResponse,
    SimulatedOutcome,
    SimulatedOutcomes,
    Simulation,
)
from botflow.v1.variables_pb2 import Value, VariableDefinition
from tests.integration.flows import (
    ai,
    branch,
    check_stream,
    choice,
    collect,
    cond,
    flow,
    hook,
    send,
    set_var,
    text,
)
from tests.support.http_endpoint import HttpEndpoint, Respond
from tests.support.openai_stub import OpenAIStub

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

SUCCEEDED = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
FAILED = ActionOutcome.ACTION_OUTCOME_FAILED
COMPLETED = FlowStatus.FLOW_STATUS_COMPLETED
GET = HttpMethod.HTTP_METHOD_GET


# -- outcomes -----------------------------------------------------------------


def answer(text_: str, **fields: object) -> SimulatedOutcome:
    return SimulatedOutcome(answer=SimulatedAnswer(text=text_, **fields))  # type: ignore[arg-type]


def failure(kind: ErrorKind.ValueType, detail: str = "", attempts: int = 0) -> SimulatedOutcome:
    return SimulatedOutcome(failure=SimulatedFailure(kind=kind, detail=detail, attempts=attempts))


def response(status: int, body: str = "{}", **headers: str) -> SimulatedOutcome:
    return SimulatedOutcome(
        http_response=SimulatedHttpResponse(status=status, body=body, headers=headers)
    )


def outcomes(*items: SimulatedOutcome) -> SimulatedOutcomes:
    return SimulatedOutcomes(outcomes=list(items))


def simulation(
    blocks: dict[str, SimulatedOutcomes] | None = None,
    kinds: dict[str, SimulatedOutcomes] | None = None,
) -> Simulation:
    return Simulation(blocks=blocks or {}, kinds=kinds or {})


async def simulate(
    stub: FlowServiceAsyncStub,
    the_flow: Flow,
    sim: Simulation,
    variables: dict[str, Value] | None = None,
) -> list[RunFlowResponse]:
    request = RunFlowRequest(flow=the_flow, simulation=sim, variables=variables or {})
    events = await collect(stub, request)
    check_stream(events)
    return events


def results(events: Sequence[RunFlowResponse]) -> list[tuple[str, ActionResult]]:
    return [(e.block_id, e.action_finished.result) for e in events if e.HasField("action_finished")]


def messages(events: Sequence[RunFlowResponse]) -> list[str]:
    return [e.message_sent.text for e in events if e.HasField("message_sent")]


def webhook(url: str, *mappings: tuple[str, str], error_variable: str = "") -> WebhookAction:
    return WebhookAction(
        method=GET,
        url=url,
        response_mappings=[ResponseMapping(path=p, variable=v) for p, v in mappings],
        error_variable=error_variable,
    )


async def violations_of(stub: FlowServiceAsyncStub, request: RunFlowRequest) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub, request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return sorted(field_violations(caught.value))


# -- nothing reaches the network -----------------------------------------------


def _order_flow(base_url: str, hook_url: str) -> Flow:
    """An OpenAI block on the openai provider and a webhook, both aimed at
    loopback servers the test server is allowed to reach."""
    return flow(
        ai(
            "classify",
            "lookup",
            provider="openai",
            base_url=base_url,
            answer_variable="category",
            error_variable="ai error",
        ),
        hook(
            "lookup",
            webhook(hook_url, ("order.status", "status"), error_variable="hook error"),
            "route",
        ),
        choice(
            "route",
            branch(
                "shipped", cond(ConditionOperator.CONDITION_OPERATOR_EQUALS, "shipped", "status")
            ),
            fallback="other",
        ),
        send("shipped", "Your {{category}} order has shipped."),
        send("other", "Your order is {{status}}."),
    )


async def test_a_simulated_run_sends_nothing_and_runs_as_live(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub() as provider, HttpEndpoint() as endpoint:
        endpoint.route("/order", Respond(json={"order": {"status": "packed"}}))
        the_flow = _order_flow(provider.base_url, endpoint.url("/order"))
        # Live, the same flow reaches both servers: the proof below can fail.
        live = await collect(stub, RunFlowRequest(flow=the_flow))
        assert len(provider.chat_requests) == 1
        assert len(endpoint.requests) == 1
        assert messages(live) == ["Your order is packed."]
        assert not any(result.simulated for _, result in results(live))

        sim = simulation(
            blocks={
                "classify": outcomes(
                    answer(
                        "delivery",
                        model="gpt-sim",
                        usage=TokenUsage(prompt_tokens=5, completion_tokens=1, total_tokens=6),
                    )
                ),
                "lookup": outcomes(response(200, '{"order": {"status": "shipped"}}')),
            }
        )
        events = await simulate(stub, the_flow, sim)
        assert len(provider.requests) == 1
        assert len(endpoint.requests) == 1
    assert messages(events) == ["Your delivery order has shipped."]
    (ai_id, ai_result), (hook_id, hook_result) = results(events)
    assert (ai_id, hook_id) == ("classify", "lookup")
    assert ai_result.simulated
    assert hook_result.simulated
    assert ai_result.outcome == SUCCEEDED
    assert ai_result.answer == "delivery"
    assert ai_result.model == "gpt-sim"
    assert ai_result.finish_reason == "stop"
    assert ai_result.attempts == 1
    assert ai_result.usage.total_tokens == 6
    assert hook_result.outcome == SUCCEEDED
    assert hook_result.http_status == 200
    finished = events[-1].finished
    assert finished.status == COMPLETED
    assert finished.variables["status"].text == "shipped"
    assert finished.variables["ai error"].text == ""
    assert finished.variables["hook error"].text == ""


async def test_the_flows_own_failures_happen_before_the_call_and_take_no_outcome(
    stub: FlowServiceAsyncStub,
) -> None:
    """A template that renders empty fails as live (MissingParameter, no
    attempt), and the block's first outcome is left for its next call."""
    is_message = ConditionOperator.CONDITION_OPERATOR_IS_MESSAGE
    the_flow = flow(
        hook("call", webhook("{{url}}", ("n", "n"), error_variable="e"), "check"),
        choice("check", branch("done", cond(is_message, variable="url")), fallback="set"),
        set_var(
            "set", "url", Op.SET_VARIABLE_OPERATION_TEXT_REPLACE, "https://example.com/x", "call"
        ),
        send("done", "n={{n}} e={{e}}"),
        start="call",
    )
    sim = simulation(kinds={"webhook": outcomes(response(200, '{"n": "one"}'), response(500))})
    events = await simulate(stub, the_flow, sim)
    (_, first), (_, second) = results(events)
    assert first.error == "MissingParameter: the url is empty after filling in variables"
    assert first.attempts == 0
    assert first.simulated
    assert (second.outcome, second.attempts, second.simulated) == (SUCCEEDED, 1, True)
    assert messages(events) == ["n=one e="]


# -- the outcome rules -----------------------------------------------------------


def _loop(provider: str = "fake") -> Flow:
    """An OpenAI block run three times in a loop, its answer or error sent each time."""
    return flow(
        ai("ask", "say", provider=provider, answer_variable="answer", error_variable="error"),
        send("say", "{{answer}}|{{error}}", "count"),
        set_var("count", "n", Op.SET_VARIABLE_OPERATION_NUMBER_ADD, "1", "loop"),
        choice(
            "loop",
            branch("ask", cond(ConditionOperator.CONDITION_OPERATOR_LESS_THAN, "3", "n")),
        ),
        start="ask",
    )


async def test_successive_calls_take_successive_outcomes_and_the_last_repeats(
    stub: FlowServiceAsyncStub,
) -> None:
    sim = simulation(
        blocks={
            "ask": outcomes(
                failure(ErrorKind.ERROR_KIND_TIMEOUT, attempts=3),
                answer("second"),
            )
        }
    )
    events = await simulate(stub, _loop(), sim)
    assert messages(events) == [
        "|Timeout: no answer within 2000 ms (3 attempts)",
        "second|",
        "second|",
    ]
    first, second, third = (r for _, r in results(events))
    assert (first.outcome, first.error_kind, first.attempts) == (
        FAILED,
        ErrorKind.ERROR_KIND_TIMEOUT,
        3,
    )
    assert not first.answer
    assert (second.outcome, second.attempts) == (SUCCEEDED, 1)
    assert third.answer == "second"
    assert all(r.simulated for r in (first, second, third))


async def test_each_run_starts_at_the_first_outcome(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(ai("ask", answer_variable="answer"))
    sim = simulation(blocks={"ask": outcomes(answer("one"), answer("two"))})
    for _ in range(2):
        events = await simulate(stub, the_flow, sim)
        assert [r.answer for _, r in results(events)] == ["one"]


K = ErrorKind
PROVIDER_FAILURES = [
    (K.ERROR_KIND_RATE_LIMITED, "", 2, "RateLimited: too many requests (HTTP 429)"),
    (K.ERROR_KIND_QUOTA_EXCEEDED, "", 0, "QuotaExceeded: the account is out of quota (HTTP 429)"),
    (K.ERROR_KIND_UNAUTHORIZED, "", 1, "Unauthorized: the provider refused the token (HTTP 401)"),
    (K.ERROR_KIND_BAD_REQUEST, "", 0, "BadRequest: the provider refused the request (HTTP 400)"),
    (K.ERROR_KIND_PROVIDER_ERROR, "", 3, "ProviderError: the provider failed (HTTP 500)"),
    (K.ERROR_KIND_BLOCKED, "", 0, "Blocked: the provider's endpoint is refused by the egress policy"),  # noqa: E501
    (K.ERROR_KIND_BAD_RESPONSE, "", 0, "BadResponse: the provider's answer could not be used"),
    (K.ERROR_KIND_PROVIDER_ERROR, "overloaded", 2, "ProviderError: overloaded"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "detail", "attempts", "error"), PROVIDER_FAILURES)
async def test_a_scripted_provider_failure_is_stored_exactly_as_live(
    stub: FlowServiceAsyncStub,
    kind: ErrorKind.ValueType,
    detail: str,
    attempts: int,
    error: str,
) -> None:
    the_flow = flow(
        ai("ask", "after", answer_variable="answer", error_variable="error"),
        send("after", "error={{error}}"),
    )
    sim = simulation(blocks={"ask": outcomes(failure(kind, detail, attempts))})
    events = await simulate(stub, the_flow, sim, {"answer": text("stale")})
    ((_, result),) = results(events)
    assert result.outcome == FAILED
    assert result.error_kind == kind
    suffix = f" ({attempts} attempts)" if attempts > 1 else ""
    assert result.error == error + suffix
    assert result.attempts == (attempts or 1)
    assert result.simulated
    assert messages(events) == [f"error={error}{suffix}"]
    # The answer variable keeps its value on failure, as live.
    assert events[-1].finished.variables["answer"].text == "stale"


async def test_an_empty_scripted_answer_fails_as_an_empty_live_answer(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(ai("ask", error_variable="error"))
    sim = simulation(blocks={"ask": outcomes(answer("  ", finish_reason="length"))})
    ((_, result),) = results(await simulate(stub, the_flow, sim))
    empty = "BadResponse: the provider returned an empty answer (finish reason length)"
    assert result.error == empty


async def test_answer_texts_are_templates_and_secrets_render_empty(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = Flow(
        variables=[
            VariableDefinition(name="name", default_value=text("Ana")),
            VariableDefinition(name="api key", default_value=text("sk-SECRET-1"), secret=True),
        ],
        blocks=[ai("ask", "say", answer_variable="answer"), send("say", "{{answer}}")],
    )
    the_flow.blocks[0].openai.token = "{{api key}}"
    sim = simulation(blocks={"ask": outcomes(answer("Hello {{name}} [{{api key}}] {{unknown}}"))})
    events = await simulate(stub, the_flow, sim)
    assert messages(events) == ["Hello Ana [] "]
    assert all("sk-SECRET-1" not in str(e) for e in events)


async def test_a_missing_token_fails_before_the_call(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(ai("ask", error_variable="error"))
    the_flow.blocks[0].openai.token = "{{no such variable}}"
    sim = simulation(blocks={"ask": outcomes(answer("never"))})
    ((_, result),) = results(await simulate(stub, the_flow, sim))
    assert result.error == "MissingParameter: the token is empty after filling in variables"
    assert result.attempts == 0
    assert result.simulated


# -- webhooks -----------------------------------------------------------------------


HOOK_URL = "https://hooks.example.com/orders?id={{id}}"


HOST = "hooks.example.com"
WEBHOOK_OUTCOMES = [
    (response(404, '{"error": "no"}'), f"BadRequest: {HOST} refused the request (HTTP 404)", 404),
    (response(503), f"BadResponse: {HOST} answered HTTP 503", 503),
    (response(200, "<html>"), f"BadResponse: the answer from {HOST} is not JSON", 200),
    (response(200, '{"other": 1}'), "KeyError: the answer has no value at order.status", 200),
    (failure(K.ERROR_KIND_TIMEOUT), f"Timeout: no answer from {HOST} within 15000 ms", 0),
    (failure(K.ERROR_KIND_BLOCKED), f"Blocked: {HOST} is refused by the egress policy", 0),
    (failure(K.ERROR_KIND_BAD_REQUEST), f"BadRequest: the request to {HOST} was refused", 0),
    (failure(K.ERROR_KIND_BAD_RESPONSE, "gateway gone", 1), "BadResponse: gateway gone", 0),
]  # fmt: skip


@pytest.mark.parametrize(("outcome", "error", "http_status"), WEBHOOK_OUTCOMES)
async def test_a_scripted_webhook_answer_goes_through_the_live_checks(
    stub: FlowServiceAsyncStub, outcome: SimulatedOutcome, error: str, http_status: int
) -> None:
    the_flow = flow(
        hook("lookup", webhook(HOOK_URL, ("order.status", "status"), error_variable="e"), "after"),
        send("after", "{{e}}"),
    )
    sim = simulation(blocks={"lookup": outcomes(outcome)})
    events = await simulate(stub, the_flow, sim, {"status": text("unchanged")})
    ((_, result),) = results(events)
    assert result.outcome == FAILED
    assert result.error == error
    assert result.attempts == 1
    assert result.http_status == http_status
    assert result.simulated
    assert messages(events) == [error]
    assert events[-1].finished.variables["status"].text == "unchanged"


async def test_a_webhook_body_is_a_template_with_json_escaped_values(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(hook("lookup", webhook(HOOK_URL, ("name", "name"), ("tags[*]", "tags"))))
    body = '{"name": "{{contact}}", "tags": ["{{id}}", "b"]}'
    sim = simulation(blocks={"lookup": outcomes(response(201, body, **{"X-Test": "1"}))})
    variables = {"contact": text('Ana "the" \\ best'), "id": text("7")}
    events = await simulate(stub, the_flow, sim, variables)
    ((_, result),) = results(events)
    assert (result.outcome, result.http_status) == (SUCCEEDED, 201)
    finished = events[-1].finished.variables
    assert finished["name"].text == 'Ana "the" \\ best'
    assert list(finished["tags"].list.items) == ["7", "b"]


async def test_a_rendered_body_over_the_response_cap_is_bad_response(
    server: RunningServer, stub: FlowServiceAsyncStub
) -> None:
    cap = server.config.limits.max_response_bytes
    the_flow = flow(hook("lookup", webhook(HOOK_URL, error_variable="e")))
    big = {"big": text("x" * 60_000)}
    sim = simulation(blocks={"lookup": outcomes(response(200, '"{{big}}{{big}}"'))})
    ((_, result),) = results(await simulate(stub, the_flow, sim, big))
    # Under the cap: a JSON string, nothing mapped, a success.
    assert result.outcome == SUCCEEDED
    many = "{{big}}" * (cap // 60_000 + 1)
    sim = simulation(blocks={"lookup": outcomes(response(200, f'"{many}"'))})
    ((_, result),) = results(await simulate(stub, the_flow, sim, big))
    assert result.error == f"BadResponse: the response is larger than {cap} bytes"
    assert result.http_status == 200


# -- reports ----------------------------------------------------------------------


async def test_simulated_actions_are_counted_and_logged_apart(
    server: RunningServer, stub: FlowServiceAsyncStub, caplog: pytest.LogCaptureFixture
) -> None:
    registry = server.metrics.registry
    the_flow = flow(ai("ask", "lookup"), hook("lookup", webhook(HOOK_URL)))
    sim = simulation(
        blocks={"ask": outcomes(failure(ErrorKind.ERROR_KIND_RATE_LIMITED, attempts=3))},
        kinds={"webhook": outcomes(response(200))},
    )
    with caplog.at_level(logging.INFO, logger="botflow.actions"):
        await simulate(stub, the_flow, sim)
    labels = {"action": "openai", "outcome": "failed", "error_kind": "RateLimited"}
    assert registry.get_sample_value("botflow_simulated_actions_total", labels) == 1
    labels = {"action": "webhook", "outcome": "succeeded", "error_kind": ""}
    assert registry.get_sample_value("botflow_simulated_actions_total", labels) == 1
    attempts = {"action": "openai", "provider": "fake"}
    assert registry.get_sample_value("botflow_action_attempts_total", attempts) is None
    finished = [r for r in caplog.records if r.getMessage() == "action finished"]
    assert [getattr(r, "simulated", None) for r in finished] == [True, True]


# -- validation -------------------------------------------------------------------


async def test_every_action_block_needs_outcomes(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(ai("ask", "lookup"), hook("lookup", webhook(HOOK_URL), "bye"), send("bye", "x"))
    request = RunFlowRequest(flow=the_flow, simulation=Simulation())
    assert await violations_of(stub, request) == [
        'simulation.blocks["ask"]',
        'simulation.blocks["lookup"]',
    ]
    # A kind covers every block of that kind not listed by id.
    request.simulation.kinds["openai"].outcomes.append(answer("x"))
    assert await violations_of(stub, request) == ['simulation.blocks["lookup"]']


async def test_a_simulation_that_does_not_fit_the_flow_is_invalid(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(ai("ask", "lookup"), hook("lookup", webhook(HOOK_URL), "bye"), send("bye", "x"))
    sim = simulation(
        blocks={
            "ask": outcomes(
                response(200),
                SimulatedOutcome(),
                failure(ErrorKind.ERROR_KIND_UNSPECIFIED),
                failure(ErrorKind.ERROR_KIND_MISSING_PARAMETER),
                failure(ErrorKind.ERROR_KIND_KEY_ERROR),
                failure(ErrorKind.ERROR_KIND_CANCELLED),
                failure(ErrorKind.ERROR_KIND_TIMEOUT, attempts=4),
                failure(ErrorKind.ERROR_KIND_TIMEOUT, "x" * 1025),
                answer("ok", finish_reason="not a word", model="m" * 257),
            ),
            "lookup": outcomes(
                answer("x"),
                failure(ErrorKind.ERROR_KIND_RATE_LIMITED),
                failure(ErrorKind.ERROR_KIND_TIMEOUT, attempts=2),
                response(99, "{}", **{"bad name": "1"}),
                response(600, "x" * (64 * 1024 + 1)),
            ),
            "bye": outcomes(answer("x")),
            "nowhere": outcomes(answer("x")),
        },
        kinds={"send_message": outcomes(answer("x")), "openai": SimulatedOutcomes()},
    )
    violations = await violations_of(stub, RunFlowRequest(flow=the_flow, simulation=sim))
    ask = 'simulation.blocks["ask"].outcomes'
    lookup = 'simulation.blocks["lookup"].outcomes'
    assert violations == sorted(
        [
            f"{ask}[0].http_response",
            f"{ask}[1]",
            f"{ask}[2].failure.kind",
            f"{ask}[3].failure.kind",
            f"{ask}[4].failure.kind",
            f"{ask}[5].failure.kind",
            f"{ask}[6].failure.attempts",
            f"{ask}[7].failure.detail",
            f"{ask}[8].answer.finish_reason",
            f"{ask}[8].answer.model",
            f"{lookup}[0].answer",
            f"{lookup}[1].failure.kind",
            f"{lookup}[2].failure.attempts",
            f"{lookup}[3].http_response.status",
            f'{lookup}[3].http_response.headers["bad name"]',
            f"{lookup}[4].http_response.status",
            f"{lookup}[4].http_response.body",
            'simulation.blocks["bye"]',
            'simulation.blocks["nowhere"]',
            'simulation.kinds["send_message"]',
            'simulation.kinds["openai"].outcomes',
        ]
    )


async def test_the_attempts_of_a_kinds_failure_fit_every_block_it_scripts(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(ai("a", "b"), ai("b"))
    the_flow.blocks[1].openai.max_attempts = 2
    sim = simulation(kinds={"openai": outcomes(failure(ErrorKind.ERROR_KIND_TIMEOUT, attempts=3))})
    request = RunFlowRequest(flow=the_flow, simulation=sim)
    assert await violations_of(stub, request) == [
        'simulation.kinds["openai"].outcomes[0].failure.attempts'
    ]
    # Listed by id, "b" no longer takes the kind's outcomes.
    request.simulation.blocks["b"].outcomes.append(answer("x"))
    events = await collect(stub, request)
    assert [r.error for _, r in results(events)] == [
        "Timeout: no answer within 2000 ms (3 attempts)",
        "",
    ]


async def test_too_many_outcomes_is_invalid(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(ai("ask"))
    sim = simulation(blocks={"ask": outcomes(*[answer("x")] * (MAX_OUTCOMES + 1))})
    request = RunFlowRequest(flow=the_flow, simulation=sim)
    assert await violations_of(stub, request) == ["simulation"]
    del request.simulation.blocks["ask"].outcomes[-1]
    assert len(await collect(stub, request)) == 3


async def test_a_flow_without_actions_may_be_simulated(stub: FlowServiceAsyncStub) -> None:
    events = await simulate(stub, flow(send("hi", "hello")), Simulation())
    assert messages(events) == ["hello"]
