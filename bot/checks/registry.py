"""Every check in one visible list, and running them so that one check's crash never hides another's result."""

from __future__ import annotations

from collections.abc import Callable

from bot.checks.agreement import check_agreement
from bot.checks.dco import check_dco
from bot.checks.linked_issue import check_linked_issue
from bot.checks.rules import check_rules
from bot.checks.signatures import check_signatures
from bot.checks.tags import check_tags
from bot.models import CheckResult, PullRequestSnapshot
from bot.policy import Policy
from bot.render import phrases

CheckFunction = Callable[[PullRequestSnapshot, Policy], CheckResult]

# The checks, in the order a review shows them.
CHECKS: dict[str, tuple[str, CheckFunction]] = {
    "linked_issue": ("Linked issue", lambda s, p: check_linked_issue(s, p.check("linked_issue"))),
    "dco": ("DCO sign-off", lambda s, p: check_dco(s, p.check("dco"))),
    "signatures": ("Signed commits", lambda s, p: check_signatures(s, p.check("signatures"))),
    "agreement": ("CNCF agreement", lambda s, p: check_agreement(s, p.check("agreement"), p.check("dco"))),
    "rules": ("Falco rules", lambda s, p: check_rules(s, p.check("rules"), p.get("rules_files"))),
    "tags": ("Tags and style", lambda s, p: check_tags(s, p.check("tags"), p.get("rules_files"), p.get("attack"))),
}


def run_all(snapshot: PullRequestSnapshot, policy: Policy) -> list[CheckResult]:
    """Every enabled check's result; a check that raises reports `error` with the reason (fail closed)."""
    results: list[CheckResult] = []
    for check_id, (title, check) in CHECKS.items():
        if not policy.check(check_id)["enabled"]:
            continue
        try:
            results.append(check(snapshot, policy))
        except Exception as exc:
            text = phrases("checks.yml")["error"]
            reason = f"{type(exc).__name__}: {exc}"
            results.append(CheckResult(check_id, text["title"].format(title=title), "error",
                                       text["summary"].format(reason=reason)))  # fmt: skip
    return results
