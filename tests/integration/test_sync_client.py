"""Both Python clients against a real server: the sync client (the server is a
`botflow serve` subprocess, as a sync caller has no event loop to run one
in), the contract's invalid-request vectors through it, the Django-style
example, and the RPC error both clients keep."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
import trustme
from google.protobuf import json_format

from botflow.client import BotflowClient, InvalidRequestError, SyncBotflowClient, request_id
from botflow.server.app import RunningServer
from botflow.v1.actions_pb2 import ActionOutcome, HistoryMode, OpenAIAction
from botflow.v1.flow_pb2 import Block, Flow
from botflow.v1.flow_service_pb2 import ExecuteActionRequest, RunFlowRequest
from botflow.v1.variables_pb2 import Value
from tests.integration.flows import TOKEN, flow, send
from tests.integration.helpers import openai_request

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "contract" / "vectors"
INVALID = sorted(VECTORS.glob("invalid_*.json"))
BOTFLOW = Path(sys.executable).with_name("botflow")
# Generous: only a broken server start or stop reaches it.
PROCESS_TIMEOUT_SECONDS = 60


@contextlib.contextmanager
def botflow_serve(*args: str, **env: str) -> Iterator[str]:
    """`botflow serve` on a free loopback port; yields its address."""
    env = {**os.environ, "BOTFLOW_SHUTDOWN_DELAY_SECONDS": "0", "BOTFLOW_GRACE_SECONDS": "1", **env}
    command = [str(BOTFLOW), "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--providers", "fake,openai", "--log-level", "ERROR", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("botflow listening on "), line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(PROCESS_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """A plaintext server, as the contract vectors assume it."""
    with botflow_serve() as address:
        yield address


@pytest.fixture
def client(target: str) -> Iterator[SyncBotflowClient]:
    with SyncBotflowClient(target) as sync:
        yield sync


def test_execute_action(client: SyncBotflowClient) -> None:
    response = client.execute_action(openai_request(), timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED


def test_run_flow_streams_until_finished(client: SyncBotflowClient) -> None:
    events = client.run_flow_to_finish(RunFlowRequest(flow=GREETING), timeout=10)
    assert events[-1].WhichOneof("event") == "finished"
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))


GREETING = flow(send("hello", "Hi!", "bye"), send("bye", "Bye!"))


def _stalling_flow() -> Flow:
    """Says hello, then waits on the fake provider for longer than the call's
    deadline: the run can only end early by being cancelled."""
    stall = OpenAIAction(
        token=TOKEN,
        prompt="p",
        history=HistoryMode.HISTORY_MODE_PROMPT_ONLY,
        provider="fake",
        timeout_ms=120_000,
        provider_options={"latency_ms": "120000"},
    )
    return flow(send("hello", "Hi!", "think"), Block(id="think", openai=stall))


def test_cancel_ends_a_run_early(client: SyncBotflowClient) -> None:
    with client.run_flow(RunFlowRequest(flow=_stalling_flow()), timeout=60) as events:
        first = next(events)
        events.cancel()
        rest = list(events)
    assert first.message_sent.text == "Hi!"
    assert all(e.WhichOneof("event") != "finished" for e in rest)


def test_mutual_tls_and_token(tmp_path: Path) -> None:
    ca = trustme.CA()
    server, caller = ca.issue_cert("127.0.0.1"), ca.issue_cert("backend.example")
    cert, key, ca_file = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    chain = b"".join(blob.bytes() for blob in caller.cert_chain_pems)
    tls = ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-client-ca", str(ca_file)]
    with botflow_serve(*tls, BOTFLOW_AUTH_TOKEN="s3cret") as address:
        with SyncBotflowClient(
            address,
            root_certificates=ca.cert_pem.bytes(),
            client_certificate=(caller.private_key_pem.bytes(), chain),
            token="s3cret",
        ) as client:
            response = client.execute_action(openai_request(), timeout=10)
        assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED
        with (
            SyncBotflowClient(
                address,
                root_certificates=ca.cert_pem.bytes(),
                client_certificate=(caller.private_key_pem.bytes(), chain),
            ) as client,
            pytest.raises(grpc.RpcError) as caught,
        ):
            client.execute_action(openai_request(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_refused_request_keeps_the_rpc_error_and_request_id(client: SyncBotflowClient) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.execute_action(
            ExecuteActionRequest(), timeout=10, metadata=(("x-request-id", "sync-rid-1"),)
        )
    error = caught.value
    assert error.field_violations.keys() == {"action"}
    assert isinstance(error.__cause__, grpc.RpcError)
    assert error.__cause__.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == error.__cause__.details()
    assert error.request_id == "sync-rid-1"


def test_other_failures_are_the_rpc_error(client: SyncBotflowClient) -> None:
    request = RunFlowRequest(flow=GREETING)
    with pytest.raises(grpc.RpcError) as caught:
        client.run_flow_to_finish(request, timeout=1e-6)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert not isinstance(caught.value, InvalidRequestError)


def _call(client: SyncBotflowClient, vector: dict[str, Any]) -> object:
    if vector["rpc"] == "ExecuteAction":
        action = json_format.ParseDict(vector["request"], ExecuteActionRequest())
        return client.execute_action(action, timeout=30)
    run = json_format.ParseDict(vector["request"], RunFlowRequest())
    return client.run_flow_to_finish(run, timeout=30)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_request_vector(client: SyncBotflowClient, path: Path) -> None:
    vector = json.loads(path.read_text())
    expected = vector["expect"]["error"]
    assert expected["code"] == "INVALID_ARGUMENT"
    with pytest.raises(InvalidRequestError) as caught:
        _call(client, vector)
    assert sorted(caught.value.field_violations) == sorted(expected["fieldViolations"])


def test_there_are_invalid_vectors() -> None:
    assert len(INVALID) >= 10


@pytest.fixture
def sync_view(target: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """examples/sync_view.py, imported the way a web process would: after
    its settings (here the environment) are in place."""
    monkeypatch.setenv("BOTFLOW_TARGET", target)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = importlib.util.spec_from_file_location("sync_view", ROOT / "examples" / "sync_view.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        yield module
    finally:
        module.botflow.close()


def test_example_view_answers(sync_view: ModuleType) -> None:
    status, body = sync_view.suggest_reply({"shop": "Acme", "message": "Where is my order?"})
    assert (status, body) == (200, {"reply": "Where is my order?", "error": ""})


def test_example_view_refused_request_is_a_400(sync_view: ModuleType) -> None:
    status, body = sync_view.suggest_reply({"shop": "x" * 70_000, "message": "hi"})
    assert status == 400
    assert list(body["errors"]) == ['variables["shop"]']
    assert body["request_id"]


def _readme_sync_block() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if "SyncBotflowClient(TARGET)" in b]
    return block


def test_the_readme_sync_program_runs(target: str, tmp_path: Path) -> None:
    program = tmp_path / "readme_sync.py"
    program.write_text(_readme_sync_block())
    result = subprocess.run(
        [sys.executable, str(program)],
        env={**os.environ, "BOTFLOW_TARGET": target},
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["1 message_sent", "2 finished"]


async def test_async_client_keeps_the_rpc_error(server: RunningServer) -> None:
    async with BotflowClient(server.target) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.execute_action(
                ExecuteActionRequest(variables={"x": Value(text="1")}),
                timeout=10,
                metadata=(("x-request-id", "async-rid-1"),),
            )
    error = caught.value
    assert isinstance(error.__cause__, grpc.aio.AioRpcError)
    assert error.__cause__.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.request_id == request_id(error) == "async-rid-1"
    assert error.field_violations.keys() == {"action"}


async def test_async_client_other_failures_are_the_rpc_error(server: RunningServer) -> None:
    async with BotflowClient(server.target) as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.run_flow_to_finish(
                RunFlowRequest(flow=GREETING),
                timeout=1e-6,
                metadata=(("x-request-id", "async-rid-2"),),
            )
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
