"""``- use: ID`` in a routine: the catalogue's step, changed in place by the routine.

::

    steps:
      - use: upper-trapezius-pinch     # a complete step from a catalogue
      - use: doorway-chest-stretch
        reps: 3                        # ...with the routine's own values on top

Before the routine is validated, each such step is replaced in the document by a
copy of its catalogue step with the routine's keys on top, so that everything
after (the model, defaults, expansion, ``show``, ``run``, handouts, the app) sees
an ordinary step. A key the routine gives keeps its own line and column, so a
mistake in it is reported in the routine; the catalogue's own mistakes were
reported at the catalogue's lines when it was read.

A routine may change any field of the step's kind, and ``title`` (the step's
title). ``{pressure}`` in the catalogue's text becomes the pressure the step runs
at. When the routine gives ``side: left`` or ``right``, a catalogue's
``alternate: true`` (which needs both sides) is dropped. An ``id`` is the
routine's own (see issue 12): a used step has none unless the routine gives one,
since the same catalogue step may be used twice.

This module reads no catalogue until a routine has a ``use:``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from tproutine.frozen import Frozen, set_field
from tproutine.routine import quick
from tproutine.routine.checked import WORK_KINDS
from tproutine.yamlsafe import Document, LoadError, Problem, describe_value, format_path

if TYPE_CHECKING:
    from tproutine.routine.catalogue import CatalogueStep, StepIndex

    class Usable(Protocol):
        """A catalogue step as :func:`merge` needs it: catalogue.py's, or quickuse.py's
        (which reads a valid catalogue without pydantic)."""

        @property
        def data(self) -> dict[str, Any]: ...  # as written in the catalogue
        @property
        def kind(self) -> str: ...
        @property
        def pressure(self) -> int | None: ...
        @property
        def has_placeholder(self) -> bool: ...


Path = tuple[str | int, ...]
MAX_TITLE = 200
# The keys that make a step's kind, but `rest`: that is also a field of these kinds
# (rest between repetitions). From the quick check's own lists, not the models', so
# that the quick path (quickuse.py) needs no pydantic; a test holds them equal.
KIND_ONLY = (*WORK_KINDS, "repeat")


def override_keys(kind: str) -> list[str]:
    """What a routine may change on a used step of ``kind``: its fields, and its title."""
    fields = quick.BREATHE_FIELDS if kind == "breathe" else quick.WORK_FIELDS
    return ["title", *fields]


def refusal(key: str, value: Any, allowed: list[str]) -> str | None:
    """Why a use: step cannot take ``key: value`` ("kind", "title" or "key"), or None."""
    if key in KIND_ONLY:
        return "kind"
    if key == "title":
        return None if isinstance(value, str) and 0 < len(value) <= MAX_TITLE else "title"
    return None if key in allowed else "key"


def _sites(steps: Any, path: Path) -> Iterator[tuple[Path, list[Any], int]]:
    """Every ``use:`` step: its path, the list that holds it, its index there."""
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        if "use" in step:
            yield (*path, i), steps, i
        elif "repeat" in step:
            yield from _sites(step.get("steps"), (*path, i, "steps"))


def has_uses(data: dict[str, Any]) -> bool:
    return next(_sites(data.get("steps"), ("steps",)), None) is not None


class Uses(Frozen):  # not a dataclass: see ``frozen.py`` (start-up)
    """Where a routine used catalogue steps, to explain problems found afterwards."""

    __slots__ = ("doc", "origins")
    doc: Document | None
    origins: tuple[tuple[Path, CatalogueStep], ...]

    def __init__(
        self, doc: Document | None = None, origins: tuple[tuple[Path, CatalogueStep], ...] = ()
    ) -> None:
        set_field(self, "doc", doc)
        set_field(self, "origins", origins)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(step.id for _, step in self.origins)

    def explain(self, problems: list[Problem]) -> list[Problem]:
        """Say which catalogue step a value came from when the routine did not write it.

        Such a problem can only come from a change the routine made (a shorter
        ``duration`` that leaves a catalogue cue outside the repetition); it is
        reported at the ``use:`` step, and says where the value came from.
        """
        if self.doc is None:
            return problems
        out = []
        for p in problems:
            for site, step in self.origins:
                mark = self.doc.mark(site)
                name = format_path(site)
                inside = p.path.startswith((f"{name}.", f"{name}["))
                if inside and (p.line, p.col) == (mark.line, mark.col):
                    p = p.replace(
                        message=f"{p.message} (this comes from {step.id!r}, {step.where}; "
                        "change it here, under use:)",
                    )
                    break
            out.append(p)
        return out


NO_USES = Uses()


def merge(step: Usable, given: dict[str, Any], defaults: Any) -> dict[str, Any]:
    """The catalogue step with the routine's keys on top, as a new mapping."""
    merged = dict(step.data)
    overrides = dict(given)
    title = overrides.pop("title", None)
    if title is not None:
        merged[step.kind] = title
    if overrides.get("side") in ("left", "right") and "alternate" not in overrides:
        merged.pop("alternate", None)  # alternating needs both sides
    merged.update(overrides)
    if step.has_placeholder:
        pressure = merged.get("pressure")
        if pressure is None and isinstance(defaults, dict):
            pressure = defaults.get("pressure")
        if pressure is None:
            pressure = step.pressure
        said = str(pressure)
        if "instructions" not in overrides and isinstance(merged.get("instructions"), str):
            merged["instructions"] = merged["instructions"].replace("{pressure}", said)
        if "cues" not in overrides and isinstance(merged.get("cues"), list):
            merged["cues"] = [
                {**c, "say": c["say"].replace("{pressure}", said)}
                if isinstance(c, dict) and isinstance(c.get("say"), str)
                else c
                for c in merged["cues"]
            ]
    return merged


