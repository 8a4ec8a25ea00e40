"""Jump to: continue at another block."""

from __future__ import annotations

from botflow.server.blocks.base import Outcome, RunState
from botflow.v1.flow_pb2 import Block


async def run(block: Block, state: RunState) -> Outcome:
    return Outcome(next=block.jump_to.block_id)
