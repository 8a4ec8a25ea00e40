"""The typed failures a provider raises, mapped from HTTP status codes.

Every class carries the SPEC §4 kind (the "Kind" of "Kind: detail") and whether
the shared retry layer may try again. Details are written by botflow, never
copied from a request: they must not contain tokens or message texts.
"""

from __future__ import annotations

from typing import ClassVar


class ProviderError(Exception):
    """A provider call failed. Subclasses say how; this base is a generic failure."""

    kind: ClassVar[str] = "ProviderError"
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
        return f"{self.kind}: {self.detail}"


class MissingParameterError(ProviderError):
    kind = "MissingParameter"


class ProviderTimeoutError(ProviderError):
    kind = "Timeout"
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
    kind = "RateLimited"
    retryable = True


class QuotaExceededError(ProviderError):
    kind = "QuotaExceeded"


class UnauthorizedError(ProviderError):
    kind = "Unauthorized"


class BadRequestError(ProviderError):
    kind = "BadRequest"


class BlockedError(ProviderError):
    kind = "Blocked"


class ActionCancelledError(ProviderError):
    kind = "Cancelled"


class BadResponseError(ProviderError):
    """A webhook's answer is unusable: not 2xx, not JSON, too large, or none."""

    kind = "BadResponse"


class ResponseKeyError(ProviderError):
    """A webhook response path matched nothing."""

    kind = "KeyError"


RETRYABLE_STATUSES = frozenset({408, 409, 429})
QUOTA_CODE = "insufficient_quota"


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
    if status in RETRYABLE_STATUSES or status >= 500:
        return ServerError(f"the provider failed ({where})", status=status, retry_after=retry_after)
    return BadRequestError(f"the provider refused the request ({where})", status=status)
