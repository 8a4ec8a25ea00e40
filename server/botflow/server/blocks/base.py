"""What every block module shares: the run's state and a block's outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from botflow.server.blocks.context import ActionContext
from botflow.server.events import action_finished, variables_changed
from botflow.server.results import ActionRun
from botflow.server.variables import Variables
from botflow.v1.conversation_pb2 import Conversation, Direction
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Block
from botflow.v1.flow_service_pb2 import RunFlowResponse
from botflow.v1.variables_pb2 import VariableDefinition

# Enum members as plain ints: each lookup on the generated enum wrapper is a
# Python-level __getattr__, paid per block otherwise.
RECEIVED = Direction.DIRECTION_RECEIVED


@dataclass(slots=True)
class RunState:
    """The mutable state of one run; blocks read and change it."""

    variables: Variables
    # The working conversation: the request's, plus what this run sent and got.
    conversation: Conversation
    session_id: str
    definitions: Sequence[VariableDefinition]
    actions: ActionContext
    # Whether session_id started in this run (not continued from the request).
    session_started: bool = False

    def render(self, name: str) -> str:
        return self.variables.render(name)

    def join(self, direction: int, text: str) -> None:
        # add() builds the message in place; append() would copy it.
        self.conversation.messages.add(
            direction=direction, text=text, bot_session_id=self.session_id
        )

    def last_received_text(self) -> str:
        for message in reversed(self.conversation.messages):
            if message.direction == RECEIVED:
                return message.text
        return ""


@dataclass(slots=True)
class Outcome:
    """What a block did: its events, where to go, and whether the run stops."""

    events: list[RunFlowResponse] = field(default_factory=list)
    # The next block id; "" ends the run with COMPLETED.
    next: str = ""
    # Set when the block itself ends the run (wait, restart).
    status: FlowStatus.ValueType | None = None


BlockRunner = Callable[[Block, RunState], Awaitable[Outcome]]


def action_outcome(run: ActionRun, next_block: str, simulated: bool) -> Outcome:
    """An action block's outcome: ActionFinished, then one VariableChanged per
    variable it wrote. In a simulated run the result says so however the
    action ended, failed behind the barrier included: a reader of the events
    must never take it for a live call."""
    run.result.simulated = simulated
    return Outcome([action_finished(run.result), *variables_changed(run.changes)], next_block)
