"""The Report JSON contract (DESIGN §4) that tests and external tools read."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bot.models import CheckResult, Commit, Finding, Identity, Report, conclusion_of

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report-v1.schema.json").read_text())
PASS = CheckResult("dco", "DCO sign-off", "pass", "Every commit is signed off.")
FAIL = CheckResult(
    "rules",
    "Falco rules",
    "fail",
    "1 error.",
    (Finding("error", "LOAD_ERR_COMPILE_CONDITION", "nonexistent field", "Use proc.name.", None, "r.yaml", 3, 5),),
)
WARN = CheckResult("linked_issue", "Linked issue", "warn", "The issue is closed.")
ERROR = CheckResult("signatures", "Signatures", "error", "gpg is not installed.")


@pytest.mark.parametrize(
    ("checks", "conclusion"),
    [
        ((PASS,), "success"),
        ((PASS, WARN), "neutral"),
        ((PASS, WARN, FAIL), "failure"),
        ((PASS, ERROR), "failure"),  # a check that could not decide never lets the review pass
        ((CheckResult("agreement", "Agreement", "skip", "Not required."),), "success"),
    ],
)
def test_conclusion(checks: tuple[CheckResult, ...], conclusion: str) -> None:
    assert conclusion_of(checks) == conclusion


def test_report_json_follows_the_contract() -> None:
    report = Report("falcosecurity/rules", 42, "a" * 40, "b" * 40, (PASS, WARN, FAIL, ERROR))
    data = report.to_json()
    jsonschema.validate(data, SCHEMA)
    assert data["schema"] == "falco-rules-bot/report/v1"
    assert data["conclusion"] == "failure"
    assert [c["id"] for c in data["checks"]] == ["dco", "linked_issue", "rules", "signatures"]
    assert data["checks"][2]["findings"][0] == {
        "severity": "error",
        "code": "LOAD_ERR_COMPILE_CONDITION",
        "message": "nonexistent field",
        "hint": "Use proc.name.",
        "commit": None,
        "file": "r.yaml",
        "line": 3,
        "column": 5,
    }
    assert json.loads(json.dumps(data)) == data


def test_merge_commits_are_recognised() -> None:
    who = Identity("A", "a@example.com")
    assert Commit("1", ("p1", "p2"), who, who, "Merge").is_merge
    assert not Commit("1", ("p1",), who, who, "Fix").is_merge
