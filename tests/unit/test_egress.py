"""The egress policy: address classes, allowlists, resolve-once
connections, and the httpx2 transport end to end against a loopback server.

No test here reaches beyond loopback: resolvers are fakes (the system resolver
is only asked about "localhost"), fake inner backends never open a socket, and
the suite-wide guard in tests/conftest.py stands behind the real transport.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpcore2
import httpx2
import pytest
from aiohttp import web

from botflow.providers.egress import (
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_RESPONSE_BYTES,
    HTTPX_POOL_ATTRIBUTE,
    EgressBlockedError,
    EgressNetworkBackend,
    EgressPolicy,
    EgressTransport,
    address_class,
    default_ssl_context,
    parse_allow_entries,
    system_resolver,
)
from botflow.providers.http_checks import cause
from tests.conftest import LoopbackOnlyBackend

# --- address_class -----------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        # IPv4
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # AWS / GCP / Azure metadata
        ("169.254.0.1", "link-local"),
        ("100.64.0.1", "reserved"),  # shared address space (CGNAT)
        ("100.100.100.200", "reserved"),  # Alibaba Cloud metadata
        ("100.127.255.255", "reserved"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "private"),  # "this network"
        ("255.255.255.255", "private"),  # limited broadcast
        ("240.0.0.1", "private"),  # reserved 240/4
        ("192.0.0.8", "reserved"),  # IETF protocol assignments
        ("192.0.2.1", "private"),  # documentation (TEST-NET-1)
        ("198.51.100.1", "private"),  # documentation (TEST-NET-2)
        ("203.0.113.1", "private"),  # documentation (TEST-NET-3)
        ("198.18.0.1", "private"),  # benchmarking
        ("198.19.255.255", "private"),
        # IPv6
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("fd00::1", "private"),  # unique-local fc00::/7
        ("fc00::1", "private"),
        ("fd00:ec2::254", "private"),  # AWS metadata over IPv6
        ("fe80::1", "link-local"),
        ("2001:db8::1", "private"),  # documentation
        ("::127.0.0.1", "reserved"),  # deprecated IPv4-compatible
        ("64:ff9b:1::a00:1", "reserved"),  # local-use NAT64, not the well-known prefix
        ("fec0::1", "reserved"),  # deprecated site-local; Python's ipaddress calls it global
        ("fefe:1::1", "reserved"),
        ("3ffe:831f::1", "reserved"),  # 6bone, returned to IANA
        ("3fff::1", "reserved"),  # documentation (RFC 9637)
        ("192.88.99.1", "reserved"),  # deprecated 6to4 relay anycast
        ("2002:c058:6301::", "reserved"),  # 6to4 of 192.88.99.1
        # IPv4 embedded in IPv6 is judged as the IPv4 address it carries
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:100.100.100.200", "reserved"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        # public unicast is allowed
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("172.32.0.1", None),  # just past 172.16/12
        ("172.15.255.255", None),  # just before 172.16/12
        ("100.128.0.1", None),  # just past 100.64/10
        ("2606:4700:4700::1111", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
        ("2002:808:808::", None),  # 6to4 of 8.8.8.8
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
    ],
)
def test_address_class(address: str, expected: str | None) -> None:
    ip = ipaddress.ip_address(address)
    assert address_class(ip) == expected
    assert EgressPolicy().refusal(ip) == expected


# --- allow entries -----------------------------------------------------------


def test_parse_allow_entries() -> None:
    hosts, networks = parse_allow_entries(
        [
            "Example.COM.",
            "  api.internal  ",
            "",
            "   ",
            "localhost",
            "10.0.0.0/8",
            "192.168.1.7",
            "::1",
            "FD00::/8",
            "172.16.5.4/12",  # host bits are dropped, not an error
            "example.com",
        ]
    )
    assert hosts == frozenset({"example.com", "api.internal", "localhost"})
    assert networks == (
        ipaddress.IPv4Network("10.0.0.0/8"),
        ipaddress.IPv4Network("192.168.1.7/32"),
        ipaddress.IPv6Network("::1/128"),
        ipaddress.IPv6Network("fd00::/8"),
        ipaddress.IPv4Network("172.16.0.0/12"),
    )
    assert networks[1].prefixlen == 32
    assert networks[2].prefixlen == 128


def test_parse_no_entries() -> None:
    assert parse_allow_entries([]) == (frozenset(), ())
    assert parse_allow_entries(["", " ", "\t"]) == (frozenset(), ())


def test_from_entries_builds_the_policy() -> None:
    policy = EgressPolicy.from_entries(
        ["Hooks.Example.", "10.0.0.0/8"], max_redirects=1, max_response_bytes=10
    )
    assert policy.allowed_hosts == frozenset({"hooks.example"})
    assert policy.allowed_networks == (ipaddress.IPv4Network("10.0.0.0/8"),)
    assert policy.max_redirects == 1
    assert policy.max_response_bytes == 10


def test_default_policy_allows_nothing_extra() -> None:
    policy = EgressPolicy()
    assert policy.allowed_hosts == frozenset()
    assert policy.allowed_networks == ()
    assert policy.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 1024 * 1024
    assert policy.max_redirects == DEFAULT_MAX_REDIRECTS == 3
    assert policy.resolver is system_resolver


def test_resolver_is_not_part_of_policy_equality() -> None:
    assert EgressPolicy.from_entries(["a.example"]) == EgressPolicy.from_entries(
        ["A.Example."], resolver=FakeResolver()
    )
    assert EgressPolicy.from_entries(["a.example"]) != EgressPolicy.from_entries(["b.example"])


# --- checked_address ---------------------------------------------------------


class FakeResolver:
    """Answers each call with the next scripted answer (addresses or an error)."""

    def __init__(self, *answers: list[str] | OSError) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if not self.answers:
            raise AssertionError(f"unexpected lookup of {host}")
        answer = self.answers.pop(0)
        if isinstance(answer, OSError):
            raise answer
        return answer


def policy_with(resolver: FakeResolver, *entries: str) -> EgressPolicy:
    return EgressPolicy.from_entries(entries, resolver=resolver)


async def test_hostname_resolving_to_a_refused_address_is_blocked() -> None:
    resolver = FakeResolver(["169.254.169.254"])
    with pytest.raises(EgressBlockedError) as caught:
        await policy_with(resolver).checked_address("metadata.example", 80)
    assert str(caught.value) == "metadata.example resolves to a link-local address"
    assert "http" not in str(caught.value)
    assert resolver.calls == [("metadata.example", 80)]


async def test_public_hostname_returns_the_first_address() -> None:
    resolver = FakeResolver(["8.8.8.8", "2606:4700:4700::1111"])
    assert await policy_with(resolver).checked_address("dns.example", 443) == "8.8.8.8"
    assert resolver.calls == [("dns.example", 443)]


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["8.8.8.8", "10.0.0.1"], "a private"),
        (["10.0.0.1", "8.8.8.8"], "a private"),
        (["2606:4700:4700::1111", "::1"], "a loopback"),
        (["8.8.8.8", "1.1.1.1", "::ffff:169.254.169.254"], "a link-local"),
        (["8.8.8.8", "0.0.0.0"], "an unspecified"),
        (["8.8.8.8", "100.100.100.200"], "a reserved"),
    ],
)
async def test_any_refused_address_refuses_the_host(addresses: list[str], refused: str) -> None:
    with pytest.raises(EgressBlockedError) as caught:
        await policy_with(FakeResolver(addresses)).checked_address("mixed.example", 443)
    assert str(caught.value) == f"mixed.example resolves to {refused} address"


async def test_host_name_is_normalised_before_lookup_and_allowlist() -> None:
    resolver = FakeResolver(["10.0.0.5"], ["10.0.0.5"])
    policy = policy_with(resolver, "Hooks.Internal.")
    assert await policy.checked_address("HOOKS.internal.", 8080) == "10.0.0.5"
    assert await policy.checked_address("hooks.internal", 8080) == "10.0.0.5"
    assert resolver.calls == [("hooks.internal", 8080), ("hooks.internal", 8080)]


async def test_allowed_host_bypasses_the_address_check() -> None:
    # The operator vouches for the name, whatever it resolves to.
    resolver = FakeResolver(["127.0.0.1", "10.0.0.1"])
    policy = policy_with(resolver, "internal.example")
    assert await policy.checked_address("internal.example", 80) == "127.0.0.1"


@pytest.mark.parametrize("host", ["other.example", "sub.internal.example", "internal.example.com"])
async def test_allowed_host_matches_only_that_exact_name(host: str) -> None:
    policy = policy_with(FakeResolver(["127.0.0.1"]), "internal.example")
    with pytest.raises(
        EgressBlockedError, match=f"^{re.escape(host)} resolves to a loopback address$"
    ):
        await policy.checked_address(host, 80)


async def test_allowed_cidr_allows_resolved_addresses_inside_it() -> None:
    resolver = FakeResolver(["10.1.2.3", "10.200.0.1"], ["10.1.2.3", "192.168.0.1"])
    policy = policy_with(resolver, "10.0.0.0/8")
    assert await policy.checked_address("svc.internal", 80) == "10.1.2.3"
    with pytest.raises(EgressBlockedError, match=r"^svc\.internal resolves to a private address$"):
        await policy.checked_address("svc.internal", 80)


async def test_allowed_single_address() -> None:
    policy = policy_with(FakeResolver(["127.0.0.1"], ["127.0.0.2"]), "127.0.0.1")
    assert await policy.checked_address("local.test", 80) == "127.0.0.1"
    with pytest.raises(EgressBlockedError, match="loopback"):
        await policy.checked_address("local.test", 80)


async def test_scoped_ipv6_answer_is_checked_without_its_zone() -> None:
    with pytest.raises(EgressBlockedError, match=r"^ll\.test resolves to a link-local address$"):
        await policy_with(FakeResolver(["fe80::1%eth0"])).checked_address("ll.test", 80)
    allowed = policy_with(FakeResolver(["fe80::1%eth0"]), "fe80::/10")
    assert await allowed.checked_address("ll.test", 80) == "fe80::1%eth0"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("8.8.8.8", "8.8.8.8"),
        ("[2606:4700:4700::1111]", "2606:4700:4700::1111"),
        ("2606:4700:4700::1111", "2606:4700:4700::1111"),
        ("[2606:4700:4700::ABCD]", "2606:4700:4700::abcd"),
        ("1.1.1.1.", "1.1.1.1"),
    ],
)
async def test_public_ip_literal_is_used_without_lookup(host: str, expected: str) -> None:
    resolver = FakeResolver()
    assert await policy_with(resolver).checked_address(host, 443) == expected
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("[::1]", "::1 is a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("[fd00:ec2::254]", "fd00:ec2::254 is a private address"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is a loopback address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
    ],
)
async def test_refused_ip_literal_is_blocked_without_lookup(host: str, message: str) -> None:
    resolver = FakeResolver()
    with pytest.raises(EgressBlockedError) as caught:
        await policy_with(resolver).checked_address(host, 80)
    assert str(caught.value) == message
    assert resolver.calls == []


async def test_ip_literal_inside_an_allowed_cidr() -> None:
    resolver = FakeResolver()
    policy = policy_with(resolver, "127.0.0.0/8", "fd00::/8")
    assert await policy.checked_address("127.0.0.1", 80) == "127.0.0.1"
    assert await policy.checked_address("[fd00::1]", 80) == "fd00::1"
    with pytest.raises(EgressBlockedError, match=r"^10\.0\.0\.1 is a private address$"):
        await policy.checked_address("10.0.0.1", 80)
    assert resolver.calls == []


@pytest.mark.parametrize(
    "answer",
    [
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        OSError("network unreachable"),
        [],
    ],
)
async def test_unresolvable_host_is_a_connection_failure(answer: list[str] | OSError) -> None:
    resolver = FakeResolver(answer)
    with pytest.raises(httpcore2.ConnectError) as caught:
        await policy_with(resolver, "nowhere.example").checked_address("nowhere.example", 80)
    assert str(caught.value) == "nowhere.example could not be resolved"
    # The resolver's own error is not chained (its text may carry details).
    assert caught.value.__cause__ is None
    if isinstance(answer, OSError):
        assert caught.value.__context__ is answer
        assert caught.value.__suppress_context__ is True
    assert resolver.calls == [("nowhere.example", 80)]


# IPv4 CIDRs match IPv4 answers only, and IPv6 CIDRs IPv6 answers only: an
# allowlist is matched against the address exactly as resolved, without
# unwrapping IPv4-mapped / 6to4 / NAT64 forms (address_class does unwrap them,
# so an unmatched embedded address still gets refused: the policy fails closed).


@pytest.mark.parametrize(
    ("host", "port"), [("8.8.8.8", 0), ("8.8.8.8", 65536), ("a.example", 99999)]
)
async def test_a_port_out_of_range_is_a_connection_failure_without_lookup(
    host: str, port: int
) -> None:
    # The socket layer would raise a bare OverflowError inside an ExceptionGroup.
    resolver = FakeResolver()
    with pytest.raises(httpcore2.ConnectError) as caught:
        await policy_with(resolver).checked_address(host, port)
    assert str(caught.value) == f"{host}: port {port} is out of range"
    assert resolver.calls == []


async def test_the_largest_port_is_allowed() -> None:
    assert await policy_with(FakeResolver()).checked_address("8.8.8.8", 65535) == "8.8.8.8"


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example"])
async def test_a_name_the_idna_codec_refuses_is_a_connection_failure(host: str) -> None:
    # The real resolver, so the codec behind getaddrinfo meets the name; it
    # refuses before any lookup leaves the machine.
    policy = EgressPolicy()
    with pytest.raises(httpcore2.ConnectError) as caught:
        await policy.checked_address(host, 80)
    assert str(caught.value) == f"{host} could not be resolved"
    assert isinstance(caught.value.__context__, UnicodeError)


async def test_ipv4_cidr_does_not_match_mapped_or_embedded_ipv6() -> None:
    resolver = FakeResolver(["::ffff:10.0.0.1"], ["2002:a00:1::"], ["64:ff9b::a00:1"])
    policy = policy_with(resolver, "10.0.0.0/8")
    assert policy.refusal(ipaddress.ip_address("10.0.0.1")) is None
    for _ in range(3):
        with pytest.raises(EgressBlockedError, match=r"^v6\.test resolves to a private address$"):
            await policy.checked_address("v6.test", 80)
    with pytest.raises(EgressBlockedError, match=r"^::ffff:10\.0\.0\.1 is a private address$"):
        await policy.checked_address("[::ffff:10.0.0.1]", 80)


async def test_mapped_ipv6_cidr_matches_mapped_answers_only() -> None:
    policy = policy_with(FakeResolver(), "::ffff:10.0.0.0/104")
    assert await policy.checked_address("::ffff:10.0.0.1", 80) == "::ffff:10.0.0.1"
    with pytest.raises(EgressBlockedError, match=r"^10\.0\.0\.1 is a private address$"):
        await policy.checked_address("10.0.0.1", 80)


async def test_allowing_all_of_ipv4_leaves_ipv6_checked() -> None:
    policy = policy_with(FakeResolver(), "0.0.0.0/0")
    assert await policy.checked_address("127.0.0.1", 80) == "127.0.0.1"
    assert await policy.checked_address("10.0.0.1", 80) == "10.0.0.1"
    with pytest.raises(EgressBlockedError, match=r"^::1 is a loopback address$"):
        await policy.checked_address("::1", 80)
    with pytest.raises(EgressBlockedError, match=r"^::ffff:127\.0\.0\.1 is a loopback address$"):
        await policy.checked_address("::ffff:127.0.0.1", 80)


async def test_system_resolver_answers_localhost_with_loopback() -> None:
    addresses = await system_resolver("localhost", 80)
    assert addresses
    assert len(addresses) == len(set(addresses))
    assert all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


# --- EgressNetworkBackend ----------------------------------------------------


class DummyStream(httpcore2.AsyncNetworkStream):
    pass


@dataclass
class RecordingBackend(httpcore2.AsyncNetworkBackend):
    """Records connect_tcp calls and hands back a dummy stream; never opens a socket."""

    connects: list[tuple[str, int, float | None, str | None, list[Any] | None]] = field(
        default_factory=list
    )
    sleeps: list[float] = field(default_factory=list)
    unix_sockets: list[str] = field(default_factory=list)
    stream: DummyStream = field(default_factory=DummyStream)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        options = None if socket_options is None else list(socket_options)
        self.connects.append((host, port, timeout, local_address, options))
        return self.stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        self.unix_sockets.append(path)
        return self.stream

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def test_backend_connects_to_the_checked_address() -> None:
    resolver = FakeResolver(["93.184.216.34", "2606:2800:220:1::"])
    inner = RecordingBackend()
    backend = EgressNetworkBackend(policy_with(resolver), inner)
    option = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = await backend.connect_tcp(
        "www.example.com", 443, timeout=2.5, local_address="0.0.0.0", socket_options=[option]
    )
    assert stream is inner.stream
    assert resolver.calls == [("www.example.com", 443)]
    assert inner.connects == [("93.184.216.34", 443, 2.5, "0.0.0.0", [option])]


async def test_backend_resolves_once_per_connect_so_rebinding_cannot_slip_through() -> None:
    # A rebinding resolver: a public answer for the check, then loopback.
    resolver = FakeResolver(["93.184.216.34"], ["127.0.0.1"])
    inner = RecordingBackend()
    backend = EgressNetworkBackend(policy_with(resolver), inner)

    await backend.connect_tcp("rebind.example", 80)
    # Checked once, connected to exactly what was checked: the name never
    # reaches the inner backend, so nothing resolves it a second time.
    assert resolver.calls == [("rebind.example", 80)]
    assert inner.connects == [("93.184.216.34", 80, None, None, None)]

    # The next connection is checked afresh and meets the loopback answer.
    with pytest.raises(EgressBlockedError, match=r"^rebind\.example resolves to a loopback"):
        await backend.connect_tcp("rebind.example", 80)
    assert resolver.calls == [("rebind.example", 80), ("rebind.example", 80)]
    assert [c[0] for c in inner.connects] == ["93.184.216.34"]


async def test_backend_passes_an_ip_literal_without_lookup() -> None:
    resolver = FakeResolver()
    inner = RecordingBackend()
    backend = EgressNetworkBackend(policy_with(resolver), inner)
    await backend.connect_tcp("[2606:4700:4700::1111]", 443)
    assert inner.connects == [("2606:4700:4700::1111", 443, None, None, None)]
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("host", "answers", "error"),
    [
        ("internal.example", [["10.0.0.1"]], EgressBlockedError),
        (
            "gone.example",
            [socket.gaierror(socket.EAI_NONAME, "no such host")],
            httpcore2.ConnectError,
        ),
        ("127.0.0.1", [], EgressBlockedError),
    ],
)
async def test_refused_connect_never_reaches_the_inner_backend(
    host: str, answers: list[list[str] | OSError], error: type[Exception]
) -> None:
    inner = RecordingBackend()
    backend = EgressNetworkBackend(policy_with(FakeResolver(*answers)), inner)
    with pytest.raises(error):
        await backend.connect_tcp(host, 80)
    assert inner.connects == []


async def test_unix_sockets_are_refused() -> None:
    inner = RecordingBackend()
    backend = EgressNetworkBackend(EgressPolicy.from_entries(["localhost", "0.0.0.0/0"]), inner)
    with pytest.raises(EgressBlockedError, match=r"^unix sockets are not an egress destination$"):
        await backend.connect_unix_socket("/var/run/docker.sock")
    assert inner.unix_sockets == []


async def test_sleep_is_delegated() -> None:
    inner = RecordingBackend()
    await EgressNetworkBackend(EgressPolicy(), inner).sleep(0.25)
    assert inner.sleeps == [0.25]


def test_default_inner_backend_is_the_guarded_one() -> None:
    # tests/conftest.py swaps the real network layer for a loopback-only one.
    assert type(EgressNetworkBackend(EgressPolicy()).inner) is LoopbackOnlyBackend


async def test_connection_pool_hands_the_inner_backend_an_address() -> None:
    # Through httpcore2's pool: the connection layer, not the caller, resolves.
    class RefusingBackend(RecordingBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore2.AsyncNetworkStream:
            await super().connect_tcp(host, port, timeout, local_address, socket_options)
            raise httpcore2.ConnectError("refused by the test")

    inner = RefusingBackend()
    resolver = FakeResolver(["93.184.216.34"])
    backend = EgressNetworkBackend(policy_with(resolver), inner)
    async with httpcore2.AsyncConnectionPool(network_backend=backend) as pool:
        with pytest.raises(httpcore2.ConnectError):
            await pool.request("GET", "http://api.example.org:8080/path?token=secret")
    assert resolver.calls == [("api.example.org", 8080)]
    assert [(host, port) for host, port, *_ in inner.connects] == [("93.184.216.34", 8080)]


# --- EgressTransport end to end ----------------------------------------------


@dataclass
class Endpoint:
    port: int = 0
    hits: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@asynccontextmanager
async def serve(host: str = "127.0.0.1") -> AsyncIterator[Endpoint]:
    """A loopback HTTP server recording every request; /redirect sends the
    client to http://127.0.0.1:PORT/other."""
    endpoint = Endpoint()

    async def handle(request: web.Request) -> web.StreamResponse:
        endpoint.hits.append(request.path_qs)
        endpoint.hosts.append(request.host)
        if request.path == "/redirect":
            raise web.HTTPFound(endpoint.url("/other"))
        return web.json_response({"path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, 0).start()
        endpoint.port = runner.addresses[0][1]
        yield endpoint
    finally:
        await runner.cleanup()


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    async with serve() as running:
        yield running


def client(*entries: str, **kwargs: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=EgressTransport(EgressPolicy.from_entries(entries, **kwargs))
    )


def first_localhost_address() -> str:
    # Resolving "localhost" is the one lookup tests may make. The policy
    # connects to the first answer only, so the server listens there.
    return str(socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)[0][4][0])


async def test_allowed_cidr_reaches_the_loopback_server(endpoint: Endpoint) -> None:
    async with client("127.0.0.1/32") as http:
        response = await http.get(endpoint.url("/hello?x=1"))
    assert response.status_code == 200
    assert response.json() == {"path": "/hello"}
    assert endpoint.hits == ["/hello?x=1"]


async def test_default_policy_blocks_loopback_before_sending(endpoint: Endpoint) -> None:
    async with client() as http:
        with pytest.raises(EgressBlockedError) as caught:
            await http.get(endpoint.url("/secret/path?token=s3cr3t"))
    assert str(caught.value) == "127.0.0.1 is a loopback address"
    for fragment in ("http", "secret", "s3cr3t", str(endpoint.port)):
        assert fragment not in str(caught.value)
    assert endpoint.hits == []


async def test_default_policy_blocks_a_name_resolving_to_loopback(endpoint: Endpoint) -> None:
    async with client() as http:
        with pytest.raises(EgressBlockedError, match=r"^localhost resolves to a loopback address$"):
            await http.get(endpoint.url("/", host="localhost"))
    assert endpoint.hits == []


async def test_allowed_host_name_reaches_the_server() -> None:
    async with serve(first_localhost_address()) as endpoint, client("LocalHost") as http:
        response = await http.get(endpoint.url("/named", host="localhost"))
    assert response.status_code == 200
    assert endpoint.hits == ["/named"]
    # The request still names the host: only the socket uses the address.
    assert endpoint.hosts == [f"localhost:{endpoint.port}"]


async def test_host_header_keeps_the_name_while_the_socket_uses_the_checked_address(
    endpoint: Endpoint,
) -> None:
    resolver = FakeResolver(["127.0.0.1"])
    async with client("127.0.0.1/32", resolver=resolver) as http:
        response = await http.get(endpoint.url("/", host="hooks.example"))
        again = await http.get(endpoint.url("/again", host="hooks.example"))
    assert (response.status_code, again.status_code) == (200, 200)
    assert endpoint.hosts == [f"hooks.example:{endpoint.port}"] * 2
    # One connection, one lookup; the kept-alive connection is reused.
    assert resolver.calls == [("hooks.example", endpoint.port)]


async def test_redirect_to_an_allowed_origin_is_followed(endpoint: Endpoint) -> None:
    async with client("127.0.0.1/32") as http:
        response = await http.get(endpoint.url("/redirect"), follow_redirects=True)
    assert response.status_code == 200
    assert response.json() == {"path": "/other"}
    assert endpoint.hits == ["/redirect", "/other"]


async def test_redirect_to_a_refused_origin_is_blocked() -> None:
    async with serve(first_localhost_address()) as endpoint, client("localhost") as http:
        with pytest.raises(EgressBlockedError) as caught:
            await http.get(endpoint.url("/redirect", host="localhost"), follow_redirects=True)
    assert str(caught.value) == "127.0.0.1 is a loopback address"
    assert endpoint.hits == ["/redirect"]


# --- cause: the blocked error behind an SDK's error -----------------------------


def test_blocked_cause_of_the_error_itself() -> None:
    blocked = EgressBlockedError("x is a private address")
    assert cause(blocked, EgressBlockedError) is blocked


def test_blocked_cause_through_cause() -> None:
    blocked = EgressBlockedError("b")
    outer = RuntimeError("connection failed")
    outer.__cause__ = blocked
    assert cause(outer, EgressBlockedError) is blocked


def test_blocked_cause_through_context() -> None:
    blocked = EgressBlockedError("b")
    outer = ConnectionError("wrapped")
    outer.__context__ = blocked
    assert cause(outer, EgressBlockedError) is blocked


def test_blocked_cause_through_a_mixed_chain() -> None:
    blocked = EgressBlockedError("deep")
    top, middle, bottom = ValueError("top"), OSError("middle"), KeyError("bottom")
    top.__cause__ = middle
    middle.__context__ = bottom
    bottom.__cause__ = blocked
    assert cause(top, EgressBlockedError) is blocked


def test_blocked_cause_of_raised_chains() -> None:
    def raise_chain(suppress: bool) -> None:
        try:
            raise EgressBlockedError("inner")
        except EgressBlockedError as error:
            if suppress:
                raise ConnectionError("outer") from None
            raise ConnectionError("outer") from error

    for suppress in (False, True):
        with pytest.raises(ConnectionError) as caught:
            raise_chain(suppress)
        found = cause(caught.value, EgressBlockedError)
        assert isinstance(found, EgressBlockedError)
        assert str(found) == "inner"


def test_blocked_cause_is_none_without_one() -> None:
    plain = ValueError("plain")
    assert cause(plain, EgressBlockedError) is None
    chained = RuntimeError("outer")
    chained.__cause__ = OSError("inner")
    chained.__cause__.__context__ = KeyError("deeper")
    assert cause(chained, EgressBlockedError) is None


def test_blocked_cause_stops_on_a_cycle() -> None:
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__context__ = second
    second.__context__ = first
    # In a thread, so that a walk that never ends fails instead of hanging.
    results: list[EgressBlockedError | None] = []
    worker = threading.Thread(
        target=lambda: results.append(cause(first, EgressBlockedError)), daemon=True
    )
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "blocked_cause walked the cycle forever"
    assert results == [None]


# --- TLS context -------------------------------------------------------------


def test_default_ssl_context_is_created_once() -> None:
    context = default_ssl_context()
    assert default_ssl_context() is context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


# --- the private attribute EgressTransport depends on (issue 16) ----------------


def test_httpx2_still_keeps_its_pool_where_egress_transport_replaces_it() -> None:
    # EgressTransport swaps httpx2.AsyncHTTPTransport's pool for one behind the
    # policy. If an httpx2 release moves the pool, this fails loudly here (and
    # EgressTransport refuses to start) instead of requests silently going
    # through an unchecked pool.
    plain = httpx2.AsyncHTTPTransport()
    assert isinstance(getattr(plain, HTTPX_POOL_ATTRIBUTE, None), httpcore2.AsyncConnectionPool)
    guarded = EgressTransport(EgressPolicy())
    pool = getattr(guarded, HTTPX_POOL_ATTRIBUTE)
    assert isinstance(pool, httpcore2.AsyncConnectionPool)
    assert pool is not getattr(plain, HTTPX_POOL_ATTRIBUTE)


def test_egress_transport_refuses_to_start_without_the_pool_attribute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = httpx2.AsyncHTTPTransport.__init__

    def renamed_pool(self: httpx2.AsyncHTTPTransport, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["_renamed_pool"] = self.__dict__.pop(HTTPX_POOL_ATTRIBUTE)

    monkeypatch.setattr(httpx2.AsyncHTTPTransport, "__init__", renamed_pool)
    with pytest.raises(RuntimeError, match="egress policy cannot be applied"):
        EgressTransport(EgressPolicy())
