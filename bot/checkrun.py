"""A Report as a GitHub check run: title, summary, and line annotations in batches of 50."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.models import Report
from bot.render import phrases, render

ANNOTATION_BATCH = 50  # GitHub accepts at most 50 annotations per request
SUMMARY_LIMIT = 65_535
LEVELS = {"error": "failure", "warning": "warning", "notice": "notice"}


@dataclass(frozen=True)
class CheckRunOutput:
    """What the App sends: conclusion, title, summary, and the annotation batches."""

    conclusion: str
    title: str
    summary: str
    annotation_batches: list[list[dict[str, Any]]]


def annotations_of(report: Report) -> list[dict[str, Any]]:
    """One annotation per finding that has a file and a line."""
    out: list[dict[str, Any]] = []
    for check in report.checks:
        for f in check.findings:
            if not f.file or not f.line:
                continue
            out.append({"path": f.file, "start_line": f.line, "end_line": f.line,
                        "annotation_level": LEVELS[f.severity], "title": f"{check.title}: {f.code}",
                        "message": f.message[:64_000]})  # fmt: skip
            if f.column:
                out[-1].update(start_column=f.column, end_column=f.column)
    return out


def check_run_output(report: Report) -> CheckRunOutput:
    """The check run for a review."""
    text = phrases("check_run.yml")
    failed = ", ".join(c.title for c in report.checks if c.status in ("fail", "error"))
    warned = ", ".join(c.title for c in report.checks if c.status == "warn")
    title = text[f"title_{report.conclusion}"].format(failed=failed, warned=warned)
    notes = annotations_of(report)
    total = sum(len(c.findings) for c in report.checks)
    summary = render("check_run.md.j2", checks=report.checks, annotated=len(notes), total=total)[:SUMMARY_LIMIT]
    batches = [notes[i : i + ANNOTATION_BATCH] for i in range(0, len(notes), ANNOTATION_BATCH)]
    return CheckRunOutput(report.conclusion, title, summary, batches)
