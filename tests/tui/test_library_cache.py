"""The Library's cache of routine summaries, and a Library of 1,000 routines.

The cache may only ever make the list quicker: a file it has not seen, a file
changed since (even to the same size and mtime), a damaged cache or other code
all mean the file is read again; and starting a routine always reads and checks
the file as it is now.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, OptionList

from tproutine import paths
from tproutine.settings import Settings
from tproutine.tui import library_cache
from tproutine.tui.catalog import LibraryScan, scan_library
from tproutine.tui.library_cache import LibraryCache, cache_path
from tproutine.tui.messages import LibraryLoaded
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import PlayerScreen

from .conftest import DATA, AppFactory, flat, library_ready, screen_text

GOOD = (DATA / "desk-neck.yaml").read_text(encoding="utf-8")
BAD = GOOD.replace("duration: 30s", "duration: -30s", 1)  # the same size, less one byte


def routine(name: str, minutes: int = 1) -> str:
    return (
        f"format: tproutine/1\nname: {name}\ntags: [practice]\nauthor: Someone\n"
        f"steps:\n  - hold: Somewhere\n    duration: {minutes}m\n"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    found = tmp_path / "mine"
    found.mkdir()
    return found


def scan(folder: Path) -> list[Any]:
    return scan_library(((folder, "yours"),), cache=LibraryCache.open())


def records(xdg: Path) -> dict[str, Any]:
    data = json.loads(cache_path().read_text())
    files: dict[str, Any] = data["files"]
    return files


def test_the_cache_lives_in_the_xdg_cache_folder(xdg: Path) -> None:
    assert cache_path() == xdg / "cache" / "tproutine" / "library.json"
    assert paths.cache_dir().is_relative_to(xdg)


def test_a_second_scan_takes_every_summary_from_the_cache(
    xdg: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        (folder / f"r{i}.yaml").write_text(routine(f"Routine {i}"))
    first = scan(folder)
    assert len(records(xdg)) == 3

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cached file was read again")

    monkeypatch.setattr("tproutine.tui.catalog.read_entry", no_reading)
    again = scan(folder)
    assert again == first
    assert [e.details for e in again] == [e.details for e in first]


def test_a_file_changed_to_the_same_size_and_mtime_is_read_again(xdg: Path, folder: Path) -> None:
    path = folder / "desk.yaml"
    path.write_text(GOOD)
    assert scan(folder)[0].ok
    st = path.stat()
    path.write_text(BAD.replace("-30s", "-3s"))  # the same length as GOOD
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
    entry = scan(folder)[0]
    assert not entry.ok and "negative" in entry.errors[0]


def later(seconds: float) -> Any:
    """A wall clock ``seconds`` ahead: a scan made that long after the files were written."""
    import time

    return lambda: time.time_ns() + int(seconds * 1e9)


def test_a_file_whose_status_is_the_records_is_not_read_again(
    xdg: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        (folder / f"r{i}.yaml").write_text(routine(f"Routine {i}"))
    # Read a minute after they were written: their status can vouch for them.
    first = scan_library(((folder, "yours"),), cache=LibraryCache.open(clock_ns=later(60)))
    assert all(type(r["key"]["read"]) is int for r in records(xdg).values())

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a file whose status is unchanged was read")

    monkeypatch.setattr("tproutine.cachefiles.read_whole", no_reading)
    monkeypatch.setattr("tproutine.tui.catalog.read_entry", no_reading)
    assert scan(folder) == first


def test_a_file_written_just_before_it_was_read_is_hashed_again(xdg: Path, folder: Path) -> None:
    # An edit within the same tick of the file system's clock keeps the file's status
    # (git's "racily clean" files): seen here as a record whose status is the file's
    # as it is now, made less than RACY_NS after the file's last change.
    path = folder / "desk.yaml"
    path.write_text(GOOD)
    assert scan(folder)[0].ok
    path.write_text(BAD.replace("-30s", "-3s"))  # the same size, other bytes
    data = json.loads(cache_path().read_text())
    key = data["files"][str(path)]["key"]
    st = path.stat()
    key["status"] = library_cache.file_status(st)
    key["read"] = st.st_ctime_ns + library_cache.RACY_NS - 1
    cache_path().write_text(json.dumps(data))
    entry = scan(folder)[0]
    assert not entry.ok and "negative" in entry.errors[0]
    # The same record made after the window: the status vouches for the file, and
    # the summary of the bytes it had is taken (what the window is there to prevent).
    path.write_text(GOOD)
    scan(folder)
    data = json.loads(cache_path().read_text())
    path.write_text(BAD.replace("-30s", "-3s"))
    key = data["files"][str(path)]["key"]
    st = path.stat()
    key["status"] = library_cache.file_status(st)
    key["read"] = st.st_ctime_ns + library_cache.RACY_NS + 1
    cache_path().write_text(json.dumps(data))
    assert scan(folder)[0].ok


def test_a_file_copied_back_or_saved_over_is_hashed_and_kept_when_its_bytes_are(
    xdg: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    path = folder / "desk.yaml"
    path.write_text(GOOD)
    scan_library(((folder, "yours"),), cache=LibraryCache.open(clock_ns=later(60)))
    # An editor's save: a new file renamed over the old (new inode), the same bytes.
    spare = folder.parent / "spare.yaml"
    shutil.copy2(path, spare)  # mtime kept
    os.replace(spare, path)
    read: list[Path] = []
    import tproutine.cachefiles as cachefiles

    real = cachefiles.read_whole

    def counting(p: Path | str) -> Any:
        read.append(Path(p))
        return real(p)

    monkeypatch.setattr(cachefiles, "read_whole", counting)
    monkeypatch.setattr(
        "tproutine.tui.catalog.read_entry",
        lambda *a, **k: (_ for _ in ()).throw(AssertionError("the same bytes were parsed")),
    )
    entry = scan_library(((folder, "yours"),), cache=LibraryCache.open(clock_ns=later(60)))[0]
    assert entry.ok and read == [path]  # hashed, not parsed
    # Its record now has the new status: the next start takes it without reading.
    read.clear()
    scan_library(((folder, "yours"),), cache=LibraryCache.open(clock_ns=later(60)))
    assert read == []


def test_a_damaged_cache_is_rebuilt_silently(xdg: Path, folder: Path) -> None:
    (folder / "a.yaml").write_text(routine("Alpha"))
    first = scan(folder)
    for damage in (b"{not json", b"[]", b'{"format": 3}', b"\xff\xfe", b""):
        cache_path().write_bytes(damage)
        assert scan(folder) == first
        assert list(records(xdg)) == [str(folder / "a.yaml")]


def test_a_damaged_record_is_read_from_the_file(xdg: Path, folder: Path) -> None:
    (folder / "a.yaml").write_text(routine("Alpha", 2))
    (folder / "b.yaml").write_text(routine("Beta", 3))
    scan(folder)
    data = json.loads(cache_path().read_text())
    a, b = (data["files"][str(folder / n)] for n in ("a.yaml", "b.yaml"))
    a["entry"]["name"] = "Alpha\x1b]52;c;ZXZpbA==\x07"  # a control sequence: refused
    b["entry"]["details"] = "{broken"  # the preview's part is read when shown
    cache_path().write_text(json.dumps(data))
    alpha, beta = scan(folder)
    assert alpha.name == "Alpha" and alpha.total_s == 125.0
    assert beta.name == "Beta" and beta.steps[-1].text == "Hold: Somewhere"


def test_a_cache_written_by_other_code_or_for_other_catalogues_is_dropped(
    xdg: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "a.yaml").write_text(routine("Alpha"))
    scan(folder)
    before = library_cache.inputs()
    # A step catalogue (issue 11) in the person's config folder changes what a
    # routine that uses it means.
    steps = paths.config_dir() / "steps"
    steps.mkdir(parents=True)
    (steps / "neck.yaml").write_text("format: tproutine-steps/1\n")
    assert library_cache.inputs() != before
    assert LibraryCache.open().take(folder / "a.yaml", "yours") is None
    monkeypatch.setattr(library_cache, "inputs", lambda: "other code")
    cache = LibraryCache.open()
    assert cache._old == {}


def test_files_that_are_gone_leave_the_cache(xdg: Path, folder: Path) -> None:
    (folder / "a.yaml").write_text(routine("Alpha"))
    (folder / "b.yaml").write_text(routine("Beta"))
    scan(folder)
    (folder / "a.yaml").unlink()
    scan(folder)
    assert list(records(xdg)) == [str(folder / "b.yaml")]


def test_an_unwritable_cache_only_costs_time(xdg: Path, folder: Path) -> None:
    (folder / "a.yaml").write_text(routine("Alpha"))
    (xdg / "cache").write_text("a file where the folder should be")
    assert [e.name for e in scan(folder)] == ["Alpha"]


def test_a_slow_disk_leaves_the_rest_to_the_worker(xdg: Path, folder: Path) -> None:
    for i in range(5):
        (folder / f"r{i}.yaml").write_text(routine(f"Routine {i}"))
    scan(folder)
    s = LibraryScan(((folder, "yours"),), cache=LibraryCache.open())
    s.take_cached(deadline=0.0)  # the deadline has passed: nothing taken before the paint
    assert s.entries == [] and not s.done
    assert [e.name for e in s.read_rest()] == [f"Routine {i}" for i in range(5)]
    assert s.done


# --- the Library ----------------------------------------------------------------------


async def test_a_routine_that_went_bad_after_listing_does_not_start(
    make: AppFactory, folder: Path
) -> None:
    path = folder / "desk.yaml"
    path.write_text(GOOD)
    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(120, 36)) as pilot:
        await library_ready(pilot)
        assert app.entries is not None and app.entries[0].ok
        path.write_text(BAD)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        assert any("cannot be run" in str(n.message) for n in app._notifications)
        # The list now says what the file says.
        assert not app.entries[0].ok
        assert "This file cannot be run" in flat(screen_text(app))


async def test_a_routine_changed_after_listing_runs_as_it_is_now(
    make: AppFactory, folder: Path
) -> None:
    path = folder / "mine.yaml"
    path.write_text(routine("Before", 1))
    app = make(routine_dirs=((folder, "yours"),), settings=Settings(pain_prompts=False))
    async with app.run_test(size=(120, 36)) as pilot:
        await library_ready(pilot)
        path.write_text(routine("After", 2))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.timeline.name == "After"
        assert app.screen.session.timeline.total_s == 125.0


async def test_a_cached_summary_that_lies_never_starts(make: AppFactory, folder: Path) -> None:
    # A cache edited by hand to call a broken file fine: the list may say so, but the
    # routine is read and checked again when it starts.
    path = folder / "desk.yaml"
    path.write_text(BAD)
    scan_library(((folder, "yours"),), cache=LibraryCache.open())
    data = json.loads(cache_path().read_text())
    data["files"][str(path)]["entry"]["errors"] = []
    cache_path().write_text(json.dumps(data))
    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(120, 36)) as pilot:
        await library_ready(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LibraryScreen)
        assert app.entries is not None and not app.entries[0].ok


async def test_the_cached_list_is_there_before_any_worker(
    make: AppFactory, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        (folder / f"r{i}.yaml").write_text(routine(f"Routine {i}"))
    scan_library(((folder, "yours"),), cache=LibraryCache.open())
    # However busy the machine: the budget before the first paint is not what is tested.
    monkeypatch.setattr("tproutine.tui.screens.library.FIRST_PAINT_BUDGET_S", 600.0)
    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # Everything was cached: no worker was needed, the list is complete.
        assert not app.workers
        assert "3 routines" in screen_text(app)


async def test_uncached_files_arrive_as_they_are_read(
    make: AppFactory, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(6):  # read first, listed last: each arrival goes to the top
        (folder / f"r{i}.yaml").write_text(routine(f"Routine {5 - i}"))
    monkeypatch.setattr("tproutine.tui.catalog.PROGRESS_EVERY_S", 0.0)
    messages: list[LibraryLoaded] = []

    def hook(message: object) -> None:
        # The hook sees a message each time it moves on: each one once.
        if isinstance(message, LibraryLoaded) and all(m is not message for m in messages):
            messages.append(message)

    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await library_ready(pilot)
        assert "6 routines" in screen_text(app)
        # Nobody moved the highlight: it stayed at the top as routines arrived.
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        assert screen.query_one("#routines", OptionList).highlighted == 0
        highlighted = screen._highlighted()
        assert highlighted is not None and highlighted.name == "Routine 0"
    seen = [(len(m.entries), m.complete) for m in messages]
    assert seen[-1] == (6, True)
    assert [n for n, complete in seen if not complete] == [1, 2, 3, 4, 5, 6]
    assert records_count() == 6


def records_count() -> int:
    return len(json.loads(cache_path().read_text())["files"])


async def test_run_file_builds_the_library_only_when_it_is_shown(
    make: AppFactory, xdg: Path
) -> None:
    from tproutine.routine import load_timeline

    timeline = load_timeline(DATA / "calf-massage.yaml")
    app = make(start=timeline, yes=True, settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # The Player is the first and only screen: no Library under it.
        assert isinstance(app.screen, PlayerScreen) and len(app.screen_stack) == 1
        assert app.entries is None  # nothing read for a screen nobody sees
        await pilot.press("q", "y")
        await pilot.pause()
        await pilot.press("enter")  # the summary, back to the Library
        await library_ready(pilot)
        assert isinstance(app.screen, LibraryScreen) and len(app.screen_stack) == 1
        assert "3 routines" in screen_text(app)


async def test_run_file_that_asks_first_asks_over_a_library_built_later(
    make: AppFactory, xdg: Path
) -> None:
    from tproutine.routine import load_timeline
    from tproutine.tui.screens.before_start import BeforeStartScreen

    timeline = load_timeline(DATA / "calf-massage.yaml")
    app = make(start=timeline, settings=Settings(pain_prompts=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, BeforeStartScreen)
        library = app.screen_stack[0]
        assert isinstance(library, LibraryScreen) and not library.children
        await pilot.press("enter")  # no rating: start
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        await pilot.press("q", "y")
        await pilot.pause()
        await pilot.press("enter")  # the summary, back to the Library under it all
        await library_ready(pilot)  # with its keys, though it was built only now
        assert app.screen is library and "3 routines" in screen_text(app)
        assert "q Quit" in screen_text(app).splitlines()[-1]


# --- 1,000 routines -------------------------------------------------------------------


async def test_a_thousand_routines_search_within_one_refresh(
    make: AppFactory, folder: Path
) -> None:
    for i in range(1000):
        (folder / f"r{i:04d}.yaml").write_text(routine(f"Practice {i:04d}", 1 + i % 9))
    (folder / "r0500.yaml").write_text(routine("Shoulder release 0500", 4))
    scan_library(((folder, "yours"),), cache=LibraryCache.open())  # a person's second start
    app = make(routine_dirs=((folder, "yours"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        assert "1000 routines" in screen_text(app)
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        await pilot.press("slash", *"shoulder")
        # Each key filters at once: the table is right after one refresh.
        await pilot.pause()
        text = screen_text(app)
        assert "Shoulder release 0500" in text and "1 routine matching" in text
        assert [e.name for e in screen._shown] == ["Shoulder release 0500"]
        app.screen.query_one("#search", Input).value = ""
        await pilot.pause()
        await pilot.press("down", "end")
        await pilot.pause()
        assert "Practice 0999" in screen_text(app)


def test_a_library_listed_from_the_cache_never_imports_yaml(xdg: Path, folder: Path) -> None:
    # What the Library does before its first paint, in a fresh process: with every
    # summary cached, no YAML (and so no routine reader) is loaded.
    import subprocess
    import sys

    for i in range(3):
        (folder / f"r{i}.yaml").write_text(routine(f"Routine {i}"))
    scan(folder)  # the cache is written
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tproutine.tui.catalog import LibraryScan\n"
        "from tproutine.tui.library_cache import LibraryCache\n"
        f"scan = LibraryScan(((Path({str(folder)!r}), 'yours'),), (), LibraryCache.open())\n"
        "scan.take_cached()\n"
        "print(scan.done, len(scan.ordered()))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'pydantic')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ},
    )
    assert out.stdout.split("\n")[:2] == ["True 3", "[]"]
