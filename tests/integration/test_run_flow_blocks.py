"""RunFlow through the generated stubs against a real server: every block kind,
stream invariants, the step limit, validation, and the working conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
import pytest

from botflow.client import field_violations
from botflow.v1.actions_pb2 import ActionOutcome, ErrorKind, HistoryMode
from botflow.v1.actions_pb2 import SetVariableOperation as Op
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Block, ConditionJoin, Flow
from botflow.v1.flow_pb2 import ConditionOperator as Cmp
from botflow.v1.flow_service_pb2 import Resume, RunFlowRequest, RunFlowResponse
from botflow.v1.variables_pb2 import Value
from tests.integration.flows import (
    Described,
    ai,
    branch,
    choice,
    cond,
    described,
    flow,
    flow_request,
    items,
    jump,
    note,
    number,
    restart,
    run,
    send,
    set_var,
    text,
    wait,
)
from tests.integration.helpers import RECEIVED, SENT, conversation
from tests.support.openai_stub import OpenAIStub

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

COMPLETED = FlowStatus.FLOW_STATUS_COMPLETED
WAITING = FlowStatus.FLOW_STATUS_WAITING_FOR_ANSWER
RESTARTED = FlowStatus.FLOW_STATUS_RESTARTED
STEP_LIMIT = FlowStatus.FLOW_STATUS_STEP_LIMIT_REACHED
SUCCEEDED = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
FAILED = ActionOutcome.ACTION_OUTCOME_FAILED
ERROR_VARIABLE = "last webhook failure"


# -- send message and add note ------------------------------------------------


async def test_send_message_renders_templates(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        send("hello", "Hi {{ first name }}, {{count}} items ({{price}} each): {{cart}}", "bye"),
        send("bye", "Bye{{missing}}!"),
    )
    variables = {
        "first name": text("Ann"),
        "count": number(3),
        "price": number(2.5),
        "cart": items("boots", "hat"),
    }
    events, finished = await run(stub, the_flow, variables=variables)
    assert described(events) == [
        ("hello", "message_sent", "Hi Ann, 3 items (2.5 each): boots, hat"),
        ("bye", "message_sent", "Bye!"),
        ("bye", "finished", COMPLETED),
    ]
    assert finished.steps == 2
    assert dict(finished.variables) == variables


async def test_send_message_rendering_empty_warns_and_sends_nothing(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(
        send("a", "{{nothing}}", "b"),
        send("b", "  {{ also nothing }} ", "c"),
        send("c", "still here"),
    )
    events, finished = await run(stub, the_flow)
    assert described(events) == [
        ("a", "warning", "empty_message"),
        ("b", "warning", "empty_message"),
        ("c", "message_sent", "still here"),
        ("c", "finished", COMPLETED),
    ]
    assert events[0].warning.warning.message
    assert finished.steps == 3


async def test_add_note_renders_warns_when_empty_and_stays_out_of_the_conversation(
    stub: FlowServiceAsyncStub,
) -> None:
    # With no history message selected the prompt goes alone as `user`, so the
    # fake provider echoes the prompt; had the note joined the conversation as
    # a sent message, the prompt would be `system` and the echo empty.
    the_flow = flow(
        note("n", "Customer {{name}} asked for a refund", "empty"),
        note("empty", "{{missing}}", "ai"),
        ai("ai", prompt="PROMPT", history=HistoryMode.HISTORY_MODE_ALL_CONVERSATION),
    )
    events, finished = await run(stub, the_flow, variables={"name": text("Ann")})
    assert described(events) == [
        ("n", "note_added", "Customer Ann asked for a refund"),
        ("empty", "warning", "empty_note"),
        ("ai", "action_finished", (SUCCEEDED, "PROMPT")),
        ("ai", "variable_changed", (ERROR_VARIABLE, text(""))),
        ("ai", "finished", COMPLETED),
    ]
    assert finished.steps == 3


# -- set variable ---------------------------------------------------------------

UNCHANGED = "unchanged"


def _op(name: str) -> Op.ValueType:
    return Op.Value(f"SET_VARIABLE_OPERATION_{name}")


SET_VARIABLE_CASES: list[Any] = [
    pytest.param(_op("TEXT_REPLACE"), text("old"), "new {{y}}", text("new Y"), id="text-replace"),
    pytest.param(_op("TEXT_APPEND"), text("ab"), "cd{{y}}", text("abcdY"), id="text-append"),
    pytest.param(_op("TEXT_APPEND"), None, "cd", text("cd"), id="text-append-to-unset"),
    pytest.param(
        _op("TEXT_APPEND"), number(3), " apples", text("3 apples"), id="text-append-to-number"
    ),
    pytest.param(_op("NUMBER_REPLACE"), text("abc"), " 2.5 ", number(2.5), id="number-replace"),
    pytest.param(
        _op("NUMBER_REPLACE"), number(1), "twelve", UNCHANGED, id="number-replace-bad-operand"
    ),
    pytest.param(_op("NUMBER_ADD"), number(2), "3", number(5), id="number-add"),
    pytest.param(
        _op("NUMBER_ADD"), number(2), "{{step}}", number(9), id="number-add-template-operand"
    ),
    pytest.param(
        _op("NUMBER_ADD"), text(" 4 "), "3", number(7), id="number-add-to-text-that-parses"
    ),
    pytest.param(_op("NUMBER_ADD"), None, "3", number(3), id="number-add-to-unset"),
    pytest.param(_op("NUMBER_ADD"), text(""), "3", number(3), id="number-add-to-empty-text"),
    pytest.param(_op("NUMBER_ADD"), number(2), "abc", UNCHANGED, id="number-add-bad-operand"),
    pytest.param(_op("NUMBER_ADD"), text("abc"), "1", UNCHANGED, id="number-add-to-non-number"),
    pytest.param(_op("NUMBER_SUBTRACT"), number(10), "4", number(6), id="number-subtract"),
    pytest.param(_op("NUMBER_SUBTRACT"), None, "4", number(-4), id="number-subtract-from-unset"),
    pytest.param(_op("NUMBER_MULTIPLY"), number(2.5), "4", number(10), id="number-multiply"),
    pytest.param(
        _op("NUMBER_MULTIPLY"), number(2.5), "x", UNCHANGED, id="number-multiply-bad-operand"
    ),
    pytest.param(_op("NUMBER_DIVIDE"), number(9), "2", number(4.5), id="number-divide"),
    pytest.param(_op("NUMBER_DIVIDE"), number(9), " 0 ", UNCHANGED, id="number-divide-by-zero"),
    pytest.param(_op("NUMBER_DIVIDE"), number(9), "", UNCHANGED, id="number-divide-empty-operand"),
    pytest.param(_op("LIST_ADD"), items("a"), "b", items("a", "b"), id="list-add"),
    pytest.param(_op("LIST_ADD"), None, "{{y}}", items("Y"), id="list-add-to-unset"),
    pytest.param(_op("LIST_ADD"), items("a"), "{{nothing}}", UNCHANGED, id="list-add-empty-item"),
    pytest.param(_op("NUMBER_ADD"), number(1), "1_000", UNCHANGED, id="number-add-underscored"),
    pytest.param(_op("LIST_REMOVE"), items("a", "b", " a "), "a", items("b"), id="list-remove"),
    pytest.param(
        _op("LIST_REMOVE"), items("a", "b"), "c", items("a", "b"), id="list-remove-absent"
    ),
    pytest.param(_op("LIST_EMPTY"), items("a", "b"), "", items(), id="list-empty"),
]

WARNING_CODES = {
    "number-replace-bad-operand": "bad_number",
    "number-add-bad-operand": "bad_number",
    "number-add-to-non-number": "bad_number",
    "number-multiply-bad-operand": "bad_number",
    "number-divide-by-zero": "division_by_zero",
    "number-divide-empty-operand": "bad_number",
    "list-add-empty-item": "empty_item",
    "number-add-underscored": "bad_number",
}


@pytest.mark.parametrize(("operation", "initial", "operand", "expected"), SET_VARIABLE_CASES)
async def test_set_variable_operations(
    stub: FlowServiceAsyncStub,
    request: pytest.FixtureRequest,
    operation: Op.ValueType,
    initial: Value | None,
    operand: str,
    expected: Value | str,
) -> None:
    case_id = request.node.callspec.id
    variables = {"y": text("Y"), "step": number(7)}
    if initial is not None:
        variables["x"] = initial
    the_flow = flow(set_var("s", " x ", operation, operand))
    events, finished = await run(stub, the_flow, variables=variables)
    first: Described
    if isinstance(expected, str):
        assert expected == UNCHANGED
        first = ("s", "warning", WARNING_CODES[case_id])
        final = initial
    else:
        first = ("s", "variable_changed", ("x", expected))
        final = expected
    assert described(events) == [first, ("s", "finished", COMPLETED)]
    assert finished.steps == 1
    if final is None:
        assert "x" not in finished.variables
    else:
        assert finished.variables["x"] == final
    assert finished.variables["y"] == text("Y")


def test_every_set_variable_operation_is_covered() -> None:
    covered = {case.values[0] for case in SET_VARIABLE_CASES}
    assert covered == set(Op.values()) - {Op.SET_VARIABLE_OPERATION_UNSPECIFIED}
    assert set(WARNING_CODES.values()) == {"bad_number", "division_by_zero", "empty_item"}


async def test_set_variable_changes_are_seen_by_later_blocks(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        set_var("a", "total", Op.SET_VARIABLE_OPERATION_NUMBER_ADD, "10", "b"),
        set_var("b", "total", Op.SET_VARIABLE_OPERATION_NUMBER_DIVIDE, "4", "c"),
        set_var("c", "note", Op.SET_VARIABLE_OPERATION_TEXT_APPEND, " = {{total}}", "d"),
        send("d", "{{note}}"),
        defaults={"total": number(0), "note": text("total")},
    )
    events, finished = await run(stub, the_flow)
    assert described(events) == [
        ("a", "variable_changed", ("total", number(10))),
        ("b", "variable_changed", ("total", number(2.5))),
        ("c", "variable_changed", ("note", text("total = 2.5"))),
        ("d", "message_sent", "total = 2.5"),
        ("d", "finished", COMPLETED),
    ]
    assert dict(finished.variables) == {"total": number(2.5), "note": text("total = 2.5")}


# -- choice ---------------------------------------------------------------------


def _cmp(name: str) -> Cmp.ValueType:
    return Cmp.Value(f"CONDITION_OPERATOR_{name}")


CHOICE_CASES: list[Any] = [
    pytest.param(_cmp("EQUALS"), text("  Hello "), "hELLO", True, id="equals"),
    pytest.param(_cmp("EQUALS"), text("Straße"), "STRASSE", True, id="equals-casefold"),
    pytest.param(_cmp("EQUALS"), text("ann"), " {{expected}} ", True, id="equals-template"),
    pytest.param(_cmp("EQUALS"), text("hello"), "help", False, id="equals-false"),
    pytest.param(_cmp("CONTAINS"), text("I want a REFUND now"), " refund ", True, id="contains"),
    pytest.param(_cmp("CONTAINS"), items("boots", "hat"), "HAT", True, id="contains-list"),
    pytest.param(_cmp("CONTAINS"), text("hello"), "bye", False, id="contains-false"),
    pytest.param(_cmp("STARTS_WITH"), text("  Order 42"), "order", True, id="starts-with"),
    pytest.param(_cmp("STARTS_WITH"), text("my order"), "order", False, id="starts-with-false"),
    pytest.param(_cmp("ENDS_WITH"), text("thanks BYE "), " bye", True, id="ends-with"),
    pytest.param(_cmp("ENDS_WITH"), text("bye now"), "bye", False, id="ends-with-false"),
    pytest.param(_cmp("DIFFERENT_FROM"), text("yes"), "no", True, id="different-from"),
    pytest.param(_cmp("DIFFERENT_FROM"), text(" YES "), "yes", False, id="different-from-false"),
    pytest.param(_cmp("GREATER_THAN"), number(5), "3", True, id="greater-than"),
    pytest.param(_cmp("GREATER_THAN"), text(" 10 "), "9.5", True, id="greater-than-text"),
    pytest.param(_cmp("GREATER_THAN"), number(3), "3", False, id="greater-than-false"),
    pytest.param(_cmp("GREATER_THAN"), text("abc"), "3", False, id="greater-than-subject-nan"),
    pytest.param(_cmp("GREATER_THAN"), number(5), "abc", False, id="greater-than-value-nan"),
    pytest.param(_cmp("LESS_THAN"), text("2.5"), "3", True, id="less-than"),
    pytest.param(_cmp("LESS_THAN"), text("4"), "3", False, id="less-than-false"),
    pytest.param(_cmp("LESS_THAN"), None, "3", False, id="less-than-unset-subject"),
    pytest.param(_cmp("GREATER_OR_EQUAL"), number(3), "3", True, id="greater-or-equal"),
    pytest.param(_cmp("GREATER_OR_EQUAL"), number(2), "3", False, id="greater-or-equal-false"),
    pytest.param(_cmp("GREATER_OR_EQUAL"), text("three"), "3", False, id="greater-or-equal-nan"),
    pytest.param(_cmp("LESS_OR_EQUAL"), text(" 3 "), "3.0", True, id="less-or-equal"),
    pytest.param(_cmp("LESS_OR_EQUAL"), text("3.5"), "3", False, id="less-or-equal-false"),
    pytest.param(_cmp("LESS_OR_EQUAL"), text(""), "3", False, id="less-or-equal-empty"),
    pytest.param(_cmp("IS_NUMBER"), text(" -1e3 "), "ignored", True, id="is-number"),
    pytest.param(_cmp("IS_NUMBER"), number(0), "", True, id="is-number-number"),
    pytest.param(_cmp("IS_NUMBER"), text("12abc"), "", False, id="is-number-false"),
    pytest.param(_cmp("IS_NUMBER"), text("nan"), "", False, id="is-number-nan"),
    pytest.param(_cmp("IS_MESSAGE"), text(" hi "), "", True, id="is-message"),
    pytest.param(_cmp("IS_MESSAGE"), text(" \t "), "x", False, id="is-message-blank"),
    pytest.param(_cmp("IS_MESSAGE"), None, "", False, id="is-message-unset"),
]


def _yes_no(choice_block: Block) -> Flow:
    return flow(choice_block, send("yes", "yes"), send("no", "no"))


@pytest.mark.parametrize(("operator", "subject", "value", "expected"), CHOICE_CASES)
async def test_choice_operator_on_a_variable(
    stub: FlowServiceAsyncStub,
    operator: Cmp.ValueType,
    subject: Value | None,
    value: str,
    expected: bool,
) -> None:
    variables = {"expected": text("ANN")}
    if subject is not None:
        variables["v"] = subject
    the_flow = _yes_no(choice("c", branch("yes", cond(operator, value, "v")), fallback="no"))
    # The last received message says the opposite, so the subject must be the variable.
    convo = conversation((RECEIVED, "" if expected else " yes 5 -1e3 ", "s1"))
    events, finished = await run(stub, the_flow, variables=variables, convo=convo)
    went = "yes" if expected else "no"
    assert described(events) == [(went, "message_sent", went), (went, "finished", COMPLETED)]
    assert finished.steps == 2


def test_every_condition_operator_is_covered_both_ways() -> None:
    cases = {(case.values[0], case.values[3]) for case in CHOICE_CASES}
    operators = set(Cmp.values()) - {Cmp.CONDITION_OPERATOR_UNSPECIFIED}
    assert cases == {(op, result) for op in operators for result in (True, False)}


@pytest.mark.parametrize(
    ("last_received", "went"),
    [("I need a REFUND please", "yes"), ("thanks", "no")],
)
async def test_choice_subject_is_the_last_received_message_when_no_variable(
    stub: FlowServiceAsyncStub, last_received: str, went: str
) -> None:
    the_flow = _yes_no(
        choice("c", branch("yes", cond(Cmp.CONDITION_OPERATOR_CONTAINS, "refund")), fallback="no")
    )
    convo = conversation(
        (RECEIVED, "refund", "s1"),
        (RECEIVED, last_received, "s1"),
        (SENT, "a sent message is not the subject: refund", "s1"),
    )
    # A variable that would match is not the subject when `variable` is empty.
    variables = {"v": text("refund")}
    events, _ = await run(stub, the_flow, variables=variables, convo=convo)
    assert described(events) == [(went, "message_sent", went), (went, "finished", COMPLETED)]


@pytest.mark.parametrize(
    ("join", "a", "b", "went"),
    [
        (ConditionJoin.CONDITION_JOIN_AND, "1", "1", "yes"),
        (ConditionJoin.CONDITION_JOIN_AND, "1", "0", "no"),
        (ConditionJoin.CONDITION_JOIN_AND, "0", "1", "no"),
        (ConditionJoin.CONDITION_JOIN_OR, "0", "1", "yes"),
        (ConditionJoin.CONDITION_JOIN_OR, "1", "0", "yes"),
        (ConditionJoin.CONDITION_JOIN_OR, "0", "0", "no"),
    ],
)
async def test_choice_join(
    stub: FlowServiceAsyncStub, join: ConditionJoin.ValueType, a: str, b: str, went: str
) -> None:
    conditions = (
        cond(Cmp.CONDITION_OPERATOR_EQUALS, "1", "a"),
        cond(Cmp.CONDITION_OPERATOR_EQUALS, "1", "b"),
    )
    the_flow = _yes_no(choice("c", branch("yes", *conditions, join=join), fallback="no"))
    events, _ = await run(stub, the_flow, variables={"a": text(a), "b": text(b)})
    assert described(events) == [(went, "message_sent", went), (went, "finished", COMPLETED)]


async def test_choice_first_matching_branch_wins(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        choice(
            "c",
            branch("one", cond(Cmp.CONDITION_OPERATOR_GREATER_THAN, "10", "n")),
            branch("two", cond(Cmp.CONDITION_OPERATOR_GREATER_THAN, "5", "n")),
            branch("three", cond(Cmp.CONDITION_OPERATOR_IS_NUMBER, variable="n")),
            fallback="four",
        ),
        send("one", "one"),
        send("two", "two"),
        send("three", "three"),
        send("four", "four"),
    )
    events, _ = await run(stub, the_flow, variables={"n": number(7)})
    assert described(events) == [("two", "message_sent", "two"), ("two", "finished", COMPLETED)]
    events, _ = await run(stub, the_flow, variables={"n": text("seven")})
    assert described(events) == [("four", "message_sent", "four"), ("four", "finished", COMPLETED)]


async def test_choice_with_no_match_and_no_fallback_completes(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        send("start", "hi", "c"),
        choice("c", branch("start", cond(Cmp.CONDITION_OPERATOR_IS_MESSAGE, variable="v"))),
    )
    events, finished = await run(stub, the_flow)
    assert described(events) == [("start", "message_sent", "hi"), ("c", "finished", COMPLETED)]
    assert finished.steps == 2


# -- jump to and restart bot ---------------------------------------------------


async def test_jump_to_continues_at_the_target(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        jump("j", "end"),
        send("skipped", "never", "end"),
        send("end", "done"),
    )
    events, finished = await run(stub, the_flow)
    assert described(events) == [("end", "message_sent", "done"), ("end", "finished", COMPLETED)]
    assert finished.steps == 2


async def test_restart_bot_resets_variables_and_starts_a_new_session(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(
        set_var("inc", "count", Op.SET_VARIABLE_OPERATION_NUMBER_ADD, "1", "r"),
        restart("r"),
        send("after", "must not run"),
        defaults={"name": text("guest"), "count": number(0), "tags": items("new")},
    )
    # `next` is ignored by restart bot.
    the_flow.blocks[1].next = "after"
    variables = {"name": text("Ann"), "count": number(5), "extra": text("x")}
    convo = conversation((RECEIVED, "hi", "s1"), current="s1")
    events, finished = await run(stub, the_flow, variables=variables, convo=convo)
    session = events[1].bot_restarted.bot_session_id
    assert described(events) == [
        ("inc", "variable_changed", ("count", number(6))),
        ("r", "bot_restarted", session),
        ("r", "finished", RESTARTED),
    ]
    assert session
    assert session != "s1"
    assert finished.bot_session_id == session
    assert dict(finished.variables) == {
        "name": text("guest"),
        "count": number(0),
        "tags": items("new"),
    }
    assert finished.steps == 2
    assert finished.resume_block_id == ""


async def test_restart_bot_sessions_are_new_every_time(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(restart("r"))
    _, first = await run(stub, the_flow)
    _, second = await run(stub, the_flow)
    assert first.status == second.status == RESTARTED
    assert first.bot_session_id != second.bot_session_id


# -- the OpenAI block (fake provider) -----------------------------------------


async def test_openai_block_success_sets_answer_then_clears_error(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(
        ai(
            "ai",
            "after",
            answer_variable="answer",
            error_variable="ai error",
            options={"reply": "Hello {{name}}"},
        ),
        send("after", "Answer: {{answer}} / error: [{{ai error}}]"),
    )
    variables = {"name": text("Ann"), "ai error": text("Timeout: stale")}
    convo = conversation((RECEIVED, "What's up?", "s1"))
    events, finished = await run(stub, the_flow, variables=variables, convo=convo)
    assert described(events) == [
        ("ai", "action_finished", (SUCCEEDED, "Hello Ann")),
        ("ai", "variable_changed", ("answer", text("Hello Ann"))),
        ("ai", "variable_changed", ("ai error", text(""))),
        ("after", "message_sent", "Answer: Hello Ann / error: []"),
        ("after", "finished", COMPLETED),
    ]
    result = events[0].action_finished.result
    assert result.attempts == 1
    assert result.error_kind == ErrorKind.ERROR_KIND_UNSPECIFIED
    assert result.usage.completion_tokens == 2
    assert dict(finished.variables) == {
        "name": text("Ann"),
        "answer": text("Hello Ann"),
        "ai error": text(""),
    }


async def test_openai_block_failure_sets_error_variable_and_the_flow_continues(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(
        ai("ai", "after", answer_variable="answer", options={"fail": "timeout,timeout,timeout"}),
        send("after", "Sorry: {{last webhook failure}}"),
    )
    convo = conversation((RECEIVED, "What's up?", "s1"))
    events, finished = await run(stub, the_flow, convo=convo)
    error = "Timeout: no answer within 2000 ms (3 attempts)"
    assert described(events) == [
        ("ai", "action_finished", (FAILED, "")),
        ("ai", "variable_changed", (ERROR_VARIABLE, text(error))),
        ("after", "message_sent", f"Sorry: {error}"),
        ("after", "finished", COMPLETED),
    ]
    result = events[0].action_finished.result
    assert result.error_kind == ErrorKind.ERROR_KIND_TIMEOUT
    assert result.error == error
    assert result.attempts == 3
    assert "answer" not in finished.variables
    assert finished.steps == 2


# -- wait user answer -------------------------------------------------------------

WAIT_FLOW = flow(
    set_var("count", "asked", Op.SET_VARIABLE_OPERATION_NUMBER_ADD, "1", "ask"),
    send("ask", "What is your name?", "w"),
    wait("w", answer_variable="name", timeout_next="late", next="greet"),
    send("greet", "Hi {{name}} ({{asked}})"),
    send("late", "Too late ({{asked}})"),
    defaults={"asked": number(0)},
)


async def test_wait_user_answer_stops_the_run(stub: FlowServiceAsyncStub) -> None:
    events, finished = await run(stub, WAIT_FLOW)
    assert described(events) == [
        ("count", "variable_changed", ("asked", number(1))),
        ("ask", "message_sent", "What is your name?"),
        ("w", "finished", WAITING),
    ]
    assert finished.resume_block_id == "w"
    assert finished.steps == 3
    assert dict(finished.variables) == {"asked": number(1)}


async def test_resume_with_an_answer_stores_it_and_goes_on(stub: FlowServiceAsyncStub) -> None:
    _, waiting = await run(stub, WAIT_FLOW)
    resume = Resume(block_id=waiting.resume_block_id, answer="Bob")
    events, finished = await run(stub, WAIT_FLOW, variables=waiting.variables, resume=resume)
    assert described(events) == [
        ("w", "variable_changed", ("name", text("Bob"))),
        ("greet", "message_sent", "Hi Bob (1)"),
        ("greet", "finished", COMPLETED),
    ]
    assert finished.steps == 1
    assert finished.resume_block_id == ""
    assert dict(finished.variables) == {"asked": number(1), "name": text("Bob")}


async def test_resume_timed_out_takes_the_timeout_branch(stub: FlowServiceAsyncStub) -> None:
    resume = Resume(block_id="w", timed_out=True)
    events, finished = await run(stub, WAIT_FLOW, variables={"asked": number(1)}, resume=resume)
    assert described(events) == [
        ("late", "message_sent", "Too late (1)"),
        ("late", "finished", COMPLETED),
    ]
    assert finished.steps == 1
    assert "name" not in finished.variables


async def test_resume_timed_out_with_no_timeout_branch_completes(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(wait("w", answer_variable="name", next="greet"), send("greet", "Hi"))
    events, finished = await run(stub, the_flow, resume=Resume(block_id="w", timed_out=True))
    assert described(events) == [("w", "finished", COMPLETED)]
    assert finished.steps == 0
    assert dict(finished.variables) == {}


async def test_resume_answer_is_the_last_received_message_for_a_choice(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(
        wait("w", next="c"),
        choice("c", branch("yes", cond(Cmp.CONDITION_OPERATOR_STARTS_WITH, "yes")), fallback="no"),
        send("yes", "yes"),
        send("no", "no"),
    )
    convo = conversation((RECEIVED, "no way", "s1"), (SENT, "Are you sure?", "s1"))
    resume = Resume(block_id="w", answer=" YES please")
    events, finished = await run(stub, the_flow, convo=convo, resume=resume)
    # No answer variable: no VariableChanged.
    assert described(events) == [("yes", "message_sent", "yes"), ("yes", "finished", COMPLETED)]
    assert finished.steps == 2


async def test_resume_answer_is_echoed_by_the_fake_provider(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        wait("w", next="ai"),
        ai("ai", answer_variable="echo", history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION),
    )
    convo = conversation((RECEIVED, "an older message", "s1"), (SENT, "Tell me more", "s1"))
    resume = Resume(block_id="w", answer="Latest answer")
    events, _ = await run(stub, the_flow, convo=convo, resume=resume)
    assert described(events) == [
        ("ai", "action_finished", (SUCCEEDED, "Latest answer")),
        ("ai", "variable_changed", ("echo", text("Latest answer"))),
        ("ai", "variable_changed", (ERROR_VARIABLE, text(""))),
        ("ai", "finished", COMPLETED),
    ]


# -- stream invariants and the step limit -----------------------------------------


async def test_sequence_block_ids_and_steps(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(
        set_var("s", "n", Op.SET_VARIABLE_OPERATION_NUMBER_ADD, "1", "m"),
        send("m", "n is {{n}}", "j"),
        jump("j", "ai"),
        ai("ai", "note", answer_variable="a", options={"reply": "ok"}),
        note("note", "done"),
        start="s",
    )
    events, finished = await run(stub, the_flow)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [(e.block_id, e.WhichOneof("event")) for e in events] == [
        ("s", "variable_changed"),
        ("m", "message_sent"),
        ("ai", "action_finished"),
        ("ai", "variable_changed"),
        ("ai", "variable_changed"),
        ("note", "note_added"),
        ("note", "finished"),
    ]
    assert finished.steps == 5
    assert finished.status == COMPLETED
    assert finished.bot_session_id


async def test_start_block_id_picks_where_the_run_begins(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(send("first", "first"), send("second", "second"), start="second")
    events, finished = await run(stub, the_flow)
    assert described(events) == [
        ("second", "message_sent", "second"),
        ("second", "finished", COMPLETED),
    ]
    assert finished.steps == 1


def _loop() -> Flow:
    return flow(
        set_var("inc", "n", Op.SET_VARIABLE_OPERATION_NUMBER_ADD, "1", "back"),
        jump("back", "inc"),
    )


async def test_a_loop_stops_at_the_default_step_limit(stub: FlowServiceAsyncStub) -> None:
    events, finished = await run(stub, _loop())
    assert finished.status == STEP_LIMIT
    assert finished.steps == 200
    assert finished.variables["n"] == number(100)
    assert len(events) == 101
    assert described(events[-2:]) == [
        ("inc", "variable_changed", ("n", number(100))),
        ("back", "finished", STEP_LIMIT),
    ]


async def test_a_loop_stops_at_the_requested_step_limit(stub: FlowServiceAsyncStub) -> None:
    events, finished = await run(stub, _loop(), max_steps=5)
    assert described(events) == [
        ("inc", "variable_changed", ("n", number(1))),
        ("inc", "variable_changed", ("n", number(2))),
        ("inc", "variable_changed", ("n", number(3))),
        ("inc", "finished", STEP_LIMIT),
    ]
    assert finished.steps == 5


async def test_a_flow_ending_exactly_at_the_step_limit_completes(
    stub: FlowServiceAsyncStub,
) -> None:
    the_flow = flow(send("a", "a", "b"), send("b", "b"))
    events, finished = await run(stub, the_flow, max_steps=2)
    assert finished.status == COMPLETED
    assert finished.steps == 2
    assert len(events) == 3


# -- validation ---------------------------------------------------------------------


async def _violations(stub: FlowServiceAsyncStub, req: RunFlowRequest) -> dict[str, str]:
    """The call's field violations; asserts it failed before the first event."""
    events: list[RunFlowResponse] = []

    async def consume() -> None:
        async for event in stub.RunFlow(req, timeout=10):
            events.append(event)

    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await consume()
    assert events == []
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return field_violations(failure.value)


