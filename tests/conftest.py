"""Settings for the whole suite.

No test may depend on how fast or how busy the machine is. Hypothesis measures
each example against a deadline (200 ms by default) and checks that generating
data is not "too slow": both fail on a machine that is busy with other work, so
they are off for every property test here. What a property test checks is the
property; speed is measured by the benchmarks under ``bench/``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("tproutine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tproutine")
