"""The cache of checked timelines that ``run FILE`` reads (``routine/timeline_cache.py``).

A hit must give exactly the timeline a fresh read gives; anything that could change
that timeline (the file's bytes, even at the same size and mtime, a catalogue, the
code) or any cache file not as the code writes it must be a miss, read the usual
way. Hits are told from misses by counting the routine reads, never by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.routine import BUNDLED, ROOT, SPEC_EXAMPLE
from tests.routine.conftest import Catalogues
from tproutine import paths
from tproutine.cli import main
from tproutine.routine import quick
from tproutine.routine import timeline_cache as tc
from tproutine.routine.checked import Plan
from tproutine.routine.timeline import KIND_LABELS, Cue, DeviceSetting, Segment, Timeline
from tproutine.yamlsafe import LoadError

SMALL = """\
format: tproutine/1
name: Small
plan: {per_week: 3, weeks: 4, reminder: ["08:00"]}
safety:
  warnings: [Stop if it tingles.]
steps:
  - breathe: Slow breathing
    duration: 20s
    pattern: [4s, 2s, 6s]
  - hold: Piriformis
    duration: 10s
    side: both
    reps: 2
    rest: 3s
    pressure: 5
    cues: [{at: 0s, say: Lean in.}, {at: -3s, say: Nearly there.}]
  - massage: Calves
    duration: 30s
    device: {ramp: [20%, 40%]}
"""


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert tc.folder().is_relative_to(tmp_path)
    return tmp_path / "cache"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The routine files read and checked (not taken from the cache), by shown name."""
    done: list[str] = []
    real = quick.read_routine

    def counted(raw: bytes, file: str) -> Any:
        done.append(file)
        return real(raw, file)

    monkeypatch.setattr(quick, "read_routine", counted)
    return done