async def test_every_violation_is_reported_in_one_error(stub: FlowServiceAsyncStub) -> None:
    the_flow = flow(send("a", "hi", "nowhere"), send("a", "again"))
    violations = await _violations(stub, flow_request(the_flow))
    assert violations == {
        "flow.blocks[1].id": "duplicate block id",
        "flow.blocks[0].next": "names no block of the flow",
    }


def _two_conditions_no_join() -> Block:
    conditions = (cond(Cmp.CONDITION_OPERATOR_IS_MESSAGE), cond(Cmp.CONDITION_OPERATOR_IS_NUMBER))
    return choice("c", branch("end", *conditions))


END = send("end", "end")
BRANCH = "flow.blocks[0].choice.branches[0]"


def _invalid(case_id: str, the_flow: Flow | None, *paths: str, resume: Resume | None = None) -> Any:
    return pytest.param(flow_request(the_flow, resume=resume), set(paths), id=case_id)


INVALID_CASES: list[Any] = [
    _invalid("unknown-start", flow(END, start="nope"), "flow.start_block_id"),
    _invalid("no-kind", flow(Block(id="k", next="end"), END), "flow.blocks[0]"),
    _invalid(
        "empty-id", flow(Block(next="end", send_message=END.send_message), END), "flow.blocks[0].id"
    ),
    _invalid(
        "unspecified-operator",
        flow(choice("c", branch("end", cond(Cmp.CONDITION_OPERATOR_UNSPECIFIED, "x"))), END),
        f"{BRANCH}.conditions[0].operator",
    ),
    _invalid(
        "unspecified-operation",
        flow(set_var("s", "x", Op.SET_VARIABLE_OPERATION_UNSPECIFIED, "1")),
        "flow.blocks[0].set_variable.operation",
    ),
    _invalid("two-conditions-no-join", flow(_two_conditions_no_join(), END), f"{BRANCH}.join"),
    _invalid(
        "choice-targets",
        flow(choice("c", branch("", cond(Cmp.CONDITION_OPERATOR_IS_MESSAGE)), fallback="gone")),
        f"{BRANCH}.next",
        "flow.blocks[0].choice.fallback_next",
    ),
    _invalid("choice-no-branches", flow(choice("c")), "flow.blocks[0].choice.branches"),
    _invalid("jump-to-nowhere", flow(jump("j", "nowhere")), "flow.blocks[0].jump_to.block_id"),
    _invalid(
        "timeout-next-nowhere",
        flow(wait("w", timeout_next="gone")),
        "flow.blocks[0].wait_user_answer.timeout_next",
    ),
    _invalid(
        "resume-non-wait",
        flow(END),
        "resume.block_id",
        resume=Resume(block_id="end", answer="x"),
    ),
    _invalid(
        "resume-unknown",
        flow(END),
        "resume.block_id",
        resume=Resume(block_id="gone", answer="x"),
    ),
    _invalid(
        "resume-answer-and-timed-out",
        flow(wait("w")),
        "resume.answer",
        resume=Resume(block_id="w", answer="x", timed_out=True),
    ),
    _invalid("empty-flow", Flow(name="empty"), "flow.blocks"),
    _invalid("missing-flow", None, "flow"),
    _invalid("empty-message", flow(send("a", "  ")), "flow.blocks[0].send_message.text"),
    _invalid(
        "valid-first-block-does-not-run",
        flow(send("a", "hi", "b"), jump("b", "nowhere")),
        "flow.blocks[1].jump_to.block_id",
    ),
]


