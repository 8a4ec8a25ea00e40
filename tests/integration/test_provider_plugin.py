"""The plug-in story end to end: examples/provider-plugin, its own package
with an entry point, installed into a throwaway virtual environment on top of
the server's, served by `botflow serve --providers shout,fake` there, and
called through gRPC."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from botflow.v1.actions_pb2 import (
    Action,
    ActionOutcome,
    ErrorKind,
    HistoryMode,
    OpenAIAction,
)
from botflow.v1.conversation_pb2 import Conversation, Direction, Message
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, ExecuteActionResponse
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.support.botflow_process import LISTENING, STOP_SECONDS

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "provider-plugin"
# Only turns a hung install into a failure; nothing is measured.
INSTALL_SECONDS = 120
PRINT_SITE = "import sysconfig; print(sysconfig.get_path('purelib'))"
REFUSED = "BadRequest: the shout provider was told to refuse"


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _plugin_venv(tmp: Path) -> Path:
    """A venv that sees the server's packages (through a .pth that runs
    site.addsitedir, so their own .pth files, editable installs included,
    apply) and has the plug-in installed; the server's venv is not touched."""
    venv = tmp / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=INSTALL_SECONDS,
    )
    site_dir = Path(
        subprocess.run(
            [
                str(_venv_python(venv)),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    server_site = sysconfig.get_path("purelib")
    (site_dir / "botflow_server_venv.pth").write_text(
        f"import site; site.addsitedir({server_site!r})\n"
    )
    source = tmp / "provider-plugin"
    shutil.copytree(PLUGIN, source)  # builds write next to the sources
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(_venv_python(venv)),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
        ],
        check=True,
        timeout=INSTALL_SECONDS,
    )
    return venv


@pytest.fixture(scope="module")
def plugin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    venv = _plugin_venv(tmp_path_factory.mktemp("plugin"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTFLOW_")}
    env |= {
        "BOTFLOW_LOG_LEVEL": "WARNING",
        "BOTFLOW_SHUTDOWN_DELAY_SECONDS": "0",
        "BOTFLOW_PROVIDER_SHOUT_PREFIX": ">> ",
    }
    args = [str(_venv_python(venv)), "-m", "botflow.server.cli", "serve"]
    args += ["--host", "127.0.0.1", "--port", "0", "--providers", "shout,fake"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            match = LISTENING.match(line)
            assert match, f"botflow did not start: first line {line!r}"
            yield match[1]
        finally:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()


def _execute(target: str, **fields: object) -> ExecuteActionResponse:
    action = OpenAIAction(
        token="unused-by-shout",
        prompt="Repeat after me.",
        history=HistoryMode.HISTORY_MODE_ALL_CONVERSATION,
        provider="shout",
        answer_variable="answer",
        **fields,  # type: ignore[arg-type]
    )
    conversation = Conversation(
        messages=[Message(direction=Direction.DIRECTION_RECEIVED, text="where is my parcel")]
    )
    request = ExecuteActionRequest(action=Action(openai=action), conversation=conversation)
    with grpc.insecure_channel(target) as channel:
        response: ExecuteActionResponse = FlowServiceStub(channel).ExecuteAction(
            request, timeout=30
        )
    return response


def test_plugin_answers_through_grpc_with_its_settings_and_model(plugin_server: str) -> None:
    result = _execute(plugin_server).result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
    assert result.answer == ">> WHERE IS MY PARCEL"
    assert result.model == "shout-1"  # the plug-in's declared default model
    assert result.finish_reason == "stop"


def test_plugin_validates_its_own_options(plugin_server: str) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _execute(plugin_server, provider_options={"style": "whisper"})
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ('action.openai.provider_options["style"]', "must be upper or lower")
    ]


@pytest.mark.parametrize(
    ("fail", "kind", "text"),
    [
        (
            "refuse",
            ErrorKind.ERROR_KIND_BAD_REQUEST,
            "BadRequest: the shout provider was told to refuse",
        ),
        ("odd", ErrorKind.ERROR_KIND_PROVIDER_ERROR, "ProviderError: something new went wrong"),
    ],
)
def test_plugin_errors_become_known_kinds(
    plugin_server: str, fail: str, kind: ErrorKind.ValueType, text: str
) -> None:
    result = _execute(plugin_server, provider_options={"fail": fail}).result
    assert result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    assert result.error_kind == kind
    assert result.error == text
