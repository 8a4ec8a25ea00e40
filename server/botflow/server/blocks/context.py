"""What an action needs from the server for one call."""

from __future__ import annotations

from dataclasses import dataclass

from botflow.providers.registry import ProviderRegistry
from botflow.server.config import ServerConfig


@dataclass(frozen=True)
class ActionContext:
    config: ServerConfig
    registry: ProviderRegistry
    # time.monotonic() value the action must finish by (the caller's deadline).
    deadline: float | None = None
