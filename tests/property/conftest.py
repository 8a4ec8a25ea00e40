"""Fixtures of the property suite: one real server for the whole session.

Settings profiles live in profiles.py (imported here so they are registered
before any test module loads): BOTFLOW_HYPOTHESIS_PROFILE=ci (default) or hunt.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.property.harness import TIGHT_LIMITS, Harness, guarded_backend
from tests.property.profiles import STRICT_BARRIER


@pytest.fixture(scope="session")
def harness() -> Iterator[Harness]:
    with guarded_backend():
        running = Harness(strict_barrier=STRICT_BARRIER)
        running.start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="session")
def tight_harness() -> Iterator[Harness]:
    """A second server whose every limit is tiny (harness.TIGHT_LIMITS)."""
    with guarded_backend():
        running = Harness(strict_barrier=STRICT_BARRIER, limits=TIGHT_LIMITS)
        running.start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="session")
def scratch_harness() -> Iterator[Harness]:
    """A server for properties that may leave it damaged (event loop state):
    the other properties keep a server no earlier example can have broken."""
    with guarded_backend():
        running = Harness(strict_barrier=STRICT_BARRIER)
        running.start()
        try:
            yield running
        finally:
            running.stop()
