"""Cue output: the bell, the voice program (a script standing in for espeak-ng), failures."""

from __future__ import annotations

import asyncio
import io
import stat
import time
from pathlib import Path

from tests.asynckit import eventually
from tproutine.engine.cues import CueOutput, spoken_title, terminal_bell
from tproutine.engine.events import Event, EventName

# How long to wait for a real program to start and speak: generous, the machine may be busy.
WAIT_S = 30.0


def event(name: EventName, **data: object) -> Event:
    return Event(name, 0.0, 0.0, dict(data))


def voice_script(tmp_path: Path, *, then: str = "") -> tuple[list[str], Path]:
    """An executable that appends its last argument to a log, then runs ``then``."""
    log = tmp_path / "spoken.txt"
    script = tmp_path / "fake-voice"
    script.write_text(
        f'#!/bin/sh\nfor last; do :; done\nprintf "%s\\n" "$last" >> "{log}"\n{then}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return [str(script), "-s", "150"], log


def spoken(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_the_bell_rings_for_each_cue_and_count_only() -> None:
    rings: list[int] = []
    cues = CueOutput(bell=lambda: rings.append(1))
    cues(event("segment_start", index=0, kind="hold", title="Hold", side=None))
    cues(event("cue", index=0, say="Ten seconds left"))
    cues(event("cue", index=0, say="3", count=3))
    cues(event("pause"))
    assert len(rings) == 2


def test_terminal_bell_writes_bel_and_survives_a_closed_stream() -> None:
    out = io.StringIO()
    ring = terminal_bell(out)
    ring()
    assert out.getvalue() == "\a"
    out.close()
    ring()  # no exception


def test_spoken_title_names_the_side() -> None:
    assert spoken_title(event("segment_start", title="Piriformis", side="left")) == (
        "Piriformis, left side"
    )
    assert spoken_title(event("segment_start", title="", kind="switch", side=None)) == (
        "Switch sides"
    )


async def test_the_voice_speaks_cues_and_titles_without_a_shell(tmp_path: Path) -> None:
    argv, log = voice_script(tmp_path)
    cues = CueOutput(voice=argv)
    cues(event("segment_start", index=0, kind="hold", title="Quadratus lumborum", side="left"))
    # A real program runs: wait until it has spoken (a new cue would cut it short).
    await eventually(lambda: spoken(log), WAIT_S, "the first utterance")
    dangerous = 'Relax; touch "$HOME/pwned" $(touch pwned2) `touch pwned3`'
    cues(event("cue", index=0, say=dangerous))
    await cues.aclose(grace=5.0)
    assert spoken(log) == ["Quadratus lumborum, left side", dangerous]
    assert not any(p.name.startswith("pwned") for p in Path.cwd().iterdir())
    assert not (Path.home() / "pwned").exists()


async def test_a_new_utterance_cuts_the_previous_one(tmp_path: Path) -> None:
    argv, log = voice_script(tmp_path, then="exec sleep 30")
    cues = CueOutput(voice=argv)
    cues.say("first")
    await eventually(
        lambda: spoken(log) == ["first"] and cues._proc is not None, WAIT_S, "the first"
    )
    first = cues._proc
    assert first is not None and first.returncode is None  # it sleeps for 30 s
    cues.say("second")
    await eventually(lambda: first.returncode is not None, WAIT_S, "the first to be cut")
    assert first.returncode < 0  # terminated by us, long before its 30 s
    await eventually(lambda: spoken(log) == ["first", "second"], WAIT_S, "the second")
    started = time.monotonic()
    await cues.aclose()
    # The second also sleeps 30 s: it is cut at once (the bound is honest slack).
    assert time.monotonic() - started < 15.0
    assert spoken(log) == ["first", "second"]


async def test_texts_due_together_are_said_together_in_order(tmp_path: Path) -> None:
    argv, log = voice_script(tmp_path)
    cues = CueOutput(voice=argv)
    cues(event("segment_start", index=0, kind="hold", title="Piriformis", side=None))
    cues(event("cue", index=0, say="Lean in."))
    cues(event("cue", index=0, say="Breathe"))
    await cues.aclose(grace=5.0)
    assert spoken(log) == ["Piriformis. Lean in. Breathe"]


async def test_a_missing_voice_program_is_reported_once(tmp_path: Path) -> None:
    reports: list[str] = []
    rings: list[int] = []
    cues = CueOutput(
        bell=lambda: rings.append(1),
        voice=[str(tmp_path / "no-such-espeak")],
        report=reports.append,
    )
    for i in range(5):
        cues(event("cue", index=i, say=f"cue {i}"))
        await asyncio.sleep(0.05)
    await cues.aclose()
    assert len(reports) == 1
    assert "no-such-espeak" in reports[0] and "without a voice" in reports[0]
    assert cues.voice is None
    assert len(rings) == 5  # the bell goes on


async def test_a_failing_voice_program_is_reported_once(tmp_path: Path) -> None:
    argv, _ = voice_script(tmp_path, then="exit 3")
    reports: list[str] = []
    cues = CueOutput(voice=argv, report=reports.append)
    cues.say("one")
    await eventually(lambda: reports, WAIT_S, "the first failure to be reported")
    cues.say("two")
    await cues.aclose(grace=WAIT_S)
    assert len(reports) == 1 and "exit status 3" in reports[0]


def test_without_an_event_loop_nothing_is_spoken(tmp_path: Path) -> None:
    argv, log = voice_script(tmp_path)
    cues = CueOutput(voice=argv)
    cues.say("hello")
    assert cues.spoken == [] and not log.exists()


async def test_aclose_without_anything_said() -> None:
    cues = CueOutput(voice=["espeak-ng"])
    await asyncio.wait_for(cues.aclose(grace=1.0), timeout=5)  # returns, never hangs
    assert cues.spoken == []
