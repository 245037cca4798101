"""Loading routine files: safe YAML → validated model → checked timeline.

Every mistake becomes one line, ``file:line:col: path: what is wrong (what is
accepted)``; all of a file's mistakes are reported together. Nothing but
:class:`~tproutine.yamlsafe.LoadError` ever leaves this module for bad input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tproutine.routine import model as m
from tproutine.routine.quick import MAX_NESTING, WHAT
from tproutine.routine.quick import read_file as read_file  # where it always was
from tproutine.routine.uses import resolve_uses
from tproutine.suggest import suggest
from tproutine.yamlsafe import (
    Document,
    LoadError,
    Problem,
    describe_value,
    format_path,
    load_yaml,
)


@dataclass(frozen=True)
class LoadedRoutine:
    routine: m.Routine
    document: Document
    content_hash: str
    source: str


def _fields_of(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(data: Any, path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that describes the mapping at ``path`` in the raw data."""
    current: type[BaseModel] | None = m.Routine
    node: Any = data
    for i, part in enumerate(path):
        if isinstance(node, dict):
            node = node.get(part) if isinstance(part, str) else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
        if isinstance(part, int):
            parent = path[i - 1] if i else None
            if parent == "steps":
                kind = m.step_kind(node)
                current = m.STEP_MODELS[kind] if kind else None
            elif parent == "cues":
                current = m.Cue
            continue
        nested: dict[str, type[BaseModel]] = {
            "safety": m.Safety,
            "defaults": m.Defaults,
            "device": m.DeviceSpec,
            "plan": m.Plan,
        }
        current = nested.get(part, current if part in ("steps", "cues") else None)
    return current


