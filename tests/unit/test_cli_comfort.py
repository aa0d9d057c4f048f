"""The command line's comfort, in real shells and on real terminals: completion, colour, progress, help epilogs."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.gpg import gpg_available
from tests.gitrepos import ALICE, BASE_RULES, RULE, Repo
from tests.gpgkeys import Key, make_key

ROOT = Path(__file__).resolve().parents[2]
RED, YELLOW, GREEN, RESET = "\x1b[1;31m", "\x1b[1;33m", "\x1b[1;32m", "\x1b[0m"
BROKEN = "- rule: Bad field\n  desc: d.\n  condition: proc.nmae = cat\n  output: x\n  priority: WARNING\n"
UNUSED = "- macro: never used\n  condition: evt.type = open\n"


def env(**extra: str) -> dict[str, str]:
    """The environment of a run: no colour preference inherited from whoever runs the tests."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    return {**base, "TERM": "xterm-256color", **extra}


def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False, env=env(**extra))  # fmt: skip


def run_on_terminal(args: list[str], tmp_path: Path, stream: str, **extra: str) -> tuple[int, str, str]:
    """Run the CLI with `stream` (stdout or stderr) on a pseudo-terminal and the other one in a file; return the exit
    code, what the terminal received and what the file holds."""
    master, slave = pty.openpty()
    other = tmp_path / "other.out"
    with other.open("wb") as sink:
        streams = {"stdout": slave, "stderr": sink} if stream == "stdout" else {"stdout": sink, "stderr": slave}
        proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                                env=env(**extra), **streams)  # type: ignore[call-overload]  # fmt: skip
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=120)
    os.close(master)
    return code, b"".join(chunks).decode().replace("\r\n", "\n"), other.read_text()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken_rules.yaml"
    path.write_text(BROKEN)
    return path


# --- shell completion ---------------------------------------------------------------------------------------------


def bash_complete(script: Path, *words: str) -> list[str]:
    """What the completion function of the generated script offers for the command line `words` (the last word is
    the one being completed), in a real bash."""
    line = " ".join(words)
    array = " ".join(f"'{w}'" for w in words)
    code = (f"source {script}\nCOMP_WORDS=({array})\nCOMP_CWORD={len(words) - 1}\nCOMP_LINE='{line}'\n"
            f"COMP_POINT={len(line)}\n_shtab_falco_rules_bot\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")  # fmt: skip
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], capture_output=True, text=True, timeout=60,
                          check=True, cwd=script.parent)  # fmt: skip
    return [w for w in proc.stdout.split("\n") if w]


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    proc = run("completion", "bash")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path_factory.mktemp("completion") / "falco-rules-bot.bash"
    path.write_text(proc.stdout)
    return path


