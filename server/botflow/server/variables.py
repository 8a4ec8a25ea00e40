"""Typed variable values: how they render and how a call's variables
are assembled from declarations and request values."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from botflow.v1.variables_pb2 import TextList, Value, VariableDefinition

LIST_SEPARATOR = ", "


# Lone surrogates ("\ud800" escaped in JSON, or a plug-in's text): a protobuf
# string cannot carry them as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD."""
    # ASCII holds no surrogate, and isascii() costs a tenth of the search.
    # Anything but a plain str (a plug-in's) still takes the search, which
    # returns a plain str or raises as before.
    if type(text) is str and text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def longer_than(text: str, max_bytes: int) -> bool:
    """Whether `text` is more than `max_bytes` in UTF-8."""
    # A character is at most 4 bytes in UTF-8: most texts need no encoding.
    return len(text) * 4 > max_bytes and len(text.encode()) > max_bytes


def text_value(text: str) -> Value:
    return Value(text=text)


def number_value(number: float) -> Value:
    return Value(number=number)


def list_value(items: Iterable[str]) -> Value:
    return Value(list=TextList(items=list(items)))


def format_number(number: float) -> str:
    """3.0 → "3", 2.5 → "2.5"; no exponent for ordinary magnitudes."""
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def render_value(value: Value | None) -> str:
    """The text a value shows in a template; the empty value is ""."""
    if value is None:
        return ""
    kind = value.WhichOneof("kind")
    if kind == "text":
        return value.text
    if kind == "number":
        return format_number(value.number)
    if kind == "list":
        return LIST_SEPARATOR.join(value.list.items)
    return ""


# Plain decimal notation with ASCII digits: "3", "-2.5", ".5", "1e3". Python's
# float() would also take "1_000", "inf" and non-ASCII digits.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: str) -> float | None:
    """A finite number written as text ("3", " 2.5 ", "-1e3"), else None."""
    stripped = text.strip()
    if not NUMBER.fullmatch(stripped):
        return None
    number = float(stripped)
    return number if math.isfinite(number) else None


def normalize_name(name: str) -> str:
    return name.strip()


_NO_SECRETS: frozenset[str] = frozenset()


def _normalized(*groups: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize_name(name) for names in groups for name in names)


class Variables:
    """The variables of one call: name → typed value, names trimmed.

    Some names are secret (docs/flows.md "Secret variables"): their values
    render in templates like any other but are left out of `public_values`,
    the only view of the variables a response may carry.
    """

    def __init__(
        self, values: Mapping[str, Value] | None = None, *, secrets: Iterable[str] = ()
    ) -> None:
        self._values: dict[str, Value] = {}
        # Most callers name no secrets (assemble sets its own afterwards).
        self._secrets = _normalized(secrets) if secrets else _NO_SECRETS
        for name, value in (values or {}).items():
            self.set(name, value)

    @classmethod
    def assemble(
        cls,
        definitions: Iterable[VariableDefinition],
        values: Mapping[str, Value],
        *,
        secrets: Iterable[str] = (),
    ) -> Variables:
        """Declared defaults first, then the request's values over them; an
        empty Value in the request counts as no value (the default stays).
        Secret: the names in `secrets` and those declared secret."""
        variables = cls()
        stored = variables._values
        declared: list[str] = []
        # The values are a request's, which nothing changes, and no stored
        # Value is changed in place: they are kept as they are, not copied.
        for definition in definitions:
            stored[normalize_name(definition.name)] = definition.default_value
            if definition.secret:
                declared.append(definition.name)
        for name, value in values.items():
            key = normalize_name(name)
            if value.WhichOneof("kind") is not None or key not in stored:
                stored[key] = value
        variables._secrets = _normalized(secrets, declared)
        return variables

    def get(self, name: str) -> Value | None:
        return self._values.get(normalize_name(name))

    def render(self, name: str) -> str:
        return render_value(self.get(name))

    def set(self, name: str, value: Value) -> None:
        copy = Value()
        copy.CopyFrom(value)
        self._values[normalize_name(name)] = copy

    def keep(self, name: str, value: Value) -> None:
        """`set` without the copy, for a Value built for this variable that
        nobody changes afterwards (as no stored Value is changed in place)."""
        self._values[normalize_name(name)] = value

    @property
    def secrets(self) -> frozenset[str]:
        return self._secrets

    def is_secret(self, name: str) -> bool:
        return normalize_name(name) in self._secrets

    def public_values(self) -> dict[str, Value]:
        """What a response returns: every variable except the secrets.

        A secret is left out, not returned empty: a caller that merges the
        returned variables into its store then keeps no copy of it, and an
        empty value would overwrite the key the caller sends back.
        """
        return {n: v for n, v in self._values.items() if n not in self._secrets}

    def snapshot(self) -> dict[str, Value]:
        """The current values, for `restore`: cheap, since `set` stores a
        fresh copy and no stored Value is changed in place."""
        return dict(self._values)

    def restore(self, snapshot: dict[str, Value]) -> None:
        self._values = dict(snapshot)
