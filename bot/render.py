"""Sentences for people, from templates/: format-string phrase books for the fast CLI paths."""

from __future__ import annotations

import os
import re
from functools import cache

from bot import paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any


TEMPLATES = paths.TEMPLATES


@cache
def phrases(name: str) -> dict[str, Any]:
    """A template of format strings (a YAML mapping in templates/), loaded once."""
    from bot.rules.yamlsrc import load_data

    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as handle:
        data = load_data(handle)
    assert isinstance(data, dict)
    return data


COMMENT_LIMIT = 65_536  # GitHub's limit on an issue comment's body
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+!|~>"})
# C0 and C1 controls (but tab and newline), and the bidirectional overrides that make text read otherwise than it is.
_CONTROL_POINTS = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F)]
_CONTROLS = str.maketrans(dict.fromkeys([*_CONTROL_POINTS, *range(0x2066, 0x206A)], "\ufffd"))
ZWSP = "\u200b"  # GitHub links `@user`, `#12` and `GH-12` only when nothing sits between the sign and the name
_GH_REFERENCE = re.compile(r"(?i)\b(gh-)(?=\d)")
VALUE_LIMIT = 4000  # characters of one escaped value; longer ones are cut (a comment has 65,536 in all)


def escape_markdown(text: object) -> str:
    """User content made inert: no HTML, no Markdown structure, no @-mentions, no #/GH- references, no controls."""
    value = str(text)
    if len(value) > VALUE_LIMIT:
        value = value[:VALUE_LIMIT] + "…"
    value = value.replace("\r\n", "\n").translate(_CONTROLS)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.translate(_MD_SPECIAL).replace("@", "@" + ZWSP).replace("#", "#" + ZWSP)
    return _GH_REFERENCE.sub(lambda m: m.group(1) + ZWSP, value)


def escape_cell(text: object) -> str:
    """Like escape_markdown, on one line (a table cell)."""
    return " ".join(escape_markdown(text).split())


def fix_block(hint: str) -> str:
    """A fix text: prose lines escaped, indented command lines as a fenced code block."""
    out: list[str] = []
    code: list[str] = []
    for line in [*str(hint).splitlines(), ""]:
        if line.startswith("    "):
            # a command cannot close its fence, carry the comment's marker or hide control characters
            command = line[4 : 4 + VALUE_LIMIT].translate(_CONTROLS)
            code.append(command.replace("```", "'''").replace("<!--", "<" + ZWSP + "!--"))
            continue
        if code:
            out.extend(["```sh", *code, "```"])
            code = []
        if line.strip():
            out.append(escape_markdown(line))
    return "\n".join(out)


@cache
def _environment(html: bool = False) -> Any:
    from urllib.parse import quote

    import jinja2  # imported only when a Markdown or HTML template is rendered (not on the validate path)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Markdown: every piece of user content goes through the md filters; HTML: every value is escaped.
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md=escape_markdown, md_cell=escape_cell, fix_block=fix_block, urlpath=lambda p: quote(str(p)))
    return env


def render(name: str, **context: Any) -> str:
    """Render template `name` of templates/ (Markdown and text: values as they are)."""
    return str(_environment().get_template(name).render(**context))


def render_html(name: str, **context: Any) -> str:
    """Render HTML template `name` of templates/ with every value escaped."""
    return str(_environment(True).get_template(name).render(**context))


def render_comment(report: Any, link_base: str | None = None, draft: bool = False) -> str:
    """The pull request comment for a Report; long reviews are summarised to stay under GitHub's limit."""
    body = ""
    for limit in (50, 20, 10, 5, 1, 0):  # fewer findings per check until it fits; the table always stays whole
        body = render("comment.md.j2", checks=report.checks, conclusion=report.conclusion,
                      head_sha=report.head_sha, link_base=link_base, draft=draft, limit=limit,
                      attack=getattr(report, "attack", None), attack_text=phrases("matrix.yml"))  # fmt: skip
        if len(body) < COMMENT_LIMIT:
            break
    return body
