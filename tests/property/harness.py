"""One real botflow server (plus the hostile upstreams) for the whole property
session, and the invariant every call must keep.

The server runs on its own event loop in a background thread and the tests call
it with the blocking gRPC client. Two reasons: a server bug that blocks its
event loop (a CPU-bound decode, a deep recursion) still ends the call at the
client's deadline, as DEADLINE_EXCEEDED, instead of freezing the test; and the
loop can refuse DNS for every name but "localhost", so no generated URL, however
it came to be, makes the machine ask the network about another host.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import re
import socket
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import httpcore2
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from botflow.providers import egress
from botflow.server.app import RunningServer, serving
from botflow.server.config import Limits
from botflow.v1.actions_pb2 import ActionOutcome, ActionResult, ErrorKind
from botflow.v1.events_pb2 import FlowStatus
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)
from botflow.v1.flow_service_pb2_grpc import FlowServiceStub
from tests.conftest import LoopbackOnlyBackend
from tests.integration.conftest import TEST_CONFIG
from tests.property.hostile import HostileOpenAI, HostileWebhook

T = TypeVar("T")
M = TypeVar("M", bound=Message)
SERVICE = "botflow.v1.FlowService"

# Long enough for a run that legitimately waits (timeouts, retries, backoff;
# about 5 s at most under generated settings) on a busy 2-core CI machine,
# with room to spare; a hang still ends here as DEADLINE_EXCEEDED.
CALL_DEADLINE_SECONDS = 20.0
ALLOWED_CODES = frozenset(
    {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
# Every limit tiny, so that requests and runs of a few blocks cross them: the
# paths that enforce limits are where "over a limit" must not become a crash.
TIGHT_LIMITS: dict[str, int] = {
    "max_timeout_ms": 400,
    "max_attempts": 2,
    "max_history_messages": 3,
    "max_steps": 7,
    "max_conversation_messages": 4,
    "max_variables": 6,
    "max_blocks": 5,
    "max_text_bytes": 200,
    "max_message_bytes": 64 * 1024,
    "max_response_bytes": 256,
    "max_concurrent_calls": 2,
    "max_run_bytes": 16 * 1024,
    "max_json_depth": 3,
    "max_url_bytes": 64,
}
# grpc's own text when a server's response is over its send limit.
SEND_LIMIT_TEXT = "Sent message larger than max"
# The barrier's log line: a bug caught and turned into a failed block.
BARRIER_LOGGER = "botflow.barrier"


class LocalOnlyLoop(asyncio.SelectorEventLoop):
    """Resolves IP literals and "localhost" only; any other name fails as if
    DNS had no answer (a connection failure to botflow, never a lookup)."""

    async def getaddrinfo(
        self, host: bytes | str | None, port: bytes | str | int | None, **kwargs: Any
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None:
            bare = name.strip("[]").rstrip(".").lower()
            if bare not in ("localhost", "localhost.") and not _is_ip_literal(bare):
                raise socket.gaierror(socket.EAI_NONAME, "property tests resolve no names")
        return await super().getaddrinfo(host, port, **kwargs)


def _is_ip_literal(name: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name.split("%")[0])
    except (OSError, ValueError):
        return False
    return True


class ServerLog(logging.Handler):
    """Every WARNING+ record (and every record with an exception) while a call runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._lock_records = threading.Lock()
        self._records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            with self._lock_records:
                self._records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock_records:
            taken, self._records = self._records, []
        return taken


def describe(record: logging.LogRecord) -> str:
    extras = {
        k: v
        for k, v in vars(record).items()
        if k in ("error_type", "block_kind", "method", "code", "request_id")
    }
    text = f"{record.levelname} {record.name}: {record.getMessage()} {extras}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


@dataclass
class Call:
    """How one call ended, as the client saw it."""

    rpc: str
    code: grpc.StatusCode
    details: str
    responses: list[Message]
    violations: list[tuple[str, str]]
    error_bytes: bytes
    server_log: list[logging.LogRecord] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.rpc} -> {self.code.name}: {self.details[:500]}"]
        lines += [describe(r) for r in self.server_log]
        return "\n".join(lines)


