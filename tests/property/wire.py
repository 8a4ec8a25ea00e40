"""Requests as bytes: a valid request's encoding, damaged on the wire.

The server decodes requests itself (its interceptor answers undecodable bytes
with INVALID_ARGUMENT), so what protobuf's parser refuses or accepts oddly is
part of botflow's input too: truncation, flipped bytes, invalid UTF-8 in a
string field, unknown fields, groups nested past the parser's recursion limit,
lengths that point past the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

# Wire types.
VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers are 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, message, map entry)."""
    return tag(number, LEN) + varint(len(payload)) + payload


@dataclass(frozen=True)
class Damage:
    """One change to a request's bytes; positions are fractions of its length."""

    kind: str
    where: float = 0.0
    data: bytes = b""
    number: int = 0

    def apply(self, encoded: bytes) -> bytes:
        at = min(len(encoded), int(self.where * len(encoded)))
        match self.kind:
            case "truncate":
                return encoded[:at]
            case "flip":
                if not encoded:
                    return encoded
                at = min(at, len(encoded) - 1)
                flipped = encoded[at] ^ (self.data[0] if self.data else 0xFF)
                return encoded[:at] + bytes([flipped]) + encoded[at + 1 :]
            case "insert":
                return encoded[:at] + self.data + encoded[at:]
            case "append":
                return encoded + self.data
        raise AssertionError(self.kind)


def _bad_utf8() -> st.SearchStrategy[bytes]:
    return st.sampled_from(
        [b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"a\x80b"]
    )


@st.composite
def _appended(draw: st.DrawFn) -> bytes:
    """Fields appended after a valid encoding (the parser merges them in)."""
    kind = draw(
        st.sampled_from(
            [
                "bad_utf8_map_key",
                "bad_utf8_nested",
                "unknown",
                "deep_groups",
                "huge_length",
                "negative_varint",
                "wrong_wire_type",
                "unknown",
                "bad_utf8_nested",
            ]
        )
    )
    if kind == "bad_utf8_map_key":
        # Field 2 of both requests is the variables map: an entry whose key is not UTF-8.
        return field(2, field(1, draw(_bad_utf8())) + field(2, field(1, b"v")))
    if kind == "bad_utf8_nested":
        # ExecuteActionRequest.action.webhook.url / RunFlowRequest.flow.name: field 1's
        # first string or message, with a string that is not UTF-8 inside.
        return field(1, field(draw(st.sampled_from([1, 2])), field(2, draw(_bad_utf8()))))
    if kind == "unknown":
        number = draw(st.sampled_from([6, 99, 1000, 536_870_911]))
        wire = draw(st.sampled_from([VARINT, I64, LEN, I32]))
        payload = {
            VARINT: varint(draw(st.integers(0, 2**64 - 1))),
            I64: b"\x00" * 8,
            I32: b"\x00" * 4,
            LEN: varint(3) + b"abc",
        }[wire]
        return tag(number, wire) + payload
    if kind == "deep_groups":
        depth = draw(st.sampled_from([50, 101, 1000, 100_000]))
        return tag(999, SGROUP) * depth + tag(999, EGROUP) * depth
    if kind == "huge_length":
        return tag(1, LEN) + varint(draw(st.sampled_from([2**31, 2**32 + 5, 2**63]))) + b"x"
    if kind == "negative_varint":
        # RunFlowRequest.max_steps (uint32) / ExecuteActionRequest field 5 (unknown).
        return tag(5, VARINT) + varint(-1)
    return tag(1, VARINT) + varint(1)  # a message field sent as a number


@st.composite
def damages(draw: st.DrawFn) -> tuple[Damage, ...]:
    where = st.floats(0.0, 1.0)
    options = st.one_of(
        st.builds(Damage, st.just("truncate"), where),
        st.builds(Damage, st.just("flip"), where, st.binary(min_size=1, max_size=1)),
        st.builds(Damage, st.just("insert"), where, st.binary(min_size=1, max_size=8)),
        st.builds(Damage, st.just("append"), st.just(1.0), _appended()),
        st.builds(Damage, st.just("append"), st.just(1.0), _appended()),
    )
    return tuple(draw(st.lists(options, min_size=1, max_size=3)))
