"""`falco-rules-bot check` on real git repositories with real GnuPG-signed commits, as a contributor runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.gpg import gpg_available
from tests.gpgkeys import Key, make_key

ROOT = Path(__file__).resolve().parents[2]
RULE = (
    "- rule: {name}\n  desc: d.\n  condition: {cond}\n  output: x %proc.name\n  priority: INFO\n"
    "  tags: [maturity_stable, host, container, process, mitre_execution, T1059]\n"
)
pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")


def git(repo: Path, *args: str, home: Path | None = None) -> str:
    env = {**os.environ, "GNUPGHOME": str(home)} if home else None
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()  # fmt: skip


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("keys"), "Alice Doe <alice@example.com>")


def make_repo(path: Path, key: Key) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for name, value in (("user.name", "Alice Doe"), ("user.email", "alice@example.com"),
                        ("user.signingkey", key.fingerprint), ("commit.gpgsign", "false")):  # fmt: skip
        git(path, "config", name, value)
    (path / "rules").mkdir()
    (path / "rules" / "falco_rules.yaml").write_text(RULE.format(name="Base", cond="evt.type = open"))
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "Initial")
    git(path, "checkout", "-q", "-b", "feature")
    return path


def commit(repo: Path, key: Key, text: str, *flags: str) -> None:
    (repo / "rules" / "falco_rules.yaml").write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-q", *flags, "-m", "Add a rule", home=key.home)


def check(repo: Path, key: Key, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--repo", str(repo), "--base", "main", "--gnupghome", str(key.home),
         "--pr-title", "New rule", "--format", "json", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def statuses(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["id"]: c["status"] for c in report["checks"]}


GOOD = RULE.format(name="Base", cond="evt.type = open") + RULE.format(name="New", cond="evt.type = execve")


def test_a_good_contribution_passes(tmp_path: Path, alice: Key) -> None:
    repo = make_repo(tmp_path / "r", alice)
    commit(repo, alice, GOOD, "-S", "-s")
    body = tmp_path / "body.md"
    body.write_text("Fixes #12\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("checks:\n  tags:\n    new_stable: notice\n")  # the new rule goes to falco_rules.yaml
    code, report = check(repo, alice, "--pr-body-file", str(body), "--issue", "#12=open", "--policy", str(policy))
    assert statuses(report) == {"linked_issue": "pass", "dco": "pass", "signatures": "pass", "agreement": "pass",
                                "rules": "pass", "tags": "pass"}  # fmt: skip
    assert (code, report["conclusion"]) == (0, "success")


def test_missing_sign_off_signature_and_issue_each_say_why(tmp_path: Path, alice: Key) -> None:
    repo = make_repo(tmp_path / "r", alice)
    commit(repo, alice, GOOD.replace("evt.type = execve", "evt.type = execve and proc.nmae = x"))
    code, report = check(repo, alice)
    assert code == 1 and report["conclusion"] == "failure"
    assert statuses(report) == {"linked_issue": "fail", "dco": "fail", "signatures": "fail", "agreement": "fail",
                                "rules": "fail", "tags": "warn"}  # fmt: skip
    findings = {c["id"]: [f["code"] for f in c["findings"]] for c in report["checks"]}
    assert findings["dco"] == ["DCO_MISSING"]
    assert findings["signatures"] == ["SIGNATURE_UNSIGNED"]
    assert findings["rules"] == ["LOAD_ERR_COMPILE_CONDITION"]
    rules_finding = next(c for c in report["checks"] if c["id"] == "rules")["findings"][0]
    assert (rules_finding["file"], rules_finding["line"]) == ("rules/falco_rules.yaml", 9)


def test_text_output_and_usage_errors(tmp_path: Path, alice: Key) -> None:
    repo = make_repo(tmp_path / "r", alice)
    commit(repo, alice, GOOD, "-S", "-s")
    proc = subprocess.run([sys.executable, "-m", "bot", "check", "--repo", str(repo), "--gnupghome", str(alice.home)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "[PASS] DCO sign-off: All 1 commits are signed off." in proc.stdout
    assert "[FAIL] Linked issue" in proc.stdout
    markdown = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--repo", str(repo), "--gnupghome", str(alice.home), "--format",
         "markdown"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert markdown.stdout.startswith("<!-- falco-rules-bot:review -->\n")
    assert "| DCO sign-off | ✅ pass |" in markdown.stdout
    bad = subprocess.run([sys.executable, "-m", "bot", "check", "--repo", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert bad.returncode == 2 and "not a git repository" in bad.stderr


CORPUS = ROOT / "tests" / "data" / "corpus" / "valid"


def test_a_falco_rules_release_upgrade_reviewed_like_a_pull_request(tmp_path: Path, alice: Key) -> None:
    """A clone whose history is the real releases falco-rules-5.0.0 then 5.1.0 of rules/falco_rules.yaml."""
    repo = make_repo(tmp_path / "r", alice)
    git(repo, "checkout", "-q", "main")
    (repo / "rules" / "falco_rules.yaml").write_text((CORPUS / "rules-falco-rules-5.0.0-falco_rules.yaml").read_text())
    git(repo, "commit", "-q", "-am", "falco-rules-5.0.0")
    git(repo, "checkout", "-q", "-B", "feature")
    commit(repo, alice, (CORPUS / "rules-falco-rules-5.1.0-falco_rules.yaml").read_text(), "-S", "-s")
    code, report = check(repo, alice, "--pr-title", "Fixes #3", "--issue", "#3=open")
    assert statuses(report)["rules"] == "pass"
    assert code == 0
    changes = report["rules_diff"]["changes"]
    assert changes and {c["change"] for c in changes} <= {"added", "changed", "removed"}


def test_agreement_facts_from_options(tmp_path: Path, alice: Key) -> None:
    repo = make_repo(tmp_path / "r", alice)
    commit(repo, alice, GOOD, "-S", "-s")
    status_policy = tmp_path / "status.yml"
    status_policy.write_text("checks:\n  agreement:\n    mode: status\n")
    _, without = check(repo, alice, "--policy", str(status_policy))
    _, green = check(repo, alice, "--policy", str(status_policy), "--status", "EasyCLA=success")
    assert statuses(without)["agreement"] == "fail" and statuses(green)["agreement"] == "pass"
    comment_policy = tmp_path / "comment.yml"
    comment_policy.write_text("checks:\n  agreement:\n    mode: comment\n")
    signatures = tmp_path / "signed.txt"
    signatures.write_text("alice@example.com\n")
    _, signed = check(repo, alice, "--policy", str(comment_policy), "--agreement-signatures", str(signatures))
    assert statuses(signed)["agreement"] == "pass"
