"""The flow engine behind RunFlow.

Runs blocks one after the other from the start block (or the resume point),
following each block's `next`, and yields one event per thing that happened.
The last event is always FlowFinished. A flow that loops ends with
STEP_LIMIT_REACHED after `max_steps` blocks; a run that would produce more than
its output budget (budget.py) ends with OUTPUT_LIMIT_REACHED, the block that
would have passed it undone. Every block runs behind the failure barrier
(barrier.py): an unexpected exception is a failed block, not a failed call.
The request must be validated first (flow_validation.py): the engine trusts ids
and targets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from botflow.server import defaults
from botflow.server.barrier import failed_block
from botflow.server.blocks import KINDS, BlockKind, wait_user_answer
from botflow.server.blocks.base import Outcome, RunState
from botflow.server.blocks.context import ActionContext
from botflow.server.blocks.restart_bot import new_session_id
from botflow.server.budget import OutputBudget, finish_fields_bytes
from botflow.server.history import current_bot_session
from botflow.server.secrets import secret_names_of_flow
from botflow.server.variables import Variables
from botflow.v1.conversation_pb2 import Conversation
from botflow.v1.events_pb2 import FlowFinished, FlowStatus
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import RunFlowRequest, RunFlowResponse
from botflow.v1.variables_pb2 import Value

# Plain ints: each enum wrapper lookup is a Python __getattr__, paid per block
# otherwise.
COMPLETED = FlowStatus.FLOW_STATUS_COMPLETED
WAITING_FOR_ANSWER = FlowStatus.FLOW_STATUS_WAITING_FOR_ANSWER
STEP_LIMIT_REACHED = FlowStatus.FLOW_STATUS_STEP_LIMIT_REACHED
OUTPUT_LIMIT_REACHED = FlowStatus.FLOW_STATUS_OUTPUT_LIMIT_REACHED


def start_block_id(flow: Flow) -> str:
    return flow.start_block_id or (flow.blocks[0].id if flow.blocks else "")


def step_limit(request: RunFlowRequest, cap: int) -> int:
    return min(request.max_steps or defaults.DEFAULT_MAX_STEPS, cap)


def continued_session(request: RunFlowRequest) -> str:
    """The bot session a run continues, or "" when it starts a new one: a run
    without `resume` is the bot (re)starting, so it continues only the session
    the request names; a resume continues the bot's session, named or
    inferred from the messages."""
    if request.HasField("resume"):
        return current_bot_session(request.conversation)
    return request.conversation.current_bot_session_id


def initial_state(request: RunFlowRequest, actions: ActionContext) -> RunState:
    conversation = Conversation()
    conversation.CopyFrom(request.conversation)
    continued = continued_session(request)
    session = continued or new_session_id()
    conversation.current_bot_session_id = session
    return RunState(
        variables=Variables.assemble(
            request.flow.variables, request.variables, secrets=secret_names_of_flow(request.flow)
        ),
        conversation=conversation,
        session_id=session,
        # The request outlives the run and is never changed: no copy needed.
        definitions=request.flow.variables,
        actions=actions,
        session_started=not continued,
    )


# The run's state before a block, to undo it (barrier, budget): the variables
# and their values, the message count, the session id and whether it started
# in this run. A plain tuple, since one is taken per block.
Checkpoint = tuple[Variables, dict[str, Value], int, str, bool]


class FlowRun:
    """One RunFlow call: numbers events and builds the finish event."""

    def __init__(self, request: RunFlowRequest, actions: ActionContext) -> None:
        self.request = request
        # Over a slice: iterating a protobuf repeated field itself ends on an
        # IndexError (it has no __iter__), a microsecond per loop.
        self.blocks: dict[str, Block] = {b.id: b for b in request.flow.blocks[:]}
        self.state = initial_state(request, actions)
        limits = actions.config.limits
        self.max_steps = step_limit(request, limits.max_steps)
        self.budget = OutputBudget(
            limits.max_run_bytes,
            limits.max_message_bytes,
            self._variables_bytes,
            finish_fields_bytes(self.blocks, self.state.session_id),
        )
        self.steps = 0
        self._sequence = 0

    def _variables_bytes(self) -> int:
        return FlowFinished(variables=self.state.variables.public_values()).ByteSize()

    def _checkpoint(self) -> Checkpoint:
        state = self.state
        variables = state.variables
        return (
            variables,
            variables.snapshot(),
            len(state.conversation.messages),
            state.session_id,
            state.session_started,
        )

    def _undo(self, checkpoint: Checkpoint) -> None:
        state = self.state
        variables, values, messages, session_id, session_started = checkpoint
        variables.restore(values)
        state.variables = variables
        del state.conversation.messages[messages:]
        state.session_id = session_id
        state.session_started = session_started
        state.conversation.current_bot_session_id = session_id

    def _failed(
        self, kind: BlockKind, block: Block, checkpoint: Checkpoint, error: Exception
    ) -> Outcome:
        """The outcome of a block that raised: undone, then failed (barrier)."""
        self._undo(checkpoint)
        return failed_block(kind, block, self.state.variables, error, self.state.actions)

    def _numbered(self, event: RunFlowResponse, block_id: str) -> RunFlowResponse:
        self._sequence += 1
        event.sequence = self._sequence
        event.block_id = block_id
        return event

    def _finished(self, status: int, block_id: str, resume_block_id: str = "") -> RunFlowResponse:
        self.state.actions.metrics.run_finished(status)
        finished = FlowFinished(
            status=status,  # type: ignore[arg-type]
            variables=self.state.variables.public_values(),
            resume_block_id=resume_block_id,
            bot_session_id=self.state.session_id,
            steps=self.steps,
            bot_session_started=self.state.session_started,
        )
        return self._numbered(RunFlowResponse(finished=finished), block_id)

    def _first(self) -> tuple[Outcome, str]:
        """Where the run begins: the resume's outcome, or the start block."""
        resume = self.request.resume
        if not self.request.HasField("resume"):
            return Outcome(next=start_block_id(self.request.flow)), ""
        block = self.blocks[resume.block_id]
        checkpoint = self._checkpoint()
        try:
            return wait_user_answer.resume(block, resume, self.state), block.id
        except Exception as error:
            self._undo(checkpoint)
            kind = KINDS["wait_user_answer"]
            return failed_block(kind, block, self.state.variables, error), block.id

    def _end(self, outcome: Outcome, block_id: str) -> RunFlowResponse | None:
        """The finish event when the run stops after `outcome`, else None."""
        status = outcome.status
        if status is not None:
            resume_at = block_id if status == WAITING_FOR_ANSWER else ""
            return self._finished(status, block_id, resume_at)
        if not outcome.next:
            return self._finished(COMPLETED, block_id)
        if self.steps >= self.max_steps:
            return self._finished(STEP_LIMIT_REACHED, block_id)
        return None

    async def events(self) -> AsyncIterator[RunFlowResponse]:
        checkpoint = self._checkpoint()
        outcome, block_id = self._first()
        while True:
            # A block that replaced the variables object (restart_bot) tells
            # the budget, whose bound only follows VariableChanged events.
            replaced = self.state.variables is not checkpoint[0]
            if not self.budget.admits(outcome.events, block_id, replaced):
                self._undo(checkpoint)
                yield self._finished(OUTPUT_LIMIT_REACHED, block_id)
                return
            # Numbered here, not by _numbered: a call less per event.
            sequence = self._sequence
            for event in outcome.events:
                sequence += 1
                event.sequence = sequence
                event.block_id = block_id
                yield event
            self._sequence = sequence
            end = self._end(outcome, block_id)
            if end is not None:
                yield end
                return
            block = self.blocks[outcome.next]
            block_id = block.id
            self.steps += 1
            checkpoint = self._checkpoint()
            kind = KINDS[block.WhichOneof("kind") or ""]
            # The barrier is here, not in a helper coroutine: one coroutine
            # less per block.
            try:
                outcome = await kind.run(block, self.state)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                outcome = self._failed(kind, block, checkpoint, error)


def run_flow(request: RunFlowRequest, actions: ActionContext) -> AsyncIterator[RunFlowResponse]:
    return FlowRun(request, actions).events()
