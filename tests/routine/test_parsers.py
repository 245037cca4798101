"""The C (libyaml) and pure-Python parsers must give the same documents and errors.

PyYAML ships without libyaml on some platforms; then the pure-Python parser is used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tproutine import yamlsafe
from tproutine.paths import bundled_routines_dir

BAD = [
    "a: [1, 2\nb: 3\n",  # unclosed bracket
    "a:\n\tb: 1\n",  # tab indentation
    "a: &a [*a]\n",  # recursive alias
    "a: " + "[" * 40 + "]" * 40 + "\n",  # too deep
    "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
    + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcde", "bcdef", strict=True)
    ),
    "- just a list\n",
]


def _load(text: str) -> object:
    try:
        doc = yamlsafe.load_yaml(text.encode(), "f.yaml")
    except yamlsafe.LoadError as err:
        return [str(p) for p in err.problems]
    return (doc.data, doc.value_marks, doc.key_marks)


@pytest.fixture
def python_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "_Loader", yamlsafe._PyLoader)


def _both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    fast = _load(text)
    with monkeypatch.context() as m:
        m.setattr(yamlsafe, "_Loader", yamlsafe._PyLoader)
        slow = _load(text)
    return fast, slow


@pytest.mark.skipif(not yamlsafe.yaml.__with_libyaml__, reason="PyYAML has no libyaml here")
def test_the_c_parser_is_used_when_available() -> None:
    assert yamlsafe._Loader is not yamlsafe._PyLoader


@pytest.mark.parametrize(
    "path", sorted(bundled_routines_dir().glob("*.yaml")), ids=lambda p: Path(p).name
)
def test_bundled_routines_read_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(path.read_text(encoding="utf-8"), monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("text", BAD)
def test_mistakes_are_reported_the_same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(text, monkeypatch)
    assert isinstance(fast, list) and fast == slow


def test_the_python_parsers_message_names_the_tab(python_parser: None) -> None:
    assert "indent with spaces" in str(_load("a:\n\tb: 1\n"))