@pytest.mark.parametrize(("req", "paths"), INVALID_CASES)
async def test_invalid_flows_are_refused_before_anything_runs(
    stub: FlowServiceAsyncStub, req: RunFlowRequest, paths: set[str]
) -> None:
    violations = await _violations(stub, req)
    assert set(violations) == paths
    assert all(violations.values())


# -- the working conversation, on the wire (real openai provider) ----------------

SESSIONS = conversation(
    (RECEIVED, "Hi, I bought boots", "old"),
    (SENT, "Welcome back!", "old"),
    (RECEIVED, "Where is my order?", "s2"),
    (SENT, "Let me check.", "s2"),
    (RECEIVED, "  ", "s2"),
)


def _wire_flow(base_url: str) -> Flow:
    return flow(
        send("say", "Order {{order}} ships today", "ai"),
        ai(
            "ai",
            provider="openai",
            base_url=base_url,
            prompt="You are support for {{shop}}.",
            history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
            answer_variable="answer",
        ),
    )


def _sent_messages(stub_server: OpenAIStub) -> list[tuple[str, str]]:
    body = stub_server.chat_requests[-1].body
    return [(m["role"], m["content"]) for m in body["messages"]]


async def test_sent_message_joins_the_current_session_history(
    stub: FlowServiceAsyncStub,
) -> None:
    variables = {"order": number(42), "shop": text("Boots Inc")}
    continued = Conversation()
    continued.CopyFrom(SESSIONS)
    continued.current_bot_session_id = "s2"  # the caller continues the bot's session
    async with OpenAIStub() as stub_server:
        events, finished = await run(
            stub, _wire_flow(stub_server.base_url), variables=variables, convo=continued
        )
        assert _sent_messages(stub_server) == [
            ("system", "You are support for Boots Inc."),
            ("user", "Where is my order?"),
            ("assistant", "Let me check."),
            ("assistant", "Order 42 ships today"),
        ]
    assert described(events) == [
        ("say", "message_sent", "Order 42 ships today"),
        ("ai", "action_finished", (SUCCEEDED, "Hello from the stub.")),
        ("ai", "variable_changed", ("answer", text("Hello from the stub."))),
        ("ai", "variable_changed", (ERROR_VARIABLE, text(""))),
        ("ai", "finished", COMPLETED),
    ]
    assert finished.bot_session_id == "s2"
    assert not finished.bot_session_started


