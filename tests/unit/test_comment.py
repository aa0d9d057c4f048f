"""The pull request comment: golden output, escaping of user content, and GitHub's size limit."""

from __future__ import annotations

import os
import re
from dataclasses import replace
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


ATTACK = {
    "attack_version": "19",
    "landing": [
        {"rule": "Shell in <b>container</b> | @maintainers", "status": "added", "tactics": ["Execution"],
         "techniques": ["T1059.004"], "maturity": "incubating", "file": "rules/falco_rules.yaml", "line": 12},
        {"rule": "Modify binary dirs", "status": "changed", "tactics": ["Persistence", "Defense Impairment"],
         "techniques": ["T1222.002"], "maturity": "sandbox", "file": "rules/falco_rules.yaml", "line": 30},
        {"rule": "Untagged", "status": "added", "tactics": [], "techniques": [], "maturity": None,
         "file": "rules/falco_rules.yaml", "line": 40},
    ],
    "uncovered": ["Resource Development", "Collection"],
    "matrix": {},
}  # fmt: skip
REVIEW = replace(REVIEW, attack=ATTACK)


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


def test_the_attack_section_is_compact_and_escaped() -> None:
    body = render_comment(REVIEW)
    section = body[body.index("#### MITRE ATT&CK") : body.index("<sub>")]
    assert "<b>" not in section and "@maintainers" not in section and "Shell in &lt;b&gt;container" in section
    assert "| Modify binary dirs | changed | Persistence, Defense Impairment | T1222.002 | sandbox |" in section
    assert "Tactics no rule of the repository covers: Resource Development, Collection." in section
    many = dict(ATTACK, landing=ATTACK["landing"] * 40)  # type: ignore[operator]
    body = render_comment(replace(REVIEW, attack=many))
    assert body.count("| added |") + body.count("| changed |") == 20 and "… and 100 more." in body
    assert "MITRE ATT&CK" not in render_comment(replace(REVIEW, attack=dict(ATTACK, landing=[])))
