"""The `tags` check: the tags and style of the rules a pull request adds or changes (ATT&CK, compliance, maturity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.attack import VERSIONS, load_catalog, rule_tags
from bot.checks.rules import is_rules_file, ruleset_files
from bot.checks.tags_attack import AttackContext, Problem, judge_attack
from bot.checks.tags_style import judge_compliance_tags, judge_maturity, judge_rule_style, judge_structure
from bot.models import CheckResult, Finding, PullRequestSnapshot, Severity, Status
from bot.render import phrases
from bot.rules.collector import RuleInfo
from bot.rules.diff import diff_rulesets
from bot.rules.engine import validate
from bot.rules.yamlsrc import MappingNode, Node, ScalarNode, SequenceNode, mapping_index

CHECK_ID = "tags"


@dataclass(frozen=True)
class Judged:
    """The rules judged, the findings, and the files whose items could not all be read."""

    rules: int
    findings: tuple[Finding, ...]
    unreadable: tuple[str, ...]


def attack_context(attack: dict[str, Any]) -> AttackContext:
    """The pinned catalog of the policy's `attack:` section and the version before it."""
    version = str(attack["version"])
    index = VERSIONS.index(version)  # ValueError for a version not shipped: the check cannot decide
    previous = load_catalog(VERSIONS[index - 1]) if index > 0 else None
    return AttackContext(load_catalog(version), previous, bool(attack["accept_previous"]))