async def test_a_new_run_starts_a_new_bot_session(stub: FlowServiceAsyncStub) -> None:
    """A run without resume is the bot starting: with no session named, last
    week's tagged messages are not "the current bot session"."""
    variables = {"order": number(42), "shop": text("Boots Inc")}
    async with OpenAIStub() as stub_server:
        _, finished = await run(
            stub, _wire_flow(stub_server.base_url), variables=variables, convo=SESSIONS
        )
        assert _sent_messages(stub_server) == [
            ("system", "You are support for Boots Inc."),
            ("assistant", "Order 42 ships today"),
        ]
    assert finished.bot_session_started
    assert finished.bot_session_id not in ("", "old", "s2")


async def test_explicit_current_session_excludes_every_earlier_session(
    stub: FlowServiceAsyncStub,
) -> None:
    convo = Conversation()
    convo.CopyFrom(SESSIONS)
    convo.current_bot_session_id = "s3"
    async with OpenAIStub() as stub_server:
        _, finished = await run(stub, _wire_flow(stub_server.base_url), convo=convo)
        assert _sent_messages(stub_server) == [
            ("system", "You are support for ."),
            ("assistant", "Order  ships today"),
        ]
    assert finished.bot_session_id == "s3"


async def test_a_run_with_no_session_starts_one(stub: FlowServiceAsyncStub) -> None:
    convo = conversation((RECEIVED, "before the bot", ""))
    async with OpenAIStub() as stub_server:
        _, finished = await run(stub, _wire_flow(stub_server.base_url), convo=convo)
        assert _sent_messages(stub_server) == [
            ("system", "You are support for ."),
            ("assistant", "Order  ships today"),
        ]
    assert finished.bot_session_id


