"""Hostile input gets a verdict, never a crash or a hang: bombs, huge files, bad bytes, deep nesting."""

from __future__ import annotations

import pytest

from bot.rules.engine import EngineOptions, RulesFile, load_like_falco, validate
from bot.rules.yamlsrc import Limits

RULE = "- rule: R\n  desc: d.\n  condition: {cond}\n  output: x\n  priority: INFO\n"


def _codes(content: str | bytes, **limits: int) -> list[tuple[str, str]]:
    options = EngineOptions(limits=Limits(**limits)) if limits else EngineOptions()
    outcome = validate([RulesFile("f.yaml", content)], options)
    falco = load_like_falco([RulesFile("f.yaml", content)], options)
    assert len(falco) == 1
    return [(d.severity, d.code) for d in outcome.diagnostics]


def test_alias_bomb_is_bounded() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    bomb = "- list: defs\n  items: [x]\n  extra:\n    " + "\n    ".join(lines) + "\n- list: bomb\n  items: *a9\n"
    codes = _codes(bomb)
    assert codes == [("error", "LOAD_ERR_YAML_PARSE")]  # refused before anything walks the expansion


def test_alias_bomb_in_exception_values_is_refused() -> None:
    lines = [
        "- list: defs",
        "  items: [x]",
        "  extra:",
        '    a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for i in range(1, 10):
        lines.append(f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    rule = (
        RULE.format(cond="evt.type = open") + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    values: *a9\n"
    )
    assert _codes("\n".join(lines) + "\n" + rule) == [("error", "LOAD_ERR_YAML_PARSE")]


def test_alias_limit_is_a_setting() -> None:
    text = "- list: a\n  items: &x [a, b, c]\n- list: b\n  items: *x\n"
    assert _codes(text + RULE.format(cond="evt.type = open and proc.name in (a, b)")) == []
    assert _codes(text, max_alias_nodes=5) == [("error", "LOAD_ERR_YAML_PARSE")]


def test_file_over_the_size_limit() -> None:
    big = "# " + "x" * (50 * 1024 * 1024) + "\n"
    assert _codes(big) == [("error", "LOAD_ERR_FILE_READ")]


def test_size_limit_is_a_setting() -> None:
    assert _codes(RULE.format(cond="evt.type = open"), max_file_bytes=10) == [("error", "LOAD_ERR_FILE_READ")]


@pytest.mark.parametrize(
    "content",
    [b"- rule: \xff\xfe\n", b"\x00\x01\x02\x03binary\x00", bytes(range(256)) * 40],
    ids=["invalid-utf8", "nul-bytes", "all-bytes"],
)
def test_bad_bytes(content: bytes) -> None:
    assert _codes(content) == [("error", "LOAD_ERR_YAML_PARSE")]


def test_deep_condition_nesting() -> None:
    cond = "(" * 100_000 + "evt.type = open" + ")" * 100_000
    codes = _codes(RULE.format(cond=cond))
    assert codes == [("error", "LOAD_ERR_COMPILE_CONDITION")]


def test_condition_nesting_under_the_limit_compiles() -> None:
    cond = "(" * 150 + "evt.type = open" + ")" * 150  # libsinsp counts about five levels per parenthesis
    assert _codes(RULE.format(cond=cond)) == []


def test_deep_yaml_nesting() -> None:
    text = "- list: l\n  items: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert _codes(text) == [("error", "LOAD_ERR_YAML_PARSE")]


def test_ten_thousand_item_list() -> None:
    items = ", ".join(f"bin{i}" for i in range(10_000))
    text = f"- list: many\n  items: [{items}]\n" + RULE.format(cond="evt.type = execve and proc.name in (many)")
    assert _codes(text) == []


def test_duplicate_keys_are_reported_by_the_bot_only() -> None:
    text = RULE.format(cond="evt.type = open") + "  condition: nonsense here\n"
    assert _codes(text) == [("warning", "BOT_DUPLICATE_KEY")]
    falco = load_like_falco([RulesFile("f.yaml", text)])
    assert falco[0].successful and falco[0].warnings == []


def test_tabs_for_indentation() -> None:
    assert _codes("- rule: R\n\tdesc: d\n") == [("error", "LOAD_ERR_YAML_PARSE")]


def test_empty_and_null_documents() -> None:
    assert _codes("") == []
    assert _codes("---\n~\n---\n") == []


def test_condition_multiplied_by_lists_is_bounded() -> None:
    items = ", ".join(f"binary_number_{i}" for i in range(1000))
    text = f"- list: many\n  items: [{items}]\n" + RULE.format(cond="evt.type = execve and proc.name in (many)")
    assert _codes(text) == []
    assert _codes(text, max_condition_bytes=1000) == [("error", "LOAD_ERR_COMPILE_CONDITION")]


def test_a_required_plugin_the_bot_does_not_know_is_said_once() -> None:
    text = "- required_plugin_versions:\n  - name: nomad\n    version: 0.1.0\n" + RULE.format(cond="evt.type = open")
    assert _codes(text) == [("warning", "BOT_UNKNOWN_PLUGIN")]
    assert load_like_falco([RulesFile("f.yaml", text)])[0].warnings == []
