"""The egress policy against the IANA special-purpose address registries.

Both registries (IPv4, RFC 6890 and its updates; IPv6, likewise) are written
out below as data: each block with its "Globally Reachable" column and the
decision botflow takes for it. Deprecated blocks that have left the IPv6
registry (site-local fec0::/10, 6bone 3ffe::/16, IPv4-compatible ::/96) are
listed too. The first, a middle and the last address of every block are probed.

The rule: a block that is not globally reachable (False), has no such column
(N/A) or is deprecated is refused; so are the globally reachable anycast and
identifier blocks (their nearest instance may sit in the operator's own
network, or they are not locators at all). The only blocks an address may pass
through are the IPv4-embedding ones, which are judged as the IPv4 address they
carry; their first and last address carry 0.0.0.0 and 255.255.255.255, both
refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

import pytest

from botflow.providers.egress import EgressPolicy, address_class


class Reach(Enum):
    """The registry's "Globally Reachable" column."""

    FALSE = "False"
    TRUE = "True"
    NA = "N/A"  # no value, or the block is deprecated


class Decision(Enum):
    REFUSE = "refuse"
    # Judged as the IPv4 address in the low 32 bits (mapped, NAT64) or in
    # bits 16-47 (6to4).
    EMBEDDED = "judged as the embedded IPv4 address"


@dataclass(frozen=True)
class Block:
    cidr: str
    name: str
    reach: Reach
    decision: Decision = Decision.REFUSE
    why: str = ""

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr)


F, T, NA = Reach.FALSE, Reach.TRUE, Reach.NA
ANYCAST = "globally reachable, but anycast: the nearest instance may be on the operator's network"

IPV4_REGISTRY = [
    Block("0.0.0.0/8", '"This network"', F),
    Block("0.0.0.0/32", '"This host on this network"', F),
    Block("10.0.0.0/8", "Private-Use", F),
    Block("100.64.0.0/10", "Shared Address Space", F),
    Block("127.0.0.0/8", "Loopback", F),
    Block("169.254.0.0/16", "Link Local", F),
    Block("172.16.0.0/12", "Private-Use", F),
    Block("192.0.0.0/24", "IETF Protocol Assignments", F),
    Block("192.0.0.0/29", "IPv4 Service Continuity Prefix", F),
    Block("192.0.0.8/32", "IPv4 dummy address", F),
    Block("192.0.0.9/32", "Port Control Protocol Anycast", T, why=ANYCAST),
    Block("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", T, why=ANYCAST),
    Block("192.0.0.170/32", "NAT64/DNS64 Discovery", F),
    Block("192.0.0.171/32", "NAT64/DNS64 Discovery", F),
    Block("192.0.2.0/24", "Documentation (TEST-NET-1)", F),
    Block("192.31.196.0/24", "AS112-v4", T, why=ANYCAST),
    Block("192.52.193.0/24", "AMT", T, why=ANYCAST),
    Block("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", NA, why="deprecated (RFC 7526)"),
    Block("192.88.99.2/32", "6a44-relay anycast address", F),
    Block("192.168.0.0/16", "Private-Use", F),
    Block("192.175.48.0/24", "Direct Delegation AS112 Service", T, why=ANYCAST),
    Block("198.18.0.0/15", "Benchmarking", F),
    Block("198.51.100.0/24", "Documentation (TEST-NET-2)", F),
    Block("203.0.113.0/24", "Documentation (TEST-NET-3)", F),
    Block("240.0.0.0/4", "Reserved", F),
    Block("255.255.255.255/32", "Limited Broadcast", F),
    # Not in the special-purpose registry (its own registry, RFC 5771).
    Block("224.0.0.0/4", "Multicast", F),
]

