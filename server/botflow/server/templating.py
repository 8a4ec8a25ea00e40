"""{{name}} substitution: plain, single pass, no expressions.

A value that itself contains "{{x}}" is not expanded again, because the
substitution reads the template once and never rescans what it inserted.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Names may contain spaces; they cannot contain braces.
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def render_template(template: str, lookup: Callable[[str], str]) -> str:
    """Replace every {{name}} with lookup(name.strip()); unknown names give ""."""
    return PLACEHOLDER.sub(lambda match: lookup(match.group(1).strip()), template)


def placeholders(template: str) -> list[str]:
    """The variable names a template refers to, in order."""
    return [match.group(1).strip() for match in PLACEHOLDER.finditer(template)]