def write(folder: Path, text: str, name: str = "small.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def entry(path: Path) -> Path:
    return tc.entry_path(path.resolve())


# --- a hit is the timeline a fresh read gives --------------------------------------------


@pytest.mark.parametrize(
    "path", [*BUNDLED, SPEC_EXAMPLE], ids=lambda p: p.stem if isinstance(p, Path) else str(p)
)
def test_a_cached_timeline_equals_a_fresh_one(path: Path, reads: list[str]) -> None:
    fresh = quick.load_timeline(path)
    reads.clear()
    assert tc.load_timeline(path) == fresh  # a miss: read, then kept
    cached = tc.load_timeline(path)
    assert reads == [str(path)]  # the second came from the cache
    assert cached == fresh
    assert_same_types(cached, fresh)


def assert_same_types(a: Timeline, b: Timeline) -> None:
    """Equal is not enough: a list where a tuple is due compares unequal, but 4 == 4.0."""
    for x, y in zip(a.segments, b.segments, strict=True):
        for field in Segment.__slots__:
            assert type(getattr(x, field)) is type(getattr(y, field)), field
        assert all(type(c.at_s) is type(d.at_s) for c, d in zip(x.cues, y.cues, strict=True))
    assert type(a.plan) is type(b.plan) and type(a.total_s) is type(b.total_s)


def test_a_routine_of_catalogue_steps_and_a_plan(
    tmp_path: Path, catalogues: Catalogues, reads: list[str]
) -> None:
    body = "steps:\n  - use: upper-trap\n  - use: slow-breath\n  - use: shoulders-gun\n"
    path = write(tmp_path, "format: tproutine/1\nname: Used\nplan: {per_week: 2}\n" + body)
    fresh = quick.load_timeline(path)
    reads.clear()
    tc.load_timeline(path)
    cached = tc.load_timeline(path)
    assert cached == fresh and len(reads) == 1
    assert cached.plan == Plan(2) and cached.segments[-1].device == DeviceSetting(20, 40)
    assert_same_types(cached, fresh)


def test_source_is_the_name_it_is_run_by(tmp_path: Path, reads: list[str]) -> None:
    path = write(tmp_path, SMALL)
    tc.load_timeline(path, shown="first name")
    again = tc.load_timeline(str(path), shown="small")
    assert again.source == "small" and len(reads) == 1
    assert again == quick.load_timeline(path, shown="small")


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t"))
_seconds = st.floats(0, 8 * 3600.0) | st.integers(0, 8 * 3600)
_percent = st.floats(0, 100) | st.integers(0, 100)
_device = (
    st.none()
    | st.builds(DeviceSetting, _percent, _percent)
    | st.builds(lambda level: DeviceSetting(level=level), st.integers(0, 10_000))
)


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    segments = tuple(
        Segment(
            index=i,
            kind=draw(st.sampled_from(sorted(KIND_LABELS))),  # type: ignore[arg-type]
            title=draw(_text),
            start_s=draw(_seconds),
            duration_s=draw(_seconds),
            side=draw(st.sampled_from([None, "left", "right"])),
            rep=draw(st.none() | st.integers(1, 100)),
            reps=draw(st.none() | st.integers(1, 100)),
            device=draw(_device),
            cues=tuple(draw(st.lists(st.builds(Cue, _seconds, _text), max_size=3))),
            area=draw(st.none() | _text),
            tool=draw(st.none() | _text),
            instructions=draw(st.none() | _text),
            pressure=draw(st.none() | st.integers(0, 10)),
            pattern=draw(st.none() | st.tuples(_seconds, _seconds)),
            step_path=draw(st.none() | _text),
        )
        for i in range(draw(st.integers(0, 6)))
    )
    plan = draw(
        st.none()
        | st.builds(
            Plan,
            st.integers(1, 14),
            st.none() | st.integers(1, 104),
            st.lists(_text, max_size=2).map(tuple),
        )
    )
    return Timeline(
        name=draw(_text),
        segments=segments,
        total_s=draw(_seconds),
        device_specific=draw(st.booleans()),
        uses_device=draw(st.booleans()),
        warnings=tuple(draw(st.lists(_text, max_size=2))),
        avoid_if=tuple(draw(st.lists(_text, max_size=2))),
        content_hash="ab" * 32,
        source="shown",
        plan=plan,
    )


@given(timelines())
def test_any_timeline_comes_back_as_it_was_written(timeline: Timeline) -> None:
    data = json.loads(json.dumps(tc.record(timeline)))
    back = tc.timeline_from(data, "ab" * 32, "shown")
    assert back == timeline
    assert back is not None
    assert_same_types(back, timeline)


# --- what makes a miss --------------------------------------------------------------------


def test_an_edit_at_the_same_size_and_mtime_is_read_again(tmp_path: Path, reads: list[str]) -> None:
    path = write(tmp_path, SMALL)
    assert tc.load_timeline(path).name == "Small"
    st_before = path.stat()
    path.write_text(SMALL.replace("name: Small", "name: Large"), encoding="utf-8")
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    assert path.stat().st_size == st_before.st_size
    assert path.stat().st_mtime_ns == st_before.st_mtime_ns
    assert tc.load_timeline(path).name == "Large"
    assert len(reads) == 2


def test_an_invalid_edit_is_the_usual_error_not_the_cached_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, SMALL)
    assert main(["run", str(path), "--plain", "--yes", "--speed", "1000", "--adapter", "none"]) == 0
    assert entry(path).exists()
    capsys.readouterr()
    st_before = path.stat()
    broken = SMALL.replace("duration: 10s", "duration: 10x")
    path.write_text(broken, encoding="utf-8")
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    with pytest.raises(LoadError) as caught:
        quick.load_timeline(path)
    assert main(["run", str(path), "--plain", "--yes", "--speed", "1000", "--adapter", "none"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [str(p) for p in caught.value.problems]
    assert f"{path}:" in err and "steps[1].duration" in err


def test_a_changed_catalogue_is_read_again(
    tmp_path: Path, catalogues: Catalogues, reads: list[str]
) -> None:
    path = write(tmp_path, "format: tproutine/1\nname: Used\nsteps:\n  - use: doorway\n")
    assert tc.load_timeline(path).segments[-1].duration_s == 30
    catalogues.write("neck.yaml", NECK_LONGER)
    assert tc.load_timeline(path).segments[-1].duration_s == 50
    assert len(reads) == 2
    # A catalogue of the person's own that now defines the same id: the routine fails.
    catalogues.write("mine.yaml", NECK_LONGER.replace("name: Neck", "name: Mine"), bundled=False)
    with pytest.raises(LoadError, match="doorway"):
        tc.load_timeline(path)


NECK_LONGER = """\
format: tproutine-steps/1
name: Neck
steps:
  doorway:
    stretch: Doorway chest stretch
    duration: 50s
"""


def test_changed_code_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[str]
) -> None:
    path = write(tmp_path, SMALL)
    tc.load_timeline(path)
    monkeypatch.setattr(tc, "depends", lambda: "other code")
    tc.load_timeline(path)
    tc.load_timeline(path)
    assert len(reads) == 2  # read again once, then kept under the new key


def _damage(change: Callable[[dict[str, Any]], Any]) -> Callable[[str], str]:
    def damage(text: str) -> str:
        data = json.loads(text)
        change(data)
        return json.dumps(data)

    return damage


def _segment(i: int, field: int, value: Any) -> Callable[[str], str]:
    return _damage(lambda d: d["timeline"]["segments"][i].__setitem__(field, value))


def _top(key: str, value: Any) -> Callable[[str], str]:
    return _damage(lambda d: d["timeline"].__setitem__(key, value))


DAMAGES: dict[str, Callable[[str], str]] = {
    "not JSON": lambda text: "\x00\x01 not json",
    "empty": lambda text: "",
    "cut short": lambda text: text[: len(text) // 2],
    "a list at the top": lambda text: "[]",
    "deeply nested": lambda text: "[" * 100_000,
    "another format": _damage(lambda d: d.__setitem__("format", "tproutine-timeline-cache/0")),
    "another path": _damage(lambda d: d.__setitem__("path", "/elsewhere.yaml")),
    "another hash": _top("content_hash", "00" * 32),
    "a name that is a number": _top("name", 7),
    "an escape sequence in the name": _top("name", "Small\x1b[2J"),
    "a control character in a cue": _segment(2, 9, [[0, "Lean\x07 in."]]),
    "a bell in the instructions": _segment(2, 12, "\x07"),
    "a direction override in a title": _segment(1, 2, "Hold \u202e"),
    "a warning that is not text": _top("warnings", [None]),
    "warnings as a string": _top("warnings", "Stop if it tingles."),
    "a total of infinity": lambda text: text.replace('"total_s":', '"total_s":1e999,"x":'),
    "a total of NaN": lambda text: text.replace('"total_s":', '"total_s":NaN,"x":'),
    "a huge integer": _segment(1, 3, 10**400),
    "a huge duration": _segment(1, 4, 1e300),
    "a negative start": _segment(1, 3, -1.0),
    "a bool for an index": _segment(0, 0, True),
    "indexes out of order": _segment(0, 0, 1),
    "an unknown kind": _segment(1, 1, "dance"),
    "a side of both": _segment(2, 5, "both"),
    "a pressure of 11": _segment(2, 13, 11),
    "a device as a mapping": _segment(9, 8, {"from": 20, "to": 40}),
    "a device of 200%": _segment(9, 8, [200, 200, None]),
    "a level and a percent": _segment(9, 8, [20, 40, 3]),
    "a cue as a mapping": _segment(2, 9, [{"at_s": 0, "say": "Lean in."}]),
    "a cue of three": _segment(2, 9, [[0, "Lean in.", 1]]),
    "a pattern of one": _segment(1, 14, [4]),
    "a pattern as a mapping": _segment(1, 14, {"in": 4}),
    "a segment too short": _damage(lambda d: d["timeline"]["segments"][0].pop()),
    "a plan of 99 a week": _top("plan", [99, None, []]),
    "a plan as a mapping": _top("plan", {"per_week": 3}),
    "too many segments": _top("segments", [None] * 10_001),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_or_hostile_cache_file_is_a_miss_then_rewritten(
    tmp_path: Path, reads: list[str], damage: Callable[[str], str]
) -> None:
    path = write(tmp_path, SMALL)
    fresh = tc.load_timeline(path)
    cached = entry(path)
    cached.write_text(damage(cached.read_text(encoding="utf-8")), encoding="utf-8")
    assert tc.load_timeline(path) == fresh
    assert len(reads) == 2
    assert tc.load_timeline(path) == fresh  # rewritten: a hit again
    assert len(reads) == 2


def test_the_damages_are_damages_of_a_file_that_works(tmp_path: Path, reads: list[str]) -> None:
    # Without this, a typo in DAMAGES (a field that is not there) would pass unnoticed.
    path = write(tmp_path, SMALL)
    tc.load_timeline(path)
    segments = json.loads(entry(path).read_text())["timeline"]["segments"]
    kinds = [s[1] for s in segments]
    assert kinds[:3] == ["get_ready", "breathe", "hold"] and kinds[9] == "massage"
    assert segments[1][14] == [4, 2, 6] and segments[2][5] == "left"
    assert segments[2][9] == [[0, "Lean in."], [7, "Nearly there."]]
    assert segments[9][8] == [20, 40, None]


def test_an_unwritable_cache_folder_is_silent(
    tmp_path: Path, cache_home: Path, capsys: pytest.CaptureFixture[str], reads: list[str]
) -> None:
    cache_home.mkdir()
    (cache_home / "tproutine").write_text("a file where the folder should be")
    path = write(tmp_path, SMALL)
    assert main(["run", str(path), "--plain", "--yes", "--speed", "1000", "--adapter", "none"]) == 0
    assert main(["run", str(path), "--plain", "--yes", "--speed", "1000", "--adapter", "none"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and "cache" not in out.out.lower()
    assert len(reads) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_cache_folder_is_silent(tmp_path: Path, reads: list[str]) -> None:
    path = write(tmp_path, SMALL)
    tc.folder().mkdir(parents=True)
    tc.folder().chmod(0o500)
    try:
        assert tc.load_timeline(path) == tc.load_timeline(path)
    finally:
        tc.folder().chmod(0o700)
    assert len(reads) == 2


def test_only_the_most_recently_run_are_kept(tmp_path: Path) -> None:
    paths_ = [write(tmp_path, SMALL, f"r{i}.yaml") for i in range(5)]
    for i, path in enumerate(paths_):
        tc.load_timeline(path)
        os.utime(entry(path), ns=(i * 10**9, i * 10**9))  # ran in this order
    tc.prune(tc.folder(), keep=3)
    assert sorted(p.name for p in tc.folder().iterdir()) == sorted(
        entry(p).name for p in paths_[2:]
    )


def test_a_pipe_is_read_once_and_not_cached(tmp_path: Path, reads: list[str]) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    writer = subprocess.Popen([sys.executable, "-c", f"open({str(fifo)!r}, 'w').write({SMALL!r})"])
    try:
        assert tc.load_timeline(fifo).name == "Small"
    finally:
        writer.wait(timeout=60)
    assert not tc.folder().exists()


# --- what a cached run imports ----------------------------------------------------------------

PROBE = """
import asyncio, sys
from tproutine.tui.app import TProutineApp
seen = []

def modules():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("yaml", "pydantic")
                  or m.startswith("tproutine.routine.quick"))

def run(self, *args, **kwargs):
    async def player():
        async with self.run_test(size=(100, 30)) as pilot:
            for _ in range(100):
                await pilot.pause()
                if type(self.screen).__name__ == "PlayerScreen":
                    break
            seen.append(type(self.screen).__name__)
            seen.append(modules())
            self.exit(0)
    asyncio.run(player())
    return 0

TProutineApp.run = run
from tproutine.cli import main
main(["run", sys.argv[1], "--yes", "--adapter", "none"])
print("TUI", seen)
main(["run", sys.argv[1], "--plain", "--yes", "--adapter", "none", "--speed", "1000"])
print("PLAIN", modules())
"""


def test_a_cached_run_reads_no_yaml_and_no_checker(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)

    def probe() -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(PROBE), str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if line.startswith(("TUI", "PLAIN"))]

    first = probe()  # not cached yet: the file is read and checked
    assert "yaml" in first[0] and "tproutine.routine.quick" in first[0]
    assert probe() == ["TUI ['PlayerScreen', []]", "PLAIN []"]
    assert paths.cache_dir() == tc.folder().parent


def test_a_crashed_writes_temporary_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    from tproutine import cachefiles

    target = tmp_path / "cache" / "library.json"
    target.parent.mkdir()
    stale = target.parent / ".library.json.abc123.tmp"  # a writer killed an hour ago
    fresh = target.parent / ".library.json.def456.tmp"  # another writer, writing now
    other = target.parent / ".other.json.abc123.tmp"  # another cache file's
    for path in (stale, fresh, other):
        path.write_text("{half a wr")
    old = stale.stat().st_mtime - cachefiles.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert cachefiles.write_atomic(target, "{}")
    assert target.read_text() == "{}"
    assert not stale.exists() and fresh.exists() and other.exists()
