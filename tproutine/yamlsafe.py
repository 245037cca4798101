"""Safe loading of untrusted YAML with a line and column for every value.

Routine files and device profiles come from other people. This module is the one
door they come through: it enforces the size, depth and expansion limits while
the document is composed (so an alias bomb is refused after a few thousand
nodes, not after it has eaten the memory), allows only the plain YAML 1.1 types,
and keeps the position of every key and value so that every later error can
name ``file:line:col``.

It deliberately does not use ``yaml.safe_load``: the plain Python objects it
returns have no positions, and its constructor would expand aliases blindly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from tproutine.frozen import Frozen, set_field

# Problem and LoadError live without YAML (commands that only catch them stay fast);
# every reader still takes them from here.
from tproutine.problems import MAX_BYTES as MAX_BYTES
from tproutine.problems import LoadError as LoadError
from tproutine.problems import Problem as Problem
from tproutine.safetext import ACCEPTED, describe_char, refusal

MAX_DEPTH = 32
# Values after aliases are expanded. A 1 MiB file written out by hand stays far
# below this; only alias expansion gets near it.
MAX_NODES = 250_000

Path = tuple[str | int, ...]

_STD = "tag:yaml.org,2002:"
# The plain YAML types. Everything else (python/*, binary, custom tags) is refused.
_ALLOWED_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG = _STD + "map"
_SEQ_TAG = _STD + "seq"
_MERGE_TAG = _STD + "merge"


# Mark and Document are not dataclasses: see ``frozen.py`` (start-up).
class Mark(Frozen):
    """A 1-based line and column."""

    __slots__ = ("line", "col")
    line: int
    col: int

    def __init__(self, line: int, col: int) -> None:
        set_field(self, "line", line)
        set_field(self, "col", col)


def format_path(path: Iterable[str | int]) -> str:
    """``('steps', 2, 'duration')`` → ``steps[2].duration``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # A key with a line break or a control character is quoted, so that a
            # problem always prints as one line.
            shown = part if part.isprintable() else repr(part)
            out += f".{shown}" if out else shown
    return out


class Document:
    """Plain Python data (dicts, lists, scalars) and where each part was in the file."""

    __slots__ = ("file", "data", "value_marks", "key_marks")

    def __init__(
        self,
        file: str,
        data: dict[str, Any],
        value_marks: dict[Path, Mark] | None = None,
        key_marks: dict[Path, Mark] | None = None,
    ) -> None:
        self.file = file
        self.data = data
        self.value_marks: dict[Path, Mark] = {} if value_marks is None else value_marks
        self.key_marks: dict[Path, Mark] = {} if key_marks is None else key_marks

    def __repr__(self) -> str:
        return f"Document(file={self.file!r}, data={self.data!r})"

    def mark(self, path: Sequence[str | int], *, key: bool = False) -> Mark:
        """The position of ``path`` (its key if asked and known), else of its nearest parent."""
        p = tuple(path)
        if key and p in self.key_marks:
            return self.key_marks[p]
        while p:
            if p in self.value_marks:
                return self.value_marks[p]
            p = p[:-1]
        return self.value_marks.get((), Mark(1, 1))

    def problem(self, path: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        m = self.mark(path, key=key)
        return Problem(self.file, m.line, m.col, format_path(path), message)


def describe_value(value: object, *, show_text: bool = False) -> str:
    """What a YAML value is, for "expected X, got ..." messages.

    ``show_text`` quotes a string itself ("the text 'abc'") rather than "text".
    """
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value!r}" if show_text else "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"  # dates and times from YAML 1.1


# PyYAML's Mark or libyaml's: both have .line and .column (0-based).
_YamlMark = Any


