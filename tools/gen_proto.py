"""Regenerate the committed code of the contract (make proto).

- Python: botflow/v1/*_pb2.py(i) and the service's *_pb2_grpc.py(i) under
  clients/python;
- Go: botflow/v1/*.pb.go and *_grpc.pb.go under clients/go, by protoc-gen-go
  and protoc-gen-go-grpc at the versions the Makefile pins (installed into
  clients/go/.bin by `make go-tools`);
- TypeScript: the declarations of every message under clients/node/types, by
  @grpc/proto-loader's own generator (proto-loader-gen-types), then tsc.

Every generator runs on grpcio-tools' bundled protoc, so the output does not
depend on what else is installed. `tests/test_generated_fresh.py` calls each
`generate*()` into a temporary folder and fails when the committed files differ.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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
GO_ROOT = ROOT / "clients" / "go"
GO_MODULE = "github.com/botflow/botflow/clients/go"
# `make go-tools` installs the pinned plugins here; BOTFLOW_GO_BIN overrides it.
GO_BIN = Path(os.environ.get("BOTFLOW_GO_BIN", GO_ROOT / ".bin"))
NODE_ROOT = ROOT / "clients" / "node"
TS_OUTPUT = NODE_ROOT / "types"
# The shapes @botflow/client hands out: the loader options of src/index.js.
TS_OPTIONS = [
    "--keepCase=false",
    "--longs=String",
    "--enums=String",
    "--defaults=false",
    "--oneofs=false",
    "--grpcLib=@grpc/grpc-js",
]


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
    out_root.mkdir(parents=True, exist_ok=True)
    names = _contract_protos()
    mypy = f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}"
    mypy_grpc = f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}"
    _run_protoc([mypy, f"--python_out={out_root}", f"--mypy_out={out_root}", *names])
    services = [n for n in names if Path(n).name in SERVICE_PROTOS]
    _run_protoc(
        [mypy_grpc, f"--grpc_python_out={out_root}", f"--mypy_grpc_out={out_root}", *services]
    )
    return sorted((out_root / PACKAGE).glob("*_pb2*"))


def _contract_protos() -> list[str]:
    return [str(p.relative_to(PROTO_ROOT)) for p in sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))]


def _go_plugin(name: str) -> str:
    found = GO_BIN / name
    if not found.exists():
        raise SystemExit(f"{found} not found: run `make go-tools`")
    return f"--plugin={name}={found}"


def generate_go(out_root: Path) -> list[Path]:
    """Generate the Go stubs into out_root/botflow/v1; return the files written."""
    out_root.mkdir(parents=True, exist_ok=True)
    module = f"module={GO_MODULE}"
    _run_protoc(
        [
            _go_plugin("protoc-gen-go"),
            _go_plugin("protoc-gen-go-grpc"),
            f"--go_out={out_root}",
            f"--go_opt={module}",
            f"--go-grpc_out={out_root}",
            f"--go-grpc_opt={module}",
            *_contract_protos(),
        ]
    )
    return sorted((out_root / PACKAGE).glob("*.go"))


def _node_bin(name: str) -> str:
    found = NODE_ROOT / "node_modules" / ".bin" / name
    if not found.exists():
        raise SystemExit(f"{found} not found: run `cd clients/node && npm ci`")
    return str(found)


def generate_ts(out_root: Path) -> list[Path]:
    """Generate the TypeScript declarations into out_root; return the files written.

    The generator writes .ts sources (with enum objects that do not exist at
    run time in this package); tsc turns them into declarations only.
    """
    # Inside clients/node, so tsc resolves @grpc/grpc-js from its node_modules.
    with tempfile.TemporaryDirectory(dir=NODE_ROOT, prefix=".gen-") as tmp:
        services = [n for n in _contract_protos() if Path(n).name in SERVICE_PROTOS]
        gen = [_node_bin("proto-loader-gen-types"), *TS_OPTIONS, "-I", "protos", "-O", tmp]
        subprocess.run([*gen, *services], cwd=ROOT, check=True)
        sources = sorted(str(p) for p in Path(tmp).rglob("*.ts"))
        tsc = [_node_bin("tsc"), "--declaration", "--emitDeclarationOnly", "--strict"]
        options = ["--target", "es2022", "--module", "commonjs", "--skipLibCheck"]
        dirs = ["--rootDir", tmp, "--outDir", str(out_root)]
        subprocess.run([*tsc, *options, *dirs, *sources], cwd=NODE_ROOT, check=True)
    return sorted(out_root.rglob("*.d.ts"))


def _replace(target: Path, files: list[Path], source_root: Path, pattern: str) -> None:
    for old in target.rglob(pattern):
        old.unlink()
    for new in files:
        dest = target / new.relative_to(source_root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(new, dest)
    print(f"wrote {len(files)} files to {target.relative_to(ROOT)}", file=sys.stderr)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _replace(OUTPUT_ROOT / PACKAGE, generate(out / "py"), out / "py" / PACKAGE, "*_pb2*")
        _replace(GO_ROOT / PACKAGE, generate_go(out / "go"), out / "go" / PACKAGE, "*.go")
        _replace(TS_OUTPUT, generate_ts(out / "ts"), out / "ts", "*.d.ts")


if __name__ == "__main__":
    main()
