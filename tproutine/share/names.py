"""When two routine names are the same routine (imported without the loader, so that the
Library can compare names before pydantic or YAML are loaded)."""

from __future__ import annotations


def name_key(name: str) -> str:
    """Names that a person would read as the same routine compare equal."""
    return " ".join(name.split()).casefold()
