"""Hypothesis settings of the property suite.

- "botflow-ci" (the default): a fixed, reproducible run sized to stay well
  under a minute on two cores. Derandomized, so CI sees the same examples every
  time; no example database; no shrinking, because shrinking a failure costs an
  unbounded number of server calls and would break the suite's time budget.
- "botflow-hunt" (BOTFLOW_HYPOTHESIS_PROFILE=hunt): a long random run that
  shrinks what it finds and remembers it under .hypothesis/ for the next run.
  BOTFLOW_HYPOTHESIS_EXAMPLES overrides its example count.

BOTFLOW_PROPERTY_STRICT_BARRIER=1 also fails on every exception the failure
barrier caught: the call kept the invariant, but some block raised something
nobody expected, which is worth a look.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_SLOW_IS_FINE = [
    # Every example is a real gRPC call, some with real waits.
    HealthCheck.too_slow,
    # The suite-wide autouse network guard is function-scoped; the server this
    # suite uses is session-scoped and guarded separately (harness.py).
    HealthCheck.function_scoped_fixture,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]

settings.register_profile(
    "botflow-ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=False,
)
settings.register_profile(
    "botflow-hunt",
    max_examples=int(os.environ.get("BOTFLOW_HYPOTHESIS_EXAMPLES", "500")),
    deadline=None,
    derandomize=False,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    phases=tuple(Phase),
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)

PROFILE_NAME = "botflow-" + os.environ.get("BOTFLOW_HYPOTHESIS_PROFILE", "ci")
# Applied per test (not loaded globally) so that other hypothesis tests of the
# repository keep their own settings.
PROFILE = settings.get_profile(PROFILE_NAME)
STRICT_BARRIER = os.environ.get("BOTFLOW_PROPERTY_STRICT_BARRIER", "") not in ("", "0")


def scaled(fraction: float) -> settings:
    """The active profile with `fraction` of its examples (some properties cost more)."""
    return settings(PROFILE, max_examples=max(1, round(PROFILE.max_examples * fraction)))
