"""The committed generated code must match what `make proto` writes: the
Python stubs (clients/python), the Go stubs (clients/go, by the pinned
protoc-gen-go and protoc-gen-go-grpc) and the TypeScript declarations
(clients/node/types, by proto-loader-gen-types)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tools.gen_proto import (
    GO_ROOT,
    OUTPUT_ROOT,
    PACKAGE,
    TS_OUTPUT,
    generate,
    generate_go,
    generate_ts,
)

CASES: dict[str, tuple[Callable[[Path], list[Path]], Path, Path, str]] = {
    # name: (generator, where its output lands under tmp, committed root, pattern)
    "python": (generate, PACKAGE, OUTPUT_ROOT / PACKAGE, "*_pb2*"),
    "go": (generate_go, PACKAGE, GO_ROOT / PACKAGE, "*.go"),
    "typescript": (generate_ts, Path(), TS_OUTPUT, "*.d.ts"),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_generated_code_is_fresh(language: str, tmp_path: Path) -> None:
    generator, subdir, committed_root, pattern = CASES[language]
    generator(tmp_path)
    fresh_root = tmp_path / subdir
    fresh = {str(p.relative_to(fresh_root)): p.read_text() for p in fresh_root.rglob(pattern)}
    committed = {
        str(p.relative_to(committed_root)): p.read_text() for p in committed_root.rglob(pattern)
    }
    assert fresh, f"the {language} generator wrote nothing"
    assert sorted(fresh) == sorted(committed), f"{language} files differ: run `make proto`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated {language} code {stale}: run `make proto`"


def test_every_proto_sets_the_package_options() -> None:
    """go_package is the Go module's import path; the Java and C# options keep
    every team's generated names the same."""
    protos = sorted((OUTPUT_ROOT.parent.parent / "protos" / PACKAGE).glob("*.proto"))
    assert protos
    for proto in protos:
        text = proto.read_text()
        for option in (
            'option go_package = "github.com/botflow/botflow/clients/go/botflow/v1;botflowv1";',
            'option java_package = "dev.botflow.v1";',
            "option java_multiple_files = true;",
            'option csharp_namespace = "Botflow.V1";',
        ):
            assert option in text, f"{proto.name} lacks {option}"
