"""The server names no provider outside its registry wiring, and the
providers package keeps its defaults in one module (issues 11 and 16)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server" / "botflow" / "server"
PROVIDERS = ROOT / "providers" / "botflow" / "providers"
PROVIDER_NAME = re.compile(r"""["'](openai|fake|anthropic)["']""")
# Where provider names belong: the registry wiring and the defaults.
WIRING = {"defaults.py", "provider_wiring.py"}
# The same word as something else: the OpenAI *action* (a oneof field of
# Action and its metric label) and the SDK's logger name.
NOT_A_PROVIDER = {
    ("secrets.py", 'if kind == "openai":'),
    ("blocks/__init__.py", '"openai",'),
    ("blocks/openai_action.py", 'ctx.report("openai", provider_name(action), _cancelled_result())'),
    ("blocks/openai_action.py", 'ctx.report("openai", provider_name(action), run.result)'),
    (
        "logs.py",
        'NOISY_LOGGERS = ("openai", "httpx2", "httpx", "httpcore", "httpcore2", "grpc", "asyncio")',
    ),
}


def _named_lines() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in sorted(SERVER.rglob("*.py")):
        relative = path.relative_to(SERVER).as_posix()
        if relative in WIRING:
            continue
        for line in path.read_text().splitlines():
            if PROVIDER_NAME.search(line):
                found.append((relative, line.strip()))
    return found


def test_the_server_names_providers_only_in_its_registry_wiring() -> None:
    unexpected = [hit for hit in _named_lines() if hit not in NOT_A_PROVIDER]
    assert unexpected == []


def test_the_check_sees_a_provider_name() -> None:
    # The control: the pattern does match what the test above must refuse.
    assert PROVIDER_NAME.search('if provider == "fake" and invalid_outcomes(x):')
    assert PROVIDER_NAME.search("return config.openai_base_url if p == 'openai' else None")


def _literal_defaults(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name) and "DEFAULT" in t.id]
    return names


def test_provider_defaults_are_declared_only_in_defaults_py() -> None:
    declared = {
        path.name: _literal_defaults(path)
        for path in sorted(PROVIDERS.glob("*.py"))
        if path.name != "defaults.py"
    }
    assert {name: found for name, found in declared.items() if found} == {}
    assert _literal_defaults(PROVIDERS / "defaults.py")  # the control: it does find some
