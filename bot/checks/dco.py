"""The `dco` check: every non-merge commit carries a Developer Certificate of Origin sign-off."""

from __future__ import annotations

import re
from typing import Any

from bot.models import CheckResult, Commit, Finding, Identity, PullRequestSnapshot, Severity, Status
from bot.render import phrases

CHECK_ID = "dco"
_SIGNOFF = re.compile(r"^[ \t]*signed-off-by:[ \t]*(?P<name>[^<\n]*?)[ \t]*<(?P<email>[^>\n]*)>[ \t]*$",
                      re.IGNORECASE | re.MULTILINE)  # fmt: skip
_ANY_SIGNOFF = re.compile(r"^[ \t]*signed-off-by:", re.IGNORECASE | re.MULTILINE)
_PERSON = r"(?P<{0}name>[^<\n,]+?)\s*<(?P<{0}email>[^>\n]+)>"
_INDIVIDUAL = re.compile(
    r"^\s*I,\s*" + _PERSON.format("a") + r",\s*hereby add my Signed-off-by to this commit:\s*(?P<sha>[0-9a-f]{7,40})",
    re.IGNORECASE | re.MULTILINE,
)
_THIRD_PARTY = re.compile(
    r"^\s*On behalf of\s+" + _PERSON.format("o") + r",\s*I,\s*" + _PERSON.format("a")
    + r",\s*hereby add my Signed-off-by to this commit:\s*(?P<sha>[0-9a-f]{7,40})",
    re.IGNORECASE | re.MULTILINE,
)  # fmt: skip


def _norm(text: str) -> str:
    """Case-insensitive, whitespace-normalised comparison form."""
    return " ".join(text.split()).casefold()


def _same(identity: Identity, name: str, email: str) -> bool:
    return _norm(identity.name) == _norm(name) and _norm(identity.email) == _norm(email)


def signoffs(message: str) -> list[tuple[str, str]]:
    """The (name, email) of every `Signed-off-by:` trailer."""
    return [(m.group("name"), m.group("email")) for m in _SIGNOFF.finditer(message)]


def is_bot(commit: Commit) -> bool:
    """A commit authored by a GitHub App or bot account."""
    login = commit.author.login or ""
    return login.endswith("[bot]") or commit.author.name.endswith("[bot]")


def _remediated(commit: Commit, commits: tuple[Commit, ...], settings: dict[str, Any]) -> bool:
    """A later commit adds the sign-off in the DCO app's sentence format (when the policy allows it)."""
    for other in commits:
        for match in _INDIVIDUAL.finditer(other.message):
            if (settings["remediation_individual"] and commit.sha.startswith(match.group("sha").lower())
                    and _same(commit.author, match.group("aname"), match.group("aemail"))
                    and _same(other.author, match.group("aname"), match.group("aemail"))):  # fmt: skip
                return True
        for match in _THIRD_PARTY.finditer(other.message):
            if (settings["remediation_third_party"] and commit.sha.startswith(match.group("sha").lower())
                    and _same(commit.author, match.group("oname"), match.group("oemail"))
                    and (_same(other.author, match.group("aname"), match.group("aemail"))
                         or _same(other.committer, match.group("aname"), match.group("aemail")))):  # fmt: skip
                return True
    return False


def commit_problem(commit: Commit, mode: str) -> tuple[str, dict[str, str]] | None:
    """Why a commit's sign-off does not satisfy `mode` (a phrase and its values), or None."""
    subject = commit.message.splitlines()[0] if commit.message else ""
    values = {"sha": commit.sha[:12], "subject": subject}
    if mode == "presence":
        return None if _ANY_SIGNOFF.search(commit.message) else ("missing", values)
    found = signoffs(commit.message)
    if not found:
        return "missing", values
    people = (commit.author, commit.committer)
    if mode == "email-only":
        emails = {_norm(p.email) for p in people}
        if any(_norm(email) in emails for _, email in found):
            return None
        return "mismatch_email", {**values, "got": ", ".join(f"<{e}>" for _, e in found)}
    if any(_same(p, name, email) for p in people for name, email in found):
        return None
    got = "; ".join(f"{n} <{e}>" for n, e in found)
    author = f"{commit.author.name} <{commit.author.email}>"
    committer = f"{commit.committer.name} <{commit.committer.email}>"
    return "mismatch", {**values, "got": got, "author": author, "committer": committer}


def check_dco(snapshot: PullRequestSnapshot, settings: dict[str, Any]) -> CheckResult:
    """Each non-merge, non-bot commit is signed off by its author or committer; the fix is spelled out."""
    text = phrases("checks.yml")[CHECK_ID]
    severity: Severity = "error" if settings["severity"] == "error" else "warning"
    commits = snapshot.commits
    judged = [c for c in commits if not c.is_merge and not (settings["exempt_bots"] and is_bot(c))]
    findings: list[Finding] = []
    failing: list[Commit] = []
    for commit in judged:
        problem = commit_problem(commit, settings["mode"])
        if problem is None or _remediated(commit, commits, settings):
            continue
        failing.append(commit)
        phrase, values = problem
        findings.append(Finding(severity, f"DCO_{phrase.upper()}", text[phrase].format(**values), None, commit.sha))
    if not judged:
        return CheckResult(CHECK_ID, text["title"], "pass", text["pass_none"])
    if not failing:
        return CheckResult(CHECK_ID, text["title"], "pass", text["pass"].format(count=len(judged)))
    hint = _fix(snapshot, failing, settings, text)
    findings = [Finding(f.severity, f.code, f.message, hint, f.commit) for f in findings]
    status: Status = "fail" if severity == "error" else "warn"
    summary = text["fail"].format(count=len(failing), total=len(judged))
    return CheckResult(CHECK_ID, text["title"], status, summary, tuple(findings))


def _fix(snapshot: PullRequestSnapshot, failing: list[Commit], settings: dict[str, Any], text: dict[str, str]) -> str:
    """The exact commands: amend when only the head fails, else rebase from the base (keeping merges)."""
    base = snapshot.base_sha[:12]
    if len(failing) == 1 and failing[0].sha == snapshot.head_sha:
        fix = text["fix_last"]
    elif any(c.is_merge for c in snapshot.commits):
        fix = text["fix_rebase_merges"].format(base=base)
    else:
        fix = text["fix_rebase"].format(base=base)
    if settings["remediation_individual"]:
        author = failing[0].author
        fix += "\n\n" + text["fix_remediation"].format(name=author.name, email=author.email)
    return fix