def _decoded(cls: type[M], data: bytes) -> M:
    try:
        return cls.FromString(data)
    except Exception as error:
        raise broken("undecodable_response", f"{cls.__name__}: {error!r}") from error


class InvariantError(AssertionError):
    """Base of the per-cause failures (see `broken`)."""


_CAUSES: dict[str, type[InvariantError]] = {}


def broken(cause: str, message: str) -> InvariantError:
    """An InvariantError of a class named after `cause`: hypothesis tells bugs
    apart by exception class, so each cause is reported (and shrunk) on its own."""
    cls = _CAUSES.get(cause)
    if cls is None:
        safe = "".join(c if c.isalnum() else "_" for c in cause)[:80]
        cls = type(f"Broken_{safe}", (InvariantError,), {})
        _CAUSES[cause] = cls
    return cls(message)


class Harness:
    """The session's server, upstreams and client channel."""

    def __init__(self, strict_barrier: bool, limits: Mapping[str, int] | None = None) -> None:
        self.strict_barrier = strict_barrier
        self.limits = dict(limits or {})
        self.webhook = HostileWebhook()
        self.openai = HostileOpenAI()
        self.log = ServerLog()
        self._loop = LocalOnlyLoop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="botflow-property-server", daemon=True
        )
        self._stack = contextlib.AsyncExitStack()
        self._channel: grpc.Channel | None = None
        self._stub: FlowServiceStub | None = None
        self.server: RunningServer | None = None
        self.calls = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> RunningServer:
        await self._stack.enter_async_context(self.webhook)
        await self._stack.enter_async_context(self.openai)
        default_llm = f"http://127.0.0.1:{self.openai.port}/default/v1"
        config = dataclasses.replace(TEST_CONFIG, openai_base_url=default_llm)
        if self.limits:
            # Only the limits this server version has: the config is still growing.
            known = {f.name for f in dataclasses.fields(Limits)}
            chosen = {k: v for k, v in self.limits.items() if k in known}
            config = dataclasses.replace(config, limits=dataclasses.replace(Limits(), **chosen))
        return await self._stack.enter_async_context(serving(config))

    def start(self) -> None:
        self._thread.start()
        logging.getLogger().addHandler(self.log)
        self.server = self._run(self._start())
        # Unlimited: a response over the client's default 4 MiB would otherwise
        # fail on this side and look like a server error.
        self._channel = grpc.insecure_channel(
            self.server.target, options=[("grpc.max_receive_message_length", -1)]
        )
        self._stub = FlowServiceStub(self._channel)

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        with contextlib.suppress(Exception):
            self._run(self._stack.aclose(), timeout=60.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30.0)
        self._loop.close()
        logging.getLogger().removeHandler(self.log)

    @property
    def stub(self) -> FlowServiceStub:
        assert self._stub is not None, "the harness is not started"
        return self._stub

    # -- calls ----------------------------------------------------------------

    def call(
        self,
        request: ExecuteActionRequest | RunFlowRequest,
        timeout: float = CALL_DEADLINE_SECONDS,
    ) -> Call:
        """One call, with what the server logged while it ran."""
        self.log.take()
        made = self._invoke(request, timeout)
        made.server_log = self.log.take()
        return made

    def concurrently(self, requests: list[ExecuteActionRequest | RunFlowRequest]) -> list[Call]:
        """All calls at once; each gets the server log of all of them (the log
        cannot tell concurrent calls apart)."""
        self.log.take()
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            made = list(pool.map(self._invoke, requests))
        logged = self.log.take()
        for one in made:
            one.server_log = logged
        return made

    def _invoke(
        self,
        request: ExecuteActionRequest | RunFlowRequest,
        timeout: float = CALL_DEADLINE_SECONDS,
    ) -> Call:
        if isinstance(request, ExecuteActionRequest):
            try:
                response: ExecuteActionResponse = self.stub.ExecuteAction(request, timeout=timeout)
            except grpc.RpcError as error:
                return self._failed("ExecuteAction", error, [])
            return Call("ExecuteAction", grpc.StatusCode.OK, "", [response], [], b"")
        events: list[Message] = []
        try:
            for event in self.stub.RunFlow(request, timeout=timeout):
                events.append(event)
        except grpc.RpcError as error:
            return self._failed("RunFlow", error, events)
        return Call("RunFlow", grpc.StatusCode.OK, "", events, [], b"")

    def raw(self, rpc: str, data: bytes) -> Call:
        """Call `rpc` with `data` as the request bytes (no client-side encoding)."""
        assert self._channel is not None, "the harness is not started"
        self.log.take()
        method = f"/{SERVICE}/{rpc}"
        decoded: list[Message] = []
        try:
            # No serializers given: grpc passes the bytes through both ways.
            if rpc == "RunFlow":
                stream: grpc.UnaryStreamMultiCallable[bytes, bytes]
                stream = self._channel.unary_stream(method)
                for item in stream(data, timeout=CALL_DEADLINE_SECONDS):
                    decoded.append(_decoded(RunFlowResponse, item))
            else:
                unary: grpc.UnaryUnaryMultiCallable[bytes, bytes]
                unary = self._channel.unary_unary(method)
                answer = unary(data, timeout=CALL_DEADLINE_SECONDS)
                decoded.append(_decoded(ExecuteActionResponse, answer))
        except grpc.RpcError as error:
            made = self._failed(rpc, error, decoded)
        else:
            made = Call(rpc, grpc.StatusCode.OK, "", decoded, [], b"")
        made.server_log = self.log.take()
        return made

    def _failed(self, rpc: str, error: grpc.RpcError, responses: list[Message]) -> Call:
        call: Any = error  # the blocking client's errors are grpc.Call too
        code: grpc.StatusCode = call.code()
        details: str = call.details() or ""
        violations: list[tuple[str, str]] = []
        error_bytes = details.encode("utf-8", "surrogateescape")
        with contextlib.suppress(ValueError):
            status = rpc_status.from_call(call)
            if status is not None:
                error_bytes += status.SerializeToString()
                for detail in status.details:
                    bad_request = error_details_pb2.BadRequest()
                    if detail.Unpack(bad_request):
                        violations += [
                            (v.field, v.description) for v in bad_request.field_violations
                        ]
        return Call(rpc, code, details, responses, violations, error_bytes)


