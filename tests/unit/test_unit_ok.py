"""Falco's unit-test rules that must load cleanly, and the compiled conditions Falco printed for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.rules.condition import format_expr
from bot.rules.engine import EngineOptions, RulesFile, load_like_falco, validate
from bot.rules.macros import substitute
from tests.corpus import CORPUS, OBSERVED_PLUGINS, unit_ok_cases

CASES = unit_ok_cases()
OBSERVED_WARNINGS = {
    e["file"]: e["observed_falco_0.44.1"]["warnings"]
    for e in json.loads((CORPUS / "unit-ok" / "EXPECTED.json").read_text())
}


@pytest.mark.parametrize(("name", "path", "compiled"), CASES, ids=[c[0] for c in CASES])
def test_loads_as_falco_loaded_it(name: str, path: Path, compiled: list[dict[str, str]]) -> None:
    """Every case loads without errors; the only warnings are those Falco 0.44.1 printed too."""
    results = load_like_falco([RulesFile(name, path.read_bytes())], EngineOptions(plugins=OBSERVED_PLUGINS))
    assert [(d.code, d.message) for r in results for d in r.errors] == []
    assert [[d.code, d.message] for r in results for d in r.warnings] == OBSERVED_WARNINGS[name]


@pytest.mark.parametrize(("name", "path", "compiled"), [c for c in CASES if c[2]], ids=[c[0] for c in CASES if c[2]])
def test_compiled_condition_matches_falco(name: str, path: Path, compiled: list[dict[str, str]]) -> None:
    outcome = validate([RulesFile(name, path.read_bytes())], EngineOptions(plugins=OBSERVED_PLUGINS))
    assert outcome.compiled is not None
    for expected in compiled:
        if expected["what"] != "condition":
            continue
        rule = outcome.compiled.rules[expected["rule"]]
        printed = format_expr(substitute(rule.condition, outcome.compiled.macro_asts))
        assert printed == expected["observed_falco_0.44.1"]
