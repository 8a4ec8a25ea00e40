"""Which providers exist and which this server enabled.

Built-ins (`openai`, `anthropic`, `fake`) are known by name; other providers
plug in through the entry-point group `botflow.providers` without touching the
server. An entry point names a class or factory returning a Provider; it is
called with one `ProviderContext` (see `botflow.providers.context`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points

from botflow.providers.base import OptionProblem, Provider
from botflow.providers.context import ProviderContext
from botflow.providers.egress import EgressPolicy

ENTRY_POINT_GROUP = "botflow.providers"
BUILTINS: dict[str, str] = {
    "openai": "botflow.providers.openai:OpenAIProvider",
    "anthropic": "botflow.providers.anthropic:AnthropicProvider",
    "fake": "botflow.providers.fake:FakeProvider",
}

log = logging.getLogger(__name__)

Factory = Callable[[ProviderContext], Provider]


class UnknownProviderError(LookupError):
    """A name that is neither built in nor in the entry-point group."""


def _load_builtin(target: str) -> Callable[[], Factory]:
    def load() -> Factory:
        module, _, attr = target.partition(":")
        factory: Factory = getattr(importlib.import_module(module), attr)
        return factory

    return load


def available_factories() -> dict[str, Callable[[], Factory]]:
    """Every provider this installation knows, as loaders of its factory;
    a built-in wins over a same-named plug-in."""
    loaders: dict[str, Callable[[], Factory]] = {
        ep.name: ep.load for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTINS
    }
    for name, target in BUILTINS.items():
        loaders[name] = _load_builtin(target)
    return loaders


@dataclass(frozen=True)
class _Enabled:
    provider: Provider
    context: ProviderContext | None


class ProviderRegistry:
    """The enabled providers of one server, created once and shared by calls."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        contexts: Mapping[str, ProviderContext] | None = None,
    ) -> None:
        found = contexts or {}
        self._enabled = {name: _Enabled(p, found.get(name)) for name, p in providers.items()}

    @classmethod
    def create(
        cls,
        enabled: Iterable[str],
        *,
        egress: EgressPolicy | None = None,
        settings: Mapping[str, Mapping[str, str]] | None = None,
    ) -> ProviderRegistry:
        """Create the enabled providers, each with its own context: a pool
        behind `egress` and `settings[name]`."""
        loaders = available_factories()
        providers: dict[str, Provider] = {}
        contexts: dict[str, ProviderContext] = {}
        for name in enabled:
            if name not in loaders:
                raise UnknownProviderError(
                    f"unknown provider {name!r}; known: {', '.join(sorted(loaders))}"
                )
            factory = loaders[name]()
            contexts[name] = ProviderContext.create(
                name,
                egress=egress,
                settings=(settings or {}).get(name, {}),
                declared_model=str(getattr(factory, "declared_model", "") or ""),
            )
            providers[name] = factory(contexts[name])
            log.info("provider enabled", extra={"provider": name})
        return cls(providers, contexts)

    def get(self, name: str) -> Provider | None:
        enabled = self._enabled.get(name)
        return enabled.provider if enabled is not None else None

    def default_model(self, name: str) -> str:
        provider = self.get(name)
        return str(getattr(provider, "default_model", "") or "")

    def check_options(self, name: str, options: Mapping[str, str]) -> list[OptionProblem]:
        """The provider's own verdict on an action's provider_options; nothing
        when it has no check (or is not enabled: validation says so apart)."""
        check = getattr(self.get(name), "check_options", None)
        if check is None:
            return []
        try:
            problems = list(check(options))
        except Exception as exc:
            # A plug-in bug must not turn validation into an INTERNAL error;
            # the provider still sees the options (and may refuse them) when called.
            log.warning(
                "provider option check failed",
                extra={"provider": name, "error": type(exc).__name__},
            )
            return []
        return [(str(key), str(problem)) for key, problem in problems]

    @property
    def names(self) -> list[str]:
        return sorted(self._enabled)

    async def aclose(self) -> None:
        for enabled in self._enabled.values():
            await enabled.provider.aclose()
            if enabled.context is not None:
                # A plug-in that forgot its aclose must not leave the pool open.
                await enabled.context.aclose()
