"""The output budget of one RunFlow (docs/rules.md "Limits"): the bytes of its
events plus its final variables stay within `max_run_bytes`, and the finish
event (which carries every variable) within the gRPC send limit, so the caller
always learns how the run ended.

The size of the final variables is tracked as an upper bound (their size at
the last measurement plus the size of every VariableChanged event since) and measured exactly
only when the bound says the budget may be passed: a run pays for a full
measurement rarely, not after every block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from botflow.v1.flow_service_pb2 import RunFlowResponse

# An event's envelope beyond its payload: sequence number, block id, tags.
EVENT_OVERHEAD_BYTES = 32
# Room kept in the finish event for its status, ids and envelope.
FINISH_MARGIN_BYTES = 4 * 1024


class OutputBudget:
    def __init__(
        self, max_run_bytes: int, max_message_bytes: int, measure: Callable[[], int]
    ) -> None:
        self.limit = max_run_bytes
        self.finish_limit = max_message_bytes - FINISH_MARGIN_BYTES
        self.measure = measure
        self.produced = 0
        self.variables_bound = measure()

    def _fits(self, size: int, variables: int) -> bool:
        return self.produced + size + variables <= self.limit and variables <= self.finish_limit

    def admits(self, events: Sequence[RunFlowResponse], block_id: str) -> bool:
        """Count `events` and return True when they, and a finish event after
        them, stay within the budget; False (nothing counted) otherwise."""
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
        if not self._fits(size, bound):
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
