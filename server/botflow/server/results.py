"""ActionResult construction and the variable writes every action shares:
success clears the error variable, failure stores "Kind: detail" in it."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.duration_pb2 import Duration

from botflow.providers.errors import ProviderError
from botflow.server.events import SecretChange
from botflow.server.variables import Variables, text_value
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, ErrorKind
from botflow.v1.variables_pb2 import Value

KINDS: dict[str, int] = {
    "MissingParameter": ErrorKind.ERROR_KIND_MISSING_PARAMETER,
    "Timeout": ErrorKind.ERROR_KIND_TIMEOUT,
    "RateLimited": ErrorKind.ERROR_KIND_RATE_LIMITED,
    "QuotaExceeded": ErrorKind.ERROR_KIND_QUOTA_EXCEEDED,
    "Unauthorized": ErrorKind.ERROR_KIND_UNAUTHORIZED,
    "BadRequest": ErrorKind.ERROR_KIND_BAD_REQUEST,
    "ProviderError": ErrorKind.ERROR_KIND_PROVIDER_ERROR,
    "Blocked": ErrorKind.ERROR_KIND_BLOCKED,
    "Cancelled": ErrorKind.ERROR_KIND_CANCELLED,
    "BadResponse": ErrorKind.ERROR_KIND_BAD_RESPONSE,
    "KeyError": ErrorKind.ERROR_KIND_KEY_ERROR,
}


@dataclass
class ActionRun:
    """An action's result plus the variables it wrote, in order (a secret
    one as a SecretChange, without its value)."""

    result: ActionResult
    changes: list[tuple[str, Value]] = field(default_factory=list)


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def error_text(error: ProviderError, attempts: int) -> str:
    suffix = f" ({attempts} attempts)" if attempts > 1 else ""
    return f"{error.text()}{suffix}"


class VariableWriter:
    """Writes variables and remembers what changed, for events."""

    def __init__(self, variables: Variables) -> None:
        self.variables = variables
        self.changes: list[tuple[str, Value]] = []
        self._wrote_secret = False

    def set(self, name: str, value: Value) -> None:
        self.variables.set(name, value)
        if self.variables.is_secret(name):
            self._wrote_secret = True
            self.changes.append(SecretChange.of(name.strip()))
        else:
            self.changes.append((name.strip(), value))

    def succeed(self, error_variable: str, result: ActionResult) -> ActionRun:
        if self._wrote_secret:
            # The answer is the value of the (secret) variable it went into.
            result.answer = ""
        self.set(error_variable, text_value(""))
        result.outcome = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
        return ActionRun(result, self.changes)

    def fail(
        self, error_variable: str, error: ProviderError, attempts: int, elapsed: float
    ) -> ActionRun:
        text = error_text(error, attempts)
        self.set(error_variable, text_value(text))
        result = ActionResult(
            outcome=ActionOutcome.ACTION_OUTCOME_FAILED,
            error_kind=KINDS.get(error.kind, ErrorKind.ERROR_KIND_PROVIDER_ERROR),  # type: ignore[arg-type]
            error=text,
            attempts=attempts,
            elapsed=duration(elapsed),
        )
        return ActionRun(result, self.changes)
