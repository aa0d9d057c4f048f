"""The `signatures` check: every non-merge commit is signed as the policy requires, and the signature verifies."""

from __future__ import annotations

from typing import Any

from bot.models import CheckResult, Commit, Finding, PullRequestSnapshot, Severity, Status
from bot.render import phrases

CHECK_ID = "signatures"
KIND_NAMES = {"gpg": "GPG", "ssh": "SSH", "x509": "X.509 (S/MIME)"}
# What a local GnuPG verification status means, as a finding phrase.
LOCAL = {
    "bad": "bad_signature",
    "unknown_key": "key_unknown",
    "expired_key": "key_expired",
    "revoked_key": "key_revoked",
}
# GitHub's verification reasons (REST and GraphQL), as a finding phrase; None: cannot decide from it.
GITHUB = {
    "unsigned": "unsigned", "invalid": "bad_signature", "malformed_signature": "bad_signature",
    "unknown_signature_type": "bad_signature", "unknown_key": "key_unknown", "expired_key": "key_expired",
    "not_signing_key": "key_unknown", "bad_email": "email_mismatch", "unverified_email": "email_mismatch",
    "no_user": "email_mismatch", "ocsp_revoked": "key_revoked", "bad_cert": "bad_signature",
}  # fmt: skip


def _judge(commit: Commit, require: str, match_email: bool) -> tuple[str, dict[str, str]] | None:
    """A phrase and its values for what is wrong with one commit's signature, or None when it is fine."""
    sig = commit.signature
    subject = commit.message.splitlines()[0] if commit.message else ""
    values = {"sha": commit.sha[:12], "subject": subject, "author": commit.author.login or commit.author.name,
              "email": commit.author.email, "key": "?", "detail": ""}  # fmt: skip
    if sig.kind == "none":
        return "unsigned", values
    if require == "gpg" and sig.kind != "gpg":
        return "wrong_kind", {**values, "kind": KIND_NAMES.get(sig.kind, sig.kind)}
    local = sig.local
    if local is not None:
        values["key"] = local.key_id or local.fingerprint or "?"
        if local.status == "valid":
            emails = {u.lower() for u in local.uids}
            if match_email and sig.kind == "gpg" and not any(commit.author.email.lower() in u for u in emails):
                return "email_mismatch", values
            return None
        if local.status in LOCAL:
            return LOCAL[local.status], values
        return "not_verifiable", {**values, "detail": local.detail or local.status}
    if sig.github_verified:
        return None
    reason = (sig.github_reason or "").lower()
    if sig.github_verified is False and reason in GITHUB:
        return GITHUB[reason], values
    return "not_verifiable", {**values, "detail": reason or "no verification is available"}


def check_signatures(snapshot: PullRequestSnapshot, settings: dict[str, Any]) -> CheckResult:
    """Distinct findings for unsigned, bad, unknown/expired/revoked keys, foreign keys and the wrong kind."""
    text = phrases("checks.yml")[CHECK_ID]
    if settings["require"] == "none":
        return CheckResult(CHECK_ID, text["title"], "skip", text["skip"])
    severity: Severity = "error" if settings["severity"] == "error" else "warning"
    judged = [c for c in snapshot.commits if not c.is_merge]
    base = snapshot.base_sha[:12]
    findings: list[Finding] = []
    undecided: list[str] = []
    for commit in judged:
        problem = _judge(commit, settings["require"], settings["match_author_email"])
        if problem is None:
            continue
        phrase, values = problem
        if phrase == "not_verifiable":
            undecided.append(values["detail"])
        hint_key = "setup_hint" if phrase in {"unsigned", "wrong_kind"} else "key_hint"
        findings.append(Finding(severity, f"SIGNATURE_{phrase.upper()}", text[phrase].format(**values),
                                text[hint_key].format(base=base), commit.sha))  # fmt: skip
    if undecided:
        summary = text["undecided"].format(reason="; ".join(sorted(set(undecided))))
        return CheckResult(CHECK_ID, text["title"], "error", summary, tuple(findings))
    if findings:
        status: Status = "fail" if severity == "error" else "warn"
        summary = text["fail"].format(count=len(findings), total=len(judged))
        return CheckResult(CHECK_ID, text["title"], status, summary, tuple(findings))
    kind = "GPG" if settings["require"] == "gpg" else "verified"
    return CheckResult(CHECK_ID, text["title"], "pass", text["pass"].format(count=len(judged), kind=kind))
