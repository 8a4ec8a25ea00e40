"""botflow-client as a backend installs it: the built wheel in a clean venv.

The wheel is built from clients/python, installed into a fresh venv (its four
dependencies come from the package index), and that venv must not hold the
server's dependencies, must call a real server, must run `botflow-run-flow`,
and must let `mypy --strict` check a consumer through the shipped py.typed.
Also: one version everywhere (VERSION).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.botflow_process import botflow_server
from tools import sync_version

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "clients" / "python"
VENV_BIN = Path(sys.executable).parent
# The server's dependencies a client install must not drag in.
SERVER_ONLY = ["openai", "anthropic", "httpx2", "httpx", "tenacity", "prometheus_client"]

CONSUMER = """
import asyncio
import sys

from botflow.client import BotflowClient, InvalidRequestError
from botflow.v1.actions_pb2 import Action, HistoryMode, OpenAIAction
from botflow.v1.flow_service_pb2 import ExecuteActionRequest


async def main(target: str) -> str:
    request = ExecuteActionRequest(
        action=Action(
            openai=OpenAIAction(
                token="sk-test",
                prompt="Be brief.",
                history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
                provider="fake",
                answer_variable="answer",
                provider_options={"reply": "from a clean venv"},
            )
        )
    )
    async with BotflowClient(target) as client:
        try:
            response = await client.execute_action(request, timeout=30)
        except InvalidRequestError as error:
            return str(error.field_violations)
    answer: str = response.variables["answer"].text
    return answer


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
"""

FLOW = '{"startBlockId": "hi", "blocks": [{"id": "hi", "sendMessage": {"text": "Hello {{name}}"}}]}'


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the botflow-client wheel (and its dependencies)."""
    work = tmp_path_factory.mktemp("client-venv")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "wheel", CLIENT)
    [wheel] = (work / "wheel").glob("botflow_client-*.whl")
    _run(sys.executable, "-m", "venv", work / "venv")
    python = work / "venv" / "bin" / "python"
    # The same versions as .venv (constraints.txt); from the package index.
    _run(python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel)
    return work / "venv"


@pytest.mark.packaging
def test_client_venv_has_no_server_dependencies(client_venv: Path) -> None:
    python = client_venv / "bin" / "python"
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    assert _run(python, "-c", probe, *SERVER_ONLY).strip() == "[]"
    assert _run(python, "-c", probe, "grpc", "botflow.client", "botflow.v1").strip() == (
        "['grpc', 'botflow.client', 'botflow.v1']"
    )
    assert not (client_venv / "bin" / "botflow").exists(), "the server command was installed"


@pytest.mark.packaging
def test_client_venv_calls_a_server(client_venv: Path, tmp_path: Path) -> None:
    consumer = tmp_path / "consumer.py"
    consumer.write_text(CONSUMER)
    flow = tmp_path / "flow.json"
    flow.write_text(FLOW)
    with botflow_server() as target:
        answer = _run(client_venv / "bin" / "python", consumer, target, cwd=tmp_path)
        run_flow = client_venv / "bin" / "botflow-run-flow"
        events = _run(run_flow, flow, "--target", target, "--var", "name=Ada", cwd=tmp_path)
    assert answer.strip() == "from a clean venv"
    assert "bot says: Hello Ada" in events
    assert "finished: COMPLETED" in events


@pytest.mark.packaging
def test_consumer_type_checks_strictly(client_venv: Path, tmp_path: Path) -> None:
    """mypy (from .venv) checks the consumer against the clean venv's packages:
    the botflow types come from the wheel's py.typed; protobuf and grpc stubs
    are what any typed consumer installs next to them."""
    python = client_venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", "types-protobuf")
    consumer = tmp_path / "consumer.py"
    consumer.write_text(CONSUMER)
    mypy: list[str | Path] = [
        VENV_BIN / "mypy",
        "--strict",
        "--no-incremental",
        "--config-file",
        "",
    ]
    output = _run(*mypy, "--python-executable", python, consumer, cwd=tmp_path)
    assert "Success" in output
    broken = tmp_path / "broken.py"
    broken.write_text(CONSUMER.replace("answer: str = ", "answer: int = "))
    done = subprocess.run(
        [str(a) for a in [*mypy, "--python-executable", python, broken]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, "mypy accepted a wrong type: are the botflow types Any?"
    assert "Incompatible types in assignment" in done.stdout


def test_one_version_everywhere() -> None:
    version = sync_version.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert set(sync_version.node_versions().values()) == {version}, "run tools/sync_version.py"
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    client_dep = next(d for d in server["dependencies"] if d.startswith("botflow-client"))
    major, minor, _ = version.split(".")
    assert client_dep == f"botflow-client>={version},<{major}.{int(minor) + 1}", client_dep
    for project in (ROOT, CLIENT):
        meta = tomllib.loads((project / "pyproject.toml").read_text())
        assert meta["project"]["dynamic"] == ["version"]
        assert meta["tool"]["hatch"]["version"]["path"] == "VERSION"
    assert (CLIENT / "VERSION").resolve() == (ROOT / "VERSION").resolve()


def test_client_declares_only_grpc_dependencies() -> None:
    meta = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~ ]", d)[0] for d in meta["dependencies"]}
    assert names == {"grpcio", "grpcio-status", "protobuf", "googleapis-common-protos"}
    assert all(re.search(r">=[^,]+,<", d) for d in meta["dependencies"]), "ranges, not pins"
    for package in ("client", "v1"):
        assert (CLIENT / "botflow" / package / "py.typed").exists()
