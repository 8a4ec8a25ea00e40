"""What the async and sync clients share about reaching a server: the
channel's credentials, and the metadata every call carries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc

# Seconds a call may take unless the caller passes another timeout.
DEFAULT_TIMEOUT = 60.0

Metadata = Sequence[tuple[str, str]]
# grpc channel arguments, e.g. [("grpc.max_receive_message_length", 8 << 20)].
ChannelOptions = Sequence[tuple[str, object]]


def channel_credentials(
    *,
    tls: bool,
    root_certificates: bytes | None,
    client_certificate: tuple[bytes, bytes] | None,
    credentials: grpc.ChannelCredentials | None,
) -> grpc.ChannelCredentials | None:
    """The credentials to connect with; None means plaintext."""
    if credentials is not None or not (tls or root_certificates or client_certificate):
        return credentials
    key, chain = client_certificate or (None, None)
    return grpc.ssl_channel_credentials(root_certificates, key, chain)


Channel = TypeVar("Channel")


def open_channel(
    target: str,
    options: ChannelOptions,
    credentials: grpc.ChannelCredentials | None,
    insecure: Callable[[str, ChannelOptions], Channel],
    secure: Callable[[str, grpc.ChannelCredentials, ChannelOptions], Channel],
) -> Channel:
    """A channel to `target`, plaintext when `credentials` is None; `insecure`
    and `secure` are grpc's (or grpc.aio's) channel functions."""
    if credentials is None:
        return insecure(target, options)
    return secure(target, credentials, options)


def token_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def call_metadata(base: Metadata, extra: Metadata) -> tuple[tuple[str, str], ...]:
    return (*base, *extra)
