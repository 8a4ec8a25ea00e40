"""Every default and server-side cap, as named constants in one place.

The README's configuration table is written from this module; `config.py`
builds the frozen ServerConfig from these plus flags and BOTFLOW_* variables.
"""

from __future__ import annotations

# Network
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_GRACE_SECONDS = 10.0
# After SIGTERM: health says NOT_SERVING while calls are still accepted for this
# long, so load balancers polling health move traffic away before the port closes.
DEFAULT_SHUTDOWN_DELAY_SECONDS = 5.0
# FlowService calls running at once; one more is RESOURCE_EXHAUSTED with a retry
# hint. Sized so a burst of 10,000 slow calls on one process is served, not dropped.
DEFAULT_MAX_CONCURRENT_CALLS = 10_000
# The retry hint (google.rpc.RetryInfo) sent with RESOURCE_EXHAUSTED.
DEFAULT_RETRY_AFTER_SECONDS = 1.0
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Worker processes of `botflow serve` sharing its port (SO_REUSEPORT); None =
# one per core (os.cpu_count()). A container usually runs 1 and scales by pods.
DEFAULT_WORKERS: int | None = None
# Connection rebalancing: after this long a connection gets GOAWAY and the
# client reconnects, so long-lived HTTP/2 connections spread over replicas
# added since (C-core adds +-10% jitter). 0 = never.
DEFAULT_MAX_CONNECTION_AGE_SECONDS = 300.0
# Calls still running on a connection past its age get this long; longer than
# the longest action timeout (MAX_TIMEOUT_MS) so no call is cut by rebalancing.
DEFAULT_MAX_CONNECTION_AGE_GRACE_SECONDS = 150.0
# Server pings an idle connection this often and drops it when no answer comes
# within the timeout: dead peers (a vanished NAT entry, a killed client) free
# their connection instead of holding it for hours.
DEFAULT_KEEPALIVE_TIME_SECONDS = 60.0
DEFAULT_KEEPALIVE_TIMEOUT_SECONDS = 20.0
# The most often a client may ping (keepalive) without getting GOAWAY
# "too_many_pings"; C-core's default is 5 minutes, longer than the client
# keepalive docs/deploy.md recommends (30 s).
MIN_CLIENT_PING_INTERVAL_SECONDS = 10.0

# Logs
DEFAULT_LOG_FORMAT = "json"  # or "text"
DEFAULT_LOG_LEVEL = "INFO"

# Providers
DEFAULT_PROVIDER = "openai"
DEFAULT_ENABLED_PROVIDERS = ("openai", "fake")
DEFAULT_MODEL = "gpt-4o-mini"

# The OpenAI action
DEFAULT_ERROR_VARIABLE = "last webhook failure"
DEFAULT_TIMEOUT_MS = 15_000
DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000
MAX_TIMEOUT_MS = 120_000
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS = 10
# The server's history limit: at most this many of the most recent selected
# messages go with a prompt, whatever the action's max_history_messages.
MAX_HISTORY_MESSAGES = 1_000
# Time kept back from the caller's deadline to send the response.
DEADLINE_MARGIN_SECONDS = 0.05

# Flows
DEFAULT_MAX_STEPS = 200
MAX_STEPS = 10_000

# Request size limits (beyond the gRPC message size)
MAX_CONVERSATION_MESSAGES = 10_000
MAX_VARIABLES = 1_000
MAX_BLOCKS = 2_000
MAX_TEXT_BYTES = 64 * 1024
# What one RunFlow may produce: the bytes of its events plus its final
# variables. A run that would pass it ends with OUTPUT_LIMIT_REACHED.
DEFAULT_MAX_RUN_BYTES = 16 * 1024 * 1024

# Egress: webhooks and base_url
# Webhook and provider answers, counted in decoded (gunzipped) bytes.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
# Nesting depth of a webhook's JSON answer; deeper is BadResponse.
DEFAULT_MAX_JSON_DEPTH = 64
# A webhook URL longer than this after rendering (query included) is BadRequest.
DEFAULT_MAX_URL_BYTES = 8 * 1024
DEFAULT_MAX_REDIRECTS = 3
