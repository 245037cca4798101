"""The Library: the list, search as you type, the preview, and its keys."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label, OptionList, Static

from tproutine.settings import Settings
from tproutine.tui.catalog import scan_library
from tproutine.tui.screens.devices import DevicesScreen
from tproutine.tui.screens.help import HelpScreen
from tproutine.tui.screens.history import HistoryScreen
from tproutine.tui.screens.library import LibraryScreen
from tproutine.tui.screens.player import PlayerScreen

from .conftest import DATA, AppFactory, flat, library_ready, open_routine, screen_text


def names(app: object) -> list[str]:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, LibraryScreen)
    return [e.name for e in screen._shown]


def test_scan_lists_every_file_and_keeps_broken_ones_last() -> None:
    entries = scan_library(((DATA, "bundled"),))
    assert [e.name for e in entries] == ["Calf massage", "Desk neck reset", "broken"]
    broken = entries[-1]
    assert not broken.ok and "negative" in broken.errors[0]
    desk = entries[1]
    assert desk.total_s == 95.0
    assert desk.areas == ("top of the shoulder",)
    assert [(s.text, s.seconds) for s in desk.steps] == [
        ("Get ready", 5.0),
        ("Hold: Upper trapezius (left, 2 reps)", 70.0),
        ("Breathe: Slow breathing", 20.0),
    ]


def test_extra_files_come_first_and_are_not_listed_twice(tmp_path: Path) -> None:
    extra = DATA / "calf-massage.yaml"
    entries = scan_library(((DATA, "bundled"),), files=(extra,))
    assert [e.name for e in entries].count("Calf massage") == 1
    other = tmp_path / "mine.yaml"
    other.write_text(
        "format: tproutine/1\nname: Mine\nsteps:\n  - stretch: Reach\n    duration: 10s\n"
    )
    entries = scan_library(((DATA, "bundled"),), files=(other,))
    assert entries[0].name == "Mine" and entries[0].origin == "file"


async def test_lists_routines_with_time_tags_and_author(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(120, 36)) as pilot:
        await library_ready(pilot)
        text = screen_text(app)
        assert "Desk neck reset" in text and "01:35" in text
        assert "neck, shoulders" in text and "Test Author" in text
        assert "Calf massage" in text and "01:00" in text
        assert "3 routines" in text
        assert names(app) == ["Calf massage", "Desk neck reset", "broken"]


async def test_preview_shows_summary_safety_steps_and_total(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(120, 36)) as pilot:
        await library_ready(pilot)
        await pilot.press("down")
        text = flat(screen_text(app))
        assert "Two holds for the top of the shoulder" in text
        assert "! Stop if you feel numbness or tingling." in text
        assert "Do not use if:" in text and "neck injury" in text
        assert "00:05 Get ready" in text
        assert "01:10 Hold: Upper trapezius (left, 2 reps)" in text
        assert "01:35 Total" in text


async def test_search_filters_by_name_tag_area_and_author(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"neck")  # the name
        assert names(app) == ["Desk neck reset"]
        app.screen.query_one("#search", Input).value = ""
        await pilot.press(*"legs")  # a tag
        assert names(app) == ["Calf massage"]
        app.screen.query_one("#search", Input).value = ""
        await pilot.press(*"lower leg")  # an area, two words
        assert names(app) == ["Calf massage"]
        app.screen.query_one("#search", Input).value = ""
        await pilot.press(*"test auth")  # the author
        assert names(app) == ["Desk neck reset"]
        await pilot.press(*"zzz")
        assert names(app) == []
        assert "Nothing matches" in screen_text(app)
        await pilot.press("escape")  # one press: back to the list, the filter kept
        assert isinstance(app.focused, OptionList)
        assert names(app) == []
        await pilot.press("escape")  # and the next clears it
        assert len(names(app)) == 3
        assert isinstance(app.focused, OptionList)


async def test_typing_in_search_does_not_trigger_keys(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await pilot.press("slash", "d", "h", "q")
        assert isinstance(app.screen, LibraryScreen)
        assert app.screen.query_one("#search", Input).value == "dhq"


async def test_enter_in_search_goes_to_the_list_and_enter_starts(make: AppFactory) -> None:
    app = make(settings=Settings(pain_prompts=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await pilot.press("slash", *"calf", "enter")
        assert isinstance(app.focused, OptionList)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.timeline.name == "Calf massage"


async def test_a_broken_file_says_why_and_does_not_start(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_routine(pilot, "broken")
        assert isinstance(app.screen, LibraryScreen)
        text = flat(screen_text(app))
        assert "This file cannot be run" in text and "negative" in text


async def test_keys_open_devices_history_help_and_back(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        for key, screen in (
            ("d", DevicesScreen),
            ("h", HistoryScreen),
            ("question_mark", HelpScreen),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen), key
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, LibraryScreen), key
        for key, screen in (("h", HistoryScreen), ("question_mark", HelpScreen)):
            await pilot.press(key)  # q also closes these two
            await pilot.pause()
            assert isinstance(app.screen, screen), key
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, LibraryScreen), key


async def test_footer_shows_the_library_keys(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        footer = screen_text(app).splitlines()[-1]
        for words in ("Start", "/ Search", "d Devices", "h History", "q Quit", "? Help"):
            assert words in footer, footer


async def test_q_quits(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_an_empty_library_says_how_to_add_routines(make: AppFactory, tmp_path: Path) -> None:
    app = make(routine_dirs=((tmp_path / "nothing", "yours"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        assert "No routines found" in screen_text(app)


async def test_the_demo_opens_on_a_routine_that_uses_the_device(
    make: AppFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "routines"
    folder.mkdir()
    (folder / "a.yaml").write_text(
        "format: tproutine/1\nname: A stretch first\n"
        "steps:\n  - stretch: Reach\n    duration: 10s\n"
    )
    (folder / "z.yaml").write_text((DATA / "calf-massage.yaml").read_text())
    for demo, expected in ((False, "A stretch first"), (True, "Calf massage")):
        app = make(demo=demo, routine_dirs=((folder, "bundled"),))
        async with app.run_test(size=(100, 30)) as pilot:
            await library_ready(pilot)
            assert names(app) == ["A stretch first", "Calf massage"]
            screen = app.screen
            assert isinstance(screen, LibraryScreen)
            highlighted = screen._highlighted()
            assert highlighted is not None and highlighted.name == expected


# ---------------------------------------------------------------- search as a person expects


def two_neck_routines(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    step = "steps:\n  - stretch: Reach\n    duration: 10s\n"
    # Alphabetically first, but it only mentions the neck and shoulders in its tags.
    (folder / "a.yaml").write_text(
        f"format: tproutine/1\nname: A desk break\ntags: [neck, shoulders]\n{step}"
    )
    (folder / "n.yaml").write_text(f"format: tproutine/1\nname: Neck and shoulders\n{step}")
    (folder / "z.yaml").write_text(f"format: tproutine/1\nname: Zebra stretch\n{step}")


async def test_enter_in_search_selects_the_best_match_and_enter_starts_it(
    make: AppFactory, tmp_path: Path
) -> None:
    two_neck_routines(tmp_path / "r")
    app = make(settings=Settings(pain_prompts=False), routine_dirs=((tmp_path / "r", "yours"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await pilot.press("slash", *"neck shoul")
        # The best match first, and the cursor on it while typing.
        assert names(app) == ["Neck and shoulders", "A desk break"]
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LibraryScreen) and isinstance(app.focused, OptionList)
        highlighted = screen._highlighted()
        assert highlighted is not None and highlighted.name == "Neck and shoulders"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PlayerScreen)
        assert app.screen.session.timeline.name == "Neck and shoulders"


async def test_escape_leaves_the_search_box_at_once_and_the_hint_says_the_keys(
    make: AppFactory, tmp_path: Path
) -> None:
    two_neck_routines(tmp_path / "r")
    app = make(routine_dirs=((tmp_path / "r", "yours"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        await pilot.press("slash", *"neck")
        assert "enter: pick the best match · esc: to the list" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.focused, OptionList)
        text = screen_text(app)
        assert "enter: start · esc: clear the search" in text
        assert "esc Clear search" in text.splitlines()[-1]
        await pilot.press("d")  # the keys are the table's again
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)


async def test_the_library_marks_routines_that_use_a_device(make: AppFactory) -> None:
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        rows = [str(o.prompt) for o in screen.query_one("#routines", OptionList).options]
        assert rows[0].startswith("◆ Calf massage")
        assert rows[1].startswith("  Desk neck reset")
        assert "3 routines · ◆ uses a massage device" in screen_text(app)
        # The preview says it in words.
        preview = str(screen.query_one("#preview", Static).content)
        assert "◆ Uses a massage device; without one it runs as a timer." in preview


async def test_a_narrow_library_drops_columns_instead_of_clipping_them_to_nothing(
    make: AppFactory,
) -> None:
    from tproutine.paths import bundled_routines_dir

    app = make(routine_dirs=((bundled_routines_dir(), "bundled"),))
    for width in (100, 120, 80):
        async with app.run_test(size=(width, 30)) as pilot:
            await library_ready(pilot)
            screen = app.screen
            assert isinstance(screen, LibraryScreen)
            header = str(screen.query_one("#routines-header", Label).content)
            rows = [str(o.prompt) for o in screen.query_one("#routines", OptionList).options]
            # Every column shown is wide enough to say something: never just "Ta…" or "…".
            for row in [header, *rows]:
                for cell in (c.strip() for c in row.split("  ") if c.strip()):
                    assert not cell.endswith("…") or len(cell) >= 10, row
            if width == 100:
                # Not enough room for the tags beside the full names: the tags go.
                assert "Tags" not in header and "Author" not in header
                assert any("Find and release a trigger point (any area)" in r for r in rows)
            if width == 120:
                assert "Tags" in header
        app = make(routine_dirs=((bundled_routines_dir(), "bundled"),))


def test_columns_are_dropped_whole_when_they_would_say_nothing() -> None:
    from tproutine.tui.columns import NAME_ENOUGH, TAGS_MIN, fit

    # A list 59 cells wide (a 100-column terminal): full names, no tags, no author.
    narrow = fit(59, 43, 60, 14)
    assert (narrow.name, narrow.tags, narrow.author) == (43, 0, 0)
    row = narrow.row("◆", "Hips and glutes", "13:35", "hips, glutes", "someone")
    assert row.startswith("◆ Hips and glutes") and row.endswith("13:35")
    # Wider: the tags come back, never narrower than their minimum.
    wide = fit(71, 43, 60, 14)
    assert wide.tags >= TAGS_MIN and wide.author == 0
    # Wide enough for everything: each column gets what it needs.
    roomy = fit(120, 20, 30, 14)
    assert (roomy.name, roomy.tags, roomy.author) == (20, 30, 14)
    assert roomy.header().split() == ["Routine", "Time", "Tags", "Author"]
    # One very long name does not cost everybody the tags: it is clipped, not below
    # NAME_ENOUGH, and only where that makes room for them.
    long_name = fit(71, 50, 60, 14)
    assert NAME_ENOUGH <= long_name.name < 50 and long_name.tags >= TAGS_MIN
    assert fit(59, 50, 60, 14).tags == 0 and fit(59, 50, 60, 14).name == 50