def _unknown(doc: Document, where: Path, step_id: str, index: StepIndex) -> Problem:
    near = index.nearest(step_id)
    did = f"did you mean {' or '.join(near)}? " if near else ""
    return doc.problem(
        where,
        f"unknown catalogue step {step_id!r} ({did}`tproutine steps` lists every step you have)",
    )


def _check_keys(
    doc: Document, site: Path, step: dict[str, Any], used: CatalogueStep
) -> list[Problem]:
    problems = []
    allowed = override_keys(used.kind)
    for key, value in step.items():
        why_not = None if key == "use" else refusal(key, value, allowed)
        if why_not is None:
            continue
        if why_not == "kind":
            problems.append(
                doc.problem(
                    (*site, key),
                    f"{key!r} cannot go with use: ({used.id!r} is a {used.kind} step; "
                    "to give it another title, write title:)",
                    key=True,
                )
            )
        elif why_not == "title":
            problems.append(
                doc.problem(
                    (*site, key),
                    f"expected a title of 1 to {MAX_TITLE} characters, got {describe_value(value)}",
                )
            )
        else:
            from tproutine.routine import model as m  # explaining a mistake: pydantic is here

            elsewhere = [k for k, cls in m.STEP_MODELS.items() if key in cls.model_fields]
            if elsewhere:
                why = (
                    f"{used.id!r} is a {used.kind} step, and {key} belongs to "
                    f"{', '.join(elsewhere)} steps"
                )
            else:
                from tproutine.suggest import suggest

                hint = suggest(key, allowed)
                why = f"unknown key{f'; did you mean {hint!r}?' if hint else ''}"
            problems.append(
                doc.problem(
                    (*site, key),
                    f"{key!r} cannot be changed here ({why}; a used {used.kind} step takes "
                    f"{', '.join(allowed)})",
                    key=True,
                )
            )
    return problems


def resolve_uses(doc: Document) -> Uses:
    """Replace every ``use:`` step of ``doc`` by its catalogue step; LoadError if any
    cannot be used. Returns where they were, to explain later problems."""
    sites = list(_sites(doc.data.get("steps"), ("steps",)))
    if not sites:
        return NO_USES
    from tproutine.routine.catalogue import for_ids
    from tproutine.routine.stepfiles import ID_RULE, is_step_id

    steps_index = for_ids(h[i]["use"] for _, h, i in sites if is_step_id(h[i]["use"]))
    problems: list[Problem] = []
    origins: list[tuple[Path, CatalogueStep]] = []
    catalogue_problems: list[Problem] = []
    for site, holder, i in sites:
        step = holder[i]
        step_id = step["use"]
        if not is_step_id(step_id):
            problems.append(
                doc.problem(
                    (*site, "use"),
                    f"{describe_value(step_id, show_text=True)} is not a catalogue id ({ID_RULE}; "
                    "`tproutine steps` lists them)",
                )
            )
            continue
        used = steps_index.find(step_id)
        if used is None:
            if step_id in steps_index.clashes:
                catalogue_problems.append(steps_index.clashes[step_id])
            else:
                catalogue_problems.extend(steps_index.unreadable())
                problems.append(_unknown(doc, (*site, "use"), step_id, steps_index))
            continue
        found = _check_keys(doc, site, step, used)
        if found:
            problems.extend(found)
            continue
        given = {k: v for k, v in step.items() if k != "use"}
        holder[i] = merge(used, given, doc.data.get("defaults"))
        origins.append((site, used))
    if problems or catalogue_problems:
        problems.sort(key=lambda p: (p.line, p.col))
        unique = list(dict.fromkeys(catalogue_problems))
        raise LoadError([*unique, *problems])
    return Uses(doc, tuple(origins))
