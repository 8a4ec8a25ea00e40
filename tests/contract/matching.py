"""The subset matcher of the contract vectors (see README.md)."""

from __future__ import annotations

ANY = "<any>"
# The key must be missing: canonical JSON omits a zero, empty or unset value.
ABSENT = "<absent>"


def mismatches(expected: object, actual: object, path: str = "$") -> list[str]:
    """Where `actual` does not match `expected`; empty when it does."""
    if expected == ANY:
        return [] if actual is not None else [f"{path}: missing"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if value == ABSENT:
                if key in actual:
                    found.append(f"{path}.{key}: expected absent, got {actual[key]!r}")
            elif key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found.extend(mismatches(value, actual[key], f"{path}.{key}"))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in mismatches(e, a, f"{path}[{i}]")
        ]
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if expected is actual else [f"{path}: expected {expected!r}, got {actual!r}"]
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return (
            []
            if float(expected) == float(actual)
            else [f"{path}: expected {expected!r}, got {actual!r}"]
        )
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]
