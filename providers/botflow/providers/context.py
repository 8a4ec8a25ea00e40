"""What the server gives every provider it creates: the one boundary.

A provider factory is called with one `ProviderContext`. It holds:

- `transport`: the only way to the network. Every connection it opens passes
  the server's egress policy (a refused address fails with `EgressBlockedError`
  before anything is sent) and every answer is capped at `max_response_bytes`
  decoded bytes (`ResponseTooLargeError` past it). `http_client()` wraps it in
  an `httpx2.AsyncClient` that follows no redirects and ignores proxy
  variables; hand that client to a vendor SDK.
- `settings`: the provider's own settings, from `BOTFLOW_PROVIDER_<NAME>_<KEY>`
  environment variables (e.g. `BOTFLOW_PROVIDER_OPENAI_BASE_URL` is
  `settings["base_url"]`), plus the server's legacy flags for built-ins.
- `default_model`: the `model` setting, else what the provider declared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from botflow.providers.capped import CappedTransport
from botflow.providers.egress import EgressPolicy, EgressTransport

SETTINGS_PREFIX = "BOTFLOW_PROVIDER_"
_NOT_NAME = re.compile(r"[^A-Z0-9]+")


def settings_prefix(name: str) -> str:
    """`BOTFLOW_PROVIDER_<NAME>_` for a provider name ("my-llm" → MY_LLM)."""
    return f"{SETTINGS_PREFIX}{_NOT_NAME.sub('_', name.upper())}_"


def settings_from_env(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The provider's settings: every `BOTFLOW_PROVIDER_<NAME>_<KEY>` variable
    as `settings["<key>"]` (lower case)."""
    prefix = settings_prefix(name)
    return {
        key[len(prefix) :].lower(): value
        for key, value in environ.items()
        if key.startswith(prefix) and len(key) > len(prefix)
    }


@dataclass(frozen=True)
class ProviderContext:
    name: str
    transport: httpx2.AsyncBaseTransport = field(repr=False)
    max_response_bytes: int
    default_model: str = ""
    settings: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        name: str,
        *,
        egress: EgressPolicy | None = None,
        settings: Mapping[str, str] | None = None,
        declared_model: str = "",
    ) -> ProviderContext:
        """A context whose transport enforces `egress` (default: refuse every
        non-public address) and its answer size cap."""
        policy = egress or EgressPolicy()
        given = dict(settings or {})
        return cls(
            name=name,
            transport=CappedTransport(EgressTransport(policy), policy.max_response_bytes),
            max_response_bytes=policy.max_response_bytes,
            default_model=given.get("model") or declared_model,
            settings=given,
        )

    def setting(self, key: str, default: str = "") -> str:
        return self.settings.get(key) or default

    def http_client(
        self, cls: type[httpx2.AsyncClient] = httpx2.AsyncClient, **kwargs: Any
    ) -> httpx2.AsyncClient:
        """A client on the egress-enforcing transport; `cls` may be an SDK's
        default client class, to keep its timeouts. Closing a client closes
        the transport: a provider makes one and owns it."""
        return cls(transport=self.transport, follow_redirects=False, trust_env=False, **kwargs)

    async def aclose(self) -> None:
        await self.transport.aclose()
