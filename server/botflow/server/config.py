"""Server configuration: a frozen dataclass with documented defaults.

Every field can come from a `botflow serve` flag or a BOTFLOW_* environment
variable (flags win); see `cli.py` and the README's configuration table.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

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
    log_format: str = "json"  # "json" or "text"
    log_level: str = "INFO"
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

    def problems(self) -> list[str]:
        """Settings that cannot work together, said before the server starts."""
        found = []
        if bool(self.tls_cert) != bool(self.tls_key):
            found.append("tls_cert and tls_key go together")
        if self.tls_client_ca and not self.tls_cert:
            found.append("tls_client_ca (mutual TLS) needs tls_cert and tls_key")
        if self.auth_token is not None and not self.auth_token.strip():
            found.append("auth_token must not be empty")
        return found


ENV_PREFIX = "BOTFLOW_"


def _base_type(hint: object) -> object:
    """`int` for `int | None`; the hint itself otherwise."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if isinstance(hint, types.UnionType) and len(args) == 1 else hint


def _convert(raw: str, hint: object) -> object:
    kind = _base_type(hint)
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind is int or kind is float:
        return kind(raw.strip())
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _overrides(cls: type, env: Mapping[str, str], prefix: str) -> dict[str, object]:
    hints = typing.get_type_hints(cls)
    return {
        f.name: _convert(env[prefix + f.name.upper()], hints[f.name])
        for f in fields(cls)
        if f.name != "limits" and prefix + f.name.upper() in env
    }


def config_from_env(env: Mapping[str, str] | None = None, **flags: object) -> ServerConfig:
    """Build the config: defaults, then BOTFLOW_* variables, then non-None flags.

    Limits read BOTFLOW_<LIMIT NAME> too (BOTFLOW_MAX_ATTEMPTS, …).
    """
    env = os.environ if env is None else env
    limit_values = _overrides(Limits, env, ENV_PREFIX)
    limit_values.update(
        {k: v for k, v in flags.items() if k in Limits.__dataclass_fields__ and v is not None}
    )
    values = _overrides(ServerConfig, env, ENV_PREFIX)
    values.update(
        {k: v for k, v in flags.items() if k in ServerConfig.__dataclass_fields__ and v is not None}
    )
    return ServerConfig(**values, limits=Limits(**limit_values))  # type: ignore[arg-type]
