"""The dco check, table-driven on hand-built commits (DESIGN §6)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.checks.dco import check_dco, commit_problem
from bot.models import Commit, Identity, PullRequestSnapshot
from bot.policy import resolve_policy

ALICE = Identity("Alice Doe", "alice@example.com", "alice")
BOB = Identity("Bob Roe", "bob@example.com", "bob")
BOT = Identity("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", "dependabot[bot]")
BASE = "b" * 40


def commit(sha: str, message: str, author: Identity = ALICE, committer: Identity | None = None,
           parents: tuple[str, ...] = ("p",)) -> Commit:  # fmt: skip
    return Commit(sha * 40 if len(sha) == 1 else sha, parents, author, committer or author, message)


def snapshot(*commits: Commit) -> PullRequestSnapshot:
    return PullRequestSnapshot(
        repo="falcosecurity/rules", number=1, title="t", body="", author=ALICE, base_ref="main",
        default_branch="main", base_sha=BASE, head_sha=commits[-1].sha if commits else "h" * 40, commits=commits,
    )  # fmt: skip


def settings(text: str = "") -> dict[str, Any]:
    policy, findings = resolve_policy(text)
    assert findings == []
    return policy.check("dco")


SIGNED = "Add rule\n\nSigned-off-by: Alice Doe <alice@example.com>\n"


@pytest.mark.parametrize(
    ("message", "author", "committer", "mode", "problem"),
    [
        (SIGNED, ALICE, ALICE, "identity", None),
        ("Add rule\n\nsigned-off-by: alice doe <ALICE@example.com>", ALICE, ALICE, "identity", None),
        ("Add rule\n\nSigned-off-by:   Alice   Doe   <alice@example.com>  ", ALICE, ALICE, "identity", None),
        ("Add rule", ALICE, ALICE, "identity", "missing"),
        ("Add rule\n\nSigned-off-by: Bob Roe <bob@example.com>", ALICE, ALICE, "identity", "mismatch"),
        ("Add rule\n\nSigned-off-by: Bob Roe <bob@example.com>", ALICE, BOB, "identity", None),  # committer signs
        ("Add rule\n\nSigned-off-by: Alice Doe <bob@example.com>", ALICE, BOB, "identity", "mismatch"),  # two people
        ("Add rule\n\nSigned-off-by: Somebody <alice@example.com>", ALICE, ALICE, "email-only", None),
        ("Add rule\n\nSigned-off-by: Alice Doe <alice@other.org>", ALICE, ALICE, "email-only", "mismatch_email"),
        ("Add rule\n\nSigned-off-by: whoever", ALICE, ALICE, "presence", None),
        ("Add rule", ALICE, ALICE, "presence", "missing"),
    ],
)  # fmt: skip
def test_commit_problem(message: str, author: Identity, committer: Identity, mode: str, problem: str | None) -> None:
    found = commit_problem(commit("a", message, author, committer), mode)
    assert (found[0] if found else None) == problem


def test_all_signed_off_passes() -> None:
    result = check_dco(snapshot(commit("a", SIGNED), commit("c", SIGNED)), settings())
    assert (result.status, result.summary) == ("pass", "All 2 commits are signed off.")


def test_merge_and_bot_commits_are_exempt() -> None:
    merge = commit("m", "Merge branch main", parents=("p1", "p2"))
    bump = commit("d", "Bump x", BOT)
    assert check_dco(snapshot(commit("a", SIGNED), merge, bump), settings()).status == "pass"
    assert check_dco(snapshot(bump), settings("checks:\n  dco:\n    exempt_bots: false\n")).status == "fail"


def test_each_failing_commit_is_listed_with_the_fix() -> None:
    result = check_dco(snapshot(commit("a", "First"), commit("c", SIGNED), commit("e", "Third")), settings())
    assert result.status == "fail"
    assert result.summary == "2 of 3 commits are not signed off correctly."
    assert [f.commit for f in result.findings] == ["a" * 40, "e" * 40]
    assert "git rebase --signoff bbbbbbbbbbbb" in (result.findings[0].hint or "")


def test_only_the_head_failing_suggests_an_amend() -> None:
    result = check_dco(snapshot(commit("a", SIGNED), commit("c", "Oops")), settings())
    assert "git commit --amend --no-edit -s" in (result.findings[0].hint or "")


def test_merge_commits_in_the_branch_keep_the_merges_in_the_fix() -> None:
    merge = commit("m", "Merge", parents=("p1", "p2"))
    result = check_dco(snapshot(commit("a", "First"), merge, commit("c", SIGNED)), settings())
    hint = result.findings[0].hint or ""
    assert "--rebase-merges --exec 'git commit --amend --no-edit -s' bbbbbbbbbbbb" in hint


def test_individual_remediation_commit() -> None:
    bad = commit("a", "First")
    sentence = f"I, Alice Doe <alice@example.com>, hereby add my Signed-off-by to this commit: {'a' * 40}"
    fix = commit("c", f"Remediate\n\n{sentence}\n\nSigned-off-by: Alice Doe <alice@example.com>")
    assert check_dco(snapshot(bad, fix), settings()).status == "pass"
    off = "checks:\n  dco:\n    remediation_individual: false\n"
    assert check_dco(snapshot(bad, fix), settings(off)).status == "fail"


def test_third_party_remediation_needs_the_policy() -> None:
    bad = commit("a", "First")
    sentence = (
        "On behalf of Alice Doe <alice@example.com>, I, Bob Roe <bob@example.com>, hereby add my "
        f"Signed-off-by to this commit: {'a' * 12}"
    )
    fix = commit("c", f"{sentence}\n\nSigned-off-by: Bob Roe <bob@example.com>", BOB)
    assert check_dco(snapshot(bad, fix), settings()).status == "fail"
    on = "checks:\n  dco:\n    remediation_third_party: true\n"
    assert check_dco(snapshot(bad, fix), settings(on)).status == "pass"


def test_a_remediation_by_someone_else_does_not_count_as_individual() -> None:
    bad = commit("a", "First")
    fix = commit("c", f"I, Alice Doe <alice@example.com>, hereby add my Signed-off-by to this commit: {'a' * 40}", BOB)
    assert check_dco(snapshot(bad, fix), settings()).status == "fail"
