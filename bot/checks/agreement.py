"""The `agreement` check: the CNCF agreement, by an external CLA status, signed comments, an allowlist, or the DCO."""

from __future__ import annotations

from typing import Any

from bot.checks.dco import check_dco
from bot.models import CheckResult, Finding, PullRequestSnapshot, Severity, Status
from bot.render import phrases

CHECK_ID = "agreement"
GREEN = frozenset({"success", "neutral"})


def check_agreement(snapshot: PullRequestSnapshot, settings: dict[str, Any], dco: dict[str, Any]) -> CheckResult:
    """One of four modes (DESIGN §6); every finding names the person and what to do."""
    text = phrases("checks.yml")[CHECK_ID]
    severity: Severity = "error" if settings["severity"] == "error" else "warning"
    failed: Status = "fail" if severity == "error" else "warn"
    mode = settings["mode"]
    if mode == "dco":
        ok = check_dco(snapshot, dco).status == "pass"
        return CheckResult(CHECK_ID, text["title"], "pass" if ok else failed, text["pass_dco" if ok else "fail_dco"])
    if mode == "status":
        return _by_status(snapshot, settings, text, severity, failed)
    return _by_people(snapshot, settings, text, severity, failed)


def _by_status(snapshot: PullRequestSnapshot, settings: dict[str, Any], text: dict[str, str], severity: Severity,
               failed: Status) -> CheckResult:  # fmt: skip
    wanted = [c.lower() for c in settings["status_contexts"]]
    reported = [(c, s) for c, s in snapshot.agreement_facts.statuses if c.lower() in wanted]
    for context, state in reported:
        if state.lower() in GREEN:
            return CheckResult(CHECK_ID, text["title"], "pass", text["pass_status"].format(context=context))
    contexts = ", ".join(settings["status_contexts"])
    findings = [Finding(severity, "AGREEMENT_STATUS", text["fail_status_finding"].format(context=c, state=s),
                        text["status_hint"]) for c, s in reported]  # fmt: skip
    if not reported:
        missing = text["missing_status_finding"].format(contexts=contexts)
        findings.append(Finding(severity, "AGREEMENT_NO_STATUS", missing, text["status_hint"]))
    return CheckResult(CHECK_ID, text["title"], failed, text["fail_status"].format(contexts=contexts), tuple(findings))


def _by_people(snapshot: PullRequestSnapshot, settings: dict[str, Any], text: dict[str, str], severity: Severity,
               failed: Status) -> CheckResult:  # fmt: skip
    """`comment` and `allowlist` modes: every commit author must have agreed (by login, or email)."""
    facts = snapshot.agreement_facts
    agreed = {a.lower() for a in (facts.signed if settings["mode"] == "comment" else ())}
    agreed |= {a.lower() for a in (*facts.allowlist, *settings["allowlist"])}
    findings: list[Finding] = []
    people: list[str] = []
    seen: set[str] = set()
    for commit in snapshot.commits:
        if commit.is_merge:
            continue
        who = commit.author.login or commit.author.email
        if who.lower() in seen:
            continue
        seen.add(who.lower())
        people.append(who)
        if commit.author.login is None and commit.author.email.lower() not in agreed:
            email = commit.author.email
            message = text["no_account"].format(sha=commit.sha[:12], email=email)
            hint = text["no_account_hint"].format(email=email)
            findings.append(Finding(severity, "AGREEMENT_NO_ACCOUNT", message, hint, commit.sha))
        elif who.lower() not in agreed and commit.author.email.lower() not in agreed:
            hint = (text["unsigned_comment_hint"].format(sentence=settings["comment_sentence"])
                    if settings["mode"] == "comment" else text["unsigned_allowlist_hint"])  # fmt: skip
            findings.append(
                Finding(severity, "AGREEMENT_UNSIGNED", text["unsigned"].format(person=who), hint, commit.sha)
            )
    if findings:
        return CheckResult(CHECK_ID, text["title"], failed, text["fail"].format(count=len(findings)), tuple(findings))
    return CheckResult(CHECK_ID, text["title"], "pass", text["pass"].format(people=", ".join(people)))
