"""Fixtures of the contract suite: real GnuPG keys, a source repository with real signed commits, the emulator."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.emulator import Emulator
from tests.gpgkeys import Key, make_key, people

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


def git(repo: Path, *args: str, data: str | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=data,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
        timeout=60,
    )
    return proc.stdout.strip()


@dataclass
class SourceRepo:
    """A local repository whose commits the tests know by role."""

    path: Path
    shas: dict[str, str] = field(default_factory=dict)
    payloads: dict[str, str] = field(default_factory=dict)  # oid -> the signed text (the object without gpgsig)
    tick: int = 1_700_000_000

    def commit(
        self,
        branch: str,
        message: str,
        files: dict[str, str | bytes | None],
        who: tuple[str, str] = ("Alice", "alice@example.com"),
        key: Key | None = None,
        faked_time: str | None = None,
        sign_other_payload: bool = False,
    ) -> str:
        """A commit on `branch` (checked out) changing `files` (None deletes), signed by `key` if given."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                git(self.path, "rm", "-q", "--cached", name)
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            git(self.path, "add", name)
        tree = git(self.path, "write-tree")
        parent = git(self.path, "rev-parse", "--verify", "--quiet", "HEAD") if self._has_head() else ""
        self.tick += 60
        person = f"{who[0]} <{who[1]}> {self.tick} +0000"
        header = f"tree {tree}\n" + (f"parent {parent}\n" if parent else "") + f"author {person}\ncommitter {person}\n"
        body = message if message.endswith("\n") else message + "\n"
        payload = header + "\n" + body
        text = payload
        if key is not None:
            signed = payload + "tampered\n" if sign_other_payload else payload
            signature = key.sign(signed, faked_time=faked_time)
            text = header + "gpgsig " + signature.rstrip("\n").replace("\n", "\n ") + "\n\n" + body
        oid = git(self.path, "hash-object", "-t", "commit", "-w", "--stdin", data=text)
        git(self.path, "update-ref", f"refs/heads/{branch}", oid)
        self.payloads[oid] = payload
        return oid

    def _has_head(self) -> bool:
        proc = subprocess.run(
            ["git", "-C", str(self.path), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            env={**os.environ, **GIT_ENV},
            check=False,
        )
        return proc.returncode == 0

    def checkout(self, branch: str, create_from: str | None = None) -> None:
        if create_from:
            git(self.path, "checkout", "-q", "-b", branch, create_from)
        else:
            git(self.path, "checkout", "-q", branch)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Key]:
    base = tmp_path_factory.mktemp("gpg")
    # Bob's key was made and expired in 2020: its signatures were good when made, the key is expired now.
    return people(base, bob_expired=make_key(base, "Bob <bob@example.com>", expire="1d", faked_time="20200101T000000"))


RULES = """- rule: Shell in container
  desc: A shell was spawned in a container
  condition: evt.type = execve and container.id != host and proc.name = bash
  output: Shell (user=%user.name)
  priority: WARNING
"""


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Key]) -> SourceRepo:
    """main: the rules and a policy; `feature`: one commit per signature verdict; `many`: 120 commits/files."""
    path = tmp_path_factory.mktemp("source")
    git(path, "init", "-q", "-b", "main")
    repo = SourceRepo(path)
    repo.shas["base"] = repo.commit(
        "main",
        "Initial rules",
        {
            "rules/falco_rules.yaml": RULES,
            ".github/falco-rules-bot.yml": "checks:\n  dco: true\n",
            "README.md": "hi\n",
            "docs/deep/nested/note.txt": "deep\n",
        },
    )
    repo.checkout("feature", "main")
    alice = ("Alice", "alice@example.com")
    repo.shas["valid"] = repo.commit(
        "feature",
        "Add a rule\n\nSigned-off-by: Alice <alice@example.com>",
        {"rules/new_rules.yaml": RULES.replace("Shell", "Sh")},
        alice,
        keys["alice"],
    )
    repo.shas["unknown_key"] = repo.commit(
        "feature", "Mallory signs as Alice", {"rules/falco_rules.yaml": RULES + "\n"}, alice, keys["mallory"]
    )
    repo.shas["bad_email"] = repo.commit(
        "feature",
        "Alice commits with her other address",
        {"logo.png": b"\x89PNG\0\0"},
        ("Alice", "alice@corp.example"),
        keys["alice"],
    )
    repo.shas["expired"] = repo.commit(
        "feature",
        "Bob, in 2020",
        {"README.md": None},
        ("Bob", "bob@example.com"),
        keys["bob_expired"],
        faked_time="20200101T000100",
    )
    repo.shas["invalid"] = repo.commit(
        "feature",
        "A signature over something else",
        {"big.txt": "x" * 5000},
        alice,
        keys["alice"],
        sign_other_payload=True,
    )
    repo.shas["unsigned"] = repo.commit(
        "feature", "Unsigned, by nobody", {"rules/extra.yaml": "[]\n"}, ("Nobody", "nobody@example.com")
    )
    # `many`: 120 commits, one new file each, written in one `git fast-import`.
    stream = []
    for i in range(120):
        stream.append(
            f"commit refs/heads/many\nmark :{i + 1}\ncommitter Carol <carol@example.com> {1_700_100_000 + i} +0000\n"
            f"data {len(f'c{i}')}\nc{i}\n"
            + (f"from {repo.shas['base']}\n" if i == 0 else "")
            + f"M 100644 inline many/f{i:03d}.txt\ndata {len(str(i)) + 1}\n{i}\n\n"
        )
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"],
        input="".join(stream),
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    repo.shas["many"] = git(path, "rev-parse", "refs/heads/many")
    return repo


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator
        assert emulator.schema_violations == [], emulator.schema_violations
        assert emulator.graphql_rejections == [], emulator.graphql_rejections
