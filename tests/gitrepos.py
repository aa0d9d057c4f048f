"""Real git repositories for the tests: a `main` branch with a rules file and a `feature` branch to review."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.gpgkeys import Key

RULE = (
    "- rule: {name}\n  desc: d.\n  condition: {cond}\n  output: x %proc.name\n  priority: INFO\n"
    "  tags: [maturity_stable, host, container, process, mitre_execution, T1059]\n"
)
BASE_RULES = RULE.format(name="Base", cond="evt.type = open")
ALICE = ("Alice Doe", "alice@example.com")


class Repo:
    """A real repository with a `main` branch and a `feature` branch to review."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")
        (path / "rules").mkdir()
        self.write("rules/falco_rules.yaml", BASE_RULES)
        self.commit("Initial", ALICE)
        self.git("checkout", "-q", "-b", "feature")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full = {**os.environ, **(env or {})}
        return subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, check=True,
                              env=full).stdout.strip()  # fmt: skip

    def write(self, name: str, text: str) -> None:
        (self.path / name).write_text(text)

    def commit(self, message: str, who: tuple[str, str], key: Key | None = None, signoff: tuple[str, str] | None = None,
               committer: tuple[str, str] | None = None, faked_time: str | None = None) -> None:  # fmt: skip
        self.git("add", ".")
        if signoff:
            message += f"\n\nSigned-off-by: {signoff[0]} <{signoff[1]}>"
        committer = committer or who
        env = {"GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1], "GIT_COMMITTER_NAME": committer[0],
               "GIT_COMMITTER_EMAIL": committer[1]}  # fmt: skip
        args = ["commit", "-q", "--allow-empty", "-m", message]
        if key is not None:
            env["GNUPGHOME"] = str(key.home)
            prefix = ["-c", f"user.signingkey={key.fingerprint}"]
            if faked_time:
                wrapper = self.path.parent / f"gpg-faked-{faked_time}.sh"
                wrapper.write_text(f'#!/bin/sh\nexec gpg --faked-system-time {faked_time} "$@"\n')
                wrapper.chmod(0o755)
                prefix += ["-c", f"gpg.program={wrapper}"]
            self.git(*prefix, *args, "-S", env=env)
        else:
            self.git(*args, env=env)