async def test_resume_answer_goes_to_openai_as_user(stub: FlowServiceAsyncStub) -> None:
    async with OpenAIStub() as stub_server:
        the_flow = flow(
            send("ask", "Which size?", "w"),
            wait("w", answer_variable="size", next="ai"),
            ai(
                "ai",
                provider="openai",
                base_url=stub_server.base_url,
                prompt="PROMPT",
                history=HistoryMode.HISTORY_MODE_CURRENT_BOT_SESSION,
            ),
        )
        first, waiting = await run(stub, the_flow, convo=SESSIONS)
        assert described(first) == [
            ("ask", "message_sent", "Which size?"),
            ("w", "finished", WAITING),
        ]
        assert stub_server.chat_requests == []
        # The caller records what was sent, in the session the run named.
        convo = Conversation()
        convo.CopyFrom(SESSIONS)
        convo.messages.add(
            direction=SENT, text="Which size?", bot_session_id=waiting.bot_session_id
        )
        resume = Resume(block_id=waiting.resume_block_id, answer="Size 42")
        events, finished = await run(
            stub, the_flow, variables=waiting.variables, convo=convo, resume=resume
        )
        # The resume continues the session the first run started; the older
        # sessions' messages are not part of it.
        assert _sent_messages(stub_server) == [
            ("system", "PROMPT"),
            ("assistant", "Which size?"),
            ("user", "Size 42"),
        ]
        assert waiting.bot_session_started
        assert not finished.bot_session_started
    assert described(events) == [
        ("w", "variable_changed", ("size", text("Size 42"))),
        ("ai", "action_finished", (SUCCEEDED, "Hello from the stub.")),
        ("ai", "variable_changed", (ERROR_VARIABLE, text(""))),
        ("ai", "finished", COMPLETED),
    ]
    assert finished.bot_session_id == waiting.bot_session_id != "s2"
