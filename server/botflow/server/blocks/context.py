"""What an action needs from the server for one call."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx2

from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.server.config import ServerConfig


@dataclass(frozen=True)
class ActionContext:
    config: ServerConfig
    registry: ProviderRegistry
    # time.monotonic() value the action must finish by (the caller's deadline).
    deadline: float | None = None
    # The server's pool for webhooks, behind `egress`.
    http: httpx2.AsyncClient | None = None
    egress: EgressPolicy = field(default_factory=EgressPolicy)
