"""ActionResult construction and the variable writes every action shares:
success clears the error variable, failure stores "Kind: detail" in it."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.duration_pb2 import Duration

from botflow.providers.errors import Kind, ProviderError, kind_of
from botflow.server.events import SecretChange
from botflow.server.variables import Variables, text_value
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, ErrorKind
from botflow.v1.variables_pb2 import Value

# Every Kind has its enum member; tests/unit/test_results.py checks both ways.
KINDS: dict[Kind, ErrorKind.ValueType] = {
    Kind.MISSING_PARAMETER: ErrorKind.ERROR_KIND_MISSING_PARAMETER,
    Kind.TIMEOUT: ErrorKind.ERROR_KIND_TIMEOUT,
    Kind.RATE_LIMITED: ErrorKind.ERROR_KIND_RATE_LIMITED,
    Kind.QUOTA_EXCEEDED: ErrorKind.ERROR_KIND_QUOTA_EXCEEDED,
    Kind.UNAUTHORIZED: ErrorKind.ERROR_KIND_UNAUTHORIZED,
    Kind.BAD_REQUEST: ErrorKind.ERROR_KIND_BAD_REQUEST,
    Kind.PROVIDER_ERROR: ErrorKind.ERROR_KIND_PROVIDER_ERROR,
    Kind.BLOCKED: ErrorKind.ERROR_KIND_BLOCKED,
    Kind.CANCELLED: ErrorKind.ERROR_KIND_CANCELLED,
    Kind.BAD_RESPONSE: ErrorKind.ERROR_KIND_BAD_RESPONSE,
    Kind.KEY_ERROR: ErrorKind.ERROR_KIND_KEY_ERROR,
}
_LABELS: dict[int, str] = {number: kind.value for kind, number in KINDS.items()}


def kind_label(error_kind: int) -> str:
    """The "Kind" word of a result's error_kind, for logs and metric labels;
    "" on success."""
    return _LABELS.get(error_kind, "")


@dataclass
class ActionRun:
    """An action's result plus the variables it wrote, in order (a secret
    one as a SecretChange, without its value)."""

    result: ActionResult
    changes: list[tuple[str, Value]] = field(default_factory=list)


def duration(seconds: float) -> Duration:
    d = Duration()
    set_duration(d, seconds)
    return d


def set_duration(target: Duration, seconds: float) -> None:
    """`target` (a message's field) set in place: cheaper than a Duration
    built, then copied in."""
    target.FromNanoseconds(round(seconds * 1e9))


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
        """Stores a copy of `value`: the caller's may still change."""
        self.variables.set(name, value)
        self._changed(name, value)

    def set_text(self, name: str, text: str) -> None:
        """A text value built here, so stored as it is (no copy)."""
        value = text_value(text)
        self.variables.keep(name, value)
        self._changed(name, value)

    def _changed(self, name: str, value: Value) -> None:
        trimmed = name.strip()
        if self.variables.is_secret(trimmed):
            self._wrote_secret = True
            self.changes.append(SecretChange.of(trimmed))
        else:
            self.changes.append((trimmed, value))

    def succeed(self, error_variable: str, result: ActionResult) -> ActionRun:
        if self._wrote_secret:
            # The answer is the value of the (secret) variable it went into.
            result.answer = ""
        self.set_text(error_variable, "")
        result.outcome = ActionOutcome.ACTION_OUTCOME_SUCCEEDED
        return ActionRun(result, self.changes)

    def fail(
        self,
        error_variable: str,
        error: ProviderError,
        attempts: int,
        elapsed: float,
        *,
        text: str | None = None,
    ) -> ActionRun:
        """`text` replaces the error's own "Kind: detail (n attempts)" (an
        OpenAI action whose fallbacks all failed names each of them)."""
        if text is None:
            text = error_text(error, attempts)
        self.set_text(error_variable, text)
        result = ActionResult(
            outcome=ActionOutcome.ACTION_OUTCOME_FAILED,
            error_kind=KINDS[kind_of(error)],
            error=text,
            attempts=attempts,
            elapsed=duration(elapsed),
        )
        return ActionRun(result, self.changes)
