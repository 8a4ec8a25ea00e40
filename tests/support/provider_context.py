"""Provider contexts for tests: what the server would give a provider."""

from __future__ import annotations

from collections.abc import Mapping

from botflow.providers.context import ProviderContext
from botflow.providers.egress import EgressPolicy


def provider_context(
    name: str = "openai",
    *,
    egress: EgressPolicy | None = None,
    settings: Mapping[str, str] | None = None,
    declared_model: str = "",
) -> ProviderContext:
    """`egress` defaults to the server's default policy (no loopback)."""
    return ProviderContext.create(
        name, egress=egress, settings=settings, declared_model=declared_model
    )
