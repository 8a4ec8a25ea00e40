"""Write VERSION, the one version of every artifact, where a file cannot read it.

Both pyprojects read VERSION through hatch's version source; package.json and
package-lock.json of clients/node carry a copy, written here. `--check` only
reports a difference (make dist runs it; tests/test_packaging.py too).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = ROOT / "VERSION"
NODE = ROOT / "clients" / "node"


def version() -> str:
    return VERSION_FILE.read_text().strip()


def node_versions() -> dict[str, str]:
    """The version each Node file states, by file name."""
    package = json.loads((NODE / "package.json").read_text())
    lock = json.loads((NODE / "package-lock.json").read_text())
    return {
        "package.json": package["version"],
        "package-lock.json": lock["version"],
        "package-lock.json packages['']": lock["packages"][""]["version"],
    }


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def sync(to: str) -> None:
    package_path, lock_path = NODE / "package.json", NODE / "package-lock.json"
    package = json.loads(package_path.read_text())
    package["version"] = to
    _write(package_path, package)
    lock = json.loads(lock_path.read_text())
    lock["version"] = to
    lock["packages"][""]["version"] = to
    _write(lock_path, lock)


def main(argv: list[str]) -> int:
    wanted = version()
    stale = {name: found for name, found in node_versions().items() if found != wanted}
    if "--check" in argv:
        for name, found in stale.items():
            print(f"{name} says {found}, VERSION says {wanted}: run tools/sync_version.py")
        return 1 if stale else 0
    sync(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
