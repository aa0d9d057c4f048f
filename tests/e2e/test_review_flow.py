"""A maintainer's view of the App: pull requests reviewed end to end through real HTTP, git and GnuPG."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gitrepos import RULE
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
MARKER = "<!-- falco-rules-bot:review -->"


def world(emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path, policy: str | None = None) -> World:
    return World(emu, app, keys, tmp_path, policy)


def opened(server: BotServer, w: World, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Open the pull request, deliver `pull_request.opened`, and wait for the review's check run."""
    number = w.open(**kwargs)
    status, _ = server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    assert status == 202
    return number, w.completed_run()


def findings(run: dict[str, Any]) -> str:
    return str(run["output"]["summary"]) + str(run["output"].get("text") or "")


def test_a_pull_request_that_passes_everything(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                               tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number, run = opened(server, w)
    assert run["conclusion"] == "success"
    assert run["external_id"]
    comments = wait_for(lambda: w.bot_comments(number))
    assert len(comments) == 1
    body = comments[0]["body"]
    assert body.startswith(MARKER)
    assert "all checks passed" in body
    assert w.head()[:12] in body


@pytest.mark.parametrize(
    ("change", "check", "code"),
    [
        ({"body": "A new rule, no issue."}, "Linked issue", None),
        ({"signoff": False}, "DCO sign-off", "DCO_MISSING"),
        ({"key": None}, "Signed commits", None),
        ({"key": "mallory"}, "Signed commits", None),
    ],
    ids=["no-issue", "no-signoff", "unsigned", "wrong-key"],
)
def test_each_way_of_failing(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path,
                             change: dict[str, Any], check: str, code: str | None) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    commit_args = {k: v for k, v in change.items() if k != "body"}
    w.add_rule_commit(**commit_args)
    number, run = opened(server, w, **({"body": change["body"]} if "body" in change else {}))
    assert run["conclusion"] == "failure"
    body = wait_for(lambda: w.bot_comments(number))[0]["body"]
    assert "changes needed" in body
    row = next(line for line in body.splitlines() if line.startswith(f"| {check} |"))
    assert "❌ fail" in row
    if code:
        assert code in body


def test_no_agreement_in_comment_mode_then_signed(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                                  tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path, policy="checks:\n  agreement:\n    mode: comment\n")
    w.add_rule_commit()
    number, run = opened(server, w)
    assert run["conclusion"] == "failure"
    body = w.bot_comments(number)[0]["body"]
    assert "❌ fail" in next(line for line in body.splitlines() if line.startswith("| CNCF agreement |"))
    sentence = "I have read the CNCF contributor agreement and I agree to it."
    cid = emu.add_comment(w.repo_name, number, author="alice", body=sentence)
    status, _ = server.deliver("issue_comment", "created", repo=w.repo_name, number=number, comment_id=cid,
                               installation=w.installation)  # fmt: skip
    assert status == 202

    def passed() -> bool:
        runs = [r for r in w.runs() if r["status"] == "completed"]
        return bool(runs) and runs[-1]["conclusion"] == "success"

    wait_for(passed)
    assert len(w.bot_comments(number)) == 1


def test_an_invalid_rule_is_annotated_on_its_line(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                                  tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    w.add_rule_commit(RULE.format(name="Broken", cond="evt.type = open and proc.nme = bash"))
    _, run = opened(server, w)
    assert run["conclusion"] == "failure"
    text = (w.repo.path / "rules/falco_rules.yaml").read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "proc.nme" in t)
    notes = run["annotations"]
    assert any(a["path"] == "rules/falco_rules.yaml" and a["start_line"] == line and a["annotation_level"] == "failure"
               for a in notes)  # fmt: skip


def test_a_push_that_fixes_it_edits_the_same_comment(server: BotServer, emu: Emulator, app: Any,
                                                     keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    w.add_rule_commit(signoff=False)
    number, run = opened(server, w)
    assert run["conclusion"] == "failure"
    first = wait_for(lambda: w.bot_comments(number))
    assert "changes needed" in first[0]["body"]
    w.repo.git("checkout", "-q", "-B", "feature", "main")  # the contributor rewrites the branch, signed off
    w.add_rule_commit()
    w.push(number)
    status, _ = server.deliver("pull_request", "synchronize", repo=w.repo_name, number=number,
                               installation=w.installation)  # fmt: skip
    assert status == 202
    assert w.completed_run()["conclusion"] == "success"
    after = w.bot_comments(number)
    assert [c["id"] for c in after] == [first[0]["id"]]
    assert "all checks passed" in after[0]["body"]


def test_a_pull_request_touching_no_rules_file(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                               tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    w.add_rule_commit("# notes\n", path="docs/NOTES.md")
    number, run = opened(server, w)
    assert run["conclusion"] == "neutral"
    assert w.bot_comments(number) == []


@pytest.mark.parametrize("event", ["check_run", "check_suite"])
def test_re_run_buttons_review_again(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                     tmp_path: Path, event: str) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number, run = opened(server, w)
    more = {"check_run_id": run["id"]} if event == "check_run" else {"head_sha": w.head()}
    status, _ = server.deliver(event, "rerequested", repo=w.repo_name, installation=w.installation, **more)
    assert status == 202
    wait_for(lambda: len([r for r in w.runs() if r["status"] == "completed"]) == 2)
    assert len(w.bot_comments(number)) == 1


def test_a_draft_is_reviewed_and_marked_as_draft(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                                 tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number, run = opened(server, w, draft=True)
    assert run["conclusion"] == "success"
    assert "(draft pull request)" in w.bot_comments(number)[0]["body"]


def test_drafts_wait_when_the_policy_says_so(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                             tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path, policy="pull_requests:\n  review_drafts: false\n")
    w.add_rule_commit()
    number = w.open(draft=True)
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    time.sleep(2.5)  # the review was due after 0.5 s: it looked, saw a draft, and left it alone
    assert w.runs() == []
    assert w.bot_comments(number) == []
    emu.edit_pull_request(w.repo_name, number, draft=False)
    status, _ = server.deliver("pull_request", "ready_for_review", repo=w.repo_name, number=number,
                               installation=w.installation)  # fmt: skip
    assert status == 202
    assert w.completed_run()["conclusion"] == "success"
    assert "(draft pull request)" not in w.bot_comments(number)[0]["body"]


def test_a_pull_request_cannot_loosen_its_own_checks(server: BotServer, emu: Emulator, app: Any,
                                                     keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = world(emu, app, keys, tmp_path)
    (w.repo.path / ".github").mkdir(exist_ok=True)
    (w.repo.path / ".github/falco-rules-bot.yml").write_text("checks:\n  dco:\n    enabled: false\n")
    w.add_rule_commit(signoff=False)
    number, run = opened(server, w)
    assert run["conclusion"] == "failure"
    body = w.bot_comments(number)[0]["body"]
    assert "❌ fail" in next(line for line in body.splitlines() if line.startswith("| DCO sign-off |"))
