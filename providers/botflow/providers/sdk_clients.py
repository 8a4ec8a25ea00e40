"""SDK clients derived once per base URL, for the providers built on a vendor SDK.

A vendor client's `with_options(base_url=...)` copies the client (settings,
headers, resource objects) around the same connection pool: cheap once, not
per call. The token and the timeout need no client of their own (they go on
each request), so a base URL is the only reason to derive one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

Client = TypeVar("Client")

# Past this many base URLs the oldest client is dropped: a derived client owns
# no connection (the base client's pool does), so dropping it closes nothing.
MAX_BASE_URL_CLIENTS = 32


class ClientsByBaseUrl(Generic[Client]):
    """At most `limit` clients, one per base URL, made by `derive` on first use."""

    def __init__(self, derive: Callable[[str], Client], limit: int = MAX_BASE_URL_CLIENTS) -> None:
        self._derive = derive
        self._limit = max(1, limit)
        self._clients: dict[str, Client] = {}

    def get(self, base_url: str) -> Client:
        client = self._clients.get(base_url)
        if client is None:
            if len(self._clients) >= self._limit:
                del self._clients[next(iter(self._clients))]
            client = self._derive(base_url)
            self._clients[base_url] = client
        return client

    def clear(self) -> None:
        self._clients.clear()


class SdkClients(Generic[Client]):
    """A provider's SDK clients (openai's or anthropic's async client): the
    base client and its pool, made by `make_base` on first use, and one
    derived per base URL with the SDK's `with_options`."""

    def __init__(self, make_base: Callable[[], Client]) -> None:
        self._make_base = make_base
        # The two SDKs' with_options() and close() agree, but their
        # signatures differ too much for one Protocol.
        self._base: Any = None
        self._by_base_url: ClientsByBaseUrl[Client] = ClientsByBaseUrl(self._derive)

    def _derive(self, base_url: str) -> Client:
        if self._base is None:
            self._base = self._make_base()
        derived: Client = self._base.with_options(base_url=base_url, max_retries=0)
        return derived

    def get(self, base_url: str) -> Client:
        return self._by_base_url.get(base_url)

    async def aclose(self) -> None:
        """Closes the pool (the base client's HTTP client); a later call
        starts a new one."""
        base, self._base = self._base, None
        self._by_base_url.clear()
        if base is not None:
            await base.close()
