"""One review, pure: a snapshot and a policy in, the Report out (the CLI and the App call the same function)."""

from __future__ import annotations

from bot.checks.registry import run_all
from bot.checks.rules import rules_diff
from bot.models import PullRequestSnapshot, Report
from bot.policy import Policy


def review(snapshot: PullRequestSnapshot, policy: Policy) -> Report:
    """Every enabled check on the snapshot, and the rule set diff between its base and head."""
    files_policy = policy.get("rules_files")
    diff = rules_diff(snapshot, files_policy["patterns"], files_policy["load_order"]).to_json()
    checks = tuple(run_all(snapshot, policy))
    return Report(snapshot.repo, snapshot.number, snapshot.base_sha, snapshot.head_sha, checks, rules_diff=diff)
