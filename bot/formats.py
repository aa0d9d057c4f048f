"""Machine-readable shapes of a validation: Falco's own JSON, our JSON, and SARIF 2.1.0."""

from __future__ import annotations

from bot import __version__
from bot.rules.messages import BOT_CODES, ERROR_CODES, WARNING_CODES
from bot.rules.result import Diagnostic, FileResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any

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
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "falco-rules-bot",
                        "version": __version__,
                        "informationUri": INFO_URI,
                        "rules": [{"id": c, "shortDescription": {"text": code_description(c)}} for c in codes],
                    }
                },
                "results": results,
            }
        ],
    }
