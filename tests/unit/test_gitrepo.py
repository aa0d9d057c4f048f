"""Reading a real git repository: commits with their signatures and payloads, changed files, the tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.gitrepo import GitError, LocalRepository, split_signature
from bot.gpg import gpg_available, verify_signature
from tests.gpgkeys import make_key


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "rules"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Alice Doe")
    git(path, "config", "user.email", "alice@example.com")
    git(path, "config", "commit.gpgsign", "false")
    (path / "rules").mkdir()
    (path / "rules" / "falco_rules.yaml").write_text("- list: shells\n  items: [bash]\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "Initial")
    return path


def test_commits_and_changed_files(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "rules" / "falco_rules.yaml").write_text("- list: shells\n  items: [bash, zsh]\n")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-s", "-m", "Add zsh")
    local = LocalRepository(str(repo))
    (commit,) = local.commits(base, "HEAD")
    assert commit.author.email == "alice@example.com"
    assert "Signed-off-by: Alice Doe <alice@example.com>" in commit.message
    assert commit.signature.kind == "none"
    files = {f.path: f for f in local.changed_files(base, "HEAD")}
    assert files["rules/falco_rules.yaml"].status == "modified"
    assert files["rules/falco_rules.yaml"].base_text == "- list: shells\n  items: [bash]\n"
    assert files["README.md"].status == "added" and files["README.md"].base_text is None
    assert [f.path for f in local.files_at("HEAD", ["rules/falco_rules.yaml"])] == ["rules/falco_rules.yaml"]


@pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
def test_a_signed_commit_verifies_against_its_payload(repo: Path, tmp_path: Path) -> None:
    key = make_key(tmp_path / "keys", "Alice Doe <alice@example.com>")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "config", "user.signingkey", key.fingerprint)
    git(repo, "config", "gpg.program", "gpg")
    env = {"GNUPGHOME": str(key.home), "PATH": "/usr/bin:/bin"}
    (repo / "x.txt").write_text("x\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-S", "-s", "-m", "Signed change", env=env)
    (commit,) = LocalRepository(str(repo)).commits(base, "HEAD")
    sig = commit.signature
    assert sig.kind == "gpg" and sig.signature_armor and sig.signed_payload
    assert "gpgsig" not in sig.signed_payload
    result = verify_signature(sig.signature_armor, sig.signed_payload, [key.public])
    assert result.status == "valid"


def test_split_signature_of_an_unsigned_commit() -> None:
    raw = b"tree abc\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmsg\n"
    assert split_signature(raw) == (None, raw.decode())


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        LocalRepository(str(tmp_path))
