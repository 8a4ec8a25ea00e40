"""Restart bot: variables back to their declared defaults, a new bot session,
BotRestarted; the run ends with RESTARTED."""

from __future__ import annotations

import uuid

from botflow.server.blocks.base import Outcome, RunState
from botflow.server.events import bot_restarted
from botflow.server.variables import Variables
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_pb2 import Block

# A plain int: each enum wrapper lookup is a Python __getattr__.
RESTARTED = FlowStatus.FLOW_STATUS_RESTARTED


def new_session_id() -> str:
    return uuid.uuid4().hex


async def run(block: Block, state: RunState) -> Outcome:
    # The secrets stay secret: the flow's token templates still name them.
    state.variables = Variables.assemble(state.definitions, {}, secrets=state.variables.secrets)
    state.session_id = new_session_id()
    state.session_started = True
    state.conversation.current_bot_session_id = state.session_id
    return Outcome([bot_restarted(state.session_id)], status=RESTARTED)
