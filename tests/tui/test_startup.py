"""Start-up: the garbage collector is off while the app starts, and on once it painted."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tproutine.commands.app import _collector_off_until_first_paint

from .conftest import AppFactory, library_ready


@pytest.fixture
def collector_on() -> Iterator[None]:
    yield
    gc.enable()  # whatever a failing test left behind


def test_the_collector_is_off_while_starting_and_on_however_it_ends(collector_on: None) -> None:
    with _collector_off_until_first_paint():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_off_until_first_paint():
        raise RuntimeError("the app failed to start")
    assert gc.isenabled()


async def test_the_app_turns_the_collector_on_after_its_first_frame(
    make: AppFactory, collector_on: None
) -> None:
    app = make()
    gc.disable()
    async with app.run_test(size=(100, 30)) as pilot:
        await library_ready(pilot)
        assert gc.isenabled()