class _LimitError(Exception):
    def __init__(self, mark: _YamlMark | None, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Measuring(Composer):
    """A composer that measures the document while composing it.

    Every node's height and expanded size are recorded as soon as it is complete.
    An alias refers to an already finished node, so its expanded size is known in
    O(1): a billion-laughs document is refused as soon as its running total passes
    the limit, without ever building the expansion.
    """

    if TYPE_CHECKING:  # supplied by the parser the loader is built with

        def check_event(self, *choices: Any) -> bool: ...
        def peek_event(self) -> yaml.Event: ...

    def _start_measuring(self) -> None:
        self._depth = 0
        self._total = 0
        self._size: dict[int, int] = {}
        self._height: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            assert node is not None
            if id(node) not in self._size:
                raise _LimitError(
                    mark,
                    "an alias refers to the value that contains it "
                    "(an alias can only repeat a value that is complete before it)",
                )
            self._count(self._size[id(node)], self._height[id(node)], mark)
            return node
        start = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitError(start, f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        assert node is not None  # only the document end yields None, never a node's place
        if isinstance(node, ScalarNode):
            size, height = 1, 1
        else:
            children: list[Node]
            if isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = list(node.value)
            size = 1 + sum(self._size[id(c)] for c in children)
            height = 1 + max((self._height[id(c)] for c in children), default=0)
            # The children were counted as they were composed; count only this node.
        self._size[id(node)] = size
        self._height[id(node)] = height
        self._count(1, 1, start)
        if height > MAX_DEPTH:
            raise _LimitError(start, f"nested more than {MAX_DEPTH} levels deep")
        return node

    def _count(self, size: int, height: int, mark: _YamlMark) -> None:
        self._total += size
        if self._total > MAX_NODES:
            raise _LimitError(
                mark,
                f"the document expands to more than {MAX_NODES:,} values "
                "(aliases repeat too much, or the file is too big)",
            )
        if self._depth + height > MAX_DEPTH:
            raise _LimitError(mark, f"nested more than {MAX_DEPTH} levels deep")


class _PyLoader(_Measuring, yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._start_measuring()


_Loader: type[_Measuring] = _PyLoader

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    # libyaml's C parser delivers the events about 3x faster than the pure-Python
    # scanner; our own composer above still builds the nodes, so the limits hold.
    class _CLoader(_Measuring, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_measuring()

    _Loader = _CLoader


def _compose_with(loader_class: type[_Measuring], text: str) -> Node | None:
    loader = loader_class(text)  # type: ignore[call-arg]
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def _compose(text: str) -> Node | None:
    """The node graph of ``text``, with the limits enforced while composing."""
    try:
        return _compose_with(_Loader, text)
    except yaml.MarkedYAMLError as fast_error:
        if _Loader is _PyLoader:
            raise
        # libyaml's messages are vaguer ("found character that cannot start any
        # token", where PyYAML names the tab): mistakes are rare, so read again for
        # the better message. Should the two parsers ever disagree, keep the first.
        try:
            _compose_with(_PyLoader, text)
        except yaml.MarkedYAMLError:
            raise
        except Exception:  # any other outcome: report the first error
            raise fast_error from None
        raise fast_error from None


def _decode(raw: bytes, file: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        # Count characters, as YAML marks do (the text before the bad byte is valid).
        line_start = before.rfind(b"\n") + 1
        col = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        raise LoadError(
            [Problem(file, line, col, "", "this is not valid UTF-8 text (save the file as UTF-8)")]
        ) from None
    return text.removeprefix("\ufeff")


def _mark(m: _YamlMark | None) -> Mark:
    return Mark(m.line + 1, m.column + 1) if m is not None else Mark(1, 1)


def _describe_tag(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


class _Converter:
    """Turns the composed node graph into plain data, recording marks by path."""

    def __init__(self, doc: Document, strip_extensions: bool) -> None:
        self.doc = doc
        self.strip = strip_extensions
        self.constructor = SafeConstructor()
        self.problems: list[Problem] = []

    def convert(self, node: Node, path: Path) -> Any:
        self.doc.value_marks[path] = _mark(node.start_mark)
        if isinstance(node, ScalarNode):
            if node.tag not in _ALLOWED_SCALAR_TAGS:
                return self._bad_tag(node, path)
            try:
                value = self.constructor.construct_object(node, deep=True)
            except Exception:
                # `!!bool maybe`, `!!int ''`, `!!timestamp x`: PyYAML's constructors fail
                # with assorted exceptions on a tagged value; each is the file's mistake.
                m = _mark(node.start_mark)
                msg = (
                    f"{node.value!r} cannot be read as {_describe_tag(node.tag)} "
                    "(write a valid value, or quote it and drop any tag to make it text)"
                )
                self.problems.append(Problem(self.doc.file, m.line, m.col, format_path(path), msg))
                return None
            if isinstance(value, str):
                self._check_text(value, node, path)
            return value
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                return self._bad_tag(node, path)
            return [self.convert(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                return self._bad_tag(node, path)
            return self._mapping(node, path)
        return None  # pragma: no cover - the composer makes no other node kinds

    def _check_text(self, text: str, node: Node, path: Path, *, key: bool = False) -> bool:
        """Refuse a control or bidi-override character in a text value or key.

        Checked on the value after YAML has unescaped it: ``"\\e[2J"`` and
        ``"\\u202e"`` are as hostile as the raw characters (which the reader
        refuses before this).
        """
        why = refusal(text, "key" if key else "text")
        if why is None:
            return True
        m = _mark(node.start_mark)
        self.problems.append(Problem(self.doc.file, m.line, m.col, format_path(path), why))
        return False

    def _bad_tag(self, node: Node, path: Path) -> None:
        m = _mark(node.start_mark)
        self.problems.append(
            Problem(
                self.doc.file,
                m.line,
                m.col,
                format_path(path),
                f"the tag {_describe_tag(node.tag)} is not allowed "
                "(use plain YAML: text, numbers, true/false, lists and mappings)",
            )
        )
        return None

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # `<<: *defaults` (or a list of them): keys written here win.
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                merged.extend(s for s in sources if isinstance(s, MappingNode))
                if not all(isinstance(s, MappingNode) for s in sources):
                    m = _mark(value_node.start_mark)
                    self.problems.append(
                        Problem(
                            self.doc.file,
                            m.line,
                            m.col,
                            format_path(path),
                            "'<<' merges only mappings (an alias like *common)",
                        )
                    )
                continue
            self._put(out, key_node, value_node, path, explicit=True)
        for key_node, value_node in _merged_pairs(merged):
            self._put(out, key_node, value_node, path, explicit=False)
        return out

    def _put(
        self, out: dict[str, Any], key_node: Node, value_node: Node, path: Path, explicit: bool
    ) -> None:
        km = _mark(key_node.start_mark)
        if not isinstance(key_node, ScalarNode) or key_node.tag != _STD + "str":
            shown = key_node.value if isinstance(key_node, ScalarNode) else "a list or mapping"
            self.problems.append(
                Problem(
                    self.doc.file,
                    km.line,
                    km.col,
                    format_path(path),
                    f"the key {shown!r} is not text (keys are words like 'name' or 'duration')",
                )
            )
            return
        key = key_node.value
        if self.strip and key.startswith("x-"):
            return
        if not self._check_text(key, key_node, (*path, key), key=True):
            return
        if key in out:
            if explicit:
                self.problems.append(
                    Problem(
                        self.doc.file,
                        km.line,
                        km.col,
                        format_path((*path, key)),
                        "this key appears twice in the same mapping (keep one)",
                    )
                )
            return
        self.doc.key_marks[(*path, key)] = km
        out[key] = self.convert(value_node, (*path, key))


def _merged_pairs(sources: list[MappingNode]) -> list[tuple[Node, Node]]:
    """The pairs that ``<<`` brings in, in order of precedence.

    A merged mapping may itself merge others (``base`` → ``common`` → a step): its own
    keys come first, then those of its merges, as YAML's merge type says.
    """
    pairs: list[tuple[Node, Node]] = []
    seen: set[int] = set()

    def visit(source: MappingNode) -> None:
        if id(source) in seen:
            return
        seen.add(id(source))
        nested: list[MappingNode] = []
        for key_node, value_node in source.value:
            if key_node.tag == _MERGE_TAG:
                values = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                nested.extend(v for v in values if isinstance(v, MappingNode))
            else:
                pairs.append((key_node, value_node))
        for n in nested:
            visit(n)

    for source in sources:
        visit(source)
    return pairs


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_yaml(
    source: bytes | str,
    file: str,
    *,
    what: str = "a mapping",
    strip_extensions: bool = True,
    max_bytes: int = MAX_BYTES,
) -> Document:
    """Load one YAML document that must be a mapping.

    ``what`` describes the expected top level for messages ("a routine: a mapping
    with format, name and steps"). Keys starting with ``x-`` are dropped when
    ``strip_extensions`` is true. Raises :class:`LoadError`; never anything else.
    """
    raw = source.encode("utf-8") if isinstance(source, str) else source
    if len(raw) > max_bytes:
        raise LoadError(
            [
                Problem(
                    file,
                    1,
                    1,
                    "",
                    f"the file is {len(raw):,} bytes; the limit is {max_bytes:,} bytes "
                    f"({max_bytes // 1024 // 1024} MiB)",
                )
            ]
        )
    text = _decode(raw, file) if isinstance(source, bytes) else source
    # The same check as PyYAML's reader, made here so that the message does not
    # depend on which parser (C or Python) reads the file.
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad is not None:
        before = text[: bad.start()]
        line = before.count("\n") + 1
        col = bad.start() - (before.rfind("\n") + 1) + 1
        raise LoadError(
            [
                Problem(
                    file,
                    line,
                    col,
                    "",
                    f"the control character {describe_char(bad.group()[0])} is not allowed "
                    f"in a YAML file (remove it; {ACCEPTED})",
                )
            ]
        )
    try:
        root = _compose(text)
    except _LimitError as exc:
        m = _mark(exc.mark)
        raise LoadError([Problem(file, m.line, m.col, "", exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        m = _mark(exc.problem_mark or exc.context_mark)
        detail = exc.problem or "invalid YAML"
        if exc.context:
            detail = f"{detail} ({exc.context})"
        if "'\\t'" in detail:
            detail += " (indent with spaces, not tabs)"
        raise LoadError(
            [Problem(file, m.line, m.col, "", f"YAML syntax error: {_one_line(detail)}")]
        ) from None
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        m = _mark(getattr(exc, "problem_mark", None))
        raise LoadError(
            [Problem(file, m.line, m.col, "", f"YAML error: {_one_line(str(exc))}")]
        ) from None
    if root is None or (
        isinstance(root, ScalarNode) and root.tag == _STD + "null" and not root.value
    ):  # nothing at all, or only `---`
        raise LoadError([Problem(file, 1, 1, "", f"the file is empty (expected {what})")])
    doc = Document(file=file, data={})
    conv = _Converter(doc, strip_extensions)
    if root.tag not in (_MAP_TAG, _SEQ_TAG, *_ALLOWED_SCALAR_TAGS):
        conv._bad_tag(root, ())  # a tagged top level: `!!python/object/apply:os.system [...]`
        raise LoadError(conv.problems)
    if not isinstance(root, MappingNode):
        m = _mark(root.start_mark)
        kind = {ScalarNode: "a single value", SequenceNode: "a list"}.get(
            type(root), "something else"
        )
        raise LoadError(
            [Problem(file, m.line, m.col, "", f"the file holds {kind}; expected {what}")]
        )
    data = conv.convert(root, ())
    if conv.problems:
        # In the order of the file (a merged mapping's keys are visited after the own ones).
        raise LoadError(sorted(conv.problems, key=lambda p: (p.line, p.col)))
    doc.data = data
    return doc
