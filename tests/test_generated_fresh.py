"""The committed stubs under clients/python must match what `make proto` writes."""

from __future__ import annotations

from pathlib import Path

from tools.gen_proto import OUTPUT_ROOT, PACKAGE, generate


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    fresh = {p.name: p.read_text() for p in generate(tmp_path)}
    committed = {p.name: p.read_text() for p in (OUTPUT_ROOT / PACKAGE).glob("*_pb2*")}
    assert sorted(fresh) == sorted(committed), "stub files differ: run `make proto`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated stubs {stale}: run `make proto`"
