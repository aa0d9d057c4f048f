"""The rule set diff between two versions of the rules files, as the PR review will use it."""

from __future__ import annotations

from pathlib import Path

from bot.rules.diff import diff_rulesets
from bot.rules.engine import RulesFile, validate

UPSTREAM = Path(__file__).resolve().parents[2] / "tests" / "data" / "corpus" / "valid"

BASE = """\
- required_engine_version: 0.50.0
- list: shells
  items: [bash, sh]
- list: old_list
  items: [a]
- macro: spawned
  condition: evt.type = execve
- rule: Shell spawned
  desc: A shell was spawned.
  condition: spawned and proc.name in (shells)
  output: "shell (user=%user.name)"
  priority: WARNING
  tags: [maturity_stable, mitre_execution]
- rule: Gone
  desc: d.
  condition: evt.type = open
  output: x
  priority: INFO
"""

HEAD = """\
- required_engine_version: 0.57.0
- list: shells
  items: [bash, sh, zsh]
- macro: spawned
  condition: evt.type = execve
- rule: Shell spawned
  desc: A shell was spawned.
  condition: spawned and proc.name in (shells)
  output: "shell (user=%user.name)"
  priority: ERROR
  tags: [maturity_stable, mitre_execution, T1059]
- rule: New rule
  desc: d.
  condition: evt.type = close
  output: x
  priority: INFO
"""


def _collector(text: str):  # type: ignore[no-untyped-def]
    return validate([RulesFile("falco_rules.yaml", text)]).collector


def test_added_changed_removed_with_keys() -> None:
    diff = diff_rulesets(_collector(BASE), _collector(HEAD))
    summary = {(c.kind, c.name, c.change, c.keys) for c in diff.changes}
    assert summary == {
        ("rule", "Shell spawned", "changed", ("priority", "tags")),
        ("rule", "New rule", "added", ()),
        ("rule", "Gone", "removed", ()),
        ("list", "shells", "changed", ("items",)),
        ("list", "old_list", "removed", ()),
    }
    assert diff.engine_version == ((0, 50, 0), (0, 57, 0))
    added = diff.of("rule", "added")[0]
    assert (added.file, added.line) == ("falco_rules.yaml", 12)


def test_whitespace_only_changes_are_not_changes() -> None:
    reflowed = BASE.replace(
        "condition: spawned and proc.name in (shells)", "condition: >\n    spawned and\n    proc.name in (shells)"
    )
    diff = diff_rulesets(_collector(BASE), _collector(reflowed))
    assert diff.empty


def test_append_in_a_later_file_changes_the_loaded_rule() -> None:
    base = validate([RulesFile("a.yaml", BASE)]).collector
    extra = "- rule: Shell spawned\n  condition: and proc.pname = sshd\n  override:\n    condition: append\n"
    head = validate([RulesFile("a.yaml", BASE), RulesFile("b.yaml", extra)]).collector
    (change,) = diff_rulesets(base, head).changes
    assert (change.name, change.keys) == ("Shell spawned", ("condition",))


def test_real_release_diff() -> None:
    old = (UPSTREAM / "rules-falco-rules-5.0.0-falco_rules.yaml").read_text()
    new = (UPSTREAM / "rules-falco-rules-5.1.0-falco_rules.yaml").read_text()
    diff = diff_rulesets(_collector(old), _collector(new))
    assert not diff.empty
    assert all(c.kind in {"rule", "macro", "list"} for c in diff.changes)
    assert all(c.change in {"added", "changed", "removed"} for c in diff.changes)
