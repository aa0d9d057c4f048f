"""Jinja2 over templates/: every sentence the bot says to a person is rendered here."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@cache
def _environment() -> Any:
    import jinja2  # imported lazily: the validate path stays fast when no text is rendered

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **context: Any) -> str:
    """Render template `name` with `context`."""
    return str(_environment().get_template(name).render(**context))
