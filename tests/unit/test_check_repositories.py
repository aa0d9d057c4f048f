"""The issue's table of real repositories, reviewed through git + GnuPG + the checks (local_snapshot + run_all)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot.checks.registry import run_all
from bot.gpg import gpg_available
from bot.localsnapshot import local_snapshot
from bot.policy import resolve_policy
from tests.gitrepos import ALICE, BASE_RULES, RULE, Repo
from tests.gpgkeys import Key, make_key, revoke

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Key]:
    base = tmp_path_factory.mktemp("keys")
    return {
        "alice": make_key(base, "Alice Doe <alice@example.com>"),
        "mallory": make_key(base, "Mallory <mallory@example.com>"),
        "expired": make_key(base, "Alice Doe <alice@example.com>", expire="1d", faked_time="20200101T000000"),
        "revoked": make_key(base, "Alice Doe <alice@example.com>"),
    }


def review(repo: Repo, keyring: Key, policy: str = "", body: str = "Fixes #1") -> dict[str, tuple[str, list[str]]]:
    resolved, findings = resolve_policy(policy)
    assert findings == []
    snap = local_snapshot(str(repo.path), "main", "feature", resolved, "New rule", body, gnupghome=str(keyring.home),
                          issues=[])  # fmt: skip
    return {r.id: (r.status, [f.code for f in r.findings]) for r in run_all(snap, resolved)}


def test_good_sign_off_and_signature(tmp_path: Path, keys: dict[str, Key]) -> None:
    repo = Repo(tmp_path / "r")
    repo.write("rules/falco_rules.yaml", BASE_RULES + RULE.format(name="New", cond="evt.type = execve"))
    repo.commit("Add rule", ALICE, keys["alice"], ALICE)
    result = review(repo, keys["alice"])
    assert result["dco"] == ("pass", []) and result["signatures"] == ("pass", []) and result["rules"] == ("pass", [])


@pytest.mark.parametrize(
    ("signoff", "committer", "status"),
    [
        (None, None, "fail"),  # missing sign-off
        (("Bob Roe", "bob@example.com"), None, "fail"),  # sign-off of another person
        (("alice doe", "ALICE@example.com"), None, "pass"),  # case-only differences
        (("Bob Roe", "bob@example.com"), ("Bob Roe", "bob@example.com"), "pass"),  # committer signed off
    ],
)
def test_dco_table(tmp_path: Path, keys: dict[str, Key], signoff: tuple[str, str] | None,
                   committer: tuple[str, str] | None, status: str) -> None:  # fmt: skip
    repo = Repo(tmp_path / "r")
    repo.commit("Change", ALICE, keys["alice"], signoff, committer)
    assert review(repo, keys["alice"])["dco"][0] == status


def test_merge_commits_and_bot_authors_are_exempt(tmp_path: Path, keys: dict[str, Key]) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Change", ALICE, keys["alice"], ALICE)
    repo.git("checkout", "-q", "main")
    repo.commit("Upstream change", ALICE, keys["alice"], ALICE)
    repo.git("checkout", "-q", "feature")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "main", env={"GIT_AUTHOR_NAME": "Alice Doe",
             "GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_COMMITTER_NAME": "Alice Doe",
             "GIT_COMMITTER_EMAIL": "alice@example.com"})  # fmt: skip
    repo.commit("Bump", ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"), keys["alice"])
    result = review(repo, keys["alice"], "checks:\n  signatures:\n    match_author_email: false\n")
    assert result["dco"] == ("pass", [])


def test_remediation_commits(tmp_path: Path, keys: dict[str, Key]) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Forgot", ALICE, keys["alice"])
    sha = repo.git("rev-parse", "HEAD")
    repo.commit(f"I, Alice Doe <alice@example.com>, hereby add my Signed-off-by to this commit: {sha}", ALICE,
                keys["alice"], ALICE)  # fmt: skip
    assert review(repo, keys["alice"])["dco"][0] == "pass"
    third = f"On behalf of Alice Doe <alice@example.com>, I, Bob Roe <bob@example.com>, hereby add my " \
            f"Signed-off-by to this commit: {sha}"  # fmt: skip
    repo2 = Repo(tmp_path / "r2")
    repo2.commit("Forgot", ALICE, keys["alice"])
    sha2 = repo2.git("rev-parse", "HEAD")
    repo2.commit(third.replace(sha, sha2), ("Bob Roe", "bob@example.com"), None, ("Bob Roe", "bob@example.com"))
    assert review(repo2, keys["alice"])["dco"][0] == "fail"
    on = "checks:\n  dco:\n    remediation_third_party: true\n"
    assert review(repo2, keys["alice"], on)["dco"][0] == "pass"


@pytest.mark.parametrize(
    ("key", "faked_time", "code"),
    [
        (None, None, "SIGNATURE_UNSIGNED"),
        ("mallory", None, "SIGNATURE_EMAIL_MISMATCH"),  # signed by a key not belonging to the author
        ("expired", "20200101T120000", "SIGNATURE_KEY_EXPIRED"),
    ],
)
def test_signature_table(tmp_path: Path, keys: dict[str, Key], key: str | None, faked_time: str | None,
                         code: str) -> None:  # fmt: skip
    repo = Repo(tmp_path / "r")
    signer = keys[key] if key else None
    repo.commit("Change", ALICE, signer, ALICE, faked_time=faked_time)
    keyring = keys[key] if key else keys["alice"]
    assert review(repo, keyring)["signatures"] == ("fail", [code])


def test_unknown_and_revoked_keys(tmp_path: Path, keys: dict[str, Key]) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Change", ALICE, keys["mallory"], ALICE)
    assert review(repo, keys["alice"])["signatures"] == ("fail", ["SIGNATURE_KEY_UNKNOWN"])
    repo2 = Repo(tmp_path / "r2")
    repo2.commit("Change", ALICE, keys["revoked"], ALICE)
    revoke(keys["revoked"])
    assert review(repo2, keys["revoked"])["signatures"] == ("fail", ["SIGNATURE_KEY_REVOKED"])


def test_corrupted_signature(tmp_path: Path, keys: dict[str, Key]) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("Change", ALICE, keys["alice"], ALICE)
    raw = repo.git("cat-file", "commit", "HEAD") + "\n"
    forged = raw.replace("Change", "Changed")  # same signature, different payload
    sha = subprocess.run(["git", "-C", str(repo.path), "hash-object", "-t", "commit", "-w", "--stdin"], input=forged,
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    repo.git("update-ref", "refs/heads/feature", sha)
    assert review(repo, keys["alice"])["signatures"] == ("fail", ["SIGNATURE_BAD_SIGNATURE"])


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_ssh_signed_commit_where_gpg_is_required(tmp_path: Path, keys: dict[str, Key]) -> None:
    repo = Repo(tmp_path / "r")
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    repo.git("add", ".")
    repo.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "--allow-empty", "-S", "-m",
             "Change\n\nSigned-off-by: Alice Doe <alice@example.com>",
             env={"GIT_AUTHOR_NAME": "Alice Doe", "GIT_AUTHOR_EMAIL": "alice@example.com",
                  "GIT_COMMITTER_NAME": "Alice Doe", "GIT_COMMITTER_EMAIL": "alice@example.com"})  # fmt: skip
    assert review(repo, keys["alice"])["signatures"] == ("fail", ["SIGNATURE_WRONG_KIND"])


@pytest.mark.parametrize(
    ("files", "status", "codes"),
    [
        ({"rules/falco_rules.yaml": BASE_RULES + RULE.format(name="Bad", cond="evt.type = open and proc.nmae = x")},
         "fail", ["LOAD_ERR_COMPILE_CONDITION"]),
        ({"rules/falco_rules.yaml": BASE_RULES + RULE.format(name="Noisy", cond="proc.name = x")},
         "warn", ["LOAD_NO_EVTTYPE"]),
        ({"README.md": "docs\n"}, "skip", []),
    ],
)  # fmt: skip
def test_rules_table(tmp_path: Path, keys: dict[str, Key], files: dict[str, str], status: str,
                     codes: list[str]) -> None:  # fmt: skip
    repo = Repo(tmp_path / "r")
    for name, text in files.items():
        repo.write(name, text)
    repo.commit("Change", ALICE, keys["alice"], ALICE)
    assert review(repo, keys["alice"])["rules"] == (status, codes)
