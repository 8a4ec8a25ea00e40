"""The breaking-change guard: `buf breaking` against the released contract
(protos/released/botflow-v1.json) passes on main and fails on a rename or a
renumbering. `make test` runs the same check on the real tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "node_modules" / ".bin" / "buf"
BASELINE = ROOT / "protos" / "released" / "botflow-v1.json"
ACTIONS = Path("protos") / "botflow" / "v1" / "actions.proto"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the contract to break on purpose."""
    assert BUF.exists(), "buf is missing: run `npm ci` (make test does)"
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    return tmp_path


def breaking(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", "--against", str(BASELINE)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def edit(workspace: Path, old: str, new: str) -> None:
    path = workspace / ACTIONS
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_current_contract_is_compatible(workspace: Path) -> None:
    result = breaking(workspace)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("string answer_variable = 4;", "string answer_var = 4;", "changed name"),
        ("string answer_variable = 4;", "string answer_variable = 40;", "deleted"),
        ("HISTORY_MODE_PROMPT_ONLY = 4;", "HISTORY_MODE_PROMPT = 4;", "changed name"),
    ],
)
def test_a_rename_or_renumbering_is_caught(
    workspace: Path, old: str, new: str, complaint: str
) -> None:
    edit(workspace, old, new)
    result = breaking(workspace)
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr
