"""HTTP status → typed provider error."""

from __future__ import annotations

import pytest

from botflow.providers.errors import (
    BadRequestError,
    Kind,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    error_for_status,
    kind_of,
)


@pytest.mark.parametrize(
    ("status", "code", "cls", "kind", "retryable"),
    [
        (401, None, UnauthorizedError, "Unauthorized", False),
        (403, None, UnauthorizedError, "Unauthorized", False),
        (429, None, RateLimitedError, "RateLimited", True),
        (429, "rate_limit_exceeded", RateLimitedError, "RateLimited", True),
        (429, "insufficient_quota", QuotaExceededError, "QuotaExceeded", False),
        (408, None, ServerError, "ProviderError", True),
        (409, None, ServerError, "ProviderError", True),
        (400, None, BadRequestError, "BadRequest", False),
        (404, None, BadRequestError, "BadRequest", False),
        (422, None, BadRequestError, "BadRequest", False),
        (400, "insufficient_quota", BadRequestError, "BadRequest", False),
        (500, None, ServerError, "ProviderError", True),
        (503, None, ServerError, "ProviderError", True),
    ],
)
def test_error_for_status(
    status: int, code: str | None, cls: type[ProviderError], kind: str, retryable: bool
) -> None:
    error = error_for_status(status, code=code)
    assert type(error) is cls
    assert error.kind == kind
    assert error.retryable is retryable
    assert error.status == status
    assert f"HTTP {status}" in error.detail
    assert error.text() == f"{kind}: {error.detail}"


@pytest.mark.parametrize(("status", "expected"), [(429, 2.5), (503, 2.5), (408, 2.5)])
def test_retry_after_is_kept_for_retryable_statuses(status: int, expected: float) -> None:
    assert error_for_status(status, retry_after=2.5).retry_after == expected


def test_quota_ignores_retry_after() -> None:
    error = error_for_status(429, code="insufficient_quota", retry_after=5.0)
    assert error.retry_after is None


def test_details_are_fixed_texts() -> None:
    assert error_for_status(401).text() == (
        "Unauthorized: the provider refused the token (HTTP 401)"
    )
    assert error_for_status(429).text() == "RateLimited: too many requests (HTTP 429)"


def test_overloaded_is_a_retryable_provider_error_with_retry_after() -> None:
    error = error_for_status(529, retry_after=3.0)
    assert type(error) is ServerError
    assert error.retryable
    assert error.retry_after == 3.0
    assert error.text() == "ProviderError: the provider is overloaded (HTTP 529)"


def test_every_error_class_kind_is_a_kind_member() -> None:
    classes: list[type[ProviderError]] = [ProviderError, *_subclasses(ProviderError)]
    assert all(isinstance(cls.kind, Kind) for cls in classes)


def test_a_plugin_kind_outside_the_list_reads_as_provider_error() -> None:
    class ExplodedError(ProviderError):
        kind = "Exploded"

    error = ExplodedError("it blew up")
    assert kind_of(error) is Kind.PROVIDER_ERROR
    assert error.text() == "ProviderError: it blew up"


def _subclasses(cls: type[ProviderError]) -> list[type[ProviderError]]:
    found: list[type[ProviderError]] = []
    for sub in cls.__subclasses__():
        if sub.__module__ == "botflow.providers.errors":
            found += [sub, *_subclasses(sub)]
    return found
