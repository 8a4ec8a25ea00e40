"""Send message: render the text, emit MessageSent, join the conversation."""

from __future__ import annotations

from botflow.server.blocks.base import Outcome, RunState
from botflow.server.events import message_sent, warning
from botflow.server.templating import render_template
from botflow.v1.conversation_pb2 import Direction
from botflow.v1.flow_pb2 import Block

# A plain int: an enum wrapper lookup per block would be a Python __getattr__.
SENT = Direction.DIRECTION_SENT


async def run(block: Block, state: RunState) -> Outcome:
    text = render_template(block.send_message.text, state.variables.render)
    if not text.strip():
        return Outcome(
            [
                warning(
                    "empty_message", "the message is empty after filling in variables; nothing sent"
                )
            ],
            block.next,
        )
    state.join(SENT, text)
    return Outcome([message_sent(text)], block.next)
