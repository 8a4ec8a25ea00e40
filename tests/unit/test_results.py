"""Error texts and the variable writes every action shares."""

from __future__ import annotations

import pytest

from botflow.providers.errors import (
    ActionCancelledError,
    BadRequestError,
    BlockedError,
    MalformedResponseError,
    MissingParameterError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from botflow.server.results import VariableWriter, error_text, kind_label
from botflow.server.variables import Variables, text_value
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, ErrorKind
from botflow.v1.variables_pb2 import Value


class OddError(ProviderError):
    kind = "SomethingNew"


@pytest.mark.parametrize(
    ("error", "attempts", "expected"),
    [
        (
            ProviderTimeoutError("no answer within 15000 ms"),
            1,
            "Timeout: no answer within 15000 ms",
        ),
        (
            ProviderTimeoutError("no answer within 15000 ms"),
            3,
            "Timeout: no answer within 15000 ms (3 attempts)",
        ),
        (RateLimitedError("too many requests"), 2, "RateLimited: too many requests (2 attempts)"),
        (MissingParameterError("the token is empty"), 0, "MissingParameter: the token is empty"),
        (ServerError("the provider failed"), 1, "ProviderError: the provider failed"),
    ],
)
def test_error_text(error: ProviderError, attempts: int, expected: str) -> None:
    assert error_text(error, attempts) == expected


def test_succeed_clears_the_error_variable() -> None:
    variables = Variables({"last webhook failure": text_value("Timeout: old")})
    writer = VariableWriter(variables)
    writer.set(" answer ", text_value("42"))
    run = writer.succeed("last webhook failure", ActionResult(answer="42"))
    assert variables.get("last webhook failure") == text_value("")
    assert variables.render("answer") == "42"
    assert run.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert run.result.error_kind == ErrorKind.ERROR_KIND_UNSPECIFIED
    assert run.result.answer == "42"
    assert run.changes == [("answer", text_value("42")), ("last webhook failure", text_value(""))]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (MissingParameterError("d"), ErrorKind.ERROR_KIND_MISSING_PARAMETER),
        (ProviderTimeoutError("d"), ErrorKind.ERROR_KIND_TIMEOUT),
        (RateLimitedError("d"), ErrorKind.ERROR_KIND_RATE_LIMITED),
        (QuotaExceededError("d"), ErrorKind.ERROR_KIND_QUOTA_EXCEEDED),
        (UnauthorizedError("d"), ErrorKind.ERROR_KIND_UNAUTHORIZED),
        (BadRequestError("d"), ErrorKind.ERROR_KIND_BAD_REQUEST),
        (ServerError("d"), ErrorKind.ERROR_KIND_PROVIDER_ERROR),
        (ProviderConnectionError("d"), ErrorKind.ERROR_KIND_PROVIDER_ERROR),
        (MalformedResponseError("d"), ErrorKind.ERROR_KIND_PROVIDER_ERROR),
        (ProviderError("d"), ErrorKind.ERROR_KIND_PROVIDER_ERROR),
        (BlockedError("d"), ErrorKind.ERROR_KIND_BLOCKED),
        (ActionCancelledError("d"), ErrorKind.ERROR_KIND_CANCELLED),
        (OddError("d"), ErrorKind.ERROR_KIND_PROVIDER_ERROR),
    ],
)
def test_fail_maps_kind_and_stores_text(error: ProviderError, kind: ErrorKind.ValueType) -> None:
    variables = Variables()
    run = VariableWriter(variables).fail(" my error ", error, 2, 1.5)
    # A plug-in's own kind word (OddError) never reaches the text: ProviderError.
    expected_text = f"{kind_label(kind)}: d (2 attempts)"
    assert variables.get("my error") == text_value(expected_text)
    assert run.result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert run.result.error_kind == kind
    assert run.result.error == expected_text
    assert run.result.attempts == 2
    assert run.result.elapsed.seconds == 1
    assert run.result.elapsed.nanos == 500_000_000
    assert run.result.answer == ""
    assert run.changes == [("my error", Value(text=expected_text))]
