"""Add note: an internal note for the agents (not part of the conversation)."""

from __future__ import annotations

from botflow.server.blocks.base import Outcome, RunState
from botflow.server.events import note_added, warning
from botflow.server.templating import render_template
from botflow.v1.flow_pb2 import Block


async def run(block: Block, state: RunState) -> Outcome:
    text = render_template(block.add_note.text, state.variables.render)
    if not text.strip():
        return Outcome(
            [warning("empty_note", "the note is empty after filling in variables; nothing added")],
            block.next,
        )
    return Outcome([note_added(text)], block.next)
