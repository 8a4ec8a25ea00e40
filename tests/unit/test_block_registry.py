"""The block registry is the one list of block kinds: it must name exactly the
members of the contract's oneofs, so dispatch, validation and the barrier
cannot miss a kind the contract has."""

from __future__ import annotations

from botflow.server.blocks import ACTION_KINDS, KINDS
from botflow.v1.actions_pb2 import Action
from botflow.v1.flow_pb2 import Block


def _oneof_members(descriptor: object) -> set[str]:
    return {f.name for f in descriptor.oneofs_by_name["kind"].fields}  # type: ignore[attr-defined]


def test_every_block_kind_of_the_contract_is_registered() -> None:
    assert set(KINDS) == _oneof_members(Block.DESCRIPTOR)


def test_action_kinds_are_exactly_the_actions_of_execute_action() -> None:
    assert set(ACTION_KINDS) == _oneof_members(Action.DESCRIPTOR)
    for kind in ACTION_KINDS.values():
        assert kind.execute is not None
        assert kind.parameter_check is not None


def test_actions_with_an_error_variable_fail_as_a_spec_kind() -> None:
    assert KINDS["openai"].failure is not None
    assert KINDS["openai"].failure.kind == "ProviderError"
    assert KINDS["webhook"].failure is not None
    assert KINDS["webhook"].failure.kind == "BadResponse"
    assert {k for k, v in KINDS.items() if v.failure is not None} == {"openai", "webhook"}


def test_a_failed_block_goes_where_the_block_would_have_gone() -> None:
    choice = Block(id="c")
    choice.choice.fallback_next = "fallback"
    jump = Block(id="j")
    jump.jump_to.block_id = "target"
    send = Block(id="s", next="after")
    send.send_message.text = "hi"
    assert KINDS["choice"].after_failure(choice) == "fallback"
    assert KINDS["jump_to"].after_failure(jump) == "target"
    assert KINDS["send_message"].after_failure(send) == "after"
    assert KINDS["restart_bot"].after_failure(Block(id="r", next="x")) == ""
