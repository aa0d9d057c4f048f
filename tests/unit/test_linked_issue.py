"""The linked_issue check: references parsed as GitHub links them, judged by the policy."""

from __future__ import annotations

from typing import Any

import pytest

from bot.checks.linked_issue import Reference, check_linked_issue, parse_references
from bot.models import IssueFacts, PullRequestSnapshot
from bot.policy import resolve_policy

REPO = "alice/rules"
UPSTREAM = "falcosecurity/rules"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Fixes #12", [(REPO, 12, True)]),
        ("CLOSES: #7 and resolved falcosecurity/rules#90", [(REPO, 7, True), (UPSTREAM, 90, True)]),
        ("See #3", [(REPO, 3, False)]),
        ("fix https://github.com/falcosecurity/rules/issues/55", [(UPSTREAM, 55, True)]),
        ("Fixes [the issue](https://github.com/falcosecurity/rules/issues/56)", [(UPSTREAM, 56, True)]),
        ("<!-- Usage: `Fixes #<issue number>` -->\nFixes #", []),
        ("`Fixes #9` in code does not link", []),
        ("```\nFixes #9\n```", []),
        ("Mentions #4, then Fixes #4", [(REPO, 4, True)]),
        ("prefix#12 is not a reference, nor is #12abc", []),
    ],
)
def test_parse_references(body: str, expected: list[tuple[str, int, bool]]) -> None:
    assert parse_references("", body, REPO) == [Reference(*e) for e in expected]


def _snapshot(body: str, issues: tuple[IssueFacts, ...] = (), title: str = "new rule") -> PullRequestSnapshot:
    return PullRequestSnapshot(
        repo=REPO, number=5, title=title, body=body, author=None, base_ref="main", default_branch="main",
        base_sha="b" * 40, head_sha="h" * 40, linked_issues=issues, upstream=UPSTREAM,
    )  # fmt: skip


def _settings(text: str = "") -> dict[str, Any]:
    policy, findings = resolve_policy(text)
    assert findings == []
    return policy.check("linked_issue")


OPEN = IssueFacts(UPSTREAM, 90, True, state="open", labels=("kind/feature",))
CLOSED = IssueFacts(UPSTREAM, 91, True, state="closed")
PR = IssueFacts(REPO, 7, True, is_pull_request=True, state="open")
MISSING = IssueFacts(REPO, 8, False)


def test_an_upstream_issue_passes() -> None:
    result = check_linked_issue(_snapshot("Fixes falcosecurity/rules#90", (OPEN,)), _settings())
    assert (result.status, result.summary) == ("pass", "The pull request references falcosecurity/rules#90.")


@pytest.mark.parametrize(
    ("body", "issues", "settings", "codes"),
    [
        ("", (), "", ["ISSUE_NO_REFERENCE"]),
        ("**Which issue(s) this PR fixes**:\n\n<!-- Usage: `Fixes #<issue number>` -->\n\nFixes #\n", (), "",
         ["ISSUE_UNFILLED_TEMPLATE"]),
        ("Fixes #7", (PR,), "", ["ISSUE_IS_PULL_REQUEST"]),
        ("Fixes #8", (MISSING,), "", ["ISSUE_NOT_FOUND"]),
        ("Fixes falcosecurity/rules#91", (CLOSED,), "checks:\n  linked_issue:\n    require_open: true\n",
         ["ISSUE_CLOSED"]),
        ("Fixes falcosecurity/rules#90", (OPEN,), "checks:\n  linked_issue:\n    required_labels: [area/rules]\n",
         ["ISSUE_MISSING_LABELS"]),
        ("Fixes other/repo#1", (IssueFacts("other/repo", 1, True, state="open"),), "", ["ISSUE_OTHER_REPOSITORY"]),
    ],
)  # fmt: skip
def test_failures_say_why(body: str, issues: tuple[IssueFacts, ...], settings: str, codes: list[str]) -> None:
    result = check_linked_issue(_snapshot(body, issues), _settings(settings))
    assert result.status == "fail"
    assert [f.code for f in result.findings] == codes
    assert all(f.hint for f in result.findings)


def test_a_closed_issue_is_fine_by_default_and_one_good_reference_is_enough() -> None:
    result = check_linked_issue(_snapshot("Fixes #7, fixes falcosecurity/rules#91", (PR, CLOSED)), _settings())
    assert result.status == "pass"


def test_a_reference_github_could_not_tell_about_is_an_error_not_a_pass() -> None:
    result = check_linked_issue(_snapshot("Fixes #99"), _settings())
    assert result.status == "error"
    assert [f.code for f in result.findings] == ["ISSUE_UNKNOWN"]


def test_links_github_reports_count_without_a_keyword() -> None:
    assert check_linked_issue(_snapshot("", (OPEN,)), _settings()).status == "pass"


def test_severity_warning_only_warns() -> None:
    result = check_linked_issue(_snapshot(""), _settings("checks:\n  linked_issue:\n    severity: warning\n"))
    assert result.status == "warn"
    assert result.findings[0].severity == "warning"
