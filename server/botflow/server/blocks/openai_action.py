"""The OpenAI action: render, select history, call the provider
through the shared retry layer, store the answer or the failure text.

Whatever a provider returns, the ActionResult built here must serialize: an
answer or model holding lone surrogates gets U+FFFD in their place, a model
name longer than `MAX_MODEL_CHARS` is replaced by the requested one, and a
token count that a uint32 cannot hold counts as not reported (0).

The server names no provider here: the registry supplies the provider, its
default model and its default endpoint (a provider setting). Rules that hold
for every provider live here: an empty answer fails with BadResponse; a
truncated one succeeds with `finish_reason` "length" (in the result, and in
`finish_reason_variable` when the action names one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from botflow.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    Usage,
)
from botflow.providers.errors import (
    ActionCancelledError,
    BadRequestError,
    BadResponseError,
    MissingParameterError,
    ProviderError,
    kind_of,
)
from botflow.providers.http_checks import plain_word
from botflow.providers.retry import CallOutcome, RetryPolicy
from botflow.server import defaults
from botflow.server.blocks.base import Outcome, RunState, action_outcome
from botflow.server.blocks.context import ActionContext
from botflow.server.config import ServerConfig
from botflow.server.fallback_chain import ChainOutcome, Link, chain_links, run_chain
from botflow.server.history import build_messages, select_history
from botflow.server.results import KINDS, ActionRun, VariableWriter, error_text, set_duration
from botflow.server.structured import output_schema, parse_answer
from botflow.server.templating import render_template
from botflow.server.variables import Variables, longer_than, valid_text
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, OpenAIAction
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.flow_pb2 import Block

log = logging.getLogger(__name__)

MAX_MODEL_CHARS = 256
_UINT32_LIMIT = 2**32
# Distinct (attempts, timeout) pairs kept as ready policies.
_POLICIES = 256


def retry_policy(action: OpenAIAction, config: ServerConfig) -> RetryPolicy:
    limits = config.limits
    timeout_ms = min(action.timeout_ms or defaults.DEFAULT_TIMEOUT_MS, limits.max_timeout_ms)
    attempts = min(action.max_attempts or defaults.DEFAULT_MAX_ATTEMPTS, limits.max_attempts)
    return _policy(attempts, timeout_ms)


@lru_cache(maxsize=_POLICIES)
def _policy(attempts: int, timeout_ms: int) -> RetryPolicy:
    # A policy is frozen, so one instance serves every action that asks the same.
    return RetryPolicy(max_attempts=attempts, attempt_timeout=timeout_ms / 1000)


def history_limit(action: OpenAIAction, config: ServerConfig) -> int:
    limits = config.limits
    wanted = action.max_history_messages or limits.max_history_messages
    return min(wanted, limits.max_history_messages)


def provider_name(action: OpenAIAction) -> str:
    return action.provider or defaults.DEFAULT_PROVIDER


def _public_lookup(variables: Variables) -> Callable[[str], str]:
    return lambda name: "" if variables.is_secret(name) else variables.render(name)


async def run_openai_action(
    action: OpenAIAction,
    variables: Variables,
    conversation: Conversation,
    ctx: ActionContext,
) -> ActionRun:
    try:
        run = await _run(action, variables, conversation, ctx)
    except asyncio.CancelledError:
        # The caller gets no result, but logs and metrics still count it.
        ctx.report("openai", provider_name(action), _cancelled_result())
        raise
    ctx.report("openai", provider_name(action), run.result)
    return run


def _cancelled_result() -> ActionResult:
    cancelled = ActionCancelledError("the caller cancelled the call")
    return ActionResult(
        outcome=ActionOutcome.ACTION_OUTCOME_FAILED,
        error_kind=KINDS[kind_of(cancelled)],
        error=cancelled.text(),
    )


@dataclass(slots=True)
class _Call:
    """What every provider of one action shares: the request's parts and
    where the answer or the failure goes. Not frozen: a frozen dataclass
    costs several times as much to build, and this one never leaves here."""

    action: OpenAIAction
    variables: Variables
    writer: VariableWriter
    error_variable: str
    ctx: ActionContext
    policy: RetryPolicy
    started: float


async def _run(
    action: OpenAIAction,
    variables: Variables,
    conversation: Conversation,
    ctx: ActionContext,
) -> ActionRun:
    started = time.monotonic()
    writer = VariableWriter(variables)
    error_variable = action.error_variable.strip() or defaults.DEFAULT_ERROR_VARIABLE
    primary = provider_name(action)
    model = action.model or ctx.registry.default_model(primary)
    try:
        token, prompt, options = _rendered(action, variables, ctx.config.limits.max_text_bytes)
    except ProviderError as refused:
        run = _fail(writer, error_variable, refused, 0, started)
        run.result.provider = primary
        return run

    history = select_history(conversation, action.history, history_limit(action, ctx.config))
    policy = retry_policy(action, ctx.config)
    request = CompletionRequest(
        model=model,
        messages=build_messages(prompt, history.messages),
        token=token,
        base_url=action.base_url or None,
        temperature=action.temperature if action.HasField("temperature") else None,
        max_tokens=action.max_tokens if action.HasField("max_tokens") else None,
        options=options,
        # The retry layer gives the first attempt this timeout unless the
        # deadline clips it: set here, the request needs no copy for it.
        timeout=policy.attempt_timeout,
        output_schema=output_schema(action.outputs) if action.outputs else None,
    )
    call = _Call(action, variables, writer, error_variable, ctx, policy, started)
    if action.fallbacks:
        run = await _with_fallbacks(call, request)
    else:
        run = await _alone(call, primary, request)
    run.result.history_messages_omitted = history.omitted
    return run


async def _alone(call: _Call, provider: str, request: CompletionRequest) -> ActionRun:
    """No fallbacks: the chain of one provider, without the chain's bookkeeping."""
    outcome = await call.ctx.complete(_provider(call.ctx, provider), request, call.policy)
    error = outcome.error
    text = None if error is None else error_text(error, outcome.attempts)
    run = _finish(call, outcome, request.model, text)
    run.result.provider = provider
    return run


