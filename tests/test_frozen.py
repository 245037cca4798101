"""tproutine.frozen.Frozen does for its values what a frozen, slotted dataclass did."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, dataclass

import pytest

from tproutine.frozen import Frozen, FrozenError, set_field
from tproutine.problems import Problem
from tproutine.routine.timeline import Cue, DeviceSetting, Segment, Timeline


class Point(Frozen):
    __slots__ = ("x", "y")
    x: int
    y: int

    def __init__(self, x: int, y: int = 0) -> None:
        set_field(self, "x", x)
        set_field(self, "y", y)


class Other(Point):
    """The same fields, another class (as a dataclass's subclass, never equal)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class DataPoint:
    x: int
    y: int = 0


def test_equality_and_hash_are_by_value_and_class() -> None:
    assert Point(1, 2) == Point(1, 2) and hash(Point(1, 2)) == hash(Point(1, 2))
    assert Point(1, 2) != Point(2, 1)
    assert Point(1, 2) != Other(1, 2)  # same fields, another class
    # A subclass compares, hashes, shows and copies over its base's fields too.
    assert Other(1, 2) == Other(1, 2) != Other(1, 3)
    assert repr(Other(1, 2)) == "Other(x=1, y=2)" and Other(1, 2).replace(y=3) == Other(1, 3)
    assert copy.copy(Other(1, 2)) == Other(1, 2)
    assert Point(1, 2) != (1, 2)
    assert len({Point(1, 2), Point(1, 2), Point(1, 3)}) == 2


def test_the_repr_is_a_dataclass_repr() -> None:
    assert repr(Point(1, 2)) == repr(DataPoint(1, 2)).replace("DataPoint", "Point")
    assert repr(Cue(1.5, "Ease off")) == "Cue(at_s=1.5, say='Ease off')"


def test_fields_cannot_change_nor_be_added() -> None:
    p = Point(1, 2)
    with pytest.raises(FrozenError, match="cannot assign to field 'x'"):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(FrozenError):
        del p.y  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.z = 1  # type: ignore[attr-defined]
    assert not hasattr(p, "__dict__")
    # Code written for dataclasses catches AttributeError, which both are.
    assert issubclass(FrozenError, AttributeError)
    assert issubclass(FrozenInstanceError, AttributeError)


def test_replace_makes_a_new_value_and_names_an_unknown_field() -> None:
    p = Point(1, 2)
    q = p.replace(y=5)
    assert q == Point(1, 5) and p == Point(1, 2) and type(q) is Point
    with pytest.raises(TypeError, match="Point has no field 'z'"):
        p.replace(z=1)


def test_copy_and_pickle_give_equal_values() -> None:
    seg = Segment(
        0, "hold", "Upper trapezius", 0.0, 30.0, side="left",
        device=DeviceSetting(40.0, 60.0), cues=(Cue(25.0, "Ease off"),),
    )  # fmt: skip
    timeline = Timeline("Neck", (seg,), 30.0, content_hash="abc")
    for value in (seg, timeline, Problem("f.yaml", 1, 2, "steps", "wrong")):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value


def test_the_timeline_values_have_their_fields_in_order() -> None:
    seg = Segment(3, "rest", "Rest", 10.0, 5.0)
    assert seg.__slots__[:5] == ("index", "kind", "title", "start_s", "duration_s")
    assert (seg.side, seg.cues, seg.device, seg.end_s) == (None, (), None, 15.0)
    assert DeviceSetting(level=3).is_level and not DeviceSetting(10.0, 10.0).is_level
