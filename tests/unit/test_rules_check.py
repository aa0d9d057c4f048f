"""The rules check: Falco's verdict on the head's rule set, in the policy's load order, and the diff."""

from __future__ import annotations

from typing import Any

import pytest

from bot.checks.rules import check_rules, is_rules_file, load_order, rules_diff
from bot.models import ChangedFile, PullRequestSnapshot
from bot.policy import resolve_policy

RULE = "- rule: {name}\n  desc: d.\n  condition: {cond}\n  output: x %proc.name\n  priority: INFO\n"
GOOD = RULE.format(name="Good", cond="evt.type = open")
BAD = RULE.format(name="Bad", cond="evt.type = open and proc.nmae = x")
NOISY = RULE.format(name="Noisy", cond="proc.name = x")


def snapshot(*files: ChangedFile, everything: tuple[ChangedFile, ...] = ()) -> PullRequestSnapshot:
    return PullRequestSnapshot(
        repo="falcosecurity/rules", number=1, title="t", body="", author=None, base_ref="main",
        default_branch="main", base_sha="b" * 40, head_sha="h" * 40, files=files, rules_files_at_head=everything,
    )  # fmt: skip


def policy(text: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    resolved, findings = resolve_policy(text)
    assert findings == []
    return resolved.check("rules"), resolved.get("rules_files")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("rules/falco_rules.yaml", True), ("falco_rules.yaml", True), ("rules/sub/x.yaml", True),
     ("docs/rules.md", False), ("README.md", False), ("plugins/k8s_audit_rules.yaml", True)],
)  # fmt: skip
def test_rules_files_by_policy_globs(path: str, expected: bool) -> None:
    assert is_rules_file(path, ["**/*_rules.yaml", "rules/**/*.yaml"]) is expected


def test_load_order() -> None:
    paths = ["rules/falco-sandbox_rules.yaml", "rules/zz_rules.yaml", "rules/falco_rules.yaml"]
    order = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
    assert load_order(paths, order) == [
        "rules/falco_rules.yaml",
        "rules/falco-sandbox_rules.yaml",
        "rules/zz_rules.yaml",
    ]


def test_unrelated_files_only_skip() -> None:
    result = check_rules(snapshot(ChangedFile("README.md", "modified", "a", "b")), *policy())
    assert result.status == "skip"


def test_valid_rules_pass() -> None:
    result = check_rules(snapshot(ChangedFile("rules/falco_rules.yaml", "modified", "", GOOD)), *policy())
    assert result.status == "pass" and result.findings == ()


def test_invalid_rules_fail_with_positions() -> None:
    result = check_rules(snapshot(ChangedFile("rules/falco_rules.yaml", "modified", GOOD, GOOD + BAD)), *policy())
    assert result.status == "fail"
    (finding,) = result.findings
    assert (finding.code, finding.file, finding.line) == ("LOAD_ERR_COMPILE_CONDITION", "rules/falco_rules.yaml", 8)
    assert finding.column == 34  # "  condition: evt.type = open and " is 33 characters
    assert "falco-rules-bot validate rules/falco_rules.yaml" in (finding.hint or "")


def test_warnings_warn_or_fail_by_policy() -> None:
    files = snapshot(ChangedFile("rules/falco_rules.yaml", "added", None, NOISY))
    assert check_rules(files, *policy()).status == "warn"
    strict = check_rules(files, *policy("checks:\n  rules:\n    warnings_fail: true\n"))
    assert strict.status == "fail"
    assert [f.code for f in strict.findings] == ["LOAD_NO_EVTTYPE"]


def test_the_rule_set_loads_in_order_with_the_files_a_change_needs() -> None:
    stable = ChangedFile("rules/falco_rules.yaml", "modified", "- list: shells\n  items: [bash]\n",
                         "- list: shells\n  items: [bash]\n")  # fmt: skip
    extra = ChangedFile("rules/falco-incubating_rules.yaml", "modified", "",
                        "- list: shells\n  items: [zsh]\n  override:\n    items: append\n"
                        + RULE.format(name="Shell", cond="evt.type = execve and proc.name in (shells)"))  # fmt: skip
    result = check_rules(snapshot(extra, everything=(extra, stable)), *policy())
    assert result.status == "pass", result.findings


def test_removed_rules_file_is_not_validated() -> None:
    assert check_rules(snapshot(ChangedFile("rules/old_rules.yaml", "removed", GOOD, None)), *policy()).status == "skip"


def test_diff_between_base_and_head() -> None:
    changed = ChangedFile("rules/falco_rules.yaml", "modified", GOOD, GOOD.replace("INFO", "ERROR") + NOISY)
    diff = rules_diff(snapshot(changed), *policy()[1].values())
    assert {(c.name, c.change, c.keys) for c in diff.changes} == {("Good", "changed", ("priority",)),
                                                                 ("Noisy", "added", ())}  # fmt: skip


@pytest.mark.parametrize(
    ("declared", "cond", "codes"),
    [
        ("0.40.0", "evt.type = open and basename(proc.exepath) = sh", ["RULES_ENGINE_VERSION_TOO_LOW"]),
        ("0.43.0", "evt.type = open and basename(proc.exepath) = sh", []),
        ("0.57.0", "evt.type = open and proc.name startswith oneof (ba, zs)", ["RULES_ENGINE_VERSION_TOO_LOW"]),
        ("0.62.0", "evt.type = open and proc.name startswith oneof (ba, zs)", []),
        ("0.26.0", "evt.type = open and proc.name = cat", []),
    ],
)
def test_a_rule_newer_than_the_declared_engine_version(declared: str, cond: str, codes: list[str]) -> None:
    head = f"- required_engine_version: {declared}\n" + RULE.format(name="New", cond=cond)
    result = check_rules(snapshot(ChangedFile("rules/falco_rules.yaml", "modified", "", head)), *policy())
    assert [f.code for f in result.findings] == codes
    if codes:
        assert result.status == "fail"
        finding = result.findings[0]
        assert "available since engine" in finding.message and finding.line == 2
        assert "required_engine_version" in (finding.hint or "")


def test_within_one_review_each_rule_set_is_loaded_once() -> None:
    from bot.rules.engine import EngineOptions, RulesFile, shared_loads, validate

    files = [RulesFile("rules/falco_rules.yaml", GOOD + NOISY)]
    assert validate(files) is not validate(files)  # outside a review: a fresh pass each time
    with shared_loads():
        first = validate(files)
        assert validate([RulesFile("rules/falco_rules.yaml", GOOD + NOISY)]) is first  # same names and texts
        assert validate(files, EngineOptions()) is first  # the default options, spelled out
        assert validate(files, EngineOptions((0, 20, 0))) is not first  # other options: their own pass
        assert validate([RulesFile("rules/falco_rules.yaml", GOOD)]) is not first  # other text: its own pass
    assert validate(files) is not first  # the review is over: nothing kept