async def _with_fallbacks(call: _Call, primary: CompletionRequest) -> ActionRun:
    action = call.action
    links = chain_links(action, provider_name(action), call.ctx.registry.default_model)
    max_bytes = call.ctx.config.limits.max_text_bytes

    def prepare(link: Link) -> CompletionRequest:
        if link.index == 0:
            return primary
        token, options = _rendered_link(link, call.variables, max_bytes)
        return replace(
            primary, model=link.model, token=token, base_url=link.base_url or None, options=options
        )

    chain = await run_chain(links, prepare, _lookup(call.ctx), call.ctx, call.policy)
    last = chain.last
    outcome = CallOutcome(last.completion, chain.error, chain.attempts, 0.0)
    text = None if chain.error is None else chain.error_text()
    run = _finish(call, outcome, last.link.model, text)
    _describe_chain(run.result, chain)
    return run


def _provider(ctx: ActionContext, name: str) -> Provider:
    provider = ctx.registry.get(name)
    if provider is None:  # validation refuses this; kept for callers that skip it
        raise LookupError(f"provider {name!r} is not enabled")
    return provider


def _lookup(ctx: ActionContext) -> Callable[[str], Provider]:
    return lambda name: _provider(ctx, name)


def _describe_chain(result: ActionResult, chain: ChainOutcome) -> None:
    """Who answered (or failed last) and each provider's part."""
    result.provider = chain.last.link.provider
    result.fallback_index = chain.last.link.index if chain.last.error is None else 0
    for tried in chain.tried:
        error = tried.error
        result.provider_attempts.add(
            provider=tried.link.provider,
            model=tried.link.model,
            attempts=tried.attempts,
            error_kind=KINDS[kind_of(error)] if error is not None else 0,
            error=valid_text(tried.text()),
        )


def _finish(call: _Call, outcome: CallOutcome, model: str, failure_text: str | None) -> ActionRun:
    """Store the answer (and its structured values), or the failure
    (`failure_text` replacing the error's own text)."""
    attempts = outcome.attempts
    error = outcome.error
    writer = call.writer
    if error is not None:
        return _fail(writer, call.error_variable, error, attempts, call.started, text=failure_text)
    answered = outcome.completion
    assert answered is not None
    action = call.action
    try:
        result = _storable(answered, model, call.ctx.config.limits.max_text_bytes)
        outputs = (
            parse_answer(result.answer, action.outputs, result.finish_reason)
            if action.outputs
            else []
        )
    except ProviderError as unusable:
        return _fail(writer, call.error_variable, unusable, attempts, call.started)
    # Each read of a protobuf field builds a new str: read once, used twice.
    answer_variable = action.answer_variable
    if answer_variable.strip():
        writer.set_text(answer_variable, result.answer)
    for variable, value in outputs:
        writer.set(variable, value)
    finish_reason_variable = action.finish_reason_variable
    if finish_reason_variable.strip():
        writer.set_text(finish_reason_variable, result.finish_reason)
    result.attempts = attempts
    set_duration(result.elapsed, time.monotonic() - call.started)
    return writer.succeed(call.error_variable, result)


def _rendered(
    action: OpenAIAction, variables: Variables, max_bytes: int
) -> tuple[str, str, dict[str, str]]:
    """The token, prompt and provider options with variables filled in.

    The token is trimmed: a key pasted with a trailing space or newline is
    still the key. Validation limits each template, but variables can make
    the result much longer, so the limit is checked again on the result.
    """
    return _rendered_parts(
        action.token, action.prompt, action.provider_options, variables, max_bytes
    )


