"""Frozen value classes for the quick commands, without ``dataclasses``.

``tproutine validate FILE`` and ``show FILE`` have 100 ms over a bare Python to
start, read and answer (issue 13). ``import dataclasses`` brings ``inspect`` (and
with it ``ast``, ``dis``, ``tokenize``), and every frozen dataclass writes and
compiles its methods each time its module is imported: together 18 ms of those
commands, for the eleven value classes they load (the timeline, a problem, a YAML
mark and document, a routine reference, catalogue uses). Those classes write
their ``__init__`` out, compiled once into the bytecode cache like any code, and
take the rest from :class:`Frozen`, which does for them what
``@dataclass(frozen=True, slots=True)`` did: equality and hash over the fields in
order, a repr, no assignment after ``__init__``, ``replace``, copy and pickle.
The rest of the code keeps its dataclasses.

A subclass lists its fields in ``__slots__`` (that order is the fields' order)
and sets them in ``__init__`` with :data:`set_field`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, ClassVar, Self

# How a frozen instance's ``__init__`` sets its fields (``__setattr__`` refuses).
set_field = object.__setattr__


class FrozenError(AttributeError):
    """An assignment to a field of a frozen instance (as ``dataclasses.FrozenInstanceError``)."""


class Frozen:
    """A value: fields in ``__slots__``, set once by ``__init__``, compared by value."""

    __slots__: tuple[str, ...] = ()
    # Every field in order, a base class's first: what equality, hash, repr, replace
    # and copy go over (a subclass's own __slots__ holds only the fields it adds).
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = tuple(
            name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"

    def replace(self, **changes: object) -> Self:
        """A copy with ``changes`` (field: value), as ``dataclasses.replace``."""
        values = {name: getattr(self, name) for name in self._fields}
        unknown = changes.keys() - values.keys()
        if unknown:
            raise TypeError(f"{self.__class__.__qualname__} has no field {sorted(unknown)[0]!r}")
        cls: Any = self.__class__  # a subclass, whose __init__ takes its fields by name
        made: Self = cls(**{**values, **changes})
        return made

    # Copy and pickle set the fields back through object.__setattr__, as __init__ does.
    def __getstate__(self) -> tuple[object, ...]:
        return self._values()

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            set_field(self, name, value)
