"""config_from_env: defaults, BOTFLOW_* variables, flags; and the checks that
refuse settings that cannot work, one line each, exit code 2."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from pathlib import Path

import pytest

from botflow.providers.registry import available_factories
from botflow.server import cli, defaults
from botflow.server.config import ConfigError, Limits, ServerConfig, _convert, config_from_env


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
    with pytest.raises(ConfigError) as caught:
        config_from_env({"BOTFLOW_PORT": "not-a-port"})
    assert caught.value.problems == ["BOTFLOW_PORT: expected an integer, got 'not-a-port'"]


@pytest.mark.parametrize(
    ("raw", "hint", "message"),
    [
        ("12x", int, "expected an integer, got '12x'"),
        ("1.5", int, "expected an integer, got '1.5'"),
        ("", int, "expected an integer, got ''"),
        ("fast", float, "expected a number, got 'fast'"),
        ("7", int | None, None),
        (" 2.5 ", float, None),
    ],
)
def test_convert_says_what_it_expected(raw: str, hint: object, message: str | None) -> None:
    if message is None:
        _convert(raw, hint)
        return
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.") + "$"):
        _convert(raw, hint)


def test_every_bad_variable_is_its_own_line_with_the_other_problems() -> None:
    env = {
        "BOTFLOW_PORT": "abc",
        "BOTFLOW_GRACE_SECONDS": "soon",
        "BOTFLOW_METRICS_PORT": "9x",
        "BOTFLOW_MAX_STEPS": "0",
    }
    with pytest.raises(ConfigError) as caught:
        config_from_env(env)
    assert caught.value.problems == [
        "BOTFLOW_PORT: expected an integer, got 'abc'",
        "BOTFLOW_GRACE_SECONDS: expected a number, got 'soon'",
        "BOTFLOW_METRICS_PORT: expected an integer, got '9x'",
        "BOTFLOW_MAX_STEPS must be at least 1, got 0",
    ]


def test_the_defaults_have_no_problems() -> None:
    assert ServerConfig().problems(known_providers=("openai", "fake")) == []


LIMIT_NAMES = [f.name for f in fields(Limits)]
# Response sizes need room for a response: their floor is 16 KiB, not 1.
FLOORS = {"max_message_bytes": 16 * 1024, "max_run_bytes": 16 * 1024}


@pytest.mark.parametrize("name", LIMIT_NAMES)
@pytest.mark.parametrize("value", [0, -1])
def test_every_cap_is_at_least_its_floor(name: str, value: int) -> None:
    (problem,) = ServerConfig(limits=replace(Limits(), **{name: value})).problems()
    low = FLOORS.get(name, 1)
    assert re.fullmatch(
        rf"BOTFLOW_{name.upper()} must be (at least {low}|between {low} and \d+), got {value}",
        problem,
    )


@pytest.mark.parametrize("name", LIMIT_NAMES)
def test_a_cap_at_its_floor_is_fine(name: str) -> None:
    floor = FLOORS.get(name, 1)
    assert ServerConfig(limits=replace(Limits(), **{name: floor})).problems() == []


@pytest.mark.parametrize(
    ("name", "value"), [("max_message_bytes", 2**31), ("max_concurrent_calls", 2**31 // 3 + 1)]
)
def test_caps_grpc_reads_as_c_ints_have_a_ceiling(name: str, value: int) -> None:
    (problem,) = ServerConfig(limits=replace(Limits(), **{name: value})).problems()
    assert problem.startswith(f"BOTFLOW_{name.upper()} must be between {FLOORS.get(name, 1)} and ")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"port": -1}, "BOTFLOW_PORT must be between 0 and 65535, got -1"),
        ({"port": 65536}, "BOTFLOW_PORT must be between 0 and 65535, got 65536"),
        ({"metrics_port": 70000}, "BOTFLOW_METRICS_PORT must be between 0 and 65535, got 70000"),
        ({"grace_seconds": -0.5}, "BOTFLOW_GRACE_SECONDS must be at least 0, got -0.5"),
        ({"grace_seconds": float("nan")}, "BOTFLOW_GRACE_SECONDS must be a finite number, got nan"),
        (
            {"shutdown_delay_seconds": -1.0},
            "BOTFLOW_SHUTDOWN_DELAY_SECONDS must be at least 0, got -1.0",
        ),
        (
            {"shutdown_delay_seconds": float("inf")},
            "BOTFLOW_SHUTDOWN_DELAY_SECONDS must be a finite number, got inf",
        ),
        ({"host": " "}, "BOTFLOW_HOST must not be empty"),
        ({"log_format": "xml"}, "BOTFLOW_LOG_FORMAT must be one of json, text"),
        ({"log_level": "loud"}, "BOTFLOW_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
        (
            {"openai_base_url": "localhost:8080"},
            "BOTFLOW_OPENAI_BASE_URL must be an http(s) URL, got 'localhost:8080'",
        ),
        ({"auth_token": "  "}, "auth_token must not be empty"),
    ],
)
def test_server_settings_out_of_range(settings: dict[str, object], problem: str) -> None:
    assert ServerConfig(**settings).problems() == [problem]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [
        {"port": 0},
        {"port": 65535},
        {"metrics_port": 0},
        {"grace_seconds": 0.0},
        {"shutdown_delay_seconds": 0.0},
        {"log_level": "debug"},
        {"openai_base_url": "http://127.0.0.1:8080/v1"},
    ],
)
def test_edge_values_are_fine(settings: dict[str, object]) -> None:
    assert ServerConfig(**settings).problems() == []  # type: ignore[arg-type]


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "some.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


@pytest.mark.parametrize("name", ["tls_cert", "tls_key", "tls_client_ca"])
def test_tls_files_must_exist(name: str, pem: Path) -> None:
    files = {"tls_cert": str(pem), "tls_key": str(pem), "tls_client_ca": str(pem)}
    missing = str(pem.with_name("missing.pem"))
    config = ServerConfig(**{**files, name: missing})  # type: ignore[arg-type]
    assert config.problems() == [f"BOTFLOW_{name.upper()}: no such file: {missing}"]


def test_a_directory_is_not_a_tls_file(pem: Path) -> None:
    config = ServerConfig(tls_cert=str(pem.parent), tls_key=str(pem))
    assert config.problems() == [f"BOTFLOW_TLS_CERT: no such file: {pem.parent}"]


def test_unknown_providers_are_named() -> None:
    config = ServerConfig(providers=("fake", "nope"))
    assert config.problems() == []
    assert config.problems(known_providers=("fake", "openai")) == [
        "BOTFLOW_PROVIDERS: unknown provider 'nope'; known: fake, openai"
    ]


def test_serve_prints_one_line_per_problem_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTFLOW_MAX_STEPS", "0")
    monkeypatch.setenv("BOTFLOW_MAX_TIMEOUT_MS", "-5")
    code = cli.main(["serve", "--port", "70000", "--providers", "fake,nope"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "botflow serve: BOTFLOW_PORT must be between 0 and 65535, got 70000",
        "botflow serve: BOTFLOW_MAX_TIMEOUT_MS must be at least 1, got -5",
        "botflow serve: BOTFLOW_MAX_STEPS must be at least 1, got 0",
        "botflow serve: BOTFLOW_PROVIDERS: unknown provider 'nope'; known: "
        + ", ".join(sorted(available_factories())),
    ]


def test_serve_with_a_non_numeric_variable_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTFLOW_MAX_ATTEMPTS", "three")
    assert cli.main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "botflow serve: BOTFLOW_MAX_ATTEMPTS: expected an integer, got 'three'\n"
    )


def test_serve_with_a_non_numeric_flag_exits_2() -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["serve", "--max-steps", "many"])
    assert caught.value.code == 2
