"""Settings for the whole suite.

No test may depend on how fast or how busy the machine is. Hypothesis measures
each example against a deadline (200 ms by default) and checks that generating
data is not "too slow": both fail on a machine that is busy with other work, so
they are off for every property test here. What a property test checks is the
property; speed is measured by the benchmarks under ``bench/``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# `make test` must give the same answer every time (a red CI means nothing lands),
# so property tests draw the same examples on every run and replay nothing from a
# local database. `make fuzz` explores new examples and remembers what fails.
_CALM = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True, **_CALM)
settings.register_profile("explore", max_examples=2_000, print_blob=True, **_CALM)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# The BlueZ tests run inside the test VM only (`make test-bluez`, which sets
# TPROUTINE_BLUEZ_VM): `make test` does not even collect them.
if os.environ.get("TPROUTINE_BLUEZ_VM") != "1":
    collect_ignore = ["bluez"]


@pytest.fixture(autouse=True)
def _package_logger_as_it_was() -> Iterator[None]:
    """Put the ``tproutine`` logger back as it was after each test.

    A command run in process (``cli.main``) routes the package's log to one-line
    messages and stops it propagating (``commands.common.quiet_logging``); left so,
    every later test that reads the log with ``caplog`` saw nothing, and which
    tests failed depended on the order they ran in.
    """
    logger = logging.getLogger("tproutine")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate = propagate
    logger.setLevel(level)