def _mark(node: Node | None) -> tuple[int | None, int | None]:
    mark = getattr(node, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _positions(rule: RuleInfo) -> dict[str, tuple[int | None, int | None]]:
    """Where each tag (first occurrence; `#2` suffix for the second, ...) and each key's value is written."""
    out: dict[str, tuple[int | None, int | None]] = {}
    node = rule.node
    if not isinstance(node, MappingNode):
        return out
    index = mapping_index(node)
    for key in ("rule", "desc", "priority"):
        if key in index:
            out["key:" + key] = _mark(index[key])
    seq = index.get("tags", index.get("tag"))
    if isinstance(seq, SequenceNode):
        for item in seq.value:
            if isinstance(item, ScalarNode):
                name, n = str(item.value), 1
                while (name if n == 1 else f"{name}#{n}") in out:
                    n += 1
                out[name if n == 1 else f"{name}#{n}"] = _mark(item)
    return out


def _as_written(rule: RuleInfo, tags: tuple[str, ...]) -> tuple[str, ...]:
    """The tags in the rule's own item, repeats included (the engine keeps each once), unless an append or an
    override of a later item changed them."""
    node = rule.node
    seq = mapping_index(node).get("tags", mapping_index(node).get("tag")) if isinstance(node, MappingNode) else None
    if isinstance(seq, SequenceNode):
        written = tuple(str(v.value) for v in seq.value if isinstance(v, ScalarNode))
        if set(written) == set(tags):
            return written
    return tags


def _raw_priority(rule: RuleInfo) -> str | None:
    node = rule.node
    if isinstance(node, MappingNode):
        value = mapping_index(node).get("priority")
        if isinstance(value, ScalarNode):
            return str(value.value)
    return None


def judge_rule(rule: RuleInfo, added: bool, ctx: AttackContext) -> list[tuple[Problem, int | None, int | None]]:
    """Every problem of one rule, each with the line and column it points at."""
    where = rule_tags(rule)
    tags = _as_written(rule, where.tags)
    problems: list[Problem] = []
    if where.misspelled_key:
        problems.append(Problem("misspelled_key", "TAGS_KEY_MISSPELLED", "misspelled_key"))
    problems += judge_maturity(tags, rule.ctx.file, added)
    problems += judge_structure(tags)
    problems += judge_attack(ctx, tags)
    problems += judge_compliance_tags(tags)
    problems += judge_rule_style(rule.name, rule.desc, _raw_priority(rule))
    places = _positions(rule)
    repeats: dict[str, int] = {}
    out: list[tuple[Problem, int | None, int | None]] = []
    for problem in problems:
        line, column = where.line, where.column
        if problem.tag is not None:
            key = problem.tag
            if problem.code == "TAGS_DUPLICATE":  # the second (third, ...) occurrence
                repeats[key] = repeats.get(key, 1) + 1
                key = f"{key}#{repeats[key]}"
            line, column = places.get(key, (line, column))
        elif problem.kind in ("rule_name", "desc", "priority"):
            key = "key:" + ("rule" if problem.kind == "rule_name" else problem.kind)
            line, column = places.get(key, (line, column))
        out.append((problem, line, column))
    return out


def _severity(kind: str, settings: dict[str, Any]) -> Severity | None:
    level = settings[kind]  # every kind is a key of checks.tags in config/defaults.yml
    if level == "off":
        return None
    if level == "error" and settings["severity"] != "error":
        return "warning"
    return "error" if level == "error" else "warning" if level == "warning" else "notice"


def judge(snapshot: PullRequestSnapshot, settings: dict[str, Any], files_policy: dict[str, Any],
          attack: dict[str, Any]) -> Judged:  # fmt: skip
    """The findings on the rules added or changed between the base and the head."""
    text = phrases("tags.yml")
    ctx = attack_context(attack)
    patterns, order = files_policy["patterns"], files_policy["load_order"]
    every = list(snapshot.rules_files_at_head) or list(snapshot.files)
    base = validate(ruleset_files(every, False, patterns, order)).collector
    outcome = validate(ruleset_files(every, True, patterns, order))
    head = outcome.collector
    unreadable = tuple(sorted({d.path for d in outcome.diagnostics
                               if d.severity == "error" and "COMPILE" not in d.code and d.path}))  # fmt: skip
    changes = [c for c in diff_rulesets(base, head).of("rule") if c.change in ("added", "changed")]
    findings: list[Finding] = []
    for change in changes:
        rule = head.rules.get(change.name)
        if rule is None:
            continue
        for problem, line, column in judge_rule(rule, change.change == "added", ctx):
            severity = _severity(problem.kind, settings)
            if severity is None:
                continue
            values = {"rule": rule.name, **problem.values}
            message = text[problem.phrase].format(**values)
            hint = text["hints"][problem.phrase].format(**values)
            findings.append(Finding(severity, problem.code, message, hint, None, rule.ctx.file, line, column))
    return Judged(len(changes), tuple(findings), unreadable)


def check_tags(snapshot: PullRequestSnapshot, settings: dict[str, Any], files_policy: dict[str, Any],
               attack: dict[str, Any]) -> CheckResult:  # fmt: skip
    """Passes when no finding is an error, warns on warnings only; notices never change the status."""
    text = phrases("tags.yml")
    patterns = files_policy["patterns"]
    changed = [f.path for f in snapshot.files if is_rules_file(f.path, patterns) and f.head_text is not None]
    if not changed:
        return CheckResult(CHECK_ID, text["title"], "skip", text["skip"])
    judged = judge(snapshot, settings, files_policy, attack)
    version = str(attack["version"])
    errors = sum(1 for f in judged.findings if f.severity == "error")
    warnings = sum(1 for f in judged.findings if f.severity == "warning")
    notices = len(judged.findings) - errors - warnings
    values = {"count": judged.rules, "version": version, "errors": errors, "warnings": warnings, "notices": notices,
              "files": ", ".join(judged.unreadable)}  # fmt: skip
    status: Status = "fail" if errors else "warn" if warnings else "pass"
    if judged.unreadable and status == "pass":
        key = "skip_unreadable" if judged.rules == 0 else "skip_partly_unreadable"
        return CheckResult(CHECK_ID, text["title"], "skip", text[key].format(**values), judged.findings)
    if judged.rules == 0:
        return CheckResult(CHECK_ID, text["title"], "pass", text["pass_none"].format(**values))
    summary = text["pass_notices" if status == "pass" and notices else status].format(**values)
    if judged.unreadable:
        summary += " " + text["partly_unreadable"].format(**values)
    return CheckResult(CHECK_ID, text["title"], status, summary, judged.findings)
