"""One review, pure: a snapshot and a policy in, the Report out (the CLI and the App call the same function)."""

from __future__ import annotations

from typing import Any

from bot.attack import VERSIONS
from bot.checks.registry import run_all
from bot.checks.rules import is_rules_file, ruleset_files
from bot.matrix import DEFAULT_ATTACK_VERSION, matrix_of_rules
from bot.models import PullRequestSnapshot, Report
from bot.policy import Policy
from bot.rules.collector import Collector
from bot.rules.diff import RuleSetDiff, diff_rulesets
from bot.rules.engine import shared_loads, validate


def attack_version(policy: Policy) -> str:
    """The ATT&CK version the policy pins (`attack.version`), the newest shipped when it names none we ship."""
    section = policy.data.get("attack") or {}
    version = str(section.get("version", DEFAULT_ATTACK_VERSION)) if isinstance(section, dict) else ""
    return version if version in VERSIONS else DEFAULT_ATTACK_VERSION


def attack_section(base: Collector, head: Collector, diff: RuleSetDiff, version: str) -> dict[str, Any]:
    """Report.attack: where each added or changed rule lands, the tactics no rule covers once the pull request is
    in, and the matrix of the repository's rules at the base (the default branch, for the dashboard)."""
    matrix = matrix_of_rules(head.rules.values(), version)
    landing = []
    for change in diff.of("rule"):
        cell = matrix.cell(change.name)
        if change.change == "removed" or cell is None:
            continue
        landing.append(
            {
                "rule": change.name,
                "status": change.change,
                "tactics": [t.name for t in matrix.tactics_of(change.name)],
                "techniques": list(cell.techniques),
                "maturity": cell.maturity,
                "file": cell.file,
                "line": cell.line,
            }
        )
    return {
        "attack_version": matrix.attack_version,
        "landing": landing,
        "uncovered": [t.name for t in matrix.uncovered()],
        "matrix": matrix_of_rules(base.rules.values(), version).to_json(),
    }


def review(snapshot: PullRequestSnapshot, policy: Policy) -> Report:
    """Every enabled check on the snapshot, the rule set diff between its base and head, and the ATT&CK view."""
    files_policy = policy.get("rules_files")
    patterns, order = files_policy["patterns"], files_policy["load_order"]
    touched = any(is_rules_file(f.path, patterns) and f.head_text is not None for f in snapshot.files)
    every = list(snapshot.rules_files_at_head) or list(snapshot.files)
    with shared_loads():  # the checks load the same base and head again: each is read and compiled once
        base = validate(ruleset_files(every, False, patterns, order)).collector
        head = validate(ruleset_files(every, True, patterns, order)).collector
        diff = diff_rulesets(base, head)
        attack = attack_section(base, head, diff, attack_version(policy)) if touched else None
        checks = tuple(run_all(snapshot, policy))
    return Report(snapshot.repo, snapshot.number, snapshot.base_sha, snapshot.head_sha, checks, diff.to_json(), attack)
