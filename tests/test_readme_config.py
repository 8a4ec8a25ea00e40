"""The README's configuration table against the code: one row per
ServerConfig and Limits field, its default as `defaults.py` sets it, and its
flag the one `botflow serve` has."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from botflow.server.cli import build_parser
from botflow.server.config import ENV_PREFIX, Limits, ServerConfig

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "### Configuration"
CODE = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Row:
    flags: tuple[str, ...]
    variables: tuple[str, ...]
    default: str


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(HEADING) + 1
    end = next(
        (i for i in range(start, len(lines)) if lines[i].startswith("#")),
        len(lines),
    )
    return lines[start:end]


def parse_table(text: str) -> list[Row]:
    """The rows of the first table under the heading (header and rule skipped)."""
    rows = [line for line in _section(text) if line.startswith("|")][2:]
    parsed = []
    for line in rows:
        flag, variable, default, _meaning = (c.strip() for c in line.strip("|").split("|", 3))
        parsed.append(Row(tuple(CODE.findall(flag)), tuple(CODE.findall(variable)), default))
    return parsed


def field_defaults() -> dict[str, object]:
    """Every setting by its BOTFLOW_* name, with its default."""
    config, limits = ServerConfig(), Limits()
    found = {
        ENV_PREFIX + f.name.upper(): getattr(config, f.name)
        for f in fields(ServerConfig)
        if f.name != "limits"
    }
    found.update({ENV_PREFIX + f.name.upper(): getattr(limits, f.name) for f in fields(Limits)})
    return found


def rendered(default: object) -> str | None:
    """How the table writes a default; None for "no value", which the table
    describes in words ("(none)", "(off)", "OpenAI's", "`--host`")."""
    if default is None or default == ():
        return None
    if isinstance(default, tuple):
        return "`" + ",".join(default) + "`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def matches(cell: str, default: object) -> bool:
    expected = rendered(default)
    if expected is not None:
        return cell == expected
    # A description, or a pointer to another flag: never a literal value.
    return all(code.startswith("--") for code in CODE.findall(cell))


def serve_flags() -> dict[str, str]:
    """`botflow serve`'s long options, each with the setting it fills."""
    parser = build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    serve = subcommands.choices["serve"]
    return {
        option: ENV_PREFIX + action.dest.upper()
        for action in serve._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


# Per-provider settings (BOTFLOW_PROVIDER_<NAME>_<KEY>) belong to the
# providers package and its defaults, not to ServerConfig.
PROVIDER_SETTING = re.compile(rf"{ENV_PREFIX}PROVIDER_[A-Z0-9]+_")


def server_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if not any(PROVIDER_SETTING.match(v) for v in r.variables)]


ROWS = server_rows(parse_table(README.read_text()))
DEFAULTS = field_defaults()


def test_the_table_is_found() -> None:
    assert len(ROWS) >= 20


def test_every_setting_has_exactly_one_row() -> None:
    named = [v for row in ROWS for v in row.variables]
    assert sorted(named) == sorted(DEFAULTS)


@pytest.mark.parametrize("row", ROWS, ids=["+".join(r.variables) or "?" for r in ROWS])
def test_the_default_is_the_code_default(row: Row) -> None:
    for variable in row.variables:
        assert variable in DEFAULTS, f"{variable} is no setting"
        default = DEFAULTS[variable]
        assert matches(row.default, default), (
            f"{variable}: README says {row.default}, defaults.py {rendered(default)}"
        )


def test_flags_are_the_ones_serve_has() -> None:
    flags = serve_flags()
    in_table = {
        flag: variable
        for row in ROWS
        for flag, variable in zip(row.flags, row.variables, strict=False)
    }
    assert in_table == flags


@pytest.mark.parametrize(
    ("cell", "default", "expected"),
    [
        ("`50051`", 50051, True),
        ("`50052`", 50051, False),
        ("`10`", 10.0, True),
        ("`openai,fake`", ("openai", "fake"), True),
        ("`fake,openai`", ("openai", "fake"), False),
        ("(none)", (), True),
        ("(off)", None, True),
        ("`--host`", None, True),
        ("`0`", None, False),
        ("`INFO`", "INFO", True),
    ],
)
def test_matching(cell: str, default: object, expected: bool) -> None:
    assert matches(cell, default) is expected


def test_parse_table() -> None:
    text = "\n".join(
        [
            "## Other",
            "| a | b | c | d |",
            HEADING,
            "",
            "| flag | environment | default | meaning |",
            "|---|---|---|---|",
            "| `--x`, `--y` | `BOTFLOW_X`, `BOTFLOW_Y` | (none) | a \\| b |",
            "| | `BOTFLOW_Z` | `3` | |",
            "### Next",
            "| `--w` | `BOTFLOW_W` | `1` | |",
        ]
    )
    assert parse_table(text) == [
        Row(("--x", "--y"), ("BOTFLOW_X", "BOTFLOW_Y"), "(none)"),
        Row((), ("BOTFLOW_Z",), "`3`"),
    ]
