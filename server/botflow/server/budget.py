"""The output budget of one RunFlow (docs/rules.md "Limits"): the bytes of its
events plus its final variables stay within `max_run_bytes`, and the finish
event (which carries every variable) within the gRPC send limit, so the caller
always learns how the run ended.

The size of the final variables is tracked as an upper bound (their size at
the last measurement plus the size of every VariableChanged event since) and measured exactly
only when the bound says the budget may be passed, or after a block that
replaced the variables wholesale: a run pays for a full measurement rarely,
not after every block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from botflow.v1.flow_service_pb2 import RunFlowResponse

# An event's envelope beyond its payload: sequence number, block id, tags.
EVENT_OVERHEAD_BYTES = 32
# Room kept in the finish event for its status, ids and envelope.
FINISH_MARGIN_BYTES = 4 * 1024
# The finish event beyond its variables and its three texts (block id, resume
# block id, bot session id): sequence, status, steps, the session flag and the
# `finished` field's tag and length, each varint at its widest.
FINISH_FIELDS_BYTES = 32
# A text field's tag and length prefix at most (a request is far below 2^28 bytes).
TEXT_FRAME_BYTES = 5
# The bot session id a restart_bot makes (a uuid4's hex).
NEW_SESSION_ID_BYTES = 32


def finish_fields_bytes(block_ids: Iterable[str], session_id: str) -> int:
    """At least the finish event's bytes beyond its variables, whichever block
    it ends at: it names a block twice (where it ended, where to resume) and
    the bot session (the request's, or a restart's new one)."""
    longest = max((len(block_id.encode()) for block_id in block_ids), default=0)
    session = max(len(session_id.encode()), NEW_SESSION_ID_BYTES)
    return FINISH_FIELDS_BYTES + 3 * TEXT_FRAME_BYTES + 2 * longest + session


class OutputBudget:
    def __init__(
        self,
        max_run_bytes: int,
        max_message_bytes: int,
        measure: Callable[[], int],
        finish_fields: int = 0,
    ) -> None:
        """`finish_fields`: the finish event's bytes beyond its variables
        (finish_fields_bytes), kept free so that the finish event, too, stays
        within `max_run_bytes`."""
        self.limit = max_run_bytes - finish_fields
        self.finish_limit = max_message_bytes - FINISH_MARGIN_BYTES
        self.measure = measure
        self.produced = 0
        self.variables_bound = measure()

    def _fits(self, size: int, variables: int) -> bool:
        return self.produced + size + variables <= self.limit and variables <= self.finish_limit

    def admits(
        self, events: Sequence[RunFlowResponse], block_id: str, replaced: bool = False
    ) -> bool:
        """Count `events` and return True when they, and a finish event after
        them, stay within the budget; False (nothing counted) otherwise.

        `replaced`: the block put new variables in place of the old ones
        (restart_bot: the declared defaults) without a VariableChanged event
        for each, so the bound says nothing of their size."""
        # One plain loop, no generators: this runs for every block of a run.
        size = 0
        grown = 0
        for event in events:
            event_size = event.ByteSize()
            size += event_size
            # A variable's entry in the finish event's map is its change's
            # name and value, framed like the change in its event (one-byte
            # tag, length): the event's size bounds its growth, the change's
            # own size would fall a few bytes short of the entry.
            if event.HasField("variable_changed"):
                grown += event_size
        if events:
            size += len(events) * (EVENT_OVERHEAD_BYTES + len(block_id.encode()))
        bound = self.variables_bound + grown
        # After a replacement the bound may be far too low (it can have been
        # measured small before, and defaults be large): measured, not trusted.
        if replaced or not self._fits(size, bound):
            bound = self.measure()
            if not self._fits(size, bound):
                return False
        self.produced += size
        self.variables_bound = bound
        return True

    def fits_now(self) -> bool:
        """Whether a finish event still fits (False when the request's own
        variables are already over the budget)."""
        return self._fits(0, self.variables_bound)
