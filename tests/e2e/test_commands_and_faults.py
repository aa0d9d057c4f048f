"""Commands, redeliveries, bursts, restarts and GitHub misbehaving, seen end to end."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import ROOT, BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")


def reviewed(server: BotServer, w: World) -> tuple[int, dict[str, Any]]:
    w.add_rule_commit()
    number = w.open()
    status, _ = server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    assert status == 202
    return number, w.completed_run()


def completed(w: World, sha: str | None = None) -> list[dict[str, Any]]:
    return [r for r in w.runs(sha) if r["name"] == "falco-rules-bot" and r["status"] == "completed"]


def test_recheck_by_a_maintainer(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                 tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    number, _ = reviewed(server, w)
    emu.set_permission(w.repo_name, "maintainer", "maintain")
    mark = emu.mark()
    cid = emu.add_comment(w.repo_name, number, author="maintainer", body="Looks fine.\n/ReCheck\n")
    status, _ = server.deliver("issue_comment", "created", repo=w.repo_name, number=number, comment_id=cid,
                               installation=w.installation)  # fmt: skip
    assert status == 202
    wait_for(lambda: "rocket" in emu.reactions(cid))
    assert "eyes" in emu.reactions(cid)
    routes = [c.route for c in emu.calls_since(mark)]
    assert "GET /repos/{owner}/{repo}/collaborators/{username}/permission" in routes
    assert len(completed(w)) == 2  # the review ran again: a new check run on the same head
    assert len(w.bot_comments(number)) == 1


def test_recheck_by_a_stranger_gets_one_polite_reply(server: BotServer, emu: Emulator, app: Any,
                                                     keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    number, _ = reviewed(server, w)
    emu.set_permission(w.repo_name, "stranger", "read")
    runs_before = len(completed(w))
    for _ in range(2):
        cid = emu.add_comment(w.repo_name, number, author="stranger", body="/recheck")
        status, _ = server.deliver("issue_comment", "created", repo=w.repo_name, number=number, comment_id=cid,
                                   installation=w.installation)  # fmt: skip
        assert status == 202
    wait_for(lambda: len(w.bot_comments(number)) == 2)
    time.sleep(2.0)  # the second command is handled too: it must not add another reply
    replies = [c for c in w.bot_comments(number) if "<!-- falco-rules-bot:review -->" not in c["body"]]
    assert len(replies) == 1
    assert "write access" in replies[0]["body"]
    assert len(completed(w)) == runs_before


def test_help_lists_the_commands(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                 tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    number, _ = reviewed(server, w)
    cid = emu.add_comment(w.repo_name, number, author="stranger", body="@falco-rules-bot help")
    server.deliver("issue_comment", "created", repo=w.repo_name, number=number, comment_id=cid,
                   installation=w.installation)  # fmt: skip
    reply = wait_for(
        lambda: [
            c
            for c in w.bot_comments(number)
            if "/recheck" in c["body"] and "<!-- falco-rules-bot:review -->" not in c["body"]
        ]
    )
    assert "write" in reply[0]["body"]


def test_a_redelivered_webhook_is_reviewed_once(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                                tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    first = server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation,
                           delivery="7f0b8e4e-0000-4000-8000-000000000001")  # fmt: skip
    again = server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation,
                           delivery="7f0b8e4e-0000-4000-8000-000000000001")  # fmt: skip
    assert (first[0], again[0]) == (202, 200)
    w.completed_run()
    time.sleep(1.5)
    assert len(completed(w)) == 1
    assert len(w.bot_comments(number)) == 1


def test_a_burst_of_pushes_reviews_the_last_head_once(server: BotServer, emu: Emulator, app: Any,
                                                      keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    heads = []
    for i in range(10):
        w.add_rule_commit(f"# change {i}\n", message=f"Change {i}")
        w.push(number)
        heads.append(w.head())
        status, _ = server.deliver("pull_request", "synchronize", repo=w.repo_name, number=number,
                                   installation=w.installation)  # fmt: skip
        assert status == 202
    w.completed_run(heads[-1])
    time.sleep(1.5)
    assert len(completed(w, heads[-1])) == 1
    assert all(completed(w, h) == [] for h in heads[:-1])
    assert len(w.bot_comments(number)) == 1


def test_jobs_pending_at_a_crash_run_after_restart(emu: Emulator, app: Any, keys: dict[str, Key],
                                                   tmp_path: Path) -> None:  # fmt: skip
    data = tmp_path / "data"
    slow = BotServer(emu, app, data, REVIEW_DELAY_SECONDS="30").start()
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    status, _ = slow.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    assert status == 202
    slow.stop(kill=True)  # SIGKILL: no chance to finish or hand anything over
    assert completed(w) == []
    again = BotServer(emu, app, data).start()
    try:
        assert w.completed_run()["conclusion"] == "success"
        assert len(w.bot_comments(number)) == 1
    finally:
        again.stop()


def test_a_502_storm_and_a_secondary_rate_limit(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                                tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    emu.faults.add(route="POST /graphql", status=502, times=3)
    emu.faults.add(route="POST /repos/{owner}/{repo}/check-runs", status=403, times=1, secondary_rate_limit=True,
                   retry_after=1)  # fmt: skip
    mark = emu.mark()
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    assert w.completed_run(timeout=90)["conclusion"] == "success"
    time.sleep(1.0)
    assert len(completed(w)) == 1
    assert len(w.bot_comments(number)) == 1
    assert len(emu.calls_since(mark)) <= 15


def test_an_installation_token_that_expires_mid_review(server: BotServer, emu: Emulator, app: Any,
                                                       keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    old_ttl = emu.token_ttl
    emu.token_ttl = 2
    try:
        emu.faults.add(route="POST /graphql", status=None, times=2, delay=1.5)
        mark = emu.mark()
        server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
        assert w.completed_run(timeout=60)["conclusion"] == "success"
        minted = "POST /app/installations/{installation_id}/access_tokens"
        calls = emu.calls_since(mark)
        assert len([c for c in calls if c.route == minted]) >= 2  # the short-lived token was renewed in the review
        assert [c.route for c in calls if c.status == 401] == []  # and never used once expired
    finally:
        emu.token_ttl = old_ttl


def test_a_review_that_cannot_finish_says_so(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                             tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    # Refused outright (as when an installation lacks a permission): not worth retrying.
    emu.faults.add(route="POST /graphql", status=403, times=1, message="Resource not accessible by integration")
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    run = w.completed_run()
    assert run["conclusion"] == "failure"
    assert run["output"]["title"] == "Review could not finish"
    assert "/recheck" in run["output"]["summary"]
    assert "not a pass" in run["output"]["summary"]
    emu.set_permission(w.repo_name, "maintainer", "write")
    cid = emu.add_comment(w.repo_name, number, author="maintainer", body="/recheck")
    server.deliver("issue_comment", "created", repo=w.repo_name, number=number, comment_id=cid,
                   installation=w.installation)  # fmt: skip
    wait_for(lambda: [r for r in completed(w) if r["conclusion"] == "success"])
    assert len(w.bot_comments(number)) == 1


def test_serve_refuses_to_start_without_a_webhook_secret(emu: Emulator, app: Any, tmp_path: Path) -> None:
    bot = BotServer(emu, app, tmp_path / "data")
    env = {k: v for k, v in bot.env().items() if k != "GITHUB_WEBHOOK_SECRET"}
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", str(bot.port)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET is not set" in proc.stderr
