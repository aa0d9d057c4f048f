"""The code's shape: each third-party library is imported in one place, and the decisions import none of the I/O."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
# Libraries that belong together, imported by the same one place (FastAPI is built on Starlette; PyGithub on
# requests and urllib3, whose retry and timeout the client configures; pydantic-settings on pydantic).
FAMILIES = {"starlette": "fastapi", "requests": "github", "urllib3": "github", "pydantic": "pydantic_settings"}
# Where I/O lives: the pure middle (checks, rules) imports none of these.
IO = {"fastapi", "github", "git", "gnupg", "sqlalchemy", "huey", "uvicorn", "prometheus_client", "msgspec", "redis"}


def third_party_imports() -> dict[str, set[str]]:
    """Each third-party library (by family) and the modules that import it; a package (bot/store/) is one place."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in BOT.rglob("*.py"):
        place = path.relative_to(BOT).as_posix()
        if place.startswith("store/"):
            place = "store/"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("bot", "__future__"):
                    found[FAMILIES.get(top, top)].add(place)
    return found


def test_each_library_is_imported_in_one_place() -> None:
    imports = third_party_imports()
    assert {"fastapi", "github", "git", "gnupg", "sqlalchemy", "huey", "msgspec", "yaml"} <= set(imports)
    assert {name: sorted(places) for name, places in imports.items() if len(places) > 1} == {}


def test_checks_and_rules_do_no_io() -> None:
    places = {place for name, found in third_party_imports().items() if name in IO for place in found}
    assert sorted(p for p in places if p.startswith(("checks/", "rules/"))) == []
