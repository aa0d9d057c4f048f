"""Git and GnuPG as attack surface: mirrors fetch only from the configured host, with hooks off; every signature
is verified in a fresh GNUPGHOME removed afterwards; a pull request cannot make the bot trust another identity."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gnupg
import pytest

from bot.checks.signatures import _judge
from bot.gitrepo import GitError, Mirror, check_mirror_url, mirror_url
from bot.gpg import gpg_available, verify_signature
from bot.models import Commit, Identity, SignatureFacts
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gitrepos import ALICE
from tests.gpgkeys import Key

needs_gpg = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
GITHUB = "https://github.com"


# ---------------------------------------------------------------------------------------------- git: where from


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/o/r.git",
        "https://github.com.evil.example/o/r.git",
        "https://github.com@evil.example/o/r.git",
        "https://token@github.com/o/r.git",
        "https://github.com/o/r.git?x=1",
        "https://github.com/o/other.git",
        "https://github.com/o/r.git#frag",
        "http://github.com/o/r.git",
        "ssh://git@github.com/o/r.git",
        "git@github.com:o/r.git",
        "file:///etc/o/r.git",
        "ext::sh -c touch% /tmp/pwned",
        "/srv/o/r.git",
    ],
)
def test_a_mirror_fetches_only_from_the_configured_host(url: str) -> None:
    check_mirror_url(f"{GITHUB}/o/r.git", GITHUB, "o/r")  # the one URL that is allowed
    with pytest.raises(GitError):
        check_mirror_url(url, GITHUB, "o/r")


@pytest.mark.parametrize("repo", ["../r", "o/..", "o/r/../../x", "o/r.git?x", "o/r#x", "o@evil.example/r",
                                  "o/r name", "o/"])  # fmt: skip
def test_repository_names_cannot_steer_the_url(repo: str, tmp_path: Path) -> None:
    with pytest.raises(GitError):
        Mirror(str(tmp_path), repo, GITHUB)
        mirror_url(GITHUB, repo)
        raise AssertionError(repo)


def test_the_mirror_url_is_built_from_the_configured_host_only(tmp_path: Path) -> None:
    mirror = Mirror(str(tmp_path), "falcosecurity/rules", "https://ghe.example/")
    assert mirror.url == "https://ghe.example/falcosecurity/rules.git"
    assert mirror.path.startswith(str(tmp_path))
    with pytest.raises(GitError):  # plain http only when allowed by configuration
        Mirror(str(tmp_path), "falcosecurity/rules", "http://ghe.example")


# ---------------------------------------------------------------------------------------------- git: no hooks


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A bare repository `o/r.git` served over plain (dumb) HTTP on loopback: (base URL, its path)."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "rules_rules.yaml").write_text("- list: l\n  items: [a]\n")
    git("add", ".", cwd=work)
    git("-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "x", cwd=work)
    root = tmp_path / "served"
    (root / "o").mkdir(parents=True)
    git("clone", "-q", "--bare", str(work), str(root / "o" / "r.git"), cwd=tmp_path)
    git("update-server-info", cwd=root / "o" / "r.git")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root / "o" / "r.git"
    finally:
        httpd.shutdown()


def plant_hooks(repo: Path, marker: Path) -> None:
    """Hooks that would leave `marker` behind if git ran them, in the repository and via its config."""
    script = f"#!/bin/sh\necho \"$0\" >> '{marker}'\n"
    evil = repo.parent / "evil-hooks"
    for folder in (repo / "hooks", evil):
        folder.mkdir(exist_ok=True)
        for name in ("reference-transaction", "post-checkout", "post-merge", "pre-auto-gc", "post-rewrite"):
            (folder / name).write_text(script)
            (folder / name).chmod(0o755)
    git("config", "core.hooksPath", str(evil), cwd=repo)  # as a tampered mirror's config would say


def test_no_hook_runs_while_the_mirror_fetches(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    mirror = Mirror(str(tmp_path / "mirrors"), "o/r", base, allowed_http=[base])
    Path(mirror.path).mkdir(parents=True)
    git("init", "-q", "--bare", mirror.path, cwd=tmp_path)
    marker = tmp_path / "hooks-ran"
    plant_hooks(Path(mirror.path), marker)
    env = mirror._env("secret-token")
    assert ("core.hooksPath", "/dev/null") in [(env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"])
                                              for i in range(int(env["GIT_CONFIG_COUNT"]))]  # fmt: skip
    mirror.fetch("secret-token", ["+refs/heads/main:refs/heads/main"])
    assert mirror.files("refs/heads/main") == ["rules_rules.yaml"]  # the fetch did happen
    assert not marker.exists(), marker.read_text()
    # the control: the same fetch by a plain git runs the planted hook
    git("fetch", "-q", mirror.url, "+refs/heads/main:refs/heads/control", cwd=Path(mirror.path))
    assert marker.exists()


def test_the_token_is_never_on_a_command_line_or_in_the_mirror(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    mirror = Mirror(str(tmp_path / "mirrors"), "o/r", base, allowed_http=[base])
    mirror.fetch("ghs_very_secret_token", ["+refs/heads/main:refs/heads/main"])
    for path in Path(mirror.path).rglob("*"):
        if path.is_file():
            assert b"ghs_very_secret_token" not in path.read_bytes(), path
    with pytest.raises(GitError) as refused:
        mirror.fetch("ghs_very_secret_token", ["+refs/heads/nope:refs/heads/nope"])
    assert "ghs_very_secret_token" not in str(refused.value)


# ---------------------------------------------------------------------------------------------- GnuPG


def homes() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("falco-rules-bot-gpg-")}


@needs_gpg
def test_each_verification_has_a_fresh_gnupghome_removed_after(keys: dict[str, Key],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    seen: list[str] = []
    real = gnupg.GPG

    def spy(*args: Any, **kwargs: Any) -> gnupg.GPG:
        seen.append(str(kwargs.get("gnupghome")))
        return real(*args, **kwargs)

    monkeypatch.setattr(gnupg, "GPG", spy)
    payload = "tree 0\nauthor Alice Doe <alice@example.com> 0 +0000\n\nA rule\n"
    signature = keys["alice"].sign(payload)
    before = homes()
    results = [verify_signature(signature, payload, public_keys=[keys["alice"].public]) for _ in range(3)]
    assert [r.status for r in results] == ["valid"] * 3
    assert len(set(seen)) == 3  # a new home every time
    assert all(not os.path.exists(h) for h in seen)  # each removed
    assert homes() == before
    assert str(Path.home() / ".gnupg") not in seen
    # a key imported in one verification is not there for the next
    assert verify_signature(signature, payload, public_keys=[keys["mallory"].public]).status == "unknown_key"


@needs_gpg
def test_a_key_for_another_identity_verifies_nothing_for_the_author(keys: dict[str, Key]) -> None:
    """Mallory signs a commit that claims Alice as its author: with Alice's keys it is an unknown key, with
    Mallory's (were they ever offered) the key's identity does not match the author: never a pass."""
    payload = "tree 0\nauthor Alice Doe <alice@example.com> 0 +0000\ncommitter Alice Doe <alice@example.com> 0 +0000" \
              "\n\nA rule\n"  # fmt: skip
    signature = keys["mallory"].sign(payload)

    def judged(public_keys: list[str]) -> str | None:
        local = verify_signature(signature, payload, public_keys=public_keys)
        who = Identity("Alice Doe", "alice@example.com", "alice")
        facts = SignatureFacts("gpg", None, None, signature, payload, local=local)
        commit = Commit("a" * 40, ("b" * 40,), who, who, "A rule", facts)
        found = _judge(commit, "gpg", True)
        return found[0] if found else None

    assert judged([keys["alice"].public]) == "key_unknown"
    assert judged([keys["mallory"].public]) == "email_mismatch"
    assert judged([keys["alice"].public, keys["mallory"].public]) == "email_mismatch"


@needs_gpg
def test_a_pr_cannot_make_the_bot_use_another_identitys_key(server: BotServer, emu: Emulator, app: Any,
                                                            keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit(key="mallory", who=ALICE)  # signed by Mallory, authored and committed as Alice
    number = w.open(author="mallory", body=f"Fixes #{w.issue}\n\nMy key: @mallory, see users/mallory/gpg_keys")
    mark = emu.mark()
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    run = w.completed_run()
    assert run["conclusion"] == "failure"
    body = wait_for(lambda: w.bot_comments(number))[0]["body"]
    row = next(line for line in body.splitlines() if line.startswith("| Signed commits |"))
    assert "❌ fail" in row
    fetched = sorted({c.path.split("?")[0] for c in emu.calls_since(mark) if c.path.endswith("gpg_keys")
                      or "/gpg_keys?" in c.path})  # fmt: skip
    # the commit's own identity only: never the PR author's, nor a login named in the body
    assert [p.rsplit("/users/", 1)[-1] for p in fetched] == ["alice/gpg_keys"]
