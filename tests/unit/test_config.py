"""config_from_env: defaults, BOTFLOW_* variables, flags."""

from __future__ import annotations

import pytest

from botflow.server import defaults
from botflow.server.config import Limits, ServerConfig, config_from_env


def test_defaults() -> None:
    config = config_from_env({})
    assert config == ServerConfig()
    assert config.host == defaults.DEFAULT_HOST
    assert config.port == defaults.DEFAULT_PORT
    assert config.providers == ("openai", "fake")
    assert config.default_model == "gpt-4o-mini"
    assert config.openai_base_url is None
    assert config.limits == Limits()
    assert config.limits.max_attempts == 10
    assert config.address == "127.0.0.1:50051"


def test_environment_variables() -> None:
    config = config_from_env(
        {
            "BOTFLOW_HOST": "0.0.0.0",
            "BOTFLOW_PORT": "6000",
            "BOTFLOW_PROVIDERS": "fake",
            "BOTFLOW_DEFAULT_MODEL": "gpt-x",
            "BOTFLOW_OPENAI_BASE_URL": "http://localhost:8080/v1",
            "BOTFLOW_GRACE_SECONDS": "2.5",
            "BOTFLOW_LOG_FORMAT": "text",
            "BOTFLOW_MAX_ATTEMPTS": "4",
            "BOTFLOW_MAX_TEXT_BYTES": "1024",
            "UNRELATED": "x",
        }
    )
    assert config.host == "0.0.0.0"
    assert config.port == 6000
    assert config.providers == ("fake",)
    assert config.default_model == "gpt-x"
    assert config.openai_base_url == "http://localhost:8080/v1"
    assert config.grace_seconds == 2.5
    assert config.log_format == "text"
    assert config.limits.max_attempts == 4
    assert config.limits.max_text_bytes == 1024
    assert config.limits.max_steps == defaults.MAX_STEPS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("fake", ("fake",)), ("openai, fake", ("openai", "fake")), (" fake ,, ", ("fake",))],
)
def test_tuple_from_environment(raw: str, expected: tuple[str, ...]) -> None:
    assert config_from_env({"BOTFLOW_PROVIDERS": raw}).providers == expected


def test_flags_override_environment() -> None:
    env = {"BOTFLOW_PORT": "6000", "BOTFLOW_MAX_ATTEMPTS": "4", "BOTFLOW_HOST": "h"}
    config = config_from_env(env, port=7000, max_attempts=2, providers=("fake",))
    assert config.port == 7000
    assert config.limits.max_attempts == 2
    assert config.providers == ("fake",)
    assert config.host == "h"


def test_none_flags_are_ignored() -> None:
    env = {"BOTFLOW_PORT": "6000", "BOTFLOW_MAX_ATTEMPTS": "4"}
    config = config_from_env(env, port=None, max_attempts=None, host=None, max_steps=None)
    assert config.port == 6000
    assert config.limits.max_attempts == 4
    assert config.host == defaults.DEFAULT_HOST
    assert config.limits.max_steps == defaults.MAX_STEPS


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTFLOW_PORT", "6100")
    monkeypatch.setenv("BOTFLOW_MAX_HISTORY_MESSAGES", "20")
    config = config_from_env()
    assert config.port == 6100
    assert config.limits.max_history_messages == 20


def test_bad_number_in_environment_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        config_from_env({"BOTFLOW_PORT": "not-a-port"})