def _rendered_link(link: Link, variables: Variables, max_bytes: int) -> tuple[str, dict[str, str]]:
    """A fallback's token and options with variables filled in (the prompt
    is the action's, already rendered)."""
    token, _, options = _rendered_parts(link.token, None, link.options, variables, max_bytes)
    return token, options


def _rendered_parts(
    token_template: str,
    prompt_template: str | None,
    option_templates: Mapping[str, str],
    variables: Variables,
    max_bytes: int,
) -> tuple[str, str, dict[str, str]]:
    token = render_template(token_template, variables.render).strip()
    prompt = "" if prompt_template is None else render_template(prompt_template, variables.render)
    _check_filled("token", token, max_bytes)
    if prompt_template is not None:
        _check_filled("prompt", prompt, max_bytes)
    return token, prompt, _rendered_options(option_templates, variables, max_bytes)


def _rendered_options(
    templates: Mapping[str, str], variables: Variables, max_bytes: int
) -> dict[str, str]:
    if not templates:
        return {}
    # Options are no place for credentials (the token is): a secret renders
    # empty there, so a scripted reply cannot echo it back.
    public = _public_lookup(variables)
    options = {k: render_template(v, public) for k, v in templates.items()}
    for key, value in options.items():
        if longer_than(value, max_bytes):
            raise _too_long_error(_option_label(key), max_bytes)
    return options


def _check_filled(name: str, value: str, max_bytes: int) -> None:
    if not value.strip():
        raise MissingParameterError(f"the {name} is empty after filling in variables")
    if longer_than(value, max_bytes):
        raise _too_long_error(f"the {name}", max_bytes)


def _too_long_error(what: str, max_bytes: int) -> BadRequestError:
    return BadRequestError(f"{what} is longer than {max_bytes} bytes after filling in variables")


def _option_label(key: str) -> str:
    # The name is the caller's, but an odd one is not worth echoing.
    return f"the provider option {key}" if plain_word(key) else "a provider option"


def _storable(completion: Completion, model: str, max_bytes: int) -> ActionResult:
    """The result of the completion as the result and variables can hold it
    (`model` when it names none), or BadResponseError when its text is
    unusable."""
    if not isinstance(completion.text, str):
        raise BadResponseError("the provider's answer has no text")
    text = valid_text(completion.text)
    if longer_than(text, max_bytes):
        # Stored, it would make the caller's next request invalid.
        raise BadResponseError(f"the answer is longer than the server limit of {max_bytes} bytes")
    finish = _finish_reason(completion.finish_reason)
    if not text.strip():
        # Nothing a flow can use; a reasoning model that spent max_tokens on
        # thinking ends this way, hence the reason in the text.
        why = f" (finish reason {finish})" if finish else ""
        raise BadResponseError(f"the provider returned an empty answer{why}")
    named = completion.model if isinstance(completion.model, str) else ""
    prompt_tokens, completion_tokens, total_tokens = _counts(completion.usage)
    named = valid_text(named) if len(named) <= MAX_MODEL_CHARS else ""
    result = ActionResult(answer=text, model=named or model, finish_reason=finish)
    # Set in place: a TokenUsage built apart would be built, then copied.
    usage = result.usage
    usage.prompt_tokens = _uint32(prompt_tokens)
    usage.completion_tokens = _uint32(completion_tokens)
    usage.total_tokens = _uint32(total_tokens)
    return result


def _finish_reason(reason: object) -> str:
    """A plug-in's or a server's word, kept only when it is a plain identifier."""
    return reason if isinstance(reason, str) and plain_word(reason) else ""


def _counts(usage: Usage) -> tuple[object, object, object]:
    return usage.prompt_tokens, usage.completion_tokens, usage.total_tokens


def _uint32(count: object) -> int:
    """TokenUsage fields are uint32: a count outside it (a hostile or broken
    server) is as good as no count, and assigning it would raise."""
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < _UINT32_LIMIT:
        return count
    return 0


def _fail(
    writer: VariableWriter,
    error_variable: str,
    error: ProviderError,
    attempts: int,
    started: float,
    *,
    text: str | None = None,
) -> ActionRun:
    error = _storable_error(error)
    return writer.fail(
        error_variable,
        error,
        attempts,
        time.monotonic() - started,
        text=None if text is None else valid_text(text),
    )


def _storable_error(error: ProviderError) -> ProviderError:
    """A plug-in may copy server text (lone surrogates and all) into its detail.
    Cleaned in place: a copy would need the plug-in class's constructor."""
    error.detail = valid_text(error.detail)
    return error


async def run(block: Block, state: RunState) -> Outcome:
    """The OpenAI block: the same code path as ExecuteAction, then its events.
    In a simulated run the block's own context scripts its provider calls."""
    ctx = state.actions.for_block(block.id, state.variables)
    action_run = await run_openai_action(block.openai, state.variables, state.conversation, ctx)
    return action_outcome(action_run, block.next, ctx.simulated)
