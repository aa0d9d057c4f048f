"""Sentences for people, from templates/: format-string phrase books for the fast CLI paths."""

from __future__ import annotations

import os
from functools import cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any


TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")


@cache
def phrases(name: str) -> dict[str, Any]:
    """A template of format strings (a YAML mapping in templates/), loaded once."""
    import yaml

    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(data, dict)
    return data
