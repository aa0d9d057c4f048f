"""The pre-commit hooks of .pre-commit-hooks.yaml, run by pre-commit itself against a real rules repository."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOKS = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
WHEELHOUSE = Path(os.environ.get("FRB_WHEELHOUSE", ROOT / ".venv" / "wheelhouse"))
REQUIRED = os.environ.get("FRB_REQUIRE_PRECOMMIT") == "1"
GIT_ENV = {"GIT_AUTHOR_NAME": "Alice Doe", "GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_COMMITTER_NAME": "Alice Doe",
           "GIT_COMMITTER_EMAIL": "alice@example.com", "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip

STABLE = """\
- list: network_tools
  items: [wget]

- macro: spawned_process
  condition: evt.type = execve and evt.dir = <

- rule: Shell in container
  desc: A shell was spawned in a container.
  condition: spawned_process and proc.name = bash
  output: Shell spawned (user=%user.name)
  priority: NOTICE
  tags: [maturity_stable, container, shell, mitre_execution, T1059.004]
"""
APPEND = "- list: network_tools\n  items: [curl]\n  override:\n    items: append\n"  # loads after falco_rules.yaml only
INCUBATING_RULE = (
    APPEND
    + """
- rule: Curl in container
  desc: Curl was run in a container.
  condition: spawned_process and proc.name in (network_tools)
  output: Curl run (user=%user.name)
  priority: NOTICE
  tags: [{tags}]
"""
)
GOOD_TAGS = "maturity_incubating, container, network, mitre_command_and_control, T1105"
BAD_TAGS = "maturity_incubating, network, mitre_comand_and_control, T9999"


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(reason + " (FRB_REQUIRE_PRECOMMIT=1)")
    pytest.skip(reason)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgsign=false", *args], capture_output=True,
                          text=True, check=True, env={**os.environ, **GIT_ENV}).stdout  # fmt: skip


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository as a fresh clone would have it: its files (committed or not, ignored ones left out) in a
    repository of their own, so that try-repo sees the working tree's hooks and code."""
    if shutil.which("git") is None:
        _skip_or_fail("git is not installed")
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        _skip_or_fail("pre-commit is not installed (pip install -e '.[dev]')")
    if not any(WHEELHOUSE.glob("setuptools-*.whl")):
        _skip_or_fail(f"no wheelhouse at {WHEELHOUSE} for offline installs (make venv fills it)")
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    dest = tmp_path_factory.mktemp("hook-repo")
    for name in listed:
        if name and not name.startswith("tests/") and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return dest


@pytest.fixture
def rules_repo(tmp_path: Path) -> Path:
    """A rules repository: falco_rules.yaml, and falco-incubating_rules.yaml that appends to its list."""
    repo = tmp_path / "rules"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "falco_rules.yaml").write_text(STABLE)
    (repo / "falco-incubating_rules.yaml").write_text(APPEND)
    (repo / "README.md").write_text("rules\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Initial")
    return repo