def _clean_loc(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's union tags and validator names from an error location.

    A step's errors come as ``('steps', 2, 'hold', 'duration')``: the tag after a
    step's index names the union member, not a key of the file. A part that is a
    key of the file's data (even ``a[1]`` or ``function-x``) is always kept.
    """
    out: list[str | int] = []
    node: Any = data
    after_step_index = False
    for part in loc:
        if after_step_index and isinstance(part, str) and part in m.KIND_KEYS:
            after_step_index = False
            continue
        after_step_index = isinstance(part, int) and bool(out) and out[-1] == "steps"
        in_data = (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not in_data and isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue
        out.append(part)
        node = node[part] if in_data else None
    return tuple(out)


def _message(err: Any, data: Any, path: tuple[str | int, ...]) -> tuple[str, bool]:
    """A readable message for one pydantic error, and whether it points at a key."""
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])), False
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        owner = _model_at(data, path[:-1])
        known = _fields_of(owner) if owner else []
        elsewhere = [k for k, cls in m.STEP_MODELS.items() if key in cls.model_fields]
        if owner in m.STEP_MODELS.values() and elsewhere and key not in known:
            kinds = ", ".join(elsewhere)
            return f"{key!r} is not a field of this kind of step (it belongs to: {kinds})", True
        hint = suggest(key, known)
        accepted = f"known keys: {', '.join(known)}" if known else "no keys here"
        did = f"did you mean '{hint}'? " if hint else ""
        # repr: a key may hold a line break, and a problem is always one line.
        return f"unknown key {key!r} ({did}{accepted}; x- keys are ignored)", True
    if kind == "missing":
        field = str(path[-1])
        if field == "duration":
            return "'duration' is required (how long one repetition lasts, e.g. 45s)", False
        return f"'{field}' is required", False
    if kind in ("string_type", "str_type"):
        extra = (
            " (put it in quotes)"
            if value is not None and not isinstance(value, (list, dict))
            else ""
        )
        return f"expected text, got {describe_value(value)}{extra}", False
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe_value(value)}", False
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe_value(value)}", False
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {describe_value(value)}", False
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping (keys and values), got {describe_value(value)}", False
    if kind == "literal_error":
        return f"{value!r} is not accepted (use {ctx.get('expected', '')})", False
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": f"at least {ctx.get('ge')}",
            "less_than_equal": f"at most {ctx.get('le')}",
            "greater_than": f"more than {ctx.get('gt')}",
            "less_than": f"less than {ctx.get('lt')}",
        }[kind]
        field = str(path[-1]) if path else "value"
        if field == "pressure":
            return f"{value!r} is outside the pressure scale (use 0 to 10)", False
        return f"{value!r} is out of range ({field} is {bound})", False
    if kind in ("too_short", "too_long"):
        field = str(path[-1]) if path else "value"
        lo, hi = ctx.get("min_length"), ctx.get("max_length")
        if isinstance(value, str) or kind == "string_too_long":
            return f"the text is too long ({field} has at most {hi} characters)", False
        if field == "pattern":
            return "a pattern has 2 to 4 durations: inhale, [hold,] exhale, [hold]", False
        if field == "ramp":
            return "a ramp has two percents, from and to: [20%, 60%]", False
        if field == "steps":
            return "there must be at least one step", False
        return f"{field} has the wrong number of items ({lo}–{hi})", False
    if kind == "string_too_short":
        return "this text is empty (write something, or leave the key out)", False
    if kind == "string_too_long":
        return f"the text is too long (at most {ctx.get('max_length')} characters)", False
    if kind == "step_kind_twice":
        return err["msg"], True
    if kind.startswith("step_"):
        return err["msg"], False
    return f"{err['msg']}", False


def _validation_problems(exc: ValidationError, doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    for err in exc.errors():
        path = _clean_loc(tuple(err["loc"]), doc.data)
        text, at_key = _message(err, doc.data, path)
        if err["type"] == "step_kind_twice":
            path = (*path, err["ctx"]["key"])
        if (path, text) in seen:
            continue
        seen.add((path, text))
        problems.append(doc.problem(path, text, key=at_key))
    problems.sort(key=lambda p: (p.line, p.col))
    return problems


def _check_semantics(routine: m.Routine, doc: Document) -> list[Problem]:
    """Rules that need more than one field: cue offsets, nesting, alternate."""
    problems: list[Problem] = []
    ids: dict[str, tuple[str | int, ...]] = {}

    def walk(steps: list[Any], path: tuple[str | int, ...], depth: int) -> None:
        for i, step in enumerate(steps):
            here = (*path, i)
            step_id = getattr(step, "id", None)
            if step_id is not None:
                first = ids.setdefault(step_id, here)
                if first != here:
                    where = doc.mark((*first, "id"))
                    problems.append(
                        doc.problem(
                            (*here, "id"),
                            f"the id {step_id!r} is already used by {format_path(first)} "
                            f"(line {where.line}); each step's id is unique",
                        )
                    )
            if isinstance(step, m.RepeatBlock):
                if depth + 1 > MAX_NESTING:
                    problems.append(
                        doc.problem(
                            (*here, "repeat"),
                            f"repeat blocks nest at most {MAX_NESTING} deep",
                            key=True,
                        )
                    )
                    continue
                walk(step.steps, (*here, "steps"), depth + 1)
                continue
            seconds = step.seconds if isinstance(step, m.RestStep) else step.duration
            for c, cue in enumerate(step.cues):
                at = cue.at if cue.at >= 0 else seconds + cue.at
                if not 0 <= at < seconds:
                    problems.append(
                        doc.problem(
                            (*here, "cues", c, "at"),
                            f"this cue falls outside its repetition of {seconds:g}s "
                            f"(use from 0s up to below {seconds:g}s after the start, or a "
                            f"negative offset from -1s to -{seconds:g}s before the end)",
                        )
                    )
            if isinstance(step, m.RestStep):
                continue
            if step.alternate and step.side != "both":
                problems.append(
                    doc.problem(
                        (*here, "alternate"),
                        "alternate needs side: both (it swaps sides between repetitions)",
                    )
                )

    walk(routine.steps, ("steps",), 0)
    return problems


def parse_routine(raw: bytes | str, file: str) -> LoadedRoutine:
    """Validate a routine from its bytes; ``file`` is the name used in messages."""
    doc = load_yaml(raw, file, what=WHAT)
    fmt = doc.data.get("format")
    if isinstance(fmt, str) and fmt.startswith("tproutine-adjust/"):
        raise LoadError(
            [
                doc.problem(
                    ("format",),
                    "this is an adjustment file, not a routine (use it with `run ROUTINE "
                    "--adjust FILE`, or put it in your library with `tproutine add`)",
                )
            ]
        )
    if isinstance(fmt, str) and fmt.startswith("tproutine-steps/"):
        raise LoadError(
            [
                doc.problem(
                    ("format",),
                    "this is a step catalogue, not a routine (a routine uses its steps with "
                    "`- use: ID`; `tproutine steps` lists them)",
                )
            ]
        )
    uses = resolve_uses(doc)  # `- use: ID` steps become their catalogue steps (uses.py)
    try:
        routine = m.Routine.model_validate(doc.data)
    except ValidationError as exc:
        raise LoadError(uses.explain(_validation_problems(exc, doc))) from None
    problems = uses.explain(_check_semantics(routine, doc))
    if problems:
        raise LoadError(problems)
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return LoadedRoutine(routine, doc, hashlib.sha256(data).hexdigest(), file)


def load_routine(path: str | Path, *, shown: str | None = None) -> LoadedRoutine:
    """Read and validate a routine file."""
    name = shown or str(path)
    return parse_routine(read_file(path, shown=name), name)
