"""{{name}} substitution: plain, single pass, no expressions.

A value that itself contains "{{x}}" is not expanded again, because the
substitution reads the template once and never rescans what it inserted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# Names may contain spaces; they cannot contain braces.
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
# Flows and actions reuse a few templates over and over: each is split once,
# not scanned by the regex (and a callback per match) on every render.
_PARSED_TEMPLATES = 4096

# The text before the first placeholder, then (name, text after it) for each.
_Parsed = tuple[str, tuple[tuple[str, str], ...]]


def render_template(template: str, lookup: Callable[[str], str]) -> str:
    """Replace every {{name}} with lookup(name.strip()); unknown names give ""."""
    if "{{" not in template:
        return template
    head, placeholders_ = _parsed(template)
    if len(placeholders_) == 1:
        ((name, tail),) = placeholders_
        return head + lookup(name) + tail
    parts = [head]
    for name, text in placeholders_:
        parts.append(lookup(name))
        parts.append(text)
    return "".join(parts)


@lru_cache(maxsize=_PARSED_TEMPLATES)
def _parsed(template: str) -> _Parsed:
    parts = PLACEHOLDER.split(template)
    pairs = tuple((parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2))
    return parts[0], pairs


def placeholders(template: str) -> list[str]:
    """The variable names a template refers to, in order."""
    if "{{" not in template:
        return []
    # From the cached split: the secret names of every run read the same
    # token templates again.
    return [name for name, _ in _parsed(template)[1]]