# -- the invariant ------------------------------------------------------------


def _check_result(result: ActionResult, where: str, call: Call) -> None:
    if result.outcome not in (
        ActionOutcome.ACTION_OUTCOME_SUCCEEDED,
        ActionOutcome.ACTION_OUTCOME_FAILED,
    ):
        raise broken("outcome_unspecified", f"{where}: outcome {result.outcome}\n{call.summary()}")
    failed = result.outcome == ActionOutcome.ACTION_OUTCOME_FAILED
    if failed and (not result.error or result.error_kind == ErrorKind.ERROR_KIND_UNSPECIFIED):
        raise broken("failure_without_kind", f"{where}: {result}\n{call.summary()}")


def _check_events(call: Call) -> None:
    events = [e for e in call.responses if isinstance(e, RunFlowResponse)]
    sequences = [e.sequence for e in events]
    if sequences != list(range(1, len(events) + 1)):
        raise broken("sequence", f"sequences {sequences[:50]}\n{call.summary()}")
    for event in events:
        if event.WhichOneof("event") is None:
            raise broken("event_without_kind", f"{event}\n{call.summary()}")
        if event.HasField("action_finished"):
            _check_result(event.action_finished.result, f"event {event.sequence}", call)
    if call.code != grpc.StatusCode.OK:
        return
    finished = [e for e in events if e.HasField("finished")]
    if not events or not events[-1].HasField("finished") or len(finished) != 1:
        kinds = [e.WhichOneof("event") for e in events]
        raise broken("finished_not_last_once", f"events {kinds[-20:]}\n{call.summary()}")
    if events[-1].finished.status == FlowStatus.FLOW_STATUS_UNSPECIFIED:
        raise broken("finished_status_unspecified", call.summary())


