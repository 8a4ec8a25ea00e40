"""Which providers exist and which this server enabled.

Built-ins (`openai`, `fake`) are known by name; other providers plug in through
the entry-point group `botflow.providers` without touching the server. An entry
point names a class or factory returning a Provider; it is called with
`egress=<EgressPolicy>` when it has that parameter, else with no arguments.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterable
from functools import partial
from importlib.metadata import entry_points

from botflow.providers.base import Provider
from botflow.providers.egress import EgressPolicy

ENTRY_POINT_GROUP = "botflow.providers"
BUILTINS: dict[str, str] = {
    "openai": "botflow.providers.openai:OpenAIProvider",
    "fake": "botflow.providers.fake:FakeProvider",
}

log = logging.getLogger(__name__)

Factory = Callable[..., Provider]


class UnknownProviderError(LookupError):
    """A name that is neither built in nor in the entry-point group."""


def _load_builtin(target: str) -> Factory:
    module, _, attr = target.partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory


def available_factories(egress: EgressPolicy | None = None) -> dict[str, Callable[[], Provider]]:
    """Every provider this installation knows: plug-ins, then built-ins."""
    factories: dict[str, Callable[[], Provider]] = {
        ep.name: partial(_instantiate, ep.load, egress)
        for ep in entry_points(group=ENTRY_POINT_GROUP)
        if ep.name not in BUILTINS  # a built-in wins over a same-named plug-in
    }
    for name, target in BUILTINS.items():
        factories[name] = partial(_instantiate, partial(_load_builtin, target), egress)
    return factories


def _instantiate(load: Callable[[], Factory], egress: EgressPolicy | None) -> Provider:
    """Call the factory, giving it the server's egress policy when it takes one."""
    factory = load()
    try:
        takes_egress = "egress" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_egress = False
    if takes_egress and egress is not None:
        return factory(egress=egress)
    return factory()


class ProviderRegistry:
    """The enabled providers of one server, created once and shared by calls."""

    def __init__(self, providers: dict[str, Provider]) -> None:
        self._providers = providers

    @classmethod
    def create(
        cls, enabled: Iterable[str], *, egress: EgressPolicy | None = None
    ) -> ProviderRegistry:
        """Instantiate the enabled providers; factories that accept `egress`
        get the server's policy (plug-ins that reach the network should)."""
        factories = available_factories(egress)
        providers: dict[str, Provider] = {}
        for name in enabled:
            if name not in factories:
                raise UnknownProviderError(
                    f"unknown provider {name!r}; known: {', '.join(sorted(factories))}"
                )
            providers[name] = factories[name]()
            log.info("provider enabled", extra={"provider": name})
        return cls(providers)

    def get(self, name: str) -> Provider | None:
        return self._providers.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._providers)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
