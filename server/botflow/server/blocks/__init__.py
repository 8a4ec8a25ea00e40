"""One module per block kind, dispatched from RUNNERS by the Block's `kind`."""

from __future__ import annotations

from botflow.server.blocks import (
    add_note,
    choice,
    jump_to,
    openai_action,
    restart_bot,
    send_message,
    set_variable,
    wait_user_answer,
    webhook,
)
from botflow.server.blocks.base import BlockRunner

RUNNERS: dict[str, BlockRunner] = {
    "send_message": send_message.run,
    "wait_user_answer": wait_user_answer.run,
    "choice": choice.run,
    "set_variable": set_variable.run,
    "openai": openai_action.run,
    "add_note": add_note.run,
    "jump_to": jump_to.run,
    "restart_bot": restart_bot.run,
    "webhook": webhook.run,
}
