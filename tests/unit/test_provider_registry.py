"""Every provider is created with a ProviderContext: its settings, its default
model, an egress-enforcing transport it shares with nobody (issue 11)."""

from __future__ import annotations

import httpx2
import pytest

from botflow.providers.anthropic import AnthropicProvider
from botflow.providers.capped import CappedTransport
from botflow.providers.context import ProviderContext, settings_from_env, settings_prefix
from botflow.providers.egress import EgressBlockedError, EgressPolicy
from botflow.providers.fake import FakeProvider
from botflow.providers.http_checks import cause
from botflow.providers.openai import OpenAIProvider
from botflow.providers.registry import ProviderRegistry, UnknownProviderError
from botflow.server import defaults as server_defaults
from botflow.server.config import ServerConfig
from botflow.server.provider_wiring import provider_settings


def test_settings_come_from_the_provider_prefix_only() -> None:
    environ = {
        "BOTFLOW_PROVIDER_OPENAI_BASE_URL": "http://a/v1",
        "BOTFLOW_PROVIDER_OPENAI_MODEL": "gpt-x",
        "BOTFLOW_PROVIDER_OPENAIX_MODEL": "not mine",
        "BOTFLOW_PROVIDER_OPENAI_": "no key",
        "BOTFLOW_OPENAI_BASE_URL": "the legacy name, read by the config",
    }
    assert settings_from_env("openai", environ) == {"base_url": "http://a/v1", "model": "gpt-x"}
    assert settings_prefix("my-llm.v2") == "BOTFLOW_PROVIDER_MY_LLM_V2_"


def test_every_builtin_gets_a_context_with_its_declared_model() -> None:
    registry = ProviderRegistry.create(["openai", "anthropic", "fake"])
    assert registry.default_model("openai") == "gpt-4o-mini"
    assert registry.default_model("anthropic").startswith("claude-")
    assert registry.default_model("fake") == "fake-1"
    assert isinstance(registry.get("anthropic"), AnthropicProvider)


def test_a_model_setting_replaces_the_declared_one() -> None:
    registry = ProviderRegistry.create(["fake"], settings={"fake": {"model": "fake-9"}})
    assert registry.default_model("fake") == "fake-9"


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(UnknownProviderError, match="unknown provider 'nope'"):
        ProviderRegistry.create(["nope"])


def test_options_are_judged_by_the_named_provider() -> None:
    registry = ProviderRegistry.create(["fake", "openai"])
    assert registry.check_options("fake", {"fail": "explode"}) != []
    assert registry.check_options("fake", {"max_tokens_field": "x"}) == []
    assert registry.check_options("openai", {"max_tokens_field": "x"}) != []
    assert registry.check_options("missing", {"anything": "x"}) == []


async def test_the_context_transport_enforces_the_policy_and_the_cap() -> None:
    context = ProviderContext.create("any", egress=EgressPolicy(max_response_bytes=123))
    assert isinstance(context.transport, CappedTransport)
    assert context.max_response_bytes == 123
    async with context.http_client() as client:
        assert not client.follow_redirects
        with pytest.raises((httpx2.HTTPError, EgressBlockedError)) as raised:
            await client.get("http://127.0.0.1:9/")
    assert isinstance(cause(raised.value, EgressBlockedError), EgressBlockedError)


async def test_aclose_closes_every_context_even_for_a_provider_that_forgets() -> None:
    closed: list[str] = []

    class Forgetful:
        name = "forgetful"

        async def complete(self, request: object) -> object:
            raise AssertionError("not called")

        async def aclose(self) -> None:
            return None

    class TrackedContext(ProviderContext):
        async def aclose(self) -> None:
            closed.append(self.name)
            await super().aclose()

    base = ProviderContext.create("forgetful")
    context = TrackedContext(base.name, base.transport, base.max_response_bytes)
    registry = ProviderRegistry({"forgetful": Forgetful()}, {"forgetful": context})  # type: ignore[dict-item]
    await registry.aclose()
    assert closed == ["forgetful"]


def test_legacy_flags_are_aliases_and_the_provider_variable_wins() -> None:
    config = ServerConfig(
        providers=("openai", "fake"), openai_base_url="http://legacy/v1", default_model="gpt-y"
    )
    assert server_defaults.DEFAULT_PROVIDER == "openai"
    assert provider_settings(config, {}) == {
        "openai": {"base_url": "http://legacy/v1", "model": "gpt-y"},
        "fake": {},
    }
    environ = {"BOTFLOW_PROVIDER_OPENAI_BASE_URL": "http://new/v1"}
    assert provider_settings(config, environ)["openai"]["base_url"] == "http://new/v1"


def test_the_builtin_default_model_is_no_override() -> None:
    assert provider_settings(ServerConfig(providers=("openai",)), {}) == {"openai": {}}


def test_providers_made_without_the_registry_still_work() -> None:
    assert FakeProvider().default_model == "fake-1"
    assert OpenAIProvider(ProviderContext.create("openai")).default_base_url.startswith("https://")


def test_a_failing_option_check_does_not_break_validation() -> None:
    class Buggy:
        name = "buggy"

        def check_options(self, options: object) -> list[tuple[str, str]]:
            raise KeyError("plug-in bug")

        async def complete(self, request: object) -> object:
            raise AssertionError("not called")

        async def aclose(self) -> None:
            return None

    registry = ProviderRegistry({"buggy": Buggy()})  # type: ignore[dict-item]
    assert registry.check_options("buggy", {"a": "b"}) == []
