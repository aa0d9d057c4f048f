"""The data every layer shares: a pull request snapshot, findings, check results and the Report contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

REPORT_SCHEMA = "falco-rules-bot/report/v1"
CHECK_IDS = ("linked_issue", "dco", "signatures", "agreement", "rules", "tags")

Severity = Literal["error", "warning", "notice"]
Status = Literal["pass", "fail", "warn", "skip", "error"]
Conclusion = Literal["success", "failure", "neutral"]
SignatureKind = Literal["gpg", "ssh", "x509", "none"]


@dataclass(frozen=True)
class Identity:
    """A person as git or GitHub knows them."""

    name: str
    email: str
    login: str | None = None


@dataclass(frozen=True)
class LocalVerification:
    """What an independent GnuPG verification of a commit's signature found."""

    status: str  # valid | bad | unknown_key | expired_key | revoked_key | error
    key_id: str | None = None
    fingerprint: str | None = None
    uids: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True)
class SignatureFacts:
    """A commit's signature: its kind, GitHub's verdict when known, the signed payload, our verification."""

    kind: SignatureKind = "none"
    github_verified: bool | None = None
    github_reason: str | None = None
    signature_armor: str | None = None
    signed_payload: str | None = None
    local: LocalVerification | None = None


@dataclass(frozen=True)
class Commit:
    """One commit of the pull request."""

    sha: str
    parents: tuple[str, ...]
    author: Identity
    committer: Identity
    message: str
    signature: SignatureFacts = field(default_factory=SignatureFacts)

    @property
    def is_merge(self) -> bool:
        """A merge commit (two or more parents)."""
        return len(self.parents) > 1


@dataclass(frozen=True)
class ChangedFile:
    """A file the pull request touches, with its text at the base and at the head (None: absent)."""

    path: str
    status: str  # added | modified | removed | renamed
    base_text: str | None = None
    head_text: str | None = None


@dataclass(frozen=True)
class IssueFacts:
    """What GitHub says about a referenced issue (exists False when it could not be found)."""

    repository: str
    number: int
    exists: bool
    is_pull_request: bool = False
    state: str | None = None  # open | closed
    labels: tuple[str, ...] = ()
    title: str | None = None


@dataclass(frozen=True)
class AgreementFacts:
    """What the agreement check may rely on: external statuses, recorded signatures, an allowlist."""

    statuses: tuple[tuple[str, str], ...] = ()  # (context or check name, state) on the head commit
    signed: tuple[str, ...] = ()  # logins or emails that signed by comment
    allowlist: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullRequestSnapshot:
    """Everything the checks look at, gathered once from GitHub or from a local repository."""

    repo: str
    number: int | None
    title: str
    body: str
    author: Identity | None
    base_ref: str
    default_branch: str
    base_sha: str
    head_sha: str
    commits: tuple[Commit, ...] = ()
    files: tuple[ChangedFile, ...] = ()
    linked_issues: tuple[IssueFacts, ...] = ()
    agreement_facts: AgreementFacts = field(default_factory=AgreementFacts)
    upstream: str | None = None
    draft: bool = False
    rules_files_at_head: tuple[ChangedFile, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One thing a check found, with where it is and what to do about it."""

    severity: Severity
    code: str
    message: str
    hint: str | None = None
    commit: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding in the Report contract."""
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "commit": self.commit,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    id: str
    title: str
    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The check in the Report contract."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
        }


def conclusion_of(checks: tuple[CheckResult, ...] | list[CheckResult]) -> Conclusion:
    """failure if any check failed or could not decide; neutral if any warned; else success."""
    statuses = {c.status for c in checks}
    if statuses & {"fail", "error"}:
        return "failure"
    if "warn" in statuses:
        return "neutral"
    return "success"


@dataclass(frozen=True)
class Report:
    """A review: every check's result for one head commit (printed by `check --format json`, stored per review)."""

    repository: str
    pull_request: int | None
    base_sha: str
    head_sha: str
    checks: tuple[CheckResult, ...]
    rules_diff: dict[str, Any] | None = None
    attack: dict[str, Any] | None = None
    schema: str = REPORT_SCHEMA

    @property
    def conclusion(self) -> Conclusion:
        """The overall verdict."""
        return conclusion_of(self.checks)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON contract (DESIGN §4)."""
        return {
            "schema": self.schema,
            "repository": self.repository,
            "pull_request": self.pull_request,
            "base_sha": self.base_sha,
            "head_sha": self.head_sha,
            "conclusion": self.conclusion,
            "checks": [c.to_json() for c in self.checks],
            "rules_diff": self.rules_diff,
            "attack": self.attack,
        }
