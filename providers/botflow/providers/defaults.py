"""Every provider-side default, in one place (the server keeps its own in
`botflow.server.defaults`). Modules import these; none re-declares one.
"""

from __future__ import annotations

# Retries (botflow.providers.retry). Durations in seconds.
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_ATTEMPT_TIMEOUT = 15.0
DEFAULT_BACKOFF_INITIAL = 0.5
DEFAULT_BACKOFF_MAX = 8.0
DEFAULT_MAX_RETRY_AFTER = 30.0
DEFAULT_MIN_ATTEMPT_TIME = 0.05

# Egress (botflow.providers.egress): answers are counted in decoded bytes.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
# The vendor SDKs' own pool limits, for every pool behind the policy.
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 100

# openai
OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
# Azure OpenAI's data-plane API version used when the action names none.
AZURE_OPENAI_API_VERSION = "2024-10-21"

# anthropic
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_DEFAULT_MODEL = "claude-sonnet-5-5"
# The Messages API requires max_tokens; this is sent when the action sets none.
ANTHROPIC_MAX_TOKENS = 1024

# fake
FAKE_DEFAULT_MODEL = "fake-1"
# Scripted rate limits ask for a short retry-after so tests stay fast.
FAKE_RETRY_AFTER = 0.01
