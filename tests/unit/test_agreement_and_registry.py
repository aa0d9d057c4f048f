"""The agreement check in its four modes, and run_all's isolation of a crashing check."""

from __future__ import annotations

from typing import Any

import pytest

from bot.checks import registry
from bot.checks.agreement import check_agreement
from bot.checks.registry import run_all
from bot.models import AgreementFacts, CheckResult, Commit, Identity, PullRequestSnapshot
from bot.policy import Policy, resolve_policy

ALICE = Identity("Alice Doe", "alice@example.com", "alice")
NO_ACCOUNT = Identity("Carol", "carol@laptop.local", None)
NO_FACTS = AgreementFacts()
SIGNED = "Add rule\n\nSigned-off-by: Alice Doe <alice@example.com>"


def snapshot(
    commits: tuple[Commit, ...], facts: AgreementFacts = NO_FACTS, body: str = "Fixes #1"
) -> PullRequestSnapshot:
    return PullRequestSnapshot(
        repo="falcosecurity/rules", number=3, title="t", body=body, author=ALICE, base_ref="main",
        default_branch="main", base_sha="b" * 40, head_sha=commits[-1].sha, commits=commits, agreement_facts=facts,
    )  # fmt: skip


def policy(text: str = "") -> Policy:
    resolved, findings = resolve_policy(text)
    assert findings == []
    return resolved


def agreement(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    p = policy(text)
    return p.check("agreement"), p.check("dco")


GOOD = Commit("a" * 40, ("p",), ALICE, ALICE, SIGNED)
UNSIGNED = Commit("c" * 40, ("p",), ALICE, ALICE, "Add rule")


def test_dco_mode_follows_the_sign_off() -> None:
    assert check_agreement(snapshot((GOOD,)), *agreement("")).status == "pass"
    assert check_agreement(snapshot((UNSIGNED,)), *agreement("")).status == "fail"


@pytest.mark.parametrize(
    ("statuses", "status", "codes"),
    [
        ((("EasyCLA", "success"),), "pass", []),
        ((("easycla", "failure"),), "fail", ["AGREEMENT_STATUS"]),
        ((("ci/build", "success"),), "fail", ["AGREEMENT_NO_STATUS"]),
        ((), "fail", ["AGREEMENT_NO_STATUS"]),
    ],
)
def test_status_mode(statuses: tuple[tuple[str, str], ...], status: str, codes: list[str]) -> None:
    result = check_agreement(snapshot((GOOD,), AgreementFacts(statuses=statuses)),
                             *agreement("checks:\n  agreement:\n    mode: status\n"))  # fmt: skip
    assert result.status == status
    assert [f.code for f in result.findings] == codes


def test_comment_mode_names_who_has_not_signed_and_what_to_write() -> None:
    settings = agreement("checks:\n  agreement:\n    mode: comment\n")
    result = check_agreement(snapshot((GOOD,)), *settings)
    assert result.status == "fail"
    assert result.findings[0].code == "AGREEMENT_UNSIGNED"
    assert "I have read the CNCF contributor agreement" in (result.findings[0].hint or "")
    assert check_agreement(snapshot((GOOD,), AgreementFacts(signed=("ALICE",))), *settings).status == "pass"


def test_allowlist_mode_and_authors_without_an_account() -> None:
    settings = agreement("checks:\n  agreement:\n    mode: allowlist\n    allowlist: [alice]\n")
    assert check_agreement(snapshot((GOOD,)), *settings).status == "pass"
    stranger = Commit("d" * 40, ("p",), NO_ACCOUNT, NO_ACCOUNT, "x")
    result = check_agreement(snapshot((GOOD, stranger)), *settings)
    assert [f.code for f in result.findings] == ["AGREEMENT_NO_ACCOUNT"]
    assert "carol@laptop.local" in (result.findings[0].hint or "")


def test_run_all_respects_enabled_and_isolates_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(snapshot: PullRequestSnapshot, policy: Policy) -> CheckResult:
        raise RuntimeError("boom")

    checks = dict(registry.CHECKS)
    checks["dco"] = ("DCO sign-off", broken)
    monkeypatch.setattr(registry, "CHECKS", checks)
    results = {r.id: r for r in run_all(snapshot((GOOD,)), policy("checks:\n  linked_issue:\n    enabled: false\n"))}
    assert "linked_issue" not in results
    assert results["dco"].status == "error" and "RuntimeError: boom" in results["dco"].summary
    assert results["agreement"].status == "pass"  # the crash hid nothing
    assert results["rules"].status == "skip"
