"""The egress policy for every outbound HTTP request botflow makes:
webhook URLs and OpenAI `base_url`s alike.

- A destination is refused when any address it resolves to is not a public
  unicast address: loopback, private, link-local (cloud metadata lives there),
  unique-local, shared (CGNAT), multicast, unspecified, reserved, documentation
  and benchmark ranges, deprecated ranges (IPv6 site-local, 6bone), and every
  block of the IANA special-purpose registries — IPv4 addresses embedded in
  IPv6 (IPv4-mapped, 6to4, NAT64) are judged as the IPv4 address they carry.
  tests/unit/test_egress_registry.py holds both registries and the decision
  taken for each block.
- The operator may allow hosts (matched against the URL's host name) and CIDRs
  (matched against the resolved address).
- The check sits in the connection layer: the host is resolved once, and the
  socket connects to the very address that was checked, so there is no DNS
  rebinding window. Every new connection is checked, redirects included; TLS
  still verifies the certificate against the host name.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore2
import httpx2

from botflow.providers import defaults
from botflow.providers.defaults import DEFAULT_MAX_REDIRECTS as DEFAULT_MAX_REDIRECTS
from botflow.providers.defaults import DEFAULT_MAX_RESPONSE_BYTES as DEFAULT_MAX_RESPONSE_BYTES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_PORT = 65535
DEFAULT_LIMITS = httpx2.Limits(
    max_connections=defaults.DEFAULT_MAX_CONNECTIONS,
    max_keepalive_connections=defaults.DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
)
# The private attribute of httpx2.AsyncHTTPTransport that holds its pool:
# httpx2 takes no network backend, so EgressTransport replaces the pool.
# tests/unit/test_egress.py pins it; EgressTransport refuses to start without it.
HTTPX_POOL_ATTRIBUTE = "_pool"

# Blocks Python's ipaddress leaves global (or reclassifies between versions),
# refused by name. Anycast service blocks are refused although the registry
# calls them globally reachable: the nearest instance (an AS112 DNS sink, an
# AMT relay, a PCP gateway) is often inside the operator's own network.
_EXTRA_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",  # shared address space (CGNAT)
        "192.0.0.0/24",  # IETF protocol assignments, PCP and TURN anycast included
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT relays
        "192.88.99.0/24",  # deprecated 6to4 relay anycast, 6a44 relay included
        "192.175.48.0/24",  # AS112 direct delegation
        "198.18.0.0/15",  # benchmarking
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "100:0:0:1::/64",  # dummy prefix
        "2001::/23",  # IETF protocol assignments: Teredo, anycasts, AMT, AS112, ORCHID
        "2001:db8::/32",  # documentation
        "2620:4f:8000::/48",  # AS112 direct delegation
        "3ffe::/16",  # 6bone, returned to IANA
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fec0::/10",  # deprecated site-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class EgressBlockedError(Exception):
    """The destination is refused by the egress policy; nothing was sent.

    The message names the host and the kind of address, never the URL (whose
    path or query may carry a secret).
    """


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_class(ip: IPAddress) -> str | None:
    """Why `ip` is refused ("loopback", "private", …), or None for public unicast."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_class(embedded)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or any(ip in net for net in _EXTRA_REFUSED)),
        ("non-global", not ip.is_global),
    )
    return next((name for name, refused in checks if refused), None)


def parse_allow_entries(entries: Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Split operator entries into host names and CIDRs ("10.0.0.0/8", "::1")."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return frozenset(hosts), tuple(networks)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound requests may go. The default refuses every non-public
    address and allows nothing extra."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def from_entries(cls, entries: Iterable[str], **kwargs: Any) -> EgressPolicy:
        hosts, networks = parse_allow_entries(entries)
        return cls(allowed_hosts=hosts, allowed_networks=networks, **kwargs)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why connecting to `ip` is refused, or None when it is allowed."""
        if any(ip in net for net in self.allowed_networks if net.version == ip.version):
            return None
        return address_class(ip)

    async def checked_address(self, host: str, port: int) -> str:
        """Resolve `host` once and return the address to connect to, or raise."""
        name = host.strip("[]").lower().rstrip(".")
        if not 0 < port <= MAX_PORT:
            # The socket layer would raise OverflowError, which no HTTP client maps.
            raise httpcore2.ConnectError(f"{name}: port {port} is out of range")
        try:
            literal: IPAddress | None = ipaddress.ip_address(name)
        except ValueError:
            literal = None
        if literal is not None:
            reason = self.refusal(literal)
            if reason is not None:
                raise EgressBlockedError(f"{name} is {_article(reason)} {reason} address")
            return name
        addresses = await self._resolve(name, port)
        if name in self.allowed_hosts:
            return addresses[0]
        for address in addresses:
            reason = self.refusal(ipaddress.ip_address(address.split("%")[0]))
            if reason is not None:
                raise EgressBlockedError(f"{name} resolves to {_article(reason)} {reason} address")
        return addresses[0]

    async def _resolve(self, name: str, port: int) -> list[str]:
        """The host's addresses. Not resolving is a connection failure (the
        destination may come back), not a refusal."""
        try:
            addresses = await self.resolver(name, port)
        # UnicodeError: the idna codec refuses an empty or over-long label.
        except (OSError, UnicodeError):
            raise httpcore2.ConnectError(f"{name} could not be resolved") from None
        if not addresses:
            raise httpcore2.ConnectError(f"{name} could not be resolved")
        return addresses


class EgressNetworkBackend(httpcore2.AsyncNetworkBackend):
    """Connects only to addresses the policy checked, resolving each host once."""

    def __init__(
        self, policy: EgressPolicy, inner: httpcore2.AsyncNetworkBackend | None = None
    ) -> None:
        self.policy = policy
        self.inner = inner if inner is not None else default_inner_backend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        address = await self.policy.checked_address(host, port)
        return await self.inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise EgressBlockedError("unix sockets are not an egress destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every pool (loading the CA bundle is slow)."""
    return httpx2.create_ssl_context(verify=True, trust_env=False)


def default_inner_backend() -> httpcore2.AsyncNetworkBackend:
    """The real network. Tests replace this to guard against stray traffic."""
    return httpcore2.AnyIOBackend()


class EgressTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with its pool's network layer behind the policy.

    httpx2 takes no network backend, so the pool it built is replaced by an
    equivalent one that has ours (proxies are not supported under the policy).
    That pool lives in a private attribute: if an httpx2 release renames it,
    construction fails here rather than leaving requests on an unchecked pool.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or default_ssl_context()
        super().__init__(limits=limits, verify=context, trust_env=False)
        replaced = getattr(self, HTTPX_POOL_ATTRIBUTE, None)
        if not isinstance(replaced, httpcore2.AsyncConnectionPool):
            raise RuntimeError(
                f"httpx2 {httpx2.__version__} keeps no connection pool in "
                f"AsyncHTTPTransport.{HTTPX_POOL_ATTRIBUTE}; the egress policy cannot be applied"
            )
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=EgressNetworkBackend(policy),
        )
