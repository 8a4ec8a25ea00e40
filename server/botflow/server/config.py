"""Server configuration: a frozen dataclass with documented defaults.

Every field can come from a `botflow serve` flag or a BOTFLOW_* environment
variable (flags win); see `cli.py` and the README's configuration table.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from botflow.server import defaults


@dataclass(frozen=True)
class Limits:
    """Caps a request cannot exceed; request values above them are clipped
    (timeouts, attempts, steps, history) or refused (sizes)."""

    max_timeout_ms: int = defaults.MAX_TIMEOUT_MS
    max_attempts: int = defaults.MAX_ATTEMPTS
    max_history_messages: int = defaults.MAX_HISTORY_MESSAGES
    max_steps: int = defaults.MAX_STEPS
    max_conversation_messages: int = defaults.MAX_CONVERSATION_MESSAGES
    max_variables: int = defaults.MAX_VARIABLES
    max_blocks: int = defaults.MAX_BLOCKS
    max_text_bytes: int = defaults.MAX_TEXT_BYTES
    max_message_bytes: int = defaults.DEFAULT_MAX_MESSAGE_BYTES
    # A webhook or provider answer larger than this (decoded) is BadResponse.
    max_response_bytes: int = defaults.DEFAULT_MAX_RESPONSE_BYTES
    # FlowService calls at once; beyond it RESOURCE_EXHAUSTED with a retry hint.
    max_concurrent_calls: int = defaults.DEFAULT_MAX_CONCURRENT_CALLS
    # Bytes of events plus final variables one RunFlow may produce.
    max_run_bytes: int = defaults.DEFAULT_MAX_RUN_BYTES
    # Nesting depth of a webhook's JSON answer.
    max_json_depth: int = defaults.DEFAULT_MAX_JSON_DEPTH
    # A rendered webhook URL (query included) longer than this is BadRequest.
    max_url_bytes: int = defaults.DEFAULT_MAX_URL_BYTES


@dataclass(frozen=True)
class ServerConfig:
    host: str = defaults.DEFAULT_HOST
    # 0 picks a free port (tests).
    port: int = defaults.DEFAULT_PORT
    providers: tuple[str, ...] = defaults.DEFAULT_ENABLED_PROVIDERS
    default_model: str = defaults.DEFAULT_MODEL
    # Where the openai provider sends requests when an action has no base_url.
    openai_base_url: str | None = None
    grace_seconds: float = defaults.DEFAULT_GRACE_SECONDS
    # On SIGTERM: NOT_SERVING but still accepting calls for this long, then drain.
    shutdown_delay_seconds: float = defaults.DEFAULT_SHUTDOWN_DELAY_SECONDS
    # Processes serving the port (SO_REUSEPORT); None = one per core (workers.py).
    workers: int | None = defaults.DEFAULT_WORKERS
    # Connection rebalancing and dead-peer detection (app._server_options); 0 = off.
    max_connection_age_seconds: float = defaults.DEFAULT_MAX_CONNECTION_AGE_SECONDS
    max_connection_age_grace_seconds: float = defaults.DEFAULT_MAX_CONNECTION_AGE_GRACE_SECONDS
    keepalive_time_seconds: float = defaults.DEFAULT_KEEPALIVE_TIME_SECONDS
    keepalive_timeout_seconds: float = defaults.DEFAULT_KEEPALIVE_TIMEOUT_SECONDS
    log_format: str = defaults.DEFAULT_LOG_FORMAT
    log_level: str = defaults.DEFAULT_LOG_LEVEL
    # Hosts and CIDRs outbound requests may reach although the egress policy
    # would refuse them (loopback, private, ...), e.g. ("hooks.internal", "10.2.0.0/16").
    egress_allow: tuple[str, ...] = ()
    # Prometheus /metrics on this port (0 = any free port); None = no endpoint.
    metrics_port: int | None = None
    # Interface of the metrics endpoint; None = the same as `host`.
    metrics_host: str | None = None
    # TLS: PEM files. With tls_client_ca, callers must present a certificate
    # signed by it (mutual TLS).
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # A shared secret callers send as "authorization: Bearer <token>"; None
    # means no caller authentication. Never logged.
    auth_token: str | None = field(default=None, repr=False)
    limits: Limits = field(default_factory=Limits)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def problems(self, known_providers: Collection[str] | None = None) -> list[str]:
        """Settings that cannot work, one line each, said before the server
        starts; `known_providers` also checks the enabled names against them."""
        found = [*self._pairing_problems(), *_number_problems(self), *_text_problems(self)]
        found += [p for p in map(_file_problem, _TLS_FILES, self._tls_files()) if p]
        if known_providers is not None:
            found += [
                f"{_env('providers')}: unknown provider {name!r}; known: "
                + ", ".join(sorted(known_providers))
                for name in self.providers
                if name not in known_providers
            ]
        return found

    def _pairing_problems(self) -> Iterator[str]:
        if bool(self.tls_cert) != bool(self.tls_key):
            yield "tls_cert and tls_key go together"
        if self.tls_client_ca and not self.tls_cert:
            yield "tls_client_ca (mutual TLS) needs tls_cert and tls_key"
        if self.auth_token is not None and not self.auth_token.strip():
            yield "auth_token must not be empty"

    def _tls_files(self) -> tuple[str | None, ...]:
        return (self.tls_cert, self.tls_key, self.tls_client_ca)


ENV_PREFIX = "BOTFLOW_"
MAX_PORT = 65_535
# gRPC reads its channel arguments as C ints.
MAX_GRPC_INT = 2**31 - 1
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TLS_FILES = ("tls_cert", "tls_key", "tls_client_ca")

# (lowest, highest or None) of each number setting. Every Limits cap is at
# least 1: a cap of 0 would refuse, clip or time out every call.
_SERVER_BOUNDS: dict[str, tuple[float, float | None]] = {
    "port": (0, MAX_PORT),
    "metrics_port": (0, MAX_PORT),
    "grace_seconds": (0, None),
    "shutdown_delay_seconds": (0, None),
    "workers": (1, 1024),
    # gRPC takes these in milliseconds as C ints.
    "max_connection_age_seconds": (0, MAX_GRPC_INT // 1000),
    "max_connection_age_grace_seconds": (0, MAX_GRPC_INT // 1000),
    "keepalive_time_seconds": (0, MAX_GRPC_INT // 1000),
    "keepalive_timeout_seconds": (0, MAX_GRPC_INT // 1000),
}
_LIMIT_CEILINGS: dict[str, float] = {
    "max_message_bytes": MAX_GRPC_INT,
    # The pending-call queue is sized to 3x this (app.pending_queue_options).
    "max_concurrent_calls": MAX_GRPC_INT // 3,
}


# A response carries the call's variables plus some room (budget.py keeps
# 4 KiB for the finish event): below these, every request would be refused.
_LIMIT_FLOORS: dict[str, float] = {
    "max_message_bytes": 16 * 1024,
    "max_run_bytes": 16 * 1024,
}


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _bound_problem(name: str, value: float, low: float, high: float | None) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{_env(name)} must be a finite number, got {value}"
    if high is None and value < low:
        return f"{_env(name)} must be at least {low}, got {value}"
    if high is not None and not low <= value <= high:
        return f"{_env(name)} must be between {low} and {high}, got {value}"
    return None


def _number_problems(config: ServerConfig) -> Iterator[str]:
    checks = [(name, getattr(config, name), *bounds) for name, bounds in _SERVER_BOUNDS.items()]
    checks += [
        (f.name, getattr(config.limits, f.name), 1, _LIMIT_CEILINGS.get(f.name))
        for f in fields(Limits)
    ]
    for name, value, low, high in checks:
        low = _LIMIT_FLOORS.get(name, low)
        problem = None if value is None else _bound_problem(name, value, low, high)
        if problem:
            yield problem


def _text_problems(config: ServerConfig) -> Iterator[str]:
    if not config.host.strip():
        yield f"{_env('host')} must not be empty"
    if config.log_format not in LOG_FORMATS:
        yield f"{_env('log_format')} must be one of {', '.join(LOG_FORMATS)}"
    if config.log_level.upper() not in LOG_LEVELS:
        yield f"{_env('log_level')} must be one of {', '.join(LOG_LEVELS)}"
    url = config.openai_base_url
    if url is not None and not _is_http_url(url):
        yield f"{_env('openai_base_url')} must be an http(s) URL, got {url!r}"


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _file_problem(name: str, path: str | None) -> str | None:
    if not path:
        return None
    if not Path(path).is_file():
        return f"{_env(name)}: no such file: {path}"
    if not os.access(path, os.R_OK):
        return f"{_env(name)}: cannot read {path}"
    return None


class ConfigError(ValueError):
    """Settings that cannot be used, one line per problem in `problems`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _base_type(hint: object) -> object:
    """`int` for `int | None`; the hint itself otherwise."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if isinstance(hint, types.UnionType) and len(args) == 1 else hint


_KIND_NAMES = {int: "an integer", float: "a number"}


def _convert(raw: str, hint: object) -> object:
    """The value of a BOTFLOW_* variable; ValueError saying what was expected."""
    kind = _base_type(hint)
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind is int or kind is float:
        try:
            return kind(raw.strip())
        except ValueError:
            raise ValueError(f"expected {_KIND_NAMES[kind]}, got {raw!r}") from None
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _overrides(cls: type, env: Mapping[str, str], problems: list[str]) -> dict[str, object]:
    """The fields of `cls` set in `env`; a value that does not convert is
    left out and said in `problems`."""
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for f in fields(cls):
        name = _env(f.name)
        if f.name == "limits" or name not in env:
            continue
        try:
            values[f.name] = _convert(env[name], hints[f.name])
        except ValueError as error:
            problems.append(f"{name}: {error}")
    return values


def config_from_env(env: Mapping[str, str] | None = None, **flags: object) -> ServerConfig:
    """Build the config: defaults, then BOTFLOW_* variables, then non-None flags.

    Limits read BOTFLOW_<LIMIT NAME> too (BOTFLOW_MAX_ATTEMPTS, …). A
    variable that is not of its setting's type raises ConfigError listing
    every such variable and the other `problems()` of the rest.
    """
    env = os.environ if env is None else env
    type_problems: list[str] = []
    limit_values = _overrides(Limits, env, type_problems)
    limit_values.update(
        {k: v for k, v in flags.items() if k in Limits.__dataclass_fields__ and v is not None}
    )
    values = _overrides(ServerConfig, env, type_problems)
    values.update(
        {k: v for k, v in flags.items() if k in ServerConfig.__dataclass_fields__ and v is not None}
    )
    config = ServerConfig(**values, limits=Limits(**limit_values))  # type: ignore[arg-type]
    if type_problems:
        raise ConfigError(type_problems + config.problems())
    return config
