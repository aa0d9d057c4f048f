"""The signatures check on hand-built signature facts (the GnuPG verification itself is tested with real keys)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.checks.signatures import check_signatures
from bot.models import Commit, Identity, LocalVerification, PullRequestSnapshot, SignatureFacts
from bot.policy import resolve_policy

ALICE = Identity("Alice Doe", "alice@example.com", "alice")
VALID = LocalVerification("valid", "ABCD1234", None, ("Alice Doe <alice@example.com>",))


def snapshot(*sigs: SignatureFacts) -> PullRequestSnapshot:
    commits = tuple(Commit(f"{i:x}" * 40, ("p",), ALICE, ALICE, f"Commit {i}", s) for i, s in enumerate(sigs, 1))
    return PullRequestSnapshot(
        repo="falcosecurity/rules", number=1, title="t", body="", author=ALICE, base_ref="main",
        default_branch="main", base_sha="b" * 40, head_sha=commits[-1].sha, commits=commits,
    )  # fmt: skip


def settings(text: str = "") -> dict[str, Any]:
    policy, findings = resolve_policy(text)
    assert findings == []
    return policy.check("signatures")


@pytest.mark.parametrize(
    ("sig", "status", "code"),
    [
        (SignatureFacts("gpg", local=VALID), "pass", None),
        (SignatureFacts("gpg", github_verified=True, github_reason="valid"), "pass", None),
        (SignatureFacts("none"), "fail", "SIGNATURE_UNSIGNED"),
        (SignatureFacts("ssh", github_verified=True), "fail", "SIGNATURE_WRONG_KIND"),
        (SignatureFacts("gpg", local=LocalVerification("bad")), "fail", "SIGNATURE_BAD_SIGNATURE"),
        (SignatureFacts("gpg", local=LocalVerification("unknown_key", "FFFF")), "fail", "SIGNATURE_KEY_UNKNOWN"),
        (SignatureFacts("gpg", local=LocalVerification("expired_key", "EEEE")), "fail", "SIGNATURE_KEY_EXPIRED"),
        (SignatureFacts("gpg", local=LocalVerification("revoked_key", "DDDD")), "fail", "SIGNATURE_KEY_REVOKED"),
        (SignatureFacts("gpg", local=LocalVerification("valid", "CCCC", None, ("Mallory <m@evil.test>",))), "fail",
         "SIGNATURE_EMAIL_MISMATCH"),
        (SignatureFacts("gpg", github_verified=False, github_reason="expired_key"), "fail", "SIGNATURE_KEY_EXPIRED"),
        (SignatureFacts("gpg", github_verified=False, github_reason="gpgverify_unavailable"), "error",
         "SIGNATURE_NOT_VERIFIABLE"),
        (SignatureFacts("gpg"), "error", "SIGNATURE_NOT_VERIFIABLE"),  # nothing verified it: never a pass
    ],
)  # fmt: skip
def test_each_signature_problem_has_its_own_finding(sig: SignatureFacts, status: str, code: str | None) -> None:
    result = check_signatures(snapshot(sig), settings())
    assert result.status == status
    assert [f.code for f in result.findings] == ([code] if code else [])
    for finding in result.findings:
        assert "git rebase --exec 'git commit --amend --no-edit -S -s' bbbbbbbbbbbb" in (finding.hint or "")


def test_policy_any_accepts_ssh_and_none_skips() -> None:
    ssh = SignatureFacts("ssh", github_verified=True)
    assert check_signatures(snapshot(ssh), settings("checks:\n  signatures:\n    require: any\n")).status == "pass"
    assert (
        check_signatures(snapshot(SignatureFacts()), settings("checks:\n  signatures:\n    require: none\n")).status
        == "skip"
    )


def test_merge_commits_are_not_judged() -> None:
    merge = Commit("m" * 40, ("p1", "p2"), ALICE, ALICE, "Merge", SignatureFacts("none"))
    good = Commit("a" * 40, ("p",), ALICE, ALICE, "Add", SignatureFacts("gpg", local=VALID))
    snap = PullRequestSnapshot("r/r", 1, "t", "", ALICE, "main", "main", "b" * 40, "a" * 40, (merge, good))
    assert check_signatures(snap, settings()).status == "pass"