IPV6_REGISTRY = [
    Block("::1/128", "Loopback Address", F),
    Block("::/128", "Unspecified Address", F),
    Block(
        "::ffff:0:0/96",
        "IPv4-mapped Address",
        F,
        Decision.EMBEDDED,
        "never on the wire: a socket given one connects to the IPv4 address",
    ),
    Block(
        "64:ff9b::/96",
        "IPv4-IPv6 Translat.",
        T,
        Decision.EMBEDDED,
        "the NAT64 gateway forwards to the IPv4 address",
    ),
    Block("64:ff9b:1::/48", "IPv4-IPv6 Translat. (local-use)", F),
    Block("100::/64", "Discard-Only Address Block", F),
    Block("100:0:0:1::/64", "Dummy IPv6 Prefix", F),
    Block("2001::/23", "IETF Protocol Assignments", F),
    Block("2001::/32", "TEREDO", NA, why="a tunnel to a host behind a NAT, not a server"),
    Block("2001:1::1/128", "Port Control Protocol Anycast", T, why=ANYCAST),
    Block("2001:1::2/128", "Traversal Using Relays around NAT Anycast", T, why=ANYCAST),
    Block("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", T, why=ANYCAST),
    Block("2001:2::/48", "Benchmarking", F),
    Block("2001:3::/32", "AMT", T, why=ANYCAST),
    Block("2001:4:112::/48", "AS112-v6", T, why=ANYCAST),
    Block("2001:10::/28", "Deprecated (previously ORCHID)", NA, why="deprecated (RFC 7343)"),
    Block("2001:20::/28", "ORCHIDv2", T, why="identifiers, not locators"),
    Block("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs)", T, why="identifiers"),
    Block("2001:db8::/32", "Documentation", F),
    Block(
        "2002::/16",
        "6to4",
        NA,
        Decision.EMBEDDED,
        "the relay forwards to the 6to4 site at the IPv4 address",
    ),
    Block("2620:4f:8000::/48", "Direct Delegation AS112 Service", T, why=ANYCAST),
    Block("3fff::/20", "Documentation", F),
    Block("5f00::/16", "Segment Routing (SRv6) SIDs", F),
    Block("fc00::/7", "Unique-Local", F),
    Block("fe80::/10", "Link-Local Unicast", F),
    # Deprecated, no longer in the special-purpose registry.
    Block("fec0::/10", "Site-Local (deprecated, RFC 3879)", NA, why="deprecated"),
    Block("3ffe::/16", "6bone (returned, RFC 3701)", NA, why="deprecated"),
    Block("::/96", "IPv4-compatible (deprecated, RFC 4291)", NA, why="deprecated"),
    Block("ff00::/8", "Multicast", F),
]

REGISTRY = IPV4_REGISTRY + IPV6_REGISTRY


def probes(block: Block) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = block.network
    middle = net.network_address + net.num_addresses // 2
    return [net.network_address, middle, net.broadcast_address]


def embedded(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def test_the_tables_hold_both_registries() -> None:
    assert len(IPV4_REGISTRY) == 27
    assert len(IPV6_REGISTRY) == 29
    assert all(b.network.version == 4 for b in IPV4_REGISTRY)
    assert all(b.network.version == 6 for b in IPV6_REGISTRY)
    # Every block not refused outright says why.
    assert all(b.why for b in REGISTRY if b.reach is not F or b.decision is not Decision.REFUSE)
    # Only the embedding blocks are not refused outright.
    assert {b.cidr for b in REGISTRY if b.decision is Decision.EMBEDDED} == {
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "2002::/16",
    }


@pytest.mark.parametrize(
    "block",
    [b for b in REGISTRY if b.decision is Decision.REFUSE],
    ids=lambda b: b.cidr,
)
def test_every_refused_block_is_refused_throughout(block: Block) -> None:
    for ip in probes(block):
        assert address_class(ip) is not None, ip
        assert EgressPolicy().refusal(ip) is not None, ip


@pytest.mark.parametrize(
    "block",
    [b for b in REGISTRY if b.decision is Decision.EMBEDDED],
    ids=lambda b: b.cidr,
)
def test_embedding_blocks_are_judged_as_the_ipv4_they_carry(block: Block) -> None:
    first, middle, last = probes(block)
    assert address_class(first) is not None
    assert address_class(last) is not None
    assert address_class(middle) == address_class(embedded(middle))
    for public in ("8.8.8.8", "1.1.1.1"):
        ip = ipaddress.IPv6Address(int(block.network.network_address) | _place(block, public))
        assert address_class(ip) is None, ip
    for refused in ("10.0.0.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "192.88.99.1"):
        ip = ipaddress.IPv6Address(int(block.network.network_address) | _place(block, refused))
        assert address_class(ip) == address_class(ipaddress.IPv4Address(refused)), ip
        assert address_class(ip) is not None, ip


def _place(block: Block, ipv4: str) -> int:
    """The bits that carry `ipv4` inside `block`."""
    value = int(ipaddress.IPv4Address(ipv4))
    return value << 80 if block.cidr == "2002::/16" else value


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",
        "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "3ffe:b00::1",
        "2620:4f:8000::1",
        "192.88.99.1",
        "192.31.196.1",
        "192.52.193.1",
        "192.175.48.1",
    ],
)
def test_an_allowlist_of_nothing_does_not_open_them(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert EgressPolicy.from_entries([]).refusal(ip) == "reserved"


def test_site_local_is_refused_but_its_neighbours_are_not() -> None:
    # fec0::/10 is fec0:: .. feff:…; fe80::/10 below it is link-local, and
    # ff00::/8 above it multicast.
    assert address_class(ipaddress.ip_address("fec0::")) == "reserved"
    assert address_class(ipaddress.ip_address("febf:ffff::1")) == "link-local"
    assert address_class(ipaddress.ip_address("ff00::")) == "multicast"


@pytest.mark.parametrize(
    "address",
    ["2606:4700:4700::1111", "2a00:1450:4001::1", "8.8.8.8", "192.0.1.255", "192.88.100.1"],
)
def test_ordinary_public_addresses_around_the_blocks_pass(address: str) -> None:
    assert address_class(ipaddress.ip_address(address)) is None
