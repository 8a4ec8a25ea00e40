"""No file of the repository points outside it: an outside team reads only
this repository, so a rule is stated here in the project's own words, never
as a reference to a document it cannot see (a product-spec section such as
"SPEC §4", a sibling folder such as ../shared/), and a relative Markdown link
resolves to a path inside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\bSPEC\s*§|\bSPEC\.md\b|\.\./shared\b|\bshared/SPEC\b")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
THIS_FILE = "tests/test_self_contained.py"


def repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if (ROOT / name).is_file() and name != THIS_FILE]


def _text(name: str) -> str | None:
    try:
        return (ROOT / name).read_text()
    except (UnicodeDecodeError, OSError):
        return None  # binary


def test_no_file_cites_an_outside_document() -> None:
    citing = {name for name in repository_files() if OUTSIDE.search(_text(name) or "")}
    new = sorted(citing)
    assert not new, f"these files cite a document outside the repository: {new}"


def test_relative_links_stay_inside() -> None:
    outside = []
    for name in repository_files():
        if not name.endswith(".md"):
            continue
        for link in LINK.findall(_text(name) or ""):
            if re.match(r"[a-z]+:", link):
                continue  # an absolute URL is visible to anyone
            target = ((ROOT / name).parent / link).resolve()
            if not target.is_relative_to(ROOT) or not target.exists():
                outside.append(f"{name}: {link}")
    assert not outside, f"links that leave the repository or lead nowhere: {outside}"


def test_the_check_finds_a_citation() -> None:
    assert OUTSIDE.search("see SPEC §4")
    assert OUTSIDE.search("[`../shared/SPEC.md`](../shared/SPEC.md)")
    assert not OUTSIDE.search("HISTORY_MODE_UNSPECIFIED")
