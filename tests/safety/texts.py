"""Texts the safety tests share."""

from __future__ import annotations

_PROFILE = """\
id: {id}
name: "{name}"
kind: vibrator
status: tested
source: "test"
match:
  names: ["TEST-*"]
gatt:
  service: "FFE0"
  write: "FFE1"
levels: [0, 20]
commands:
  set: ["A0", "{{level}}"]
  stop: ["A0 00"]
safety:
  max_on: 600
"""


def toy_profile(profile_id: str, name: str) -> str:
    """A valid device profile but for ``name``, written into a YAML double-quoted
    string as it is (so ``\\e`` or ``\\u009b`` in it are YAML escapes); its name is
    at line 2, column 7."""
    return _PROFILE.format(id=profile_id, name=name)
