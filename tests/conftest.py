"""Settings for the whole suite."""

from __future__ import annotations

import os

from hypothesis import settings

# `make test` must give the same answer every time (a red CI means nothing lands),
# so property tests draw the same examples on every run and replay nothing from a
# local database. `make fuzz` explores new examples and remembers what fails.
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=2_000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
