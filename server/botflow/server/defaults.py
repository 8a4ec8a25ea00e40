"""Every default and server-side cap, as named constants in one place.

The README's configuration table is written from this module; `config.py`
builds the frozen ServerConfig from these plus flags and BOTFLOW_* variables.
"""

from __future__ import annotations

# Network
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_GRACE_SECONDS = 10.0
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# Providers
DEFAULT_PROVIDER = "openai"
DEFAULT_ENABLED_PROVIDERS = ("openai", "fake")
DEFAULT_MODEL = "gpt-4o-mini"

# The OpenAI action (SPEC §4)
DEFAULT_ERROR_VARIABLE = "last webhook failure"
DEFAULT_TIMEOUT_MS = 15_000
DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000
MAX_TIMEOUT_MS = 120_000
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS = 10
# Applied when an action's max_history_messages is 0, and the ceiling for it.
DEFAULT_MAX_HISTORY_MESSAGES = 50
MAX_HISTORY_MESSAGES = 500
# Time kept back from the caller's deadline to send the response.
DEADLINE_MARGIN_SECONDS = 0.05

# Flows (SPEC §5)
DEFAULT_MAX_STEPS = 200
MAX_STEPS = 10_000

# Request size limits (beyond the gRPC message size)
MAX_CONVERSATION_MESSAGES = 10_000
MAX_VARIABLES = 1_000
MAX_BLOCKS = 2_000
MAX_TEXT_BYTES = 64 * 1024

# Egress (SPEC §8): webhooks and base_url
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
