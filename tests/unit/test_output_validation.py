"""Validation of an OpenAI action's output fields and fallbacks: the limits."""

from __future__ import annotations

from botflow.server.config import Limits
from botflow.server.validation import (
    MAX_CHOICE_CHARS,
    MAX_CHOICES,
    MAX_OUTPUT_FIELDS,
    ValidationContext,
    Violations,
    check_openai_action,
)
from botflow.v1.actions_pb2 import (
    HistoryMode,
    OpenAIAction,
    OutputField,
    OutputType,
    ProviderFallback,
)

CTX = ValidationContext(
    limits=Limits(),
    enabled_providers=("fake", "openai"),
    default_provider="openai",
    # Stands in for the registry: openai refuses every option, fake none.
    check_options=lambda provider, options: (
        [(key, "refused") for key in options] if provider == "openai" else []
    ),
)


def violations(**fields: object) -> list[tuple[str, str]]:
    action = OpenAIAction(
        token="t",
        prompt="p",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        provider="fake",
        **fields,  # type: ignore[arg-type]
    )
    v = Violations()
    check_openai_action(v, "a", action, CTX)
    return v.items


def text_field(i: int) -> OutputField:
    return OutputField(name=f"f{i}", type=OutputType.OUTPUT_TYPE_TEXT, variable=f"v{i}")


def test_up_to_32_fields() -> None:
    assert violations(outputs=[text_field(i) for i in range(MAX_OUTPUT_FIELDS)]) == []
    assert [
        p for p, _ in violations(outputs=[text_field(i) for i in range(MAX_OUTPUT_FIELDS + 1)])
    ] == ["a.outputs"]


def test_names_up_to_64_characters() -> None:
    ok = OutputField(name="_" + "a" * 63, type=OutputType.OUTPUT_TYPE_TEXT, variable="v")
    assert violations(outputs=[ok]) == []
    long = OutputField(name="a" * 65, type=OutputType.OUTPUT_TYPE_TEXT, variable="v")
    assert [p for p, _ in violations(outputs=[long])] == ["a.outputs[0].name"]


def one_of(*choices: str) -> OutputField:
    return OutputField(name="c", type=OutputType.OUTPUT_TYPE_ONE_OF, variable="v", choices=choices)


def test_choices_limits() -> None:
    assert violations(outputs=[one_of(*(f"c{i}" for i in range(MAX_CHOICES)))]) == []
    assert [
        p for p, _ in violations(outputs=[one_of(*(f"c{i}" for i in range(MAX_CHOICES + 1)))])
    ] == ["a.outputs[0].choices"]
    assert [
        p for p, _ in violations(outputs=[one_of("ok", "x" * (MAX_CHOICE_CHARS + 1), " ")])
    ] == [
        "a.outputs[0].choices[1]",
        "a.outputs[0].choices[2]",
    ]


def test_an_output_must_not_write_a_variable_the_action_writes() -> None:
    fields = [
        OutputField(name="a", type=OutputType.OUTPUT_TYPE_TEXT, variable="answer"),
        OutputField(name="b", type=OutputType.OUTPUT_TYPE_TEXT, variable=" x "),
        OutputField(name="c", type=OutputType.OUTPUT_TYPE_TEXT, variable="x"),
        OutputField(name="d", type=OutputType.OUTPUT_TYPE_TEXT, variable="last webhook failure"),
    ]
    assert [p for p, _ in violations(outputs=fields, answer_variable="answer")] == [
        "a.outputs[0].variable",
        "a.outputs[2].variable",
        "a.outputs[3].variable",
    ]


def test_fallback_rules() -> None:
    assert violations(fallbacks=[ProviderFallback(model="m")] * 3) == []
    problems = violations(
        fallbacks=[
            ProviderFallback(provider="openai", token="  "),
            ProviderFallback(provider="fake"),
            ProviderFallback(
                provider="openai", token="k", provider_options={"max_tokens_field": "x"}
            ),
        ]
    )
    assert [p for p, _ in problems] == [
        "a.fallbacks[0].token",
        "a.fallbacks[1]",
        'a.fallbacks[2].provider_options["max_tokens_field"]',
    ]
    # Descriptions name the rule, never a value.
    assert all("  " not in text for _, text in problems)