_UNEXPECTED = re.compile(r"failed unexpectedly \((\w+)\)")


def _unexpected_in(responses: list[Message]) -> Iterator[str]:
    """Exception classes that barriers turned into failures or warnings."""
    texts: list[str] = []
    for response in responses:
        if isinstance(response, ExecuteActionResponse):
            texts.append(response.result.error)
            texts += [w.message for w in response.warnings]
        elif isinstance(response, RunFlowResponse):
            texts.append(response.action_finished.result.error)
            texts.append(response.warning.warning.message)
    for text in texts:
        yield from _UNEXPECTED.findall(text)


def check_invariant(call: Call, *, secret: str | None = None, strict_barrier: bool = False) -> None:
    """The product rule: OK, INVALID_ARGUMENT with violations, or RESOURCE_EXHAUSTED;
    a finished stream ends with exactly one `finished`; nothing leaks `secret`."""
    if STRAY_CONNECTIONS:
        strays = ", ".join(STRAY_CONNECTIONS)
        STRAY_CONNECTIONS.clear()
        raise broken("stray_connection", f"connected outside loopback: {strays}\n{call.summary()}")
    if call.code not in ALLOWED_CODES:
        error_types = sorted(
            {str(getattr(r, "error_type", "")) for r in call.server_log} - {""}
        ) or ["?"]
        raise broken(f"{call.code.name}_{'_'.join(error_types)}", call.summary())
    if call.code == grpc.StatusCode.RESOURCE_EXHAUSTED and SEND_LIMIT_TEXT in call.details:
        # Not the request over a limit: a response botflow built and then could
        # not send, so the caller never learns how the call ended.
        raise broken("response_over_send_limit", call.summary())
    if call.code == grpc.StatusCode.INVALID_ARGUMENT:
        if not call.violations:
            raise broken("invalid_argument_without_violations", call.summary())
        if call.responses:
            raise broken("invalid_argument_after_events", call.summary())
    for response in call.responses:
        data = response.SerializeToString()
        again = type(response).FromString(data)
        if again != response:
            raise broken("reserialize", f"{response}\n{call.summary()}")
        if secret is not None and secret.encode() in data:
            raise broken("secret_leak", f"the token came back in {response}\n{call.summary()}")
    if secret is not None and secret.encode() in call.error_bytes:
        raise broken("secret_leak_in_status", call.summary())
    if call.rpc == "ExecuteAction" and call.code == grpc.StatusCode.OK:
        response = call.responses[0]
        assert isinstance(response, ExecuteActionResponse)
        _check_result(response.result, "ExecuteAction", call)
    if call.rpc == "RunFlow":
        _check_events(call)
    if strict_barrier:
        caught = sorted(
            {
                str(getattr(r, "error_type", "?"))
                for r in call.server_log
                if r.name == BARRIER_LOGGER
            }
            | set(_unexpected_in(call.responses))
        )
        if caught:
            raise broken(f"barrier_{'_'.join(caught)}", call.summary())


# Connections the guard refused: inside the server the guard's AssertionError
# may be caught (and turned into a failed block), so it is also recorded here.
STRAY_CONNECTIONS: list[str] = []


class RecordingLoopbackBackend(LoopbackOnlyBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            return await super().connect_tcp(host, port, timeout, local_address, socket_options)
        except AssertionError:
            STRAY_CONNECTIONS.append(f"{host}:{port}")
            raise


@contextlib.contextmanager
def guarded_backend() -> Iterator[None]:
    """The suite's loopback-only network guard, for the session's server.

    tests/conftest.py installs it per test, but the server's HTTP pools capture
    their network backend when they are built, once, at session start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(egress, "default_inner_backend", RecordingLoopbackBackend)
        yield
