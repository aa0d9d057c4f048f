"""Machine-readable shapes of a validation and a review: Falco's own JSON, our JSON, SARIF 2.1.0, GitHub annotations."""

from __future__ import annotations

from bot import __version__
from bot.rules.messages import BOT_CODES, ERROR_CODES, WARNING_CODES
from bot.rules.result import Diagnostic, FileResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any

    from bot.models import CheckResult, Finding, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://falco.org/docs/concepts/rules/"


def code_description(code: str) -> str:
    """Falco's short text for a load-result code."""
    return ERROR_CODES.get(code) or WARNING_CODES.get(code) or BOT_CODES.get(code, code)


def snippet(diag: Diagnostic, texts: dict[str, str]) -> str:
    """The offending line with a caret under the column, as a compiler shows it."""
    text = texts.get(diag.path)
    if text is None or diag.line is None:
        return ""
    lines = text.splitlines()
    if not 0 < diag.line <= len(lines):
        return ""
    line = lines[diag.line - 1]
    caret = " " * max(0, (diag.column or 1) - 1) + "^"
    return f"{line}\n{caret}"


def _falco_entry(diag: Diagnostic, texts: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "code": diag.code,
        "codedesc": code_description(diag.code),
        "message": diag.message,
        "context": {
            "locations": [
                {
                    "item_type": loc.item_type,
                    "item_name": loc.item_name,
                    "position": {"name": loc.name, "line": loc.line, "column": loc.column, "offset": loc.offset},
                }
                for loc in diag.context.locations
            ],
            "snippet": snippet(diag, texts),
        },
    }
    if diag.deprecated_field:
        entry["deprecated_field"] = diag.deprecated_field
    return entry


def falco_json(results: list[FileResult], texts: dict[str, str]) -> dict[str, Any]:
    """`falco -o json_output=true -V ...`: one load result per file."""
    return {
        "falco_load_results": [
            {
                "name": r.name,
                "successful": r.successful,
                "errors": [_falco_entry(d, texts) for d in r.errors],
                "warnings": [_falco_entry(d, texts) for d in r.warnings],
            }
            for r in results
        ]
    }


def finding(diag: Diagnostic) -> dict[str, Any]:
    """One diagnostic in our own JSON shape."""
    item_type, item_name = diag.item()
    return {
        "severity": diag.severity,
        "code": diag.code,
        "message": diag.message,
        "file": diag.path,
        "line": diag.line,
        "column": diag.column,
        "item_type": item_type,
        "item_name": item_name,
        "origin": diag.origin,
    }


def bot_json(files: list[str], diags: list[Diagnostic]) -> dict[str, Any]:
    """Every finding of every file, with a per-file verdict."""
    per_file = []
    for name in files:
        errors = sum(1 for d in diags if d.severity == "error" and d.file == name)
        warnings = sum(1 for d in diags if d.severity == "warning" and d.file == name)
        per_file.append({"name": name, "successful": errors == 0, "errors": errors, "warnings": warnings})
    return {
        "schema": "falco-rules-bot/validate/v1",
        "successful": all(f["successful"] for f in per_file),
        "files": per_file,
        "findings": [finding(d) for d in diags],
    }


def sarif(diags: list[Diagnostic]) -> dict[str, Any]:
    """SARIF 2.1.0 for code-scanning tools."""
    codes = sorted({d.code for d in diags})
    results = []
    for d in diags:
        region: dict[str, int] = {}
        if d.line:
            region["startLine"] = d.line
            if d.column:
                region["startColumn"] = d.column
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": d.path}}}
        if region:
            location["physicalLocation"]["region"] = region
        item_type, item_name = d.item()
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": codes.index(d.code),
                "level": "error" if d.severity == "error" else "warning",
                "message": {"text": d.message or code_description(d.code)},
                "locations": [location],
                "properties": {"itemType": item_type, "itemName": item_name},
            }
        )
    return _sarif_log([{"id": c, "shortDescription": {"text": code_description(c)}} for c in codes], results)


