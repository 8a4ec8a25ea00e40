"""Registry wiring: the one server module that turns configuration into the
providers' settings, so nothing else in the server names a provider.

Each enabled provider gets its `BOTFLOW_PROVIDER_<NAME>_<KEY>` variables as
settings. Two older settings are aliases kept for existing deployments; the
provider's own variable wins over them:

- `--openai-base-url` / `BOTFLOW_OPENAI_BASE_URL` → openai's `base_url`
  (`BOTFLOW_PROVIDER_OPENAI_BASE_URL`).
- `--default-model` / `BOTFLOW_DEFAULT_MODEL` → the default provider's `model`,
  when it differs from the built-in default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from botflow.providers.context import settings_from_env
from botflow.providers.egress import EgressPolicy
from botflow.providers.registry import ProviderRegistry
from botflow.server import defaults
from botflow.server.config import ServerConfig

OPENAI = "openai"


def provider_settings(
    config: ServerConfig, environ: Mapping[str, str] | None = None
) -> dict[str, dict[str, str]]:
    env = os.environ if environ is None else environ
    settings = {name: settings_from_env(name, env) for name in config.providers}
    aliases: dict[str, dict[str, str]] = {}
    if config.openai_base_url:
        aliases.setdefault(OPENAI, {})["base_url"] = config.openai_base_url
    if config.default_model != defaults.DEFAULT_MODEL:
        aliases.setdefault(defaults.DEFAULT_PROVIDER, {})["model"] = config.default_model
    for name, values in aliases.items():
        if name in settings:
            settings[name] = {**values, **settings[name]}
    return settings


def create_registry(config: ServerConfig, egress: EgressPolicy) -> ProviderRegistry:
    return ProviderRegistry.create(
        config.providers, egress=egress, settings=provider_settings(config)
    )
