"""Every routine test runs with the config folder in ``tmp_path``.

A routine's ``use:`` lines read the person's own step catalogues from the config
folder; the developer's own must never change what a test sees. The
``catalogues`` fixture goes further: bundled and personal catalogues of the
test's own, so that a test does not depend on the steps tproutine ships.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tproutine import paths


@pytest.fixture(autouse=True)
def _own_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


NECK = """\
format: tproutine-steps/1
name: Neck
safety:
  warnings: ['Stop at once if you feel numbness, tingling, or sharp or shooting pain.']
steps:
  upper-trap:
    hold: Upper trapezius
    area: top of the shoulder
    tool: your fingers
    side: both
    alternate: true
    duration: 45s
    reps: 2
    rest: 10s
    pressure: 5
    instructions: Squeeze until it is about a {pressure} out of 10.
    cues:
      - {at: 0s, say: 'Squeeze to about a {pressure}.'}
      - {at: -10s, say: Ten seconds left.}
  doorway:
    stretch: Doorway chest stretch
    duration: 30s
    reps: 2
  slow-breath:
    breathe: Slow breathing
    duration: 1m
    pattern: [4s, 6s]
  shoulders-gun:
    massage: Shoulders
    duration: 45s
    device: {ramp: [20%, 40%]}
"""


class Catalogues:
    """The bundled folder and the person's folder, both empty until written to."""

    def __init__(self, root: Path) -> None:
        self.bundled = root / "bundled-steps"
        self.user = root / "config" / "tproutine" / "steps"
        self.bundled.mkdir(parents=True)

    def write(self, name: str, text: str, *, bundled: bool = True) -> Path:
        folder = self.bundled if bundled else self.user
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path


@pytest.fixture
def catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalogues:
    cats = Catalogues(tmp_path)
    monkeypatch.setattr(paths, "bundled_steps_dir", lambda: cats.bundled)
    cats.write("neck.yaml", NECK)
    return cats
