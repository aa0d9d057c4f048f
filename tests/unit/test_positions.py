"""Every finding points at the exact line and column a contributor must edit."""

from __future__ import annotations

from bot.rules.engine import RulesFile, load_like_falco, validate


def _where(files: list[tuple[str, str]], code: str) -> list[tuple[str, int | None, int | None, str]]:
    outcome = validate([RulesFile(name, text) for name, text in files])
    return [(d.path, d.line, d.column, d.message) for d in outcome.diagnostics if d.code == code]


def _col(line: str, needle: str) -> int:
    return line.index(needle) + 1


FOLDED = """\
- rule: Folded
  desc: d.
  condition: >
    evt.type = open and
    proc.name = cat and fd.nmae = x
  output: x
  priority: INFO
"""


def test_field_error_inside_a_folded_condition() -> None:
    ((path, line, col, message),) = _where([("f.yaml", FOLDED)], "LOAD_ERR_COMPILE_CONDITION")
    assert message == "filter_check called with nonexistent field fd.nmae"
    assert (path, line, col) == ("f.yaml", 5, _col(FOLDED.splitlines()[4], "fd.nmae"))


MACRO_FILE = """\
- macro: bad_macro
  condition: evt.type = open and proc.nmae = cat
"""
RULE_FILE = """\
- rule: Uses the macro
  desc: d.
  condition: bad_macro and proc.name = x
  output: x
  priority: INFO
"""


def test_error_in_a_macro_points_into_the_macro_file() -> None:
    ((path, line, col, _),) = _where([("a.yaml", MACRO_FILE), ("b.yaml", RULE_FILE)], "LOAD_ERR_COMPILE_CONDITION")
    assert (path, line, col) == ("a.yaml", 2, _col(MACRO_FILE.splitlines()[1], "proc.nmae"))
    # Falco blames the rule that uses the macro, in the rule's file.
    falco = load_like_falco([RulesFile("a.yaml", MACRO_FILE), RulesFile("b.yaml", RULE_FILE)])
    assert falco[0].successful and not falco[1].successful
    assert falco[1].errors[0].item() == ("rule", "Uses the macro")


APPENDED = """\
- rule: Base
  desc: d.
  condition: evt.type = open
  output: x
  priority: INFO
- rule: Base
  condition: and proc.nmae = cat
  override:
    condition: append
"""


def test_error_in_appended_text_points_at_the_append() -> None:
    ((_, line, col, _),) = _where([("f.yaml", APPENDED)], "LOAD_ERR_COMPILE_CONDITION")
    assert (line, col) == (7, _col(APPENDED.splitlines()[6], "proc.nmae"))


LISTS = """\
- list: shells
  items: [bash, zsh, "my shell"]
- rule: R
  desc: d.
  condition: evt.type = execve and proc.name in (shells) and proc.nmae = x
  output: x
  priority: INFO
"""


def test_positions_survive_list_substitution() -> None:
    ((_, line, col, _),) = _where([("f.yaml", LISTS)], "LOAD_ERR_COMPILE_CONDITION")
    assert (line, col) == (5, _col(LISTS.splitlines()[4], "proc.nmae"))


OUTPUT = """\
- rule: R
  desc: d.
  condition: evt.type = open
  output: "opened (file=%fd.name user=%(user.name))"
  priority: INFO
"""


def test_output_error_points_at_the_token() -> None:
    ((_, line, col, message),) = _where([("f.yaml", OUTPUT)], "LOAD_ERR_COMPILE_OUTPUT")
    assert message == "unknown filter: unexpected token after '"
    assert (line, col) == (4, _col(OUTPUT.splitlines()[3], "%(user"))


MISSING = """\
- rule: R
  desc: d.
  condition: evt.type = open
  priority: INFO
"""


def test_structural_error_points_at_the_item() -> None:
    ((_, line, col, message),) = _where([("f.yaml", MISSING)], "LOAD_ERR_YAML_VALIDATE")
    assert message == "Item has no mapping for key 'output'"
    assert (line, col) == (1, 3)


def test_every_problem_in_one_pass_where_falco_stops_at_the_first() -> None:
    text = MISSING + FOLDED.replace("Folded", "Second") + OUTPUT.replace("- rule: R", "- rule: Third")
    outcome = validate([RulesFile("f.yaml", text)])
    assert [d.code for d in outcome.errors] == [
        "LOAD_ERR_YAML_VALIDATE",
        "LOAD_ERR_COMPILE_CONDITION",
        "LOAD_ERR_COMPILE_OUTPUT",
    ]
    falco = load_like_falco([RulesFile("f.yaml", text)])
    assert [d.code for d in falco[0].errors] == ["LOAD_ERR_YAML_VALIDATE"]
