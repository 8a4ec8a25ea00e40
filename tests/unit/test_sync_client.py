"""SyncBotflowClient against grpc_testing's channel: the test plays the server.

A blocking call runs in a worker thread while the test takes the RPC from the
channel, inspects what was sent and answers it. Thread joins carry a timeout
only so that a broken client fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import grpc
import grpc_testing
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from botflow.client import (
    DEFAULT_TIMEOUT,
    InvalidRequestError,
    SyncBotflowClient,
    field_violations,
    request_id,
)
from botflow.v1 import flow_service_pb2
from botflow.v1.actions_pb2 import Action, ActionResult, SetVariableAction
from botflow.v1.events_pb2 import FlowFinished, FlowStatus, MessageSent
from botflow.v1.flow_pb2 import Flow
from botflow.v1.flow_service_pb2 import (
    ExecuteActionRequest,
    ExecuteActionResponse,
    RunFlowRequest,
    RunFlowResponse,
)

SERVICE = flow_service_pb2.DESCRIPTOR.services_by_name["FlowService"]
EXECUTE = SERVICE.methods_by_name["ExecuteAction"]
RUN_FLOW = SERVICE.methods_by_name["RunFlow"]
# Long enough for any machine; reached only when the client is broken.
HANG_GUARD_SECONDS = 10
REQUEST_ID = "rid-42"
T = TypeVar("T")


class DeadlineRecordingChannel(grpc.Channel):
    """grpc_testing's channel does not keep a call's timeout; this one
    records it (per call, in order) and delegates everything else."""

    def __init__(self, inner: grpc.Channel) -> None:
        self.inner = inner
        self.timeouts: list[float | None] = []

    def _recording(self, multicallable: Any) -> Callable[..., Any]:
        def call(request: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            self.timeouts.append(timeout)
            return multicallable(request, timeout=timeout, **kwargs)

        return call

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._recording(self.inner.unary_unary(*args, **kwargs))

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._recording(self.inner.unary_stream(*args, **kwargs))

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def subscribe(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def unsubscribe(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> DeadlineRecordingChannel:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


@pytest.fixture
def server_side() -> Any:
    return grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())


@pytest.fixture
def channel(server_side: Any) -> DeadlineRecordingChannel:
    return DeadlineRecordingChannel(server_side)


@pytest.fixture
def client(channel: DeadlineRecordingChannel) -> SyncBotflowClient:
    return SyncBotflowClient.from_channel(channel, token="s3cret")


class DaemonWorker:
    """Runs a call in a daemon thread: a client that never returns fails its
    test at the hang guard, and cannot keep the test run from exiting."""

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as error:
                future.set_exception(error)

        threading.Thread(target=run, daemon=True).start()
        return future


@pytest.fixture
def worker() -> DaemonWorker:
    return DaemonWorker()


def _result(future: Future[T]) -> T:
    return future.result(timeout=HANG_GUARD_SECONDS)


def _error(future: Future[Any]) -> BaseException:
    error = future.exception(timeout=HANG_GUARD_SECONDS)
    assert error is not None, "the call succeeded"
    return error


def _bad_request_trailer(
    message: str, violations: dict[str, str], code: int = code_pb2.INVALID_ARGUMENT
) -> tuple[tuple[str, bytes], ...]:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in violations.items()
            ]
        )
    )
    status = status_pb2.Status(code=code, message=message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _action() -> ExecuteActionRequest:
    return ExecuteActionRequest(action=Action(set_variable=SetVariableAction(variable="x")))


def _answer_action(
    server_side: Any,
    *,
    code: grpc.StatusCode = grpc.StatusCode.OK,
    details: str = "",
    trailing: Sequence[tuple[str, Any]] = (),
    response: ExecuteActionResponse | None = None,
) -> tuple[Any, ExecuteActionRequest]:
    metadata, request, rpc = server_side.take_unary_unary(EXECUTE)
    rpc.send_initial_metadata((("x-request-id", REQUEST_ID),))
    rpc.terminate(response or ExecuteActionResponse(), tuple(trailing), code, details)
    return metadata, request


def test_execute_action_sends_request_token_metadata_and_deadline(
    client: SyncBotflowClient,
    server_side: Any,
    channel: DeadlineRecordingChannel,
    worker: DaemonWorker,
) -> None:
    answer = ExecuteActionResponse(result=ActionResult(answer="hi"))
    future = worker.submit(
        client.execute_action, _action(), timeout=7.5, metadata=(("x-request-id", "mine"),)
    )
    metadata, request = _answer_action(server_side, response=answer)
    assert _result(future) == answer
    assert request == _action()
    assert ("authorization", "Bearer s3cret") in metadata
    assert ("x-request-id", "mine") in metadata
    assert channel.timeouts == [7.5]


def test_every_call_has_a_deadline_by_default(
    client: SyncBotflowClient,
    server_side: Any,
    channel: DeadlineRecordingChannel,
    worker: DaemonWorker,
) -> None:
    future = worker.submit(client.execute_action, _action())
    _answer_action(server_side)
    _result(future)
    events = client.run_flow(RunFlowRequest(flow=Flow()))
    server_side.take_unary_stream(RUN_FLOW)[2].terminate((), grpc.StatusCode.OK, "")
    assert list(events) == []
    assert channel.timeouts == [DEFAULT_TIMEOUT, DEFAULT_TIMEOUT]


def test_no_token_no_authorization(server_side: Any, worker: DaemonWorker) -> None:
    client = SyncBotflowClient.from_channel(server_side)
    future = worker.submit(client.execute_action, _action())
    metadata, _ = _answer_action(server_side)
    _result(future)
    assert all(key != "authorization" for key, _ in metadata)


def test_invalid_argument_is_invalid_request_error_keeping_the_rpc_error(
    client: SyncBotflowClient, server_side: Any, worker: DaemonWorker
) -> None:
    violations = {"action.openai.history": "must be set", "variables": "too many"}
    trailer = _bad_request_trailer("2 problems", violations)
    future = worker.submit(client.execute_action, _action())
    _answer_action(
        server_side, code=grpc.StatusCode.INVALID_ARGUMENT, details="2 problems", trailing=trailer
    )
    error = _error(future)
    assert isinstance(error, InvalidRequestError)
    assert error.field_violations == violations
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == str(error) == "2 problems"
    assert error.request_id == request_id(error) == REQUEST_ID
    assert isinstance(error.__cause__, grpc.RpcError)
    assert error.rpc_error is error.__cause__
    assert error.__cause__.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("x-request-id", REQUEST_ID) in error.initial_metadata()
    assert trailer[0] in error.trailing_metadata()
    assert field_violations(error) == violations


def test_invalid_argument_without_details_has_no_violations(
    client: SyncBotflowClient, server_side: Any, worker: DaemonWorker
) -> None:
    future = worker.submit(client.execute_action, _action())
    _answer_action(server_side, code=grpc.StatusCode.INVALID_ARGUMENT, details="")
    error = _error(future)
    assert isinstance(error, InvalidRequestError)
    assert error.field_violations == {}
    assert str(error) == "invalid request"


def test_a_status_trailer_contradicting_the_call_is_ignored_not_raised(
    client: SyncBotflowClient, server_side: Any, worker: DaemonWorker
) -> None:
    trailer = _bad_request_trailer("other", {"flow": "x"}, code=code_pb2.NOT_FOUND)
    future = worker.submit(client.execute_action, _action())
    _answer_action(
        server_side, code=grpc.StatusCode.INVALID_ARGUMENT, details="bad", trailing=trailer
    )
    error = _error(future)
    assert isinstance(error, InvalidRequestError)
    assert error.field_violations == {}


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.FAILED_PRECONDITION,
    ],
)
def test_other_failures_are_the_rpc_error_itself(
    client: SyncBotflowClient, server_side: Any, worker: DaemonWorker, code: grpc.StatusCode
) -> None:
    future = worker.submit(client.execute_action, _action())
    _answer_action(server_side, code=code, details="went wrong")
    error = _error(future)
    assert isinstance(error, grpc.RpcError)
    assert not isinstance(error, InvalidRequestError)
    assert error.code() == code
    assert error.details() == "went wrong"
    assert request_id(error) == REQUEST_ID


def _event(sequence: int, text: str) -> RunFlowResponse:
    return RunFlowResponse(sequence=sequence, message_sent=MessageSent(text=text))


FINISHED = RunFlowResponse(
    sequence=3, finished=FlowFinished(status=FlowStatus.FLOW_STATUS_COMPLETED)
)


def test_run_flow_streams_events_in_order(
    client: SyncBotflowClient, server_side: Any, channel: DeadlineRecordingChannel
) -> None:
    request = RunFlowRequest(flow=Flow(start_block_id="a"))
    events = client.run_flow(request, timeout=12, metadata=(("x-trace", "t"),))
    metadata, sent, rpc = server_side.take_unary_stream(RUN_FLOW)
    assert sent == request
    assert ("authorization", "Bearer s3cret") in metadata
    assert ("x-trace", "t") in metadata
    assert channel.timeouts == [12]
    rpc.send_initial_metadata((("x-request-id", REQUEST_ID),))
    rpc.send_response(_event(1, "one"))
    assert next(events) == _event(1, "one")
    assert events.request_id == REQUEST_ID
    rpc.send_response(_event(2, "two"))
    rpc.send_response(FINISHED)
    rpc.terminate((), grpc.StatusCode.OK, "")
    assert list(events) == [_event(2, "two"), FINISHED]


def test_run_flow_to_finish_collects_every_event(
    client: SyncBotflowClient, server_side: Any, worker: DaemonWorker
) -> None:
    future = worker.submit(client.run_flow_to_finish, RunFlowRequest(flow=Flow()))
    rpc = server_side.take_unary_stream(RUN_FLOW)[2]
    for event in (_event(1, "one"), _event(2, "two"), FINISHED):
        rpc.send_response(event)
    rpc.terminate((), grpc.StatusCode.OK, "")
    assert _result(future) == [_event(1, "one"), _event(2, "two"), FINISHED]


def test_run_flow_refused_is_invalid_request_error(
    client: SyncBotflowClient, server_side: Any
) -> None:
    events = client.run_flow(RunFlowRequest())
    rpc = server_side.take_unary_stream(RUN_FLOW)[2]
    trailer = _bad_request_trailer("no flow", {"flow": "is required"})
    rpc.terminate(trailer, grpc.StatusCode.INVALID_ARGUMENT, "no flow")
    with pytest.raises(InvalidRequestError) as caught:
        next(events)
    assert caught.value.field_violations == {"flow": "is required"}
    assert isinstance(caught.value.__cause__, grpc.RpcError)


def test_run_flow_failing_mid_stream_raises_the_rpc_error(
    client: SyncBotflowClient, server_side: Any
) -> None:
    events = client.run_flow(RunFlowRequest(flow=Flow()))
    rpc = server_side.take_unary_stream(RUN_FLOW)[2]
    rpc.send_response(_event(1, "one"))
    assert next(events) == _event(1, "one")
    rpc.terminate((), grpc.StatusCode.UNAVAILABLE, "gone")
    with pytest.raises(grpc.RpcError) as caught:
        next(events)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not isinstance(caught.value, InvalidRequestError)


def _cancelled_on_the_server(rpc: Any) -> bool:
    waiter = threading.Thread(target=rpc.cancelled, daemon=True)
    waiter.start()
    waiter.join(HANG_GUARD_SECONDS)
    return not waiter.is_alive()


def test_cancel_from_another_thread_ends_the_iteration_quietly(
    client: SyncBotflowClient, server_side: Any, worker: DaemonWorker
) -> None:
    events = client.run_flow(RunFlowRequest(flow=Flow()))
    rpc = server_side.take_unary_stream(RUN_FLOW)[2]
    rpc.send_response(_event(1, "one"))
    assert next(events) == _event(1, "one")
    # The consumer blocks waiting for the next event; another thread gives up.
    rest: Future[list[RunFlowResponse]] = worker.submit(list, events)
    events.cancel()
    assert _cancelled_on_the_server(rpc)
    assert _result(rest) == []


def test_leaving_the_with_block_cancels_the_run(
    client: SyncBotflowClient, server_side: Any
) -> None:
    with client.run_flow(RunFlowRequest(flow=Flow())) as events:
        rpc = server_side.take_unary_stream(RUN_FLOW)[2]
        rpc.send_response(_event(1, "one"))
        for _ in events:
            break
    assert _cancelled_on_the_server(rpc)


def test_a_cancel_by_the_server_is_still_an_error(
    client: SyncBotflowClient, server_side: Any
) -> None:
    events = client.run_flow(RunFlowRequest(flow=Flow()))
    rpc = server_side.take_unary_stream(RUN_FLOW)[2]
    rpc.terminate((), grpc.StatusCode.CANCELLED, "server went away")
    with pytest.raises(grpc.RpcError) as caught:
        next(events)
    assert caught.value.code() == grpc.StatusCode.CANCELLED


def test_from_channel_leaves_the_channel_open(server_side: Any) -> None:
    closed: list[bool] = []

    class Tracked(DeadlineRecordingChannel):
        def close(self) -> None:
            closed.append(True)

    with SyncBotflowClient.from_channel(Tracked(server_side)):
        pass
    assert closed == []


class _ChannelFactory:
    """Stands in for grpc.insecure_channel / grpc.secure_channel."""

    def __init__(self, server_side: Any) -> None:
        self.server_side = server_side
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.server_side


def test_plaintext_channel_gets_target_and_options(
    monkeypatch: pytest.MonkeyPatch, server_side: Any
) -> None:
    factory = _ChannelFactory(server_side)
    monkeypatch.setattr(grpc, "insecure_channel", factory)
    options = [("grpc.max_receive_message_length", 1 << 20)]
    SyncBotflowClient("127.0.0.1:9", options=options).close()
    assert factory.calls == [("127.0.0.1:9", options)]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"tls": True}, (None, None, None)),
        ({"root_certificates": b"CA"}, (b"CA", None, None)),
        (
            {"root_certificates": b"CA", "client_certificate": (b"KEY", b"CHAIN")},
            (b"CA", b"KEY", b"CHAIN"),
        ),
    ],
)
def test_tls_and_mutual_tls_credentials(
    monkeypatch: pytest.MonkeyPatch,
    server_side: Any,
    kwargs: dict[str, Any],
    expected: tuple[bytes | None, ...],
) -> None:
    made: list[tuple[bytes | None, ...]] = []

    def ssl_channel_credentials(*pems: bytes | None) -> str:
        made.append(pems)
        return "creds"

    monkeypatch.setattr(grpc, "ssl_channel_credentials", ssl_channel_credentials)
    factory = _ChannelFactory(server_side)
    monkeypatch.setattr(grpc, "secure_channel", factory)
    SyncBotflowClient("h:1", options=[("o", 1)], **kwargs).close()
    assert made == [expected]
    assert factory.calls == [("h:1", "creds", [("o", 1)])]


def test_own_credentials_win(monkeypatch: pytest.MonkeyPatch, server_side: Any) -> None:
    factory = _ChannelFactory(server_side)
    monkeypatch.setattr(grpc, "secure_channel", factory)
    mine = grpc.local_channel_credentials()
    SyncBotflowClient("h:1", tls=True, root_certificates=b"CA", credentials=mine).close()
    assert factory.calls == [("h:1", mine, ())]
