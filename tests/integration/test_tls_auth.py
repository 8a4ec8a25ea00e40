"""TLS, mutual TLS and the shared caller token, through the Python client."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc

from botflow.client import BotflowClient
from botflow.server.app import RunningServer, serving
from botflow.v1.actions_pb2 import ActionOutcome
from botflow.v1.flow_pb2 import Block, Flow, SendMessageBlock
from botflow.v1.flow_service_pb2 import RunFlowRequest
from tests.integration.conftest import TEST_CONFIG
from tests.integration.helpers import openai_request

TOKEN = "caller-s3cret-token"


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    cert: Path
    key: Path
    ca_file: Path
    client: tuple[bytes, bytes]  # (key, chain) for mutual TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("backend.example")
    cert, key, ca_file = folder / "server.pem", folder / "server.key", folder / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    client_chain = b"".join(blob.bytes() for blob in client.cert_chain_pems)
    return Pki(
        ca.cert_pem.bytes(), cert, key, ca_file, (client.private_key_pem.bytes(), client_chain)
    )


async def _ok(client: BotflowClient) -> None:
    response = await client.execute_action(openai_request(), timeout=10)
    assert response.result.outcome == ActionOutcome.ACTION_OUTCOME_SUCCEEDED


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[RunningServer]:
    config = replace(TEST_CONFIG, tls_cert=str(pki.cert), tls_key=str(pki.key))
    async with serving(config) as running:
        yield running


async def test_tls_server_answers_a_verifying_client(tls_server: RunningServer, pki: Pki) -> None:
    async with BotflowClient(tls_server.target, root_certificates=pki.ca_pem) as client:
        await _ok(client)


async def test_tls_server_refuses_plaintext(tls_server: RunningServer) -> None:
    async with BotflowClient(tls_server.target) as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.execute_action(openai_request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_requires_a_client_certificate(pki: Pki) -> None:
    config = replace(
        TEST_CONFIG, tls_cert=str(pki.cert), tls_key=str(pki.key), tls_client_ca=str(pki.ca_file)
    )
    async with serving(config) as running:
        async with BotflowClient(
            running.target, root_certificates=pki.ca_pem, client_certificate=pki.client
        ) as client:
            await _ok(client)
        async with BotflowClient(running.target, root_certificates=pki.ca_pem) as anonymous:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await anonymous.execute_action(openai_request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.fixture
async def token_server() -> AsyncIterator[RunningServer]:
    async with serving(replace(TEST_CONFIG, auth_token=TOKEN)) as running:
        yield running


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x"])
async def test_calls_without_the_token_are_unauthenticated(
    token_server: RunningServer, token: str | None
) -> None:
    flow = Flow(blocks=[Block(id="a", send_message=SendMessageBlock(text="hi"))])
    async with BotflowClient(token_server.target, token=token) as client:
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await client.execute_action(openai_request(), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as stream:
            await client.run_flow_to_finish(RunFlowRequest(flow=flow), timeout=5)
    assert unary.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stream.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_token_opens_the_service_but_health_stays_open(
    token_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with BotflowClient(token_server.target, token=TOKEN) as client:
        await _ok(client)
    async with grpc.aio.insecure_channel(token_server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "server.pem"], "tls_cert and tls_key go together"),
        (["--tls-client-ca", "ca.pem"], "tls_client_ca (mutual TLS) needs tls_cert and tls_key"),
    ],
)
def test_serve_refuses_half_a_tls_configuration(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botflow.server.cli", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
