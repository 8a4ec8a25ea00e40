"""Structured answers: the schema asked of the provider, and the check of the
answer against the action's output fields (server/botflow/server/structured.py)."""

from __future__ import annotations

import json

import pytest

from botflow.providers.errors import BadResponseError
from botflow.server.structured import SCHEMA_NAME, output_schema, parse_answer
from botflow.v1.actions_pb2 import OutputField, OutputType
from botflow.v1.variables_pb2 import TextList, Value

T = OutputType
FIELDS = [
    OutputField(
        name="intent", type=T.OUTPUT_TYPE_ONE_OF, variable="intent", choices=["billing", "other"]
    ),
    OutputField(
        name="urgency", type=T.OUTPUT_TYPE_NUMBER, variable="urgency", description=" 1 to 5 "
    ),
    OutputField(name="summary", type=T.OUTPUT_TYPE_TEXT, variable="summary"),
    OutputField(name="tags", type=T.OUTPUT_TYPE_LIST, variable="tags"),
]
GOOD = {"intent": "billing", "urgency": 3, "summary": "charged twice", "tags": ["card"]}


def answer(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def test_schema_is_strict_with_every_field_required() -> None:
    schema = output_schema(FIELDS)
    assert schema.name == SCHEMA_NAME
    assert schema.schema == {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": ["billing", "other"]},
            "urgency": {"type": "number", "description": "1 to 5"},
            "summary": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["intent", "urgency", "summary", "tags"],
        "additionalProperties": False,
    }


def test_a_matching_answer_gives_every_variable_in_order() -> None:
    assert parse_answer(answer(), FIELDS) == [
        ("intent", Value(text="billing")),
        ("urgency", Value(number=3)),
        ("summary", Value(text="charged twice")),
        ("tags", Value(list=TextList(items=["card"]))),
    ]


@pytest.mark.parametrize("said", ["BILLING", "  Billing ", "billing\n"])
def test_a_choice_matches_ignoring_case_and_spaces_and_is_stored_as_declared(said: str) -> None:
    assert parse_answer(answer(intent=said), FIELDS)[0] == ("intent", Value(text="billing"))


def test_extra_keys_are_ignored_and_a_code_fence_is_tolerated() -> None:
    fenced = f"```json\n{answer(extra=[1, 2])}\n```"
    assert parse_answer(fenced, FIELDS)[1] == ("urgency", Value(number=3))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (answer(intent="refund"), 'field "intent" is not one of its 2 choices'),
        (answer(intent=1), 'field "intent" is not a text'),
        (answer(urgency="3"), 'field "urgency" is not a finite number'),
        (answer(urgency=True), 'field "urgency" is not a finite number'),
        (answer(urgency=None), 'field "urgency" is not a finite number'),
        (answer().replace("3", "NaN", 1), "the structured answer is not valid JSON"),
        (answer().replace("3", "1e999", 1), 'field "urgency" is not a finite number'),
        (
            answer().replace('"urgency": 3', '"urgency": ' + "9" * 400),
            'field "urgency" is not a finite number',
        ),
        (answer(summary=["a"]), 'field "summary" is not a text'),
        (answer(tags="card"), 'field "tags" is not a list of texts'),
        (answer(tags=["card", 2]), 'field "tags" is not a list of texts'),
        (json.dumps({"intent": "billing"}), 'field "urgency" is missing'),
        ('{"intent": "billing", "intent": "other"}', 'field "intent" appears twice'),
        ('{"in tent": 1, "in tent": 2}', "a field of the structured answer appears twice"),
        ("[1, 2]", "the structured answer is not a JSON object"),
        ("Sure! Here it is: {}", "the structured answer is not valid JSON"),
        ("", "the structured answer is not valid JSON"),
        ("[" * 100_000, "the structured answer is not valid JSON"),
    ],
)
def test_a_field_that_does_not_match_is_named_without_the_answer(text: str, reason: str) -> None:
    with pytest.raises(BadResponseError) as caught:
        parse_answer(text, FIELDS)
    assert reason in caught.value.detail
    for secret in ("charged twice", "refund", "card"):
        assert secret not in caught.value.detail


def test_the_first_failing_field_in_the_actions_order_is_named() -> None:
    with pytest.raises(BadResponseError, match='"urgency"'):
        parse_answer(json.dumps({"tags": 1, "urgency": "x", "intent": "other"}), FIELDS)


def test_a_truncated_answer_says_so() -> None:
    with pytest.raises(BadResponseError) as caught:
        parse_answer('{"intent": "bil', FIELDS, finish_reason="length")
    assert caught.value.text() == (
        "BadResponse: the structured answer is not valid JSON (finish reason length)"
    )


def test_lone_surrogates_become_replacement_characters() -> None:
    text = json.dumps({**GOOD, "summary": "a\ud800b", "tags": ["\udfff"]})
    values = dict(parse_answer(text, FIELDS))
    assert values["summary"] == Value(text="a\ufffdb")
    assert values["tags"] == Value(list=TextList(items=["\ufffd"]))
    Value(text="a\ufffdb").SerializeToString()