def test_bash_completion_script_is_valid_bash_and_registers_the_command(bash_script: Path) -> None:
    subprocess.run(["bash", "-n", str(bash_script)], check=True, timeout=60)
    registered = subprocess.run(["bash", "--norc", "-c", f"source {bash_script}; complete -p falco-rules-bot"],
                                capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert "-F _shtab_falco_rules_bot" in registered.stdout


def test_bash_completes_subcommands_options_and_choices(bash_script: Path) -> None:
    assert bash_complete(bash_script, "falco-rules-bot", "val") == ["validate"]
    assert bash_complete(bash_script, "falco-rules-bot", "c") == ["check", "completion"]
    assert bash_complete(bash_script, "falco-rules-bot", "check", "--form") == ["--format"]
    assert bash_complete(bash_script, "falco-rules-bot", "check", "--format", "") == [
        "text", "markdown", "json", "sarif", "github"]  # fmt: skip
    assert bash_complete(bash_script, "falco-rules-bot", "validate", "--color", "") == ["auto", "always", "never"]
    assert bash_complete(bash_script, "falco-rules-bot", "completion", "") == ["bash", "zsh", "fish"]


def test_bash_completes_rules_file_names(bash_script: Path) -> None:
    (bash_script.parent / "falco_rules.yaml").write_text("")
    assert bash_complete(bash_script, "falco-rules-bot", "validate", "falco_r") == ["falco_rules.yaml"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_script_parses() -> None:
    proc = run("completion", "zsh")
    assert proc.returncode == 0 and proc.stdout.startswith("#compdef falco-rules-bot")
    subprocess.run(["zsh", "-n"], input=proc.stdout, text=True, check=True, timeout=60)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_subcommands(tmp_path: Path) -> None:
    script = tmp_path / "falco-rules-bot.fish"
    script.write_text(run("completion", "fish").stdout)
    proc = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C 'falco-rules-bot val'"],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == ["validate"]


def test_completion_of_an_unknown_shell_is_a_usage_error() -> None:
    proc = run("completion", "powershell")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


# --- colour -------------------------------------------------------------------------------------------------------


def test_validate_colours_only_when_asked_or_forced(broken: Path, tmp_path: Path) -> None:
    warned = tmp_path / "warned_rules.yaml"
    warned.write_text(UNUSED)
    coloured = run("validate", "--color", "always", str(broken), str(warned))
    assert coloured.returncode == 1
    assert f": {RED}error{RESET}: LOAD_ERR_COMPILE_CONDITION:" in coloured.stdout
    assert f": {YELLOW}warning{RESET}: LOAD_UNUSED_MACRO:" in coloured.stdout
    assert f"{broken}: {RED}Invalid{RESET} (1 error, 0 warnings)" in coloured.stdout
    assert f"{warned}: {YELLOW}Ok, with warnings{RESET}" in coloured.stdout
    ok = run("validate", "--color", "always", str(warned), "--format", "text")
    assert ok.returncode == 0
    plain = run("validate", str(broken), str(warned))  # a pipe: no colour
    assert "\x1b[" not in plain.stdout and plain.stdout == coloured.stdout.replace(RED, "").replace(YELLOW, "").replace(
        RESET, ""
    )
    assert "\x1b[" not in run("validate", "--color", "never", str(broken), FORCE_COLOR="1").stdout
    assert RED in run("validate", str(broken), FORCE_COLOR="1").stdout
    assert "\x1b[" not in run("validate", "--format", "json", "--color", "always", str(broken)).stdout


def test_validate_on_a_terminal_colours_unless_no_color(broken: Path, tmp_path: Path) -> None:
    code, shown, _ = run_on_terminal(["validate", str(broken)], tmp_path, "stdout")
    assert code == 1 and f"{RED}error{RESET}" in shown and f"{RED}Invalid{RESET}" in shown
    code, shown, _ = run_on_terminal(["validate", str(broken)], tmp_path, "stdout", NO_COLOR="1")
    assert code == 1 and "error: LOAD_ERR_COMPILE_CONDITION" in shown and "\x1b[" not in shown
    code, shown, _ = run_on_terminal(["validate", "--color", "never", str(broken)], tmp_path, "stdout")
    assert code == 1 and "\x1b[" not in shown
    _, shown, _ = run_on_terminal(["validate", str(broken)], tmp_path, "stdout", TERM="dumb")
    assert "\x1b[" not in shown


# --- check: colour and progress on real repositories --------------------------------------------------------------

pytest_gpg = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("keys"), f"{ALICE[0]} <{ALICE[1]}>")


@pytest.fixture(scope="module")
def many_commits(tmp_path_factory: pytest.TempPathFactory, alice: Key) -> Repo:
    """A feature branch of twelve signed, signed-off commits, each adding a rule."""
    repo = Repo(tmp_path_factory.mktemp("repos") / "r")
    text = BASE_RULES
    for n in range(12):
        text += RULE.format(name=f"Rule {n}", cond=f"evt.type = execve and proc.name = p{n}")
        repo.write("rules/falco_rules.yaml", text)
        repo.commit(f"Add rule {n}", ALICE, key=alice, signoff=ALICE)
    return repo


@pytest_gpg
def test_check_text_is_coloured_by_status(many_commits: Repo, alice: Key) -> None:
    args = ["check", "--repo", str(many_commits.path), "--gnupghome", str(alice.home)]
    coloured = run(*args, "--color", "always")
    assert coloured.returncode == 1  # no linked issue
    assert f"{GREEN}[PASS]{RESET} DCO sign-off" in coloured.stdout
    assert f"{RED}[FAIL]{RESET} Linked issue" in coloured.stdout
    assert f"{RED}failure{RESET}" in coloured.stdout.splitlines()[0]
    assert f"    - {RED}error{RESET}:" in coloured.stdout or f"    - {YELLOW}warning{RESET}:" in coloured.stdout
    plain = run(*args)
    assert "\x1b[" not in plain.stdout
    assert plain.stdout == coloured.stdout.replace(GREEN, "").replace(RED, "").replace(YELLOW, "").replace(
        "\x1b[2m", "").replace(RESET, "")  # fmt: skip


@pytest_gpg
def test_check_shows_progress_on_a_terminal_stderr_only(many_commits: Repo, alice: Key, tmp_path: Path) -> None:
    args = ["check", "--repo", str(many_commits.path), "--gnupghome", str(alice.home), "--format", "json"]
    code, terminal, stdout = run_on_terminal(args, tmp_path, "stderr")
    assert code == 1
    report = json.loads(stdout)  # stdout stays clean for tools
    assert {c["id"]: c["status"] for c in report["checks"]}["signatures"] == "pass"
    counts = re.findall(r"reading main\.\.HEAD and verifying commit signatures \((\d+)/12\)", terminal)
    assert list(dict.fromkeys(int(n) for n in counts)) == list(range(1, 13))  # one step a commit, in order
    assert "reviewing 12 commit(s)" in terminal
    assert terminal.startswith("\r\x1b[2K") and terminal.endswith("\r\x1b[2K")  # drawn over, then erased
    piped = run(*args)
    assert piped.returncode == 1 and piped.stderr == ""  # not a terminal: nothing at all
    assert json.loads(piped.stdout)["checks"] == report["checks"]


@pytest_gpg
def test_progress_line_is_erased_before_a_usage_error(tmp_path: Path) -> None:
    code, terminal, _ = run_on_terminal(["check", "--repo", str(tmp_path)], tmp_path, "stderr")
    assert code == 2
    erased = terminal.rindex("\r\x1b[2K")
    assert "not a git repository" in terminal[erased:]


# --- help epilogs and start-up ------------------------------------------------------------------------------------


def test_every_command_help_ends_with_its_exit_codes() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    for name in commands:
        proc = run(name, "--help")
        assert proc.returncode == 0, name
        epilog = proc.stdout.split("\n\n")[-1]
        assert epilog.startswith("exit codes: 0 "), (name, epilog)
    assert "exit codes: 0" in run("--help").stdout
    assert "NO_COLOR" in run("validate", "--help").stdout and "FORCE_COLOR" in run("check", "--help").stdout


def test_validate_does_not_import_the_comfort_helpers_it_does_not_use(tmp_path: Path) -> None:
    rules = tmp_path / "ok_rules.yaml"
    rules.write_text(UNUSED.replace("never used", "m") + "- rule: R\n  desc: d.\n  condition: m\n  output: x\n"
                     "  priority: INFO\n")  # fmt: skip
    for form, comfort in (("json", False), ("text", True)):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", "validate", "--format", form,
                               str(rules)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                              env=env())  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert "shtab" not in imported
        assert ("bot.termui" in imported) is comfort
