"""Simulated runs with any scripted outcomes keep the invariant, send nothing
to their upstreams (the flow points at the suite's hostile servers, which count
every request), mark every action simulated, and never show a secret that a
scripted text names."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from hypothesis import given
from hypothesis import strategies as st

from botflow.server.simulation import OPENAI_FAILURES, WEBHOOK_FAILURES
from botflow.v1.actions_pb2 import (
    ErrorKind,
    HistoryMode,
    HttpMethod,
    OpenAIAction,
    ResponseMapping,
    TokenUsage,
    WebhookAction,
)
from botflow.v1.flow_pb2 import (
    Block,
    ChoiceBlock,
    ChoiceBranch,
    Condition,
    ConditionOperator,
    Flow,
    SendMessageBlock,
)
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
from botflow.v1.variables_pb2 import Value
from tests.property.exercise import prepare, release, verify
from tests.property.harness import Harness
from tests.property.hostile import Answer
from tests.property.profiles import scaled
from tests.property.strategies import HOOK, LLM, SECRET, completion_answers, webhook_answers

# An OpenAI block in a loop (its error sends it round again, up to the step
# limit), a webhook with mappings; both aimed at the hostile upstreams.
FLOW = Flow(
    blocks=[
        Block(
            id="ai",
            next="check",
            openai=OpenAIAction(
                token="{{key}}",
                prompt="p",
                history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
                provider="openai",
                base_url="http://" + LLM + "/v1",
                answer_variable="answer",
                error_variable="ai error",
            ),
        ),
        Block(
            id="check",
            choice=ChoiceBlock(
                branches=[
                    ChoiceBranch(
                        conditions=[
                            Condition(
                                variable="ai error",
                                operator=ConditionOperator.CONDITION_OPERATOR_IS_MESSAGE,
                            )
                        ],
                        next="ai",
                    )
                ],
                fallback_next="hook",
            ),
        ),
        Block(
            id="hook",
            next="say",
            webhook=WebhookAction(
                method=HttpMethod.HTTP_METHOD_POST,
                url="http://" + HOOK + "/hook",
                body='{"q": "{{answer}}"}',
                response_mappings=[
                    ResponseMapping(path="a", variable="a"),
                    ResponseMapping(path="b[*]", variable="b"),
                ],
            ),
        ),
        Block(id="say", send_message=SendMessageBlock(text="{{answer}} {{a}} {{b}}")),
    ]
)

_TEMPLATES = st.sampled_from(
    ["ok", "{{key}}", "{{answer}}", "{{nobody}}", "", " ", '{"a": "{{key}}"}', "😀{{ai error}}"]
)
_BODIES = st.sampled_from(
    [
        '{"a": "{{key}}", "b": ["{{answer}}", 2]}',
        '{"a": 1}',
        '{"a": {{answer}}}',
        "[]",
        "not json",
        "",
        '{"a": "' + "x" * 70_000 + '"}',
    ]
)


def _answers(*, fitting: bool) -> st.SearchStrategy[SimulatedOutcome]:
    usage = st.builds(
        TokenUsage,
        prompt_tokens=st.integers(0, 2**32 - 1),
        completion_tokens=st.integers(0, 2**32 - 1),
        total_tokens=st.integers(0, 2**32 - 1),
    )
    answer = st.builds(
        SimulatedAnswer,
        text=st.one_of(_TEMPLATES, st.text(max_size=30)),
        finish_reason=st.sampled_from(["", "stop", "length"] + ([] if fitting else ["a b"])),
        model=st.sampled_from(["", "m"] + ([] if fitting else ["m" * 300])),
        usage=usage,
    )
    return answer.map(lambda a: SimulatedOutcome(answer=a))


def _failures(kinds: Iterable[int], max_attempts: int) -> st.SearchStrategy[SimulatedOutcome]:
    failure = st.builds(
        SimulatedFailure,
        kind=st.sampled_from(sorted(kinds)),
        detail=st.one_of(st.just(""), st.text(max_size=20)),
        attempts=st.integers(0, max_attempts),
    )
    return failure.map(lambda f: SimulatedOutcome(failure=f))


def _responses(*, fitting: bool) -> st.SearchStrategy[SimulatedOutcome]:
    statuses = st.integers(100, 599) if fitting else st.integers(0, 700)
    names = st.sampled_from(["X-A", "Content-Type"] + ([] if fitting else ["bad name", ""]))
    response = st.builds(
        SimulatedHttpResponse,
        status=st.one_of(st.sampled_from([200, 201, 204, 302, 404, 500]), statuses),
        body=st.one_of(_BODIES, st.text(max_size=30)),
        headers=st.dictionaries(names, st.text(max_size=5)),
    )
    return response.map(lambda r: SimulatedOutcome(http_response=r))


def _outcomes(
    outcome: st.SearchStrategy[SimulatedOutcome], least: int
) -> st.SearchStrategy[SimulatedOutcomes]:
    return st.lists(outcome, min_size=least, max_size=4).map(
        lambda items: SimulatedOutcomes(outcomes=items)
    )


@st.composite
def _fitting(draw: st.DrawFn) -> Simulation:
    """Outcomes that fit the flow, given by id or by kind."""
    ai = _outcomes(st.one_of(_answers(fitting=True), _failures(OPENAI_FAILURES, 3)), 1)
    hook = _outcomes(st.one_of(_responses(fitting=True), _failures(WEBHOOK_FAILURES, 1)), 1)
    simulation = Simulation()
    for block, kind, outcomes in (("ai", "openai", ai), ("hook", "webhook", hook)):
        where = simulation.blocks if draw(st.booleans()) else simulation.kinds
        where[block if where is simulation.blocks else kind].CopyFrom(draw(outcomes))
    return simulation


_ANY = _outcomes(
    st.one_of(
        _answers(fitting=False),
        _failures(ErrorKind.values(), 12),
        _responses(fitting=False),
        st.just(SimulatedOutcome()),
    ),
    0,
)
SIMULATIONS = st.one_of(
    _fitting(),
    _fitting(),
    _fitting(),
    st.builds(
        Simulation,
        blocks=st.dictionaries(st.sampled_from(["ai", "hook", "say", "nowhere"]), _ANY),
        kinds=st.dictionaries(st.sampled_from(["openai", "webhook", "choice"]), _ANY),
    ),
)


@scaled(1.0)
@given(simulation=SIMULATIONS, hook=webhook_answers(), llm=completion_answers())
def test_any_simulation(
    harness: Harness,
    simulation: Simulation,
    hook: tuple[Answer, ...],
    llm: tuple[Answer, ...],
) -> None:
    request = RunFlowRequest(
        flow=FLOW, simulation=simulation, variables={"key": Value(text=SECRET)}, max_steps=20
    )
    prepared = prepare(harness, request, hook, llm)
    try:
        call = harness.call(prepared.request)
        verify(harness, prepared, call)
        hook_script, llm_script = prepared.scripts
        assert harness.webhook.served(hook_script) == 0
        assert harness.openai.served(llm_script) == 0
        secret = prepared.request.variables["key"].text
        for response in call.responses:
            assert secret.encode() not in response.SerializeToString()
        if call.code == grpc.StatusCode.OK:
            events = [r for r in call.responses if isinstance(r, RunFlowResponse)]
            results = [e.action_finished.result for e in events if e.HasField("action_finished")]
            assert results
            assert all(r.simulated for r in results)
    finally:
        release(harness, prepared)
