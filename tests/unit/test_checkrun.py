"""The check run: title, summary, and annotations in batches of 50."""

from __future__ import annotations

from bot.checkrun import check_run_output
from bot.models import CheckResult, Finding, Report


def test_title_summary_and_annotations() -> None:
    findings = tuple(
        Finding("error", "LOAD_ERR", f"problem {i}", None, None, "rules/r.yaml", i + 1, 3) for i in range(120)
    )
    report = Report("o/r", 1, "b" * 40, "h" * 40, (
        CheckResult("dco", "DCO sign-off", "pass", "All 1 commits are signed off."),
        CheckResult("rules", "Falco rules", "fail", "120 errors.", (*findings, Finding("error", "X", "no place"))),
    ))  # fmt: skip
    out = check_run_output(report)
    assert (out.conclusion, out.title) == ("failure", "Changes needed: Falco rules")
    assert [len(b) for b in out.annotation_batches] == [50, 50, 20]
    first = out.annotation_batches[0][0]
    assert first == {
        "path": "rules/r.yaml",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "failure",
        "title": "Falco rules: LOAD_ERR",
        "message": "problem 0",
        "start_column": 3,
        "end_column": 3,
    }
    assert "- **Falco rules**: fail. 120 errors." in out.summary
    assert "1 finding(s) have no file position" in out.summary


def test_warnings_only() -> None:
    report = Report("o/r", 1, "b" * 40, "h" * 40, (CheckResult("rules", "Falco rules", "warn", "1 warning."),))
    out = check_run_output(report)
    assert (out.conclusion, out.title, out.annotation_batches) == ("neutral", "Passed with warnings: Falco rules", [])
