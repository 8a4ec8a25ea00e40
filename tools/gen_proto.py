"""Regenerate the Python stubs of the contract (make proto).

Writes botflow/v1/*_pb2.py(i) and the service's *_pb2_grpc.py(i) under
clients/python. `tests/test_generated_fresh.py` calls `generate()` into a
temporary folder and fails when the committed files differ.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE = Path("botflow") / "v1"
OUTPUT_ROOT = ROOT / "clients" / "python"
SERVICE_PROTOS = {"flow_service.proto"}


def _plugin(name: str) -> str:
    """The plugin next to this interpreter, so no PATH setup is needed."""
    scripts = Path(sysconfig.get_path("scripts"))
    found = scripts / name
    if not found.exists():
        raise SystemExit(f"{name} not found in {scripts}: install the dev extras")
    return str(found)


def _run_protoc(args: list[str]) -> None:
    include = str(Path(protoc.__file__).parent / "_proto")
    code = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{include}", *args])
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


def generate(out_root: Path) -> list[Path]:
    """Generate every stub into out_root/botflow/v1; return the files written."""
    protos = sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))
    names = [str(p.relative_to(PROTO_ROOT)) for p in protos]
    mypy = f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}"
    mypy_grpc = f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}"
    _run_protoc([mypy, f"--python_out={out_root}", f"--mypy_out={out_root}", *names])
    services = [n for n in names if Path(n).name in SERVICE_PROTOS]
    _run_protoc(
        [mypy_grpc, f"--grpc_python_out={out_root}", f"--mypy_grpc_out={out_root}", *services]
    )
    return sorted((out_root / PACKAGE).glob("*_pb2*"))


def main() -> None:
    target = OUTPUT_ROOT / PACKAGE
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp))
        for old in target.glob("*_pb2*"):
            old.unlink()
        for new in files:
            shutil.copy2(new, target / new.name)
    print(f"wrote {len(files)} files to {target.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
