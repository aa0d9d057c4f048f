"""The `rules` check: Falco's verdict on the rules files at the head, and what changed since the base."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from bot.models import ChangedFile, CheckResult, Finding, PullRequestSnapshot, Severity, Status
from bot.render import phrases
from bot.rules.collector import Collector
from bot.rules.compiler import CompiledRule
from bot.rules.diff import RuleSetDiff, diff_rulesets
from bot.rules.engine import EngineOptions, RulesFile, Validation, validate
from bot.rules.features import feature_versions, features_used, required_version
from bot.rules.result import Diagnostic

CHECK_ID = "rules"


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """A path glob where `**/` spans directories and `*` stays within one."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def is_rules_file(path: str, patterns: list[str]) -> bool:
    """Whether the policy's globs make `path` a rules file."""
    return any(_glob(p).match(path) for p in patterns)


def load_order(paths: list[str], order: list[str]) -> list[str]:
    """Files named in the policy's order first (in that order), the rest by path."""

    def key(path: str) -> tuple[int, str]:
        name = path.rsplit("/", 1)[-1]
        return (order.index(name) if name in order else len(order), path)

    return sorted(paths, key=key)


def _engine_version(text: str) -> tuple[int, int, int]:
    major, minor, patch = [*(int(p) for p in text.split(".")[:3]), 0, 0, 0][:3]
    return major, minor, patch


def ruleset_files(files: list[ChangedFile], head: bool, patterns: list[str], order: list[str]) -> list[RulesFile]:
    """The rules files of the base (or the head) among `files`, in the policy's load order."""
    texts = {f.path: (f.head_text if head else f.base_text) for f in files if is_rules_file(f.path, patterns)}
    return [RulesFile(p, texts[p] or "") for p in load_order([p for p, t in texts.items() if t is not None], order)]


def rules_diff(
    snapshot: PullRequestSnapshot, patterns: list[str], order: list[str], head: Collector | None = None
) -> RuleSetDiff:
    """Rules, macros and lists added, changed and removed between the base and the head (`head`: already loaded)."""
    every = list(snapshot.rules_files_at_head) or list(snapshot.files)
    base = validate(ruleset_files(every, False, patterns, order)).collector
    if head is None:
        head = validate(ruleset_files(every, True, patterns, order)).collector
    return diff_rulesets(base, head)


def _finding(diag: Diagnostic, severity: Severity, hint: str) -> Finding:
    """An engine diagnostic as a check finding (errors take the check's severity; warnings stay warnings)."""
    level: Severity = severity if diag.severity == "error" else "warning"
    return Finding(level, diag.code, diag.message, hint, None, diag.path, diag.line, diag.column)


def _engine_findings(snapshot: PullRequestSnapshot, outcome: Validation, patterns: list[str], order: list[str],
                     text: dict[str, str], severity: Severity) -> list[Finding]:  # fmt: skip
    """Added or changed rules using a feature newer than the files' `required_engine_version`."""
    declared = outcome.collector.required_engine_version
    compiled = outcome.compiled
    if declared is None or compiled is None:
        return []
    diff = rules_diff(snapshot, patterns, order, outcome.collector)
    changed = {c.name for c in diff.of("rule") if c.change != "removed"}
    out: list[Finding] = []
    for name in sorted(changed):
        rule = compiled.rules.get(name)
        if rule is None:
            continue
        needed, feature = required_version(features_used(rule.condition, compiled.macro_asts))
        if needed is None or feature is None or needed <= declared:
            continue
        needed_text = ".".join(map(str, needed))
        group, word = feature.split(".", 1)
        shown = f"`{word}()`" if group == "transformers" else f"the `{word}` modifier"
        falco = feature_versions()["falco_versions"].get(needed_text, "?")
        message = text["engine_too_low"].format(rule=name, feature=shown, needed=needed_text, falco=falco,
                                                declared=".".join(map(str, declared)))  # fmt: skip
        file = rule.info.ctx.file
        hint = text["engine_too_low_hint"].format(needed=needed_text, file=file)
        out.append(Finding(severity, "RULES_ENGINE_VERSION_TOO_LOW", message, hint, None, file, _line(rule)))
    return out


def _line(rule: CompiledRule) -> int | None:
    locations = rule.info.ctx.locations
    return locations[-1].line + 1 if locations else None


def check_rules(snapshot: PullRequestSnapshot, settings: dict[str, Any], files_policy: dict[str, Any]) -> CheckResult:
    """Errors fail; warnings fail only where the policy says so; findings carry file, line and column."""
    text = phrases("checks.yml")[CHECK_ID]
    patterns, order = files_policy["patterns"], files_policy["load_order"]
    changed = [f.path for f in snapshot.files if is_rules_file(f.path, patterns) and f.head_text is not None]
    if not changed:
        return CheckResult(CHECK_ID, text["title"], "skip", text["skip"])
    ruleset = ruleset_files(list(snapshot.rules_files_at_head) or list(snapshot.files), True, patterns, order)
    options = EngineOptions(_engine_version(settings["engine_version"]), None, frozenset(settings["plugins"]))
    outcome = validate(ruleset, options)
    severity: Severity = "error" if settings["severity"] == "error" else "warning"
    errors = sum(1 for d in outcome.diagnostics if d.severity == "error")
    warnings = len(outcome.diagnostics) - errors
    names = ", ".join(changed)
    hint = text["hint"].format(files=" ".join(f.name for f in ruleset))
    engine = _engine_findings(snapshot, outcome, patterns, order, text, severity)
    findings = tuple(_finding(d, severity, hint) for d in outcome.diagnostics) + tuple(engine)
    errors += sum(1 for f in engine if f.severity == "error")
    warnings += sum(1 for f in engine if f.severity == "warning")
    failed: Status = "fail" if severity == "error" else "warn"
    if errors:
        return CheckResult(
            CHECK_ID, text["title"], failed, text["fail"].format(errors=errors, warnings=warnings), findings
        )
    if warnings and settings["warnings_fail"]:
        return CheckResult(CHECK_ID, text["title"], failed, text["fail_warnings"].format(warnings=warnings), findings)
    if warnings:
        summary = text["pass_warnings"].format(files=names, warnings=warnings)
        return CheckResult(CHECK_ID, text["title"], "warn", summary, findings)
    return CheckResult(CHECK_ID, text["title"], "pass", text["pass"].format(files=names))
