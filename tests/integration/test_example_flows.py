"""The example flows of examples/flows/ end to end, against a real server with the
fake provider, through every path a person would take.

Each test plays the backend's part of the resume protocol exactly as
`botflow run-flow --state` does (run_flow_cli.next_state): it keeps the
variables of FlowFinished and appends the answers given and the messages sent
to the conversation between calls. The fake provider echoes the last user
message, so the "LLM answer" is the contact's own words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from botflow.server.run_flow_cli import load_flow, next_state, override_provider
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, ErrorKind
from botflow.v1.conversation_pb2 import Direction
from botflow.v1.events_pb2 import FlowFinished, FlowStatus
from botflow.v1.flow_pb2 import Flow
from botflow.v1.flow_service_pb2 import Resume, RunFlowRequest, RunFlowResponse
from botflow.v1.variables_pb2 import Value

if TYPE_CHECKING:
    from botflow.v1.flow_service_pb2_grpc import FlowServiceAsyncStub

FLOWS = Path(__file__).resolve().parents[2] / "examples" / "flows"
# Above the default per-attempt timeout (15 s), so timeout texts name 15000 ms.
DEADLINE = 30.0

Summary = tuple[object, ...]


def example(name: str, **options: str) -> Flow:
    """An example flow with every OpenAI block on the fake provider."""
    flow = load_flow(FLOWS / f"{name}.json")
    override_provider(flow, "fake", options)
    return flow


def plain(value: Value) -> object:
    """A Value as text (str), number (float) or list (list[str])."""
    kind = value.WhichOneof("kind")
    if kind == "list":
        return list(value.list.items)
    return None if kind is None else getattr(value, kind)


def summary(event: RunFlowResponse) -> Summary:
    """The kind, block and key payload of an event, for exact comparisons."""
    block = event.block_id
    kind = event.WhichOneof("event")
    if kind == "message_sent":
        return ("sent", block, event.message_sent.text)
    if kind == "note_added":
        return ("note", block, event.note_added.text)
    if kind == "variable_changed":
        return ("set", block, event.variable_changed.name, plain(event.variable_changed.value))
    if kind == "action_finished":
        result = event.action_finished.result
        if result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED:
            assert result.error_kind == ErrorKind.ERROR_KIND_UNSPECIFIED
            assert not result.error
            return ("action", block, "SUCCEEDED", result.answer, result.attempts)
        assert result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
        assert not result.answer
        kind_name = ErrorKind.Name(result.error_kind).removeprefix("ERROR_KIND_")
        return ("action", block, kind_name, result.error, result.attempts)
    if kind == "warning":
        return ("warning", block, event.warning.warning.code)
    if kind == "bot_restarted":
        assert event.bot_restarted.bot_session_id
        return ("restarted", block)
    assert kind == "finished", kind
    finished = event.finished
    status = FlowStatus.Name(finished.status).removeprefix("FLOW_STATUS_")
    variables = {name: plain(value) for name, value in finished.variables.items()}
    return ("finished", block, status, finished.resume_block_id, variables)


def words(*texts: str) -> int:
    """Tokens as the fake provider counts them."""
    return sum(len(text.split()) for text in texts)


class Backend:
    """The caller of RunFlow for one conversation: keeps variables and
    conversation between calls, like a customer-messaging backend."""

    def __init__(self, stub: FlowServiceAsyncStub, flow: Flow, deadline: float = DEADLINE) -> None:
        self.stub = stub
        self.flow = flow
        self.deadline = deadline
        self.state = RunFlowRequest()
        self.events: list[RunFlowResponse] = []

    async def run(
        self, resume: Resume | None = None, variables: Mapping[str, str] | None = None
    ) -> list[Summary]:
        request = RunFlowRequest()
        request.CopyFrom(self.state)
        request.flow.CopyFrom(self.flow)
        for name, text in (variables or {}).items():
            request.variables[name].CopyFrom(Value(text=text))
        if resume is not None:
            request.resume.CopyFrom(resume)
        events = [event async for event in self.stub.RunFlow(request, timeout=self.deadline)]
        assert [event.sequence for event in events] == list(range(1, len(events) + 1))
        assert [event.HasField("finished") for event in events] == [False] * (len(events) - 1) + [
            True
        ]
        self.events = events
        self.state = next_state(request, events)
        return [summary(event) for event in events]

    async def start(self, variables: Mapping[str, str] | None = None) -> list[Summary]:
        return await self.run(variables=variables)

    async def answer(self, block_id: str, text: str) -> list[Summary]:
        return await self.run(Resume(block_id=block_id, answer=text))

    async def no_answer(self, block_id: str) -> list[Summary]:
        return await self.run(Resume(block_id=block_id, timed_out=True))

    @property
    def finished(self) -> FlowFinished:
        return self.events[-1].finished

    def action_result(self) -> ActionResult:
        (result,) = [e.action_finished.result for e in self.events if e.HasField("action_finished")]
        return result

    def conversation(self) -> list[tuple[str, str, str]]:
        """(direction, text, bot session) of the kept conversation."""
        return [
            (Direction.Name(m.direction).removeprefix("DIRECTION_"), m.text, m.bot_session_id)
            for m in self.state.conversation.messages
        ]


def prompt_of(flow: Flow, block_id: str) -> str:
    (prompt,) = [b.openai.prompt for b in flow.blocks if b.id == block_id]
    return prompt


# --- Support triage -----------------------------------------------------------------

# "openai key" is secret (the token names it): never among the returned variables.
TRIAGE_DEFAULTS = {"contact name": "there"}
GREETING = "Hi there! What can we help you with today?"


async def _triage_started(bot: Backend, variables: dict[str, str] | None = None) -> str:
    name = (variables or {}).get("contact name", "there")
    greeting = f"Hi {name}! What can we help you with today?"
    expected_variables = {**TRIAGE_DEFAULTS, **(variables or {})}
    assert await bot.start(variables) == [
        ("sent", "greet", greeting),
        ("finished", "ask issue", "WAITING_FOR_ANSWER", "ask issue", expected_variables),
    ]
    assert bot.finished.bot_session_id
    return greeting


def _triage_answer(intent: str, urgency: float, language: str) -> str:
    return json.dumps({"intent": intent, "urgency": urgency, "language": language})


def _classified(
    issue: str, answer: str, intent: str, urgency: float, language: str, attempts: int = 1
) -> list[Summary]:
    """The events of a triage that classified `issue` (before routing)."""
    return [
        ("set", "ask issue", "issue", issue),
        ("action", "classify", "SUCCEEDED", answer, attempts),
        ("set", "classify", "triage", answer),
        ("set", "classify", "category", intent),
        ("set", "classify", "urgency", urgency),
        ("set", "classify", "language", language),
        ("set", "classify", "triage error", ""),
    ]


def _triage_variables(
    issue: str, answer: str, intent: str, urgency: float, language: str
) -> dict[str, object]:
    return {
        **TRIAGE_DEFAULTS,
        "issue": issue,
        "triage": answer,
        "category": intent,
        "urgency": urgency,
        "language": language,
        "triage error": "",
        "tags": ["triaged"],
    }


@pytest.mark.parametrize(
    ("issue", "route", "reply"),
    [
        (
            "I was charged twice, billing issue",
            "billing",
            "Got it, a billing question. Our billing team will reply within a day.",
        ),
        (
            "My delivery is three days late",
            "delivery",
            "Got it, a delivery question. Please have your order number ready.",
        ),
        (
            "Can I change the email on my account?",
            "other",
            "Thanks! We will route your message to the right team.",
        ),
    ],
    ids=["billing", "delivery", "other"],
)
async def test_support_triage_routes_the_issue(
    stub: FlowServiceAsyncStub, issue: str, route: str, reply: str
) -> None:
    # No scripted reply: the fake answers the schema with the choice the
    # message mentions (else the first), urgency 0.
    bot = Backend(stub, example("support_triage"))
    await _triage_started(bot)
    session = bot.finished.bot_session_id
    answer = _triage_answer(route, 0, "English")

    assert await bot.answer("ask issue", issue) == [
        *_classified(issue, answer, route, 0, "English"),
        ("sent", route, reply),
        ("set", "tag", "tags", ["triaged"]),
        ("finished", "tag", "COMPLETED", "", _triage_variables(issue, answer, route, 0, "English")),
    ]
    # LAST_MESSAGE: the prompt and the contact's answer only, not the greeting.
    prompt = prompt_of(bot.flow, "classify")
    result = bot.action_result()
    assert result.usage.prompt_tokens == words(prompt, issue)
    assert (result.provider, result.fallback_index) == ("fake", 0)
    assert [(a.model, a.attempts, a.error) for a in result.provider_attempts] == [
        ("gpt-4o-mini", 1, "")
    ]
    assert bot.finished.bot_session_id == session
    assert bot.conversation() == [
        ("SENT", GREETING, session),
        ("RECEIVED", issue, session),
        ("SENT", reply, session),
    ]


async def test_support_triage_urgent_issue_in_another_language(
    stub: FlowServiceAsyncStub,
) -> None:
    """A number output branches with "greater than", a one-of output with
    "different from"; the variables hold the choices as the flow spells them."""
    scripted = '{"intent": "DELIVERY", "urgency": 5, "language": " spanish "}'
    bot = Backend(stub, example("support_triage", reply=scripted))
    await _triage_started(bot)
    issue = "Mi pedido no ha llegado y lo necesito hoy"
    urgent = "Understood, this is urgent. An agent is picking it up now."

    assert await bot.answer("ask issue", issue) == [
        *_classified(issue, scripted, "delivery", 5, "Spanish"),
        ("sent", "urgent", urgent),
        ("note", "urgent note", f"Urgent delivery issue (urgency 5): {issue}"),
        (
            "note",
            "language note",
            "The contact writes in Spanish: route to an agent who speaks it.",
        ),
        ("set", "tag", "tags", ["triaged"]),
        (
            "finished",
            "tag",
            "COMPLETED",
            "",
            _triage_variables(issue, scripted, "delivery", 5, "Spanish"),
        ),
    ]


async def test_support_triage_a_bad_structured_answer_writes_nothing(
    stub: FlowServiceAsyncStub,
) -> None:
    bot = Backend(
        stub,
        example(
            "support_triage", reply='{"intent": "refund", "urgency": 2, "language": "English"}'
        ),
    )
    await _triage_started(bot)
    error = 'BadResponse: the structured answer\'s field "intent" is not one of its 3 choices'

    events = await bot.answer("ask issue", "I want my money back")
    assert events[:3] == [
        ("set", "ask issue", "issue", "I want my money back"),
        ("action", "classify", "BAD_RESPONSE", error, 1),
        ("set", "classify", "triage error", error),
    ]
    assert events[3] == ("sent", "triage failed", "Thanks! An agent will get back to you shortly.")
    assert set(bot.finished.variables) == {"contact name", "issue", "triage error"}


async def test_support_triage_falls_back_when_the_primary_is_out_of_quota(
    stub: FlowServiceAsyncStub,
) -> None:
    flow = example("support_triage", fail="quota")
    (classify,) = [b for b in flow.blocks if b.id == "classify"]
    answer = _triage_answer("billing", 2, "English")
    classify.openai.fallbacks[0].provider_options["reply"] = answer
    bot = Backend(stub, flow)
    await _triage_started(bot)
    issue = "Why was I charged twice?"

    events = await bot.answer("ask issue", issue)
    assert events[:7] == _classified(issue, answer, "billing", 2, "English", attempts=2)
    result = bot.action_result()
    assert (result.provider, result.fallback_index, result.attempts) == ("fake", 1, 2)
    assert [
        (a.model, a.attempts, ErrorKind.Name(a.error_kind), a.error)
        for a in result.provider_attempts
    ] == [
        (
            "gpt-4o-mini",
            1,
            "ERROR_KIND_QUOTA_EXCEEDED",
            "QuotaExceeded: the account is out of quota (HTTP 429)",
        ),
        ("gpt-4.1-mini", 1, "ERROR_KIND_UNSPECIFIED", ""),
    ]


async def test_support_triage_openai_failure_hands_over_with_a_note(
    stub: FlowServiceAsyncStub,
) -> None:
    # The fallback (same provider, another model) takes the same options, so
    # the same scripted failures: the text names both.
    # Each provider may use half the time left: 60 s leave 15 s per attempt.
    bot = Backend(stub, example("support_triage", fail="timeout,timeout,timeout"), 60.0)
    await _triage_started(bot, {"contact name": "Ana"})
    error = (
        "Timeout: 2 providers failed: "
        "[primary fake/gpt-4o-mini] Timeout: no answer within 15000 ms (3 attempts); "
        "[fallback 1 fake/gpt-4.1-mini] Timeout: no answer within 15000 ms (3 attempts)"
    )

    assert await bot.answer("ask issue", "I was charged twice") == [
        ("set", "ask issue", "issue", "I was charged twice"),
        ("action", "classify", "TIMEOUT", error, 6),
        ("set", "classify", "triage error", error),
        ("sent", "triage failed", "Thanks! An agent will get back to you shortly."),
        ("note", "handover note", f"Automatic triage failed ({error}). Issue: I was charged twice"),
        (
            "finished",
            "handover note",
            "COMPLETED",
            "",
            {
                "contact name": "Ana",
                "issue": "I was charged twice",
                "triage error": error,
            },
        ),
    ]


async def test_support_triage_no_answer_leaves_a_note(stub: FlowServiceAsyncStub) -> None:
    bot = Backend(stub, example("support_triage"))
    await _triage_started(bot)
    session = bot.finished.bot_session_id

    assert await bot.no_answer("ask issue") == [
        ("note", "no answer", "The contact did not describe the issue in time."),
        ("finished", "no answer", "COMPLETED", "", TRIAGE_DEFAULTS),
    ]
    assert bot.conversation() == [("SENT", GREETING, session)]


# --- Lead qualification -------------------------------------------------------------

WELCOME = "Welcome! How many people are in your team?"
ASK_BUDGET = "Thanks! What is your monthly budget in EUR?"
HOT = "Great fit! An account executive will call you today."
NURTURE = "Thanks! We will email you a few resources to get started."


async def test_lead_qualification_asks_again_until_answers_are_numbers(
    stub: FlowServiceAsyncStub,
) -> None:
    bot = Backend(stub, example("lead_qualification"))
    assert await bot.start() == [
        ("sent", "welcome", WELCOME),
        ("finished", "ask team", "WAITING_FOR_ANSWER", "ask team", {"score": 0}),
    ]
    assert await bot.answer("ask team", "about a dozen") == [
        ("set", "ask team", "team size", "about a dozen"),
        ("sent", "team not a number", "Please answer with a number, e.g. 12."),
        (
            "finished",
            "ask team",
            "WAITING_FOR_ANSWER",
            "ask team",
            {"score": 0, "team size": "about a dozen"},
        ),
    ]
    assert await bot.answer("ask team", "12") == [
        ("set", "ask team", "team size", "12"),
        ("set", "score team", "score", 12),
        ("sent", "ask budget", ASK_BUDGET),
        (
            "finished",
            "wait budget",
            "WAITING_FOR_ANSWER",
            "wait budget",
            {"score": 12, "team size": "12"},
        ),
    ]
    assert await bot.answer("wait budget", "a lot") == [
        ("set", "wait budget", "budget", "a lot"),
        ("sent", "budget not a number", "Please answer with a number of euros, e.g. 500."),
        (
            "finished",
            "wait budget",
            "WAITING_FOR_ANSWER",
            "wait budget",
            {"score": 12, "team size": "12", "budget": "a lot"},
        ),
    ]
    events = await bot.answer("wait budget", "990")
    assert events[0] == ("set", "wait budget", "budget", "990")
    assert events[-1][2] == "COMPLETED"
    assert bot.finished.variables["score"] == Value(number=100.2)
    sent = [text for direction, text, _ in bot.conversation() if direction == "SENT"]
    assert sent == [
        WELCOME,
        "Please answer with a number, e.g. 12.",
        ASK_BUDGET,
        "Please answer with a number of euros, e.g. 500.",
        HOT,
    ]


@pytest.mark.parametrize(
    ("team", "budget", "total", "score", "note"),
    [
        ("12", "990", 1002, 100.2, "Hot lead: team 12, budget 990 EUR, score 100.2."),
        ("10", "990", 1000, 100, "Hot lead: team 10, budget 990 EUR, score 100."),
        ("60", "40", 100, 10, "Hot lead: team 60, budget 40 EUR, score 10."),
        ("9", "990", 999, 99.9, None),
        ("5", " 300 ", 305, 30.5, None),
    ],
)
async def test_lead_qualification_scores_hot_leads_and_nurtures_the_rest(
    stub: FlowServiceAsyncStub, team: str, budget: str, total: float, score: float, note: str | None
) -> None:
    bot = Backend(stub, example("lead_qualification"))
    await bot.start()
    await bot.answer("ask team", team)
    assert bot.finished.resume_block_id == "wait budget"

    variables = {"team size": team, "budget": budget, "score": score}
    ending: list[Summary] = (
        [
            ("sent", "hot lead", HOT),
            ("note", "hot note", note),
            ("finished", "hot note", "COMPLETED", "", variables),
        ]
        if note is not None
        else [
            ("sent", "nurture", NURTURE),
            ("finished", "nurture", "COMPLETED", "", variables),
        ]
    )
    assert await bot.answer("wait budget", budget) == [
        ("set", "wait budget", "budget", budget),
        ("set", "score budget", "score", total),
        ("set", "normalise", "score", score),
        *ending,
    ]


# --- FAQ ----------------------------------------------------------------------------

FAQ_DEFAULTS = {"questions": 0}
INTRO = "Ask me anything about Acme Outdoor: delivery, returns, sizes."
ANYTHING_ELSE = "Anything else?"
HANDOVER = "Let me pass you to an agent for anything more."


async def _faq_started(bot: Backend) -> None:
    assert await bot.start() == [
        ("sent", "intro", INTRO),
        ("finished", "question", "WAITING_FOR_ANSWER", "question", FAQ_DEFAULTS),
    ]


def _answered(question: str, count: int) -> list[Summary]:
    return [
        ("set", "question", "question", question),
        ("set", "count", "questions", count),
        ("action", "answer", "SUCCEEDED", question, 1),
        ("set", "answer", "faq answer", question),
        ("set", "answer", "faq error", ""),
        ("sent", "reply", question),
    ]


async def test_faq_answers_two_questions_then_hands_over_and_restarts(
    stub: FlowServiceAsyncStub,
) -> None:
    bot = Backend(stub, example("faq"))
    prompt = prompt_of(bot.flow, "answer")
    await _faq_started(bot)
    session = bot.finished.bot_session_id
    questions = ["How long does delivery take?", "Are returns free?", "Which sizes do you have?"]

    history = [INTRO]  # what the current bot session holds so far
    for count, question in enumerate(questions[:2], start=1):
        assert await bot.answer("question", question) == [
            *_answered(question, count),
            ("sent", "anything else", ANYTHING_ELSE),
            (
                "finished",
                "question",
                "WAITING_FOR_ANSWER",
                "question",
                {
                    **FAQ_DEFAULTS,
                    "questions": count,
                    "question": question,
                    "faq answer": question,
                    "faq error": "",
                },
            ),
        ]
        # CURRENT_BOT_SESSION: the LLM saw every message of the session so far.
        history.append(question)
        assert bot.action_result().usage.prompt_tokens == words(prompt, *history)
        history += [question, ANYTHING_ELSE]
        assert bot.finished.bot_session_id == session

    third = questions[2]
    assert await bot.answer("question", third) == [
        *_answered(third, 3),
        ("sent", "handover", HANDOVER),
        ("restarted", "restart"),
        ("finished", "restart", "RESTARTED", "", FAQ_DEFAULTS),
    ]
    new_session = bot.events[-2].bot_restarted.bot_session_id
    assert bot.finished.bot_session_id == new_session != session
    # What was said before the restart stays in the old bot session.
    assert bot.conversation()[-3:] == [
        ("RECEIVED", third, session),
        ("SENT", third, session),
        ("SENT", HANDOVER, session),
    ]
    assert bot.state.conversation.current_bot_session_id == new_session

    # The contact writes again: a fresh run in the new bot session, whose
    # history holds none of the old session's messages.
    await _faq_started(bot)
    assert bot.finished.bot_session_id == new_session
    assert await bot.answer("question", "Do you ship abroad?") == [
        *_answered("Do you ship abroad?", 1),
        ("sent", "anything else", ANYTHING_ELSE),
        (
            "finished",
            "question",
            "WAITING_FOR_ANSWER",
            "question",
            {
                **FAQ_DEFAULTS,
                "questions": 1,
                "question": "Do you ship abroad?",
                "faq answer": "Do you ship abroad?",
                "faq error": "",
            },
        ),
    ]
    assert bot.action_result().usage.prompt_tokens == words(prompt, INTRO, "Do you ship abroad?")


async def test_faq_provider_failure_apologises_and_leaves_a_note(
    stub: FlowServiceAsyncStub,
) -> None:
    bot = Backend(stub, example("faq", fail="quota"))
    await _faq_started(bot)
    error = "QuotaExceeded: the account is out of quota (HTTP 429)"
    question = "How long does delivery take?"

    assert await bot.answer("question", question) == [
        ("set", "question", "question", question),
        ("set", "count", "questions", 1),
        ("action", "answer", "QUOTA_EXCEEDED", error, 1),
        ("set", "answer", "faq error", error),
        ("sent", "sorry", "Sorry, I can't answer right now. An agent will follow up."),
        ("note", "sorry note", f"FAQ bot failed: {error}"),
        (
            "finished",
            "sorry note",
            "COMPLETED",
            "",
            {**FAQ_DEFAULTS, "questions": 1, "question": question, "faq error": error},
        ),
    ]


async def test_faq_no_answer_says_goodbye(stub: FlowServiceAsyncStub) -> None:
    bot = Backend(stub, example("faq"))
    await _faq_started(bot)

    assert await bot.no_answer("question") == [
        ("sent", "goodbye", "Feel free to write again any time!"),
        ("finished", "goodbye", "COMPLETED", "", FAQ_DEFAULTS),
    ]