def _sarif_log(rules: list[dict[str, Any]], results: list[dict[str, Any]], **run: Any) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run of this tool: its rules, its results, and more properties of the run."""
    driver = {"name": "falco-rules-bot", "version": __version__, "informationUri": INFO_URI, "rules": rules}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, **run, "results": results}]}  # fmt: skip


SARIF_LEVELS = {"error": "error", "warning": "warning", "notice": "note"}
GITHUB_LEVELS = {"error": "error", "warning": "warning", "notice": "notice"}


def _sarif_result(f: Finding, check: CheckResult, rule_index: int, fallback: str | None) -> dict[str, Any]:
    """One finding of a review as a SARIF result: its file and position when it has them, else the pull request's
    logical location (the commit when it names one) and, for tools that need a file, the change's first file."""
    location: dict[str, Any] = {}
    uri = f.file or fallback
    if uri:
        location["physicalLocation"] = {"artifactLocation": {"uri": uri}}
        if f.file and f.line:
            region = {"startLine": f.line, **({"startColumn": f.column} if f.column else {})}
            location["physicalLocation"]["region"] = region
    if not f.file:
        name = f.commit or "pull-request"
        location["logicalLocations"] = [{"name": name, "fullyQualifiedName": f"{check.id}/{name}", "kind": "resource"}]
    text = f.message if not f.hint else f"{f.message}\n\n{f.hint}"
    return {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": SARIF_LEVELS[f.severity],
        "message": {"text": text},
        "locations": [location],
        "properties": {"check": check.id, **({"commit": f.commit} if f.commit else {})},
    }


def report_sarif(report: Report, fallback_file: str | None = None) -> dict[str, Any]:
    """SARIF 2.1.0 of a whole review: one result per finding of every check, the checks' statuses as properties.
    `fallback_file` is where results with no file of their own are shown by tools that need one."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for check in report.checks:
        for f in check.findings:
            if f.code not in index:
                index[f.code] = len(rules)
                text = code_description(f.code) if f.code != code_description(f.code) else f"{check.title}: {f.code}"
                rules.append({"id": f.code, "shortDescription": {"text": text}, "properties": {"check": check.id}})
            results.append(_sarif_result(f, check, index[f.code], fallback_file))
    checks = [{"id": c.id, "title": c.title, "status": c.status, "summary": c.summary} for c in report.checks]
    properties = {"repository": report.repository, "baseSha": report.base_sha, "headSha": report.head_sha,
                  "conclusion": report.conclusion, "checks": checks}  # fmt: skip
    invocation = {"executionSuccessful": True, "exitCode": 1 if report.conclusion == "failure" else 0}
    return _sarif_log(rules, results, automationDetails={"id": "falco-rules-bot/check/"}, invocations=[invocation],
                      properties=properties)  # fmt: skip


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(severity: str, message: str, title: str, file: str | None = None, line: int | None = None,
                     column: int | None = None) -> str:  # fmt: skip
    """One GitHub Actions annotation: `::error file=F,line=L,col=C,title=T::message`, values escaped."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
        if line:
            props.append(f"line={line}")
            if column:
                props.append(f"col={column}")
    props.append(f"title={_escape_property(title)}")
    return f"::{GITHUB_LEVELS[severity]} {','.join(props)}::{_escape_data(message)}"


def github_report(report: Report) -> list[str]:
    """Every finding of a review as an annotation, those with a file first (GitHub shows the first ten per level)."""
    lines = [(not f.file, workflow_command(f.severity, f.message if not f.hint else f"{f.message}\n{f.hint}",
                                            f"{c.title}: {f.code}", f.file, f.line, f.column))
             for c in report.checks for f in c.findings]  # fmt: skip
    return [text for _, text in sorted(lines, key=lambda pair: pair[0])]


def github_validation(diags: list[Diagnostic]) -> list[str]:
    """Every diagnostic of a validation as an annotation."""
    return [workflow_command(d.severity, d.message or code_description(d.code), d.code, d.path or None, d.line,
                             d.column) for d in diags]  # fmt: skip
