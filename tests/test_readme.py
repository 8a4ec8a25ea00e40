"""Every code block of README.md runs, as a stranger would run it.

Blocks are found by their fence. Each runnable one (python, js, ts, go, sh,
bash, json) must match exactly one rule below, or the test fails: a new
block needs a way to run here. The test fills the placeholders the reader
would: the server address (`BOTFLOW_TARGET`, or `127.0.0.1:50051` substituted
by a test server's address), and the package installs, which resolve to the
artifacts built from this checkout (the wheel, the npm tarball, the Go module
by a `replace`) while their dependencies come from the package registries.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.botflow_process import botflow_server
from tools import sync_version

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RUNNABLE = {"python", "js", "ts", "go", "sh", "bash", "json"}
DEFAULT_TARGET = "127.0.0.1:50051"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    after: str  # the text up to the next runnable block: an expected-output block lives there


def readme_blocks() -> list[Block]:
    text = README.read_text()
    found = list(FENCE.finditer(text))
    blocks = []
    for i, match in enumerate(found):
        end = found[i + 1].end() if i + 1 < len(found) else len(text)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(match[1], match[2], line, text[match.end() : end]))
    return blocks


BLOCKS = [b for b in readme_blocks() if b.lang in RUNNABLE]


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    return _run(["bash", "-euo", "pipefail", "-c", script], cwd, env).stdout


def _env(**extra: str) -> dict[str, str]:
    # No OPENAI_API_KEY: `make demo` would send its action to OpenAI.
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY" and k != "BOTFLOW_TARGET"}
    return env | extra


def _only(predicate: Callable[[Block], bool]) -> Block:
    [block] = [b for b in BLOCKS if predicate(b)]
    return block


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with botflow_server() as address:
        yield address


@pytest.fixture(scope="module")
def python_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv where the README's `pip install botflow-client` ran (the
    name resolving to the wheel built from clients/python)."""
    work = tmp_path_factory.mktemp("readme-python")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(work),
            "clients/python",
        ],
        ROOT,
    )
    [wheel] = work.glob("botflow_client-*.whl")
    _run([sys.executable, "-m", "venv", str(work / "venv")], ROOT)
    pip = (
        f'pip() {{ "{work}/venv/bin/python" -m pip "${{@/botflow-client/{wheel}}}" '
        f'-q -c "{ROOT}/constraints.txt"; }}\n'
    )
    _bash(pip + _only(lambda b: "pip install botflow-client" in b.code).code, work, _env())
    return work / "venv"


def _node_copy(work: Path) -> Path:
    """The package's files and the protos in the checkout's layout: packing
    writes protos/ into the package folder, which other test runs may read."""
    copy = work / "repo" / "clients" / "node"
    for name in ("package.json", "README.md", "src", "types", "scripts"):
        source = ROOT / "clients" / "node" / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    shutil.copytree(ROOT / "protos" / "botflow", work / "repo" / "protos" / "botflow")
    return copy


@pytest.fixture(scope="module")
def node_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the README's `npm install @botflow/client` ran (the name
    resolving to the tarball `npm pack` makes of clients/node)."""
    work = tmp_path_factory.mktemp("readme-node")
    packed = _run(["npm", "pack", "--silent", "--pack-destination", str(work)], _node_copy(work))
    tarball = work / packed.stdout.strip().splitlines()[-1]
    app = work / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "readme-app", "private": true}\n')
    npm = (
        f'npm() {{ command npm "${{@/@botflow\\/client/{tarball}}}" '
        "--no-audit --no-fund --loglevel=error; }\n"
    )
    _bash(npm + _only(lambda b: "npm install @botflow/client" in b.code).code, app, _env())
    return app


@pytest.fixture(scope="module")
def go_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new module where the README's `go mod init` and `go get` ran, the
    client module replaced by clients/go (it is not published from here)."""
    work = tmp_path_factory.mktemp("readme-go")
    module = "github.com/botflow/botflow/clients/go"
    go = (
        'go() { if [ "$1" = get ]; then '
        f'command go mod edit -replace {module}={ROOT}/clients/go; fi; command go "$@"; }}\n'
    )
    _bash(go + _only(lambda b: "go get " in b.code).code, work, _env())
    return work


def _make(block: Block, request: pytest.FixtureRequest) -> None:
    # `make test` would run this test again: only check that make knows it.
    make = (
        'make() { if [ "$1" = test ]; then command make -n test >/dev/null; '
        'else command make "$@"; fi; }\n'
    )
    output = _bash(make + block.code, ROOT, _env())
    assert "tags = 'triaged'" in output


def _pip(block: Block, request: pytest.FixtureRequest) -> None:
    venv: Path = request.getfixturevalue("python_env")  # ran the block
    assert (venv / "bin" / "botflow-run-flow").exists()


