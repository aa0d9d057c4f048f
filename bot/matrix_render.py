"""The rule matrix for people: a view of it for the templates, rendered as Markdown or as an HTML page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from bot.attack import VERSIONS, load_catalog
from bot.matrix import Cell, Matrix
from bot.render import phrases, render
from bot.render import render_html as html_page

_CSS_WORD = re.compile(r"^[a-z0-9-]+$")
TACTIC_URL = "https://attack.mitre.org/tactics/{id}/"


def rule_href(link_base: str | None, file: str | None, line: int | None) -> str | None:
    """`link_base/file#Lline`, the link to a rule's line; None without a link base or a file."""
    if not link_base or not file:
        return None
    path = file.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    href = link_base.rstrip("/") + "/" + quote(path.lstrip("/"))
    return href + (f"#L{line}" if line else "")


def _technique(version: str, technique_id: str) -> dict[str, Any]:
    catalog = load_catalog(version) if version in VERSIONS else None
    tech = catalog.technique(technique_id) if catalog else None
    text = phrases("matrix.yml")
    title = text["technique_link_title"].format(id=technique_id, name=tech.name) if tech else technique_id
    url = "https://attack.mitre.org/techniques/" + technique_id.replace(".", "/") + "/"
    return {"id": technique_id, "name": tech.name if tech else None, "title": title, "url": url}


def _cell(version: str, cell: Cell, link_base: str | None) -> dict[str, Any]:
    maturity = cell.maturity if cell.maturity and _CSS_WORD.match(cell.maturity) else None
    text = phrases("matrix.yml")
    where = text["rule_link_title"].format(file=cell.file, line=cell.line) if cell.file and cell.line else cell.file
    return {
        "name": cell.rule,
        "techniques": [_technique(version, t) for t in cell.techniques],
        "maturity": cell.maturity,
        "maturity_class": maturity or "none",
        "file": cell.file,
        "line": cell.line,
        "where": where,
        "enabled": cell.enabled,
        "href": rule_href(link_base, cell.file, cell.line),
    }


def matrix_view(matrix: Matrix, link_base: str | None = None) -> dict[str, Any]:
    """What templates/matrix_grid.html.j2 and matrix.md.j2 show, as plain data (pass it as `matrix_view`)."""
    text = phrases("matrix.yml")
    rules = len({cell.rule for c in matrix.columns for cell in c.cells})
    columns = [
        {
            "id": c.tactic.id,
            "name": c.tactic.name,
            "shortname": c.tactic.shortname,
            "url": TACTIC_URL.format(id=c.tactic.id),
            "count": len(c.cells),
            "count_text": text["column_count"].format(
                count=len(c.cells), rules_word=text["rule_word"][len(c.cells) != 1]
            ),
            "cells": [_cell(matrix.attack_version, cell, link_base) for cell in c.cells],
        }
        for c in matrix.columns
    ]
    uncovered = [t.name for t in matrix.uncovered()]
    return {
        "attack_version": matrix.attack_version,
        "title": text["title"],
        "subtitle": text["subtitle"].format(
            rules=rules, rules_word=text["rule_word"][rules != 1], version=matrix.attack_version
        ),
        "coverage": text["coverage"].format(covered=len(columns) - len(uncovered), total=len(columns)),
        "uncovered": uncovered,
        "uncovered_text": text["uncovered"].format(tactics=", ".join(uncovered))
        if uncovered
        else text["uncovered_none"],
        "columns": columns,
        "rows": max((c["count"] for c in columns), default=0),
        "unmapped": [_cell(matrix.attack_version, cell, link_base) for cell in matrix.unmapped],
        "unmapped_text": text["unmapped"].format(version=matrix.attack_version, count=len(matrix.unmapped)),
        "text": text,
    }


def render_html(matrix: Matrix, link_base: str | None = None) -> str:
    """A standalone HTML page: the grid (templates/matrix_grid.html.j2) with templates/matrix.css inlined."""
    return html_page("matrix.html.j2", matrix_view=matrix_view(matrix, link_base))


def render_markdown(matrix: Matrix, link_base: str | None = None) -> str:
    """The matrix as a Markdown table: tactics as columns in ATT&CK order, rules as cells."""
    return render("matrix.md.j2", matrix_view=matrix_view(matrix, link_base))
