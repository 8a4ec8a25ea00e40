"""The OpenAI action (SPEC §4): render, select history, call the provider
through the shared retry layer, store the answer or the failure text."""

from __future__ import annotations

import logging
import time

from botflow.providers.base import CompletionRequest
from botflow.providers.errors import BadResponseError, MissingParameterError
from botflow.providers.retry import RetryPolicy, complete_with_retries
from botflow.server import defaults
from botflow.server.blocks.base import Outcome, RunState
from botflow.server.blocks.context import ActionContext
from botflow.server.config import ServerConfig
from botflow.server.events import action_finished, variables_changed
from botflow.server.history import build_messages, select_history
from botflow.server.results import ActionRun, VariableWriter, duration
from botflow.server.templating import render_template
from botflow.server.variables import Variables, text_value
from botflow.v1.actions_pb2 import ActionResult, OpenAIAction, TokenUsage
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.flow_pb2 import Block

log = logging.getLogger(__name__)


def retry_policy(action: OpenAIAction, config: ServerConfig) -> RetryPolicy:
    limits = config.limits
    timeout_ms = min(action.timeout_ms or defaults.DEFAULT_TIMEOUT_MS, limits.max_timeout_ms)
    attempts = min(action.max_attempts or defaults.DEFAULT_MAX_ATTEMPTS, limits.max_attempts)
    return RetryPolicy(max_attempts=attempts, attempt_timeout=timeout_ms / 1000)


def history_limit(action: OpenAIAction, config: ServerConfig) -> int:
    limits = config.limits
    wanted = action.max_history_messages or limits.default_max_history_messages
    return min(wanted, limits.max_history_messages)


def provider_name(action: OpenAIAction) -> str:
    return action.provider or defaults.DEFAULT_PROVIDER


def _base_url(action: OpenAIAction, config: ServerConfig) -> str | None:
    if action.base_url:
        return action.base_url
    return config.openai_base_url if provider_name(action) == "openai" else None


async def run_openai_action(
    action: OpenAIAction,
    variables: Variables,
    conversation: Conversation,
    ctx: ActionContext,
) -> ActionRun:
    run = await _run(action, variables, conversation, ctx)
    ctx.report("openai", provider_name(action), run.result)
    return run


async def _run(
    action: OpenAIAction,
    variables: Variables,
    conversation: Conversation,
    ctx: ActionContext,
) -> ActionRun:
    started = time.monotonic()
    writer = VariableWriter(variables)
    error_variable = action.error_variable.strip() or defaults.DEFAULT_ERROR_VARIABLE
    token = render_template(action.token, variables.render)
    prompt = render_template(action.prompt, variables.render)
    for name, value in (("token", token), ("prompt", prompt)):
        if not value.strip():
            missing = MissingParameterError(f"the {name} is empty after filling in variables")
            return writer.fail(error_variable, missing, 0, time.monotonic() - started)

    provider = ctx.registry.get(provider_name(action))
    if provider is None:  # validation refuses this; kept for callers that skip it
        raise LookupError(f"provider {provider_name(action)!r} is not enabled")
    history = select_history(conversation, action.history, history_limit(action, ctx.config))
    request = CompletionRequest(
        model=action.model or ctx.config.default_model,
        messages=build_messages(prompt, history),
        token=token,
        base_url=_base_url(action, ctx.config),
        temperature=action.temperature if action.HasField("temperature") else None,
        max_tokens=action.max_tokens if action.HasField("max_tokens") else None,
        options={
            k: render_template(v, variables.render) for k, v in action.provider_options.items()
        },
    )
    outcome = await complete_with_retries(
        provider, request, retry_policy(action, ctx.config), deadline=ctx.deadline
    )
    elapsed = time.monotonic() - started
    if outcome.error is not None or outcome.completion is None:
        assert outcome.error is not None
        return writer.fail(error_variable, outcome.error, outcome.attempts, elapsed)
    completion = outcome.completion
    limit = ctx.config.limits.max_text_bytes
    if len(completion.text.encode()) > limit:
        # Stored, it would make the caller's next request invalid.
        too_long = BadResponseError(f"the answer is longer than the server limit of {limit} bytes")
        return writer.fail(error_variable, too_long, outcome.attempts, elapsed)
    if action.answer_variable.strip():
        writer.set(action.answer_variable, text_value(completion.text))
    usage = completion.usage
    result = ActionResult(
        answer=completion.text,
        attempts=outcome.attempts,
        elapsed=duration(elapsed),
        usage=TokenUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        ),
        model=completion.model or request.model,
    )
    return writer.succeed(error_variable, result)


async def run(block: Block, state: RunState) -> Outcome:
    """The OpenAI block: the same code path as ExecuteAction, then its events."""
    action_run = await run_openai_action(
        block.openai, state.variables, state.conversation, state.actions
    )
    events = [action_finished(action_run.result), *variables_changed(action_run.changes)]
    return Outcome(events, next=block.next)
