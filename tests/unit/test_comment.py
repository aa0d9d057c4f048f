"""The pull request comment: golden output, escaping of user content, and GitHub's size limit."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.models import CheckResult, Finding, Report
from bot.render import COMMENT_LIMIT, escape_markdown, render_comment

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
HINT = (
    "Add the sign-off to every commit since the base, then update the pull request:\n\n"
    "    git rebase --signoff bbbb\n    git push --force-with-lease"
)


MESSAGE = "Commit 0123456789ab (Add <b>rule</b> for @someone) has no `Signed-off-by:` line."


def report(*checks: CheckResult) -> Report:
    return Report("falcosecurity/rules", 7, "b" * 40, "c" * 40, checks)


REVIEW = report(
    CheckResult("linked_issue", "Linked issue", "pass", "The pull request references #12."),
    CheckResult(
        "dco",
        "DCO sign-off",
        "fail",
        "1 of 2 commits are not signed off correctly.",
        (
            Finding(
                "error",
                "DCO_MISSING",
                "Commit 0123456789ab (Add <b>rule</b> for @someone) has no `Signed-off-by:` line.",
                HINT,
                "0123456789abcdef",
            ),
        ),
    ),
    CheckResult(
        "rules",
        "Falco rules",
        "warn",
        "Falco loads rules/falco_rules.yaml with 1 warning(s).",
        (
            Finding(
                "warning",
                "LOAD_NO_EVTTYPE",
                "Rule matches too many evt.type values.",
                None,
                None,
                "rules/falco_rules.yaml",
                8,
                3,
            ),
        ),
    ),
)


def test_comment_matches_the_golden_file() -> None:
    body = render_comment(REVIEW, link_base="https://github.com/falcosecurity/rules/blob/" + "c" * 40)
    golden = GOLDEN / "comment_review.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(body)
    assert body == golden.read_text()
    assert body.splitlines()[0] == "<!-- falco-rules-bot:review -->"


def test_user_content_cannot_inject_html_markdown_or_mentions() -> None:
    text = escape_markdown("<script>x</script> | **bold** [link](http://e) @maintainers `code`")
    assert "<" not in text and "@maintainers" not in text
    assert re.search(r"(?<!\\)[|*\[\]`]", text) is None  # every Markdown character is escaped


def test_a_huge_review_is_summarised_not_cut() -> None:
    findings = tuple(Finding("error", "LOAD_ERR", "x" * 400, None, None, "r.yaml", i) for i in range(2000))
    body = render_comment(report(CheckResult("rules", "Falco rules", "fail", "2000 errors.", findings)))
    assert len(body) < COMMENT_LIMIT
    assert "| Falco rules | ❌ fail | 2000 errors. |" in body
    assert "more; the check run lists every one." in body
    assert body.rstrip().endswith("</sub>")