def _npm(block: Block, request: pytest.FixtureRequest) -> None:
    app: Path = request.getfixturevalue("node_env")  # ran the block
    assert (app / "node_modules" / "@botflow" / "client" / "protos").is_dir()


def _go_get(block: Block, request: pytest.FixtureRequest) -> None:
    work: Path = request.getfixturevalue("go_env")  # ran the block
    version = re.search(r"clients/go@v(\S+)", block.code)
    assert version, "the README's go get names a version"
    assert version[1] == sync_version.version(), "the README's go get names VERSION"
    assert (work / "go.mod").exists()


def _run_flow(block: Block, request: pytest.FixtureRequest) -> None:
    venv: Path = request.getfixturevalue("python_env")
    path = f"{venv / 'bin'}:{os.environ['PATH']}"
    env = _env(PATH=path, BOTFLOW_TARGET=request.getfixturevalue("target"))
    assert "finished: WAITING_FOR_ANSWER" in _bash(block.code, ROOT, env)


def _buf_curl(block: Block, request: pytest.FixtureRequest) -> None:
    code = block.code.replace(DEFAULT_TARGET, request.getfixturevalue("target"))
    assert '"outcome": "ACTION_OUTCOME_SUCCEEDED"' in _bash(code, ROOT, _env())


def _serve(block: Block, request: pytest.FixtureRequest) -> None:
    """Start the documented command on a free loopback port; it must listen."""
    code = block.code.replace("--host 0.0.0.0", "--host 127.0.0.1").replace(
        "--port 50051", "--port 0"
    )
    env = _env(BOTFLOW_SHUTDOWN_DELAY_SECONDS="0")
    with subprocess.Popen(
        ["bash", "-c", f"exec {code}"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        first = server.stdout.readline()
        server.terminate()
        server.wait(15)
    assert first.startswith("botflow listening on 127.0.0.1:")


def _python(block: Block, request: pytest.FixtureRequest) -> None:
    venv: Path = request.getfixturevalue("python_env")
    env = _env(BOTFLOW_TARGET=request.getfixturevalue("target"))
    work = request.getfixturevalue("tmp_path")
    (work / "snippet.py").write_text(block.code)
    _run([str(venv / "bin" / "python"), "snippet.py"], work, env)


def _go(block: Block, request: pytest.FixtureRequest) -> None:
    work: Path = request.getfixturevalue("go_env")
    (work / "main.go").write_text(block.code)
    env = _env(BOTFLOW_TARGET=request.getfixturevalue("target"))
    output = _run(["go", "run", "."], work, env).stdout
    assert "ACTION_OUTCOME_SUCCEEDED" in output
    assert "FLOW_STATUS_COMPLETED" in output


def _js(block: Block, request: pytest.FixtureRequest) -> None:
    """Runs from the repository root (it reads examples/flows/); prints what
    the README's text block after it shows."""
    app: Path = request.getfixturevalue("node_env")
    (app / "main.js").write_text(block.code)
    output = _run(["node", str(app / "main.js"), request.getfixturevalue("target")], ROOT).stdout
    expected = FENCE.search(block.after)
    assert expected, "the js example is followed by its output"
    assert expected[1] == "text", "the js example is followed by its output"
    assert output == expected[2]


RULES: list[tuple[Callable[[Block], bool], Callable[[Block, pytest.FixtureRequest], None]]] = [
    (lambda b: b.lang == "sh" and b.code.startswith("make demo"), _make),
    (lambda b: b.lang == "sh" and "pip install botflow-client" in b.code, _pip),
    (lambda b: b.lang == "sh" and "npm install @botflow/client" in b.code, _npm),
    (lambda b: b.lang == "sh" and "go get " in b.code, _go_get),
    (lambda b: b.lang == "sh" and b.code.startswith("botflow-run-flow "), _run_flow),
    (lambda b: b.lang == "sh" and b.code.startswith("npx buf curl"), _buf_curl),
    (lambda b: b.lang == "sh" and "botflow serve" in b.code, _serve),
    (lambda b: b.lang == "python", _python),
    (lambda b: b.lang == "go", _go),
    (lambda b: b.lang == "js", _js),
]


def test_readme_has_blocks() -> None:
    assert {b.lang for b in BLOCKS} >= {"python", "go", "js", "sh"}


@pytest.mark.packaging
@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}-{b.lang}" for b in BLOCKS])
def test_readme_block_runs(block: Block, request: pytest.FixtureRequest) -> None:
    rules = [run for matches, run in RULES if matches(block)]
    assert len(rules) == 1, f"README.md:{block.line}: no single way to run this {block.lang} block"
    rules[0](block, request)
