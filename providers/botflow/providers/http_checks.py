"""Checks and parsing every HTTP provider needs, written once: what may go
into a header or a base URL, the typed cause behind an SDK error, and a JSON
body read without trusting the server.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TypeVar

import httpx2

from botflow.providers.capped import ResponseTooLargeError
from botflow.providers.egress import EgressBlockedError
from botflow.providers.errors import (
    BadRequestError,
    BadResponseError,
    BlockedError,
    MalformedResponseError,
    MissingParameterError,
    ProviderError,
)

_E = TypeVar("_E", bound=BaseException)

# An RFC 9110 field value without obs-text: visible ASCII, inner spaces and
# tabs. Surrounding whitespace is not part of a header value, so it cannot be
# carried either.
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")
# A plain word: letters, digits, "_", "." and "-", at most 64. What a server
# or a caller names something with (an error code, a finish reason, an option,
# an Azure deployment) is shown or used only when it is one.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def plain_word(value: object) -> bool:
    return isinstance(value, str) and _PLAIN_WORD.fullmatch(value) is not None


def with_provider_code(error: ProviderError, code: object, token: str) -> ProviderError:
    """`error` with the provider's own error code added to its text, when
    the code is a plain word that does not hold the token."""
    if not plain_word(code) or (token and token in str(code)):
        return error
    detail = f"{error.detail}, provider code {code}"
    return type(error)(detail, status=error.status, retry_after=error.retry_after)


_MAX_HOST_NAME = 253
# httpx2 has already IDNA-encoded the host, so a label is plain ASCII.
_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")


def header_safe(value: str) -> bool:
    """Whether an HTTP header can carry `value` as it is."""
    return _HEADER_VALUE.fullmatch(value) is not None


def check_token(token: str) -> None:
    """A provider never falls back to another key (the server refuses an
    empty token first), and httpx2 would refuse a token a header cannot carry
    on every attempt, as a connection failure."""
    if not token:
        raise MissingParameterError("the token is empty")
    if not header_safe(token):
        raise BadRequestError("the token contains characters an HTTP header cannot carry")


def check_base_url(base_url: str) -> str:
    """The base URL's host (lower case) once the URL is fit for a request."""
    try:
        url = httpx2.URL(base_url)
    except (httpx2.InvalidURL, TypeError, ValueError):
        raise BadRequestError("the base_url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise BadRequestError("the base_url must be an http or https URL")
    if url.userinfo:
        raise BadRequestError("the base_url must not contain a user name or password")
    if url.port is not None and not 0 < url.port < 65536:
        raise BadRequestError("the base_url's port is out of range")
    host = url.raw_host.decode("ascii", "replace")
    if not valid_host(host):
        raise BadRequestError("the base_url's host name is not valid")
    return host.lower().rstrip(".")


def valid_host(host: str) -> bool:
    """An IP address, or a DNS name whose labels fit RFC 1035's sizes (else
    the idna codec behind name resolution fails with an error that is
    neither a refusal nor a connection failure). Underscores are accepted:
    real internal names carry them. `host` is the IDNA (xn--) form."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    name = host.removesuffix(".")
    labels = name.split(".")
    return 0 < len(name) <= _MAX_HOST_NAME and all(_HOST_LABEL.fullmatch(x) for x in labels)


def cause(error: BaseException, kind: type[_E]) -> _E | None:
    """The first `kind` in the cause chain: the SDK wraps transport errors."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def transport_error(error: BaseException) -> ProviderError | None:
    """The typed error for what the HTTP layer under an SDK ran into (a
    refused destination, an answer over the cap, a body that does not
    decompress), or None when the SDK's own error class says more."""
    blocked = cause(error, EgressBlockedError)
    if blocked is not None:
        return BlockedError(str(blocked))
    too_large = cause(error, ResponseTooLargeError)
    if too_large is not None:
        return BadResponseError(f"the provider's answer is larger than {too_large.cap} bytes")
    if cause(error, httpx2.DecodingError) is not None:
        return MalformedResponseError("the provider's answer could not be decompressed")
    return None


def parse_document(content: bytes) -> object:
    """The parsed body. Any JSON is accepted whatever the content type says.
    Bytes that are not UTF-8 become U+FFFD, as the action does with lone
    surrogates from `\\ud800` escapes: one bad character does not cost the
    whole answer. A nesting deeper than the parser's stack or an integer too
    long to convert is as unreadable as a syntax error."""
    try:
        return json.loads(content.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError):
        raise MalformedResponseError("the provider's answer is not valid JSON") from None


def field_of(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def count(value: object, *, default: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default