def try_repo(repo: Path, hook_repo: Path, hook: str | None, *files: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit try-repo HOOK_REPO [HOOK] --files ...` in the rules repository, offline."""
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"), "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(WHEELHOUSE), "PRE_COMMIT_COLOR": "never"}  # fmt: skip
    env.pop("VIRTUAL_ENV", None)
    args = [
        sys.executable,
        "-m",
        "pre_commit",
        "try-repo",
        str(hook_repo),
        *([hook] if hook else []),
        "--files",
        *files,
    ]
    proc = subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=600, check=False, env=env)
    return proc


def test_manifest_declares_both_hooks_for_one_rule_set() -> None:
    assert set(HOOKS) == {"falco-rules-validate", "falco-rules-tags"}
    for hook in HOOKS.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is True and hook["require_serial"] is True  # one process, one rule set
    assert HOOKS["falco-rules-validate"]["entry"] == "falco-rules-bot validate --sort"
    assert HOOKS["falco-rules-tags"]["entry"] == "falco-rules-bot tags"


@pytest.mark.parametrize(
    ("path", "matched"),
    [("falco_rules.yaml", True), ("falco-incubating_rules.yaml", True), ("rules/k8s/audit.yaml", True),
     ("sub/dir/falco-sandbox_rules.yaml", True), ("README.md", False), ("config.yaml", False),
     (".github/workflows/ci.yaml", False), ("falco_rules.yaml.orig", False)],
)  # fmt: skip
def test_files_pattern_selects_rules_files(path: str, matched: bool) -> None:
    for hook in HOOKS.values():
        assert bool(re.search(hook["files"], path)) is matched, (hook["id"], path)


def test_entries_say_what_is_wrong_in_a_rules_repository(rules_repo: Path) -> None:
    """The hooks' commands as pre-commit runs them (the entry, then the files), through this checkout's code."""
    (rules_repo / "falco-incubating_rules.yaml").write_text(INCUBATING_RULE.format(tags=BAD_TAGS))

    def entry(hook: str) -> subprocess.CompletedProcess[str]:
        argv = shlex.split(HOOKS[hook]["entry"])
        assert argv[0] == "falco-rules-bot"
        files = ["falco-incubating_rules.yaml", "falco_rules.yaml"]  # pre-commit passes files sorted by name
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "bot", *argv[1:], *files], cwd=rules_repo, capture_output=True,
                              text=True, timeout=120, check=False, env=env)  # fmt: skip

    validate = entry("falco-rules-validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr  # the stable file loads first: the append works
    assert "falco-incubating_rules.yaml: Ok (0 errors, 0 warnings)" in validate.stdout
    tags = entry("falco-rules-tags")
    assert tags.returncode == 1
    assert "falco-incubating_rules.yaml:11:40: error: TAGS_TACTIC_UNKNOWN: Rule 'Curl in container' has the tag" in (
        tags.stdout
    )
    assert "    Write `mitre_command_and_control` instead of `mitre_comand_and_control`." in tags.stdout
    git(rules_repo, "add", "-A")
    git(rules_repo, "commit", "-q", "-m", "Curl")
    again = entry("falco-rules-tags")  # nothing changed since HEAD: the next commit adds no rule
    assert (again.returncode, again.stdout) == (0, "Tags and style: No rule was added or changed.\n")


def test_try_repo_passes_a_good_change(rules_repo: Path, hook_repo: Path) -> None:
    (rules_repo / "falco-incubating_rules.yaml").write_text(INCUBATING_RULE.format(tags=GOOD_TAGS))
    git(rules_repo, "add", "-A")
    proc = try_repo(rules_repo, hook_repo, None, "falco_rules.yaml", "falco-incubating_rules.yaml", "README.md")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^Falco rules \(falco-rules-bot validate\)\.+Passed$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^Falco rules tags \(falco-rules-bot tags\)\.+Passed$", proc.stdout, re.M), proc.stdout


def test_try_repo_validate_fails_on_a_broken_condition(rules_repo: Path, hook_repo: Path) -> None:
    broken = INCUBATING_RULE.format(tags=GOOD_TAGS).replace("proc.name in", "proc.nmae in")
    (rules_repo / "falco-incubating_rules.yaml").write_text(broken)
    git(rules_repo, "add", "-A")
    proc = try_repo(rules_repo, hook_repo, "falco-rules-validate", "falco_rules.yaml", "falco-incubating_rules.yaml")
    assert proc.returncode == 1
    assert re.search(r"^Falco rules \(falco-rules-bot validate\)\.+Failed$", proc.stdout, re.M), proc.stdout
    assert "falco-incubating_rules.yaml:8:" in proc.stdout and "proc.nmae" in proc.stdout
    assert "falco-incubating_rules.yaml: Invalid (1 error, 0 warnings)" in proc.stdout


def test_try_repo_tags_fails_on_a_misspelled_tactic(rules_repo: Path, hook_repo: Path) -> None:
    (rules_repo / "falco-incubating_rules.yaml").write_text(INCUBATING_RULE.format(tags=BAD_TAGS))
    git(rules_repo, "add", "-A")
    proc = try_repo(rules_repo, hook_repo, "falco-rules-tags", "falco-incubating_rules.yaml")
    assert proc.returncode == 1
    assert re.search(r"^Falco rules tags \(falco-rules-bot tags\)\.+Failed$", proc.stdout, re.M), proc.stdout
    assert "error: TAGS_WORKLOAD_MISSING: Rule 'Curl in container' has no workload tag" in proc.stdout
    assert "error: TAGS_TECHNIQUE_UNKNOWN" in proc.stdout
