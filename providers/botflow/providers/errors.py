"""The typed failures a provider raises, mapped from HTTP status codes.

`Kind` is the one list of failure kinds.

Every class carries its product kind (the "Kind" of "Kind: detail") and whether
the shared retry layer may try again. Details are written by botflow, never
copied from a request: they must not contain tokens or message texts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Kind(StrEnum):
    """Every failure kind: the one list for error texts, the ErrorKind enum of
    results and metric labels. The value is the "Kind" of "Kind: detail"."""

    MISSING_PARAMETER = "MissingParameter"
    TIMEOUT = "Timeout"
    RATE_LIMITED = "RateLimited"
    QUOTA_EXCEEDED = "QuotaExceeded"
    UNAUTHORIZED = "Unauthorized"
    BAD_REQUEST = "BadRequest"
    PROVIDER_ERROR = "ProviderError"
    BLOCKED = "Blocked"
    CANCELLED = "Cancelled"
    BAD_RESPONSE = "BadResponse"
    KEY_ERROR = "KeyError"


def kind_of(error: ProviderError) -> Kind:
    """The error's kind; a plug-in's kind outside the list is ProviderError,
    so no unknown word reaches a text or a metric label."""
    try:
        return Kind(error.kind)
    except ValueError:
        return Kind.PROVIDER_ERROR


class ProviderError(Exception):
    """A provider call failed. Subclasses say how; this base is a generic failure."""

    kind: ClassVar[str] = Kind.PROVIDER_ERROR
    retryable: ClassVar[bool] = False

    def __init__(
        self, detail: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        # Seconds the provider asked us to wait before the next attempt.
        self.retry_after = retry_after

    def text(self) -> str:
        """The "Kind: detail" text stored in the error variable."""
        return f"{kind_of(self).value}: {self.detail}"


class MissingParameterError(ProviderError):
    kind = Kind.MISSING_PARAMETER


class ProviderTimeoutError(ProviderError):
    kind = Kind.TIMEOUT
    retryable = True


class ProviderConnectionError(ProviderError):
    """The connection failed or dropped before a complete answer arrived."""

    retryable = True


class ServerError(ProviderError):
    """5xx, or 408/409: the provider may succeed on another attempt."""

    retryable = True


class MalformedResponseError(ProviderError):
    """The answer could not be understood; a gateway glitch may pass, so retry."""

    retryable = True


class RateLimitedError(ProviderError):
    kind = Kind.RATE_LIMITED
    retryable = True


class QuotaExceededError(ProviderError):
    kind = Kind.QUOTA_EXCEEDED


class UnauthorizedError(ProviderError):
    kind = Kind.UNAUTHORIZED


class BadRequestError(ProviderError):
    kind = Kind.BAD_REQUEST


class BlockedError(ProviderError):
    kind = Kind.BLOCKED


class ActionCancelledError(ProviderError):
    kind = Kind.CANCELLED


class BadResponseError(ProviderError):
    """A webhook's answer is unusable: not 2xx, not JSON, too large, or none."""

    kind = Kind.BAD_RESPONSE


class ResponseKeyError(ProviderError):
    """A webhook response path matched nothing."""

    kind = Kind.KEY_ERROR


RETRYABLE_STATUSES = frozenset({408, 409, 429})
QUOTA_CODE = "insufficient_quota"
# Anthropic's "overloaded": retried like a 503.
OVERLOADED_STATUS = 529


def error_for_status(
    status: int, *, code: str | None = None, retry_after: float | None = None
) -> ProviderError:
    """Map an HTTP error status (and the provider's error code) to its typed error."""
    where = f"HTTP {status}"
    if status == 429 and code == QUOTA_CODE:
        return QuotaExceededError(f"the account is out of quota ({where})", status=status)
    if status == 429:
        return RateLimitedError(
            f"too many requests ({where})", status=status, retry_after=retry_after
        )
    if status in (401, 403):
        return UnauthorizedError(f"the provider refused the token ({where})", status=status)
    if status == OVERLOADED_STATUS:
        return ServerError(
            f"the provider is overloaded ({where})", status=status, retry_after=retry_after
        )
    if status in RETRYABLE_STATUSES or status >= 500:
        return ServerError(f"the provider failed ({where})", status=status, retry_after=retry_after)
    return BadRequestError(f"the provider refused the request ({where})", status=status)
