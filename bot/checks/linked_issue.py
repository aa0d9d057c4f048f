"""The `linked_issue` check: the pull request references an issue that discusses the change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.models import CheckResult, Finding, IssueFacts, PullRequestSnapshot, Severity, Status
from bot.render import phrases

CHECK_ID = "linked_issue"
KEYWORDS = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_REPO = r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+"
# One reference: `#N`, `owner/repo#N`, or an issue URL (also as a Markdown link target).
_REF = (
    rf"(?:(?:(?<![\w/.-])(?P<repo>{_REPO})|(?<![\w/]))#(?P<num>[0-9]+)\b"
    rf"|https?://github\.com/(?P<urepo>{_REPO})/issues/(?P<unum>[0-9]+)\b)"
)
_REFERENCE = re.compile(rf"(?P<kw>\b{KEYWORDS}\b:?\s*)?(?:\[[^\]]*\]\()?{_REF}", re.IGNORECASE)
_UNFILLED = re.compile(rf"\b{KEYWORDS}\b:?\s*#(?![0-9])", re.IGNORECASE)
_HIDDEN = re.compile(r"<!--.*?-->|```.*?```|`[^`\n]*`", re.DOTALL)


@dataclass(frozen=True)
class Reference:
    """An issue the pull request text points at."""

    repository: str
    number: int
    closing: bool

    def label(self, repo: str) -> str:
        """`#N` for this repository, `owner/repo#N` otherwise."""
        return f"#{self.number}" if self.repository == repo else f"{self.repository}#{self.number}"


def visible_text(text: str) -> str:
    """Markdown as GitHub links it: HTML comments and code are not searched."""
    return _HIDDEN.sub(" ", text)


def parse_references(title: str, body: str, repo: str) -> list[Reference]:
    """References in the title and description, in order, each once (a closing mention wins)."""
    found: dict[tuple[str, int], Reference] = {}
    for match in _REFERENCE.finditer(visible_text(f"{title}\n{body}")):
        repository = match.group("repo") or match.group("urepo") or repo
        number = int(match.group("num") or match.group("unum"))
        key = (repository.lower(), number)
        closing = match.group("kw") is not None
        if key not in found or (closing and not found[key].closing):
            found[key] = Reference(repository, number, closing)
    return list(found.values())


def has_unfilled_template(body: str) -> bool:
    """The Falco PR template's `Fixes #` left without a number."""
    return _UNFILLED.search(visible_text(body)) is not None


def _allowed(snapshot: PullRequestSnapshot, settings: dict[str, Any]) -> list[str]:
    out = []
    for entry in settings["repositories"]:
        if entry == "self":
            out.append(snapshot.repo)
        elif entry == "upstream":
            if snapshot.upstream:
                out.append(snapshot.upstream)
        else:
            out.append(entry)
    return out


def _problem(ref: Reference, facts: IssueFacts | None, snapshot: PullRequestSnapshot, settings: dict[str, Any],
             allowed: list[str]) -> tuple[str, dict[str, str]] | None:  # fmt: skip
    """Why a reference does not qualify (a phrase and its values), or None when it does."""
    label = ref.label(snapshot.repo)
    if ref.repository.lower() not in {a.lower() for a in allowed}:
        return "other_repository", {"ref": label, "repository": ref.repository, "allowed": ", ".join(allowed)}
    if facts is None:
        return "unknown", {"ref": label}
    if not facts.exists:
        return "not_found", {"ref": label}
    if facts.is_pull_request:
        return "is_pull_request", {"ref": label}
    if settings["require_open"] and facts.state != "open":
        return "closed", {"ref": label}
    missing = [lab for lab in settings["required_labels"] if lab not in facts.labels]
    if missing:
        return "missing_labels", {"ref": label, "labels": ", ".join(f"`{m}`" for m in missing)}
    return None


def check_linked_issue(snapshot: PullRequestSnapshot, settings: dict[str, Any]) -> CheckResult:
    """Pass when at least one referenced issue qualifies under the policy; say exactly why not otherwise."""
    text = phrases("checks.yml")[CHECK_ID]
    severity: Severity = "error" if settings["severity"] == "error" else "warning"
    refs = parse_references(snapshot.title, snapshot.body, snapshot.repo)
    facts = {(f.repository.lower(), f.number): f for f in snapshot.linked_issues}
    for f in snapshot.linked_issues:  # links GitHub reports (sidebar, closing references) count too
        if not any(r.repository.lower() == f.repository.lower() and r.number == f.number for r in refs):
            refs.append(Reference(f.repository, f.number, True))
    allowed = _allowed(snapshot, settings)
    findings: list[Finding] = []
    undecided = False
    for ref in refs:
        ref_facts = facts.get((ref.repository.lower(), ref.number))
        problem = _problem(ref, ref_facts, snapshot, settings, allowed)
        if problem is None:
            return CheckResult(CHECK_ID, text["title"], "pass", text["pass"].format(issue=ref.label(snapshot.repo)))
        phrase, values = problem
        undecided = undecided or phrase == "unknown"
        findings.append(Finding(severity, f"ISSUE_{phrase.upper()}", text[phrase].format(**values),
                                text["fix_hint"].format(allowed=", ".join(allowed))))  # fmt: skip
    if not refs:
        if has_unfilled_template(snapshot.body):
            findings.append(
                Finding(severity, "ISSUE_UNFILLED_TEMPLATE", text["unfilled_template"], text["unfilled_template_hint"])
            )
        else:
            findings.append(Finding(severity, "ISSUE_NO_REFERENCE", text["no_reference"], text["no_reference_hint"]))
    if undecided:
        reason = "; ".join(f.message for f in findings if f.code == "ISSUE_UNKNOWN")
        return CheckResult(CHECK_ID, text["title"], "error", text["undecided"].format(reason=reason), tuple(findings))
    status: Status = "fail" if severity == "error" else "warn"
    return CheckResult(CHECK_ID, text["title"], status, text["fail"], tuple(findings))
