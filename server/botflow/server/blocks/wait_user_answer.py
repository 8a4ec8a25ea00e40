"""Wait user answer: the run stops until the caller resumes it.

Running the block ends the run with WAITING_FOR_ANSWER (the engine names this
block as the resume point). `resume` is the second half, at the start of the
next RunFlow: store and join the answer and go on, or take the timeout branch.
"""

from __future__ import annotations

from botflow.server.blocks.base import Outcome, RunState
from botflow.server.events import variable_changed
from botflow.server.variables import text_value
from botflow.v1.conversation_pb2 import Direction
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Block
from botflow.v1.flow_service_pb2 import Resume

# Plain ints: each enum wrapper lookup is a Python __getattr__.
WAITING = FlowStatus.FLOW_STATUS_WAITING_FOR_ANSWER
RECEIVED = Direction.DIRECTION_RECEIVED


async def run(block: Block, state: RunState) -> Outcome:
    return Outcome(next=block.id, status=WAITING)


def resume(block: Block, resume: Resume, state: RunState) -> Outcome:
    wait = block.wait_user_answer
    if resume.timed_out:
        return Outcome(next=wait.timeout_next)
    state.join(RECEIVED, resume.answer)
    events = []
    name = wait.answer_variable.strip()
    if name:
        value = text_value(resume.answer)
        state.variables.set(name, value)
        events.append(variable_changed(name, value, secret=state.variables.is_secret(name)))
    return Outcome(events, next=block.next)
