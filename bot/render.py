"""Sentences for people, from templates/: format-string phrase books for the fast CLI paths."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@cache
def phrases(name: str) -> dict[str, Any]:
    """A template of format strings (a YAML mapping in templates/), loaded once."""
    import yaml

    data = yaml.safe_load((TEMPLATES / name).read_text())
    assert isinstance(data, dict)
    return data
