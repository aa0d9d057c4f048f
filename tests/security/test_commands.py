"""`/recheck` as a weapon: from people without write access, from bots, in edited comments, in code and quotes,
and a flood of them from a maintainer."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.commands import parse_commands
from bot.gpg import gpg_available
from bot.web.events import plan
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gpgkeys import Key
from tests.security.test_webhooks import store_of

MARKER = "<!-- falco-rules-bot:review -->"
NOT_COMMANDS = [
    "```\n/recheck\n```",
    "~~~~\n/recheck\n~~~~",
    "    /recheck",
    "\t/recheck",
    "> /recheck",
    "  > > /recheck",
    "please /recheck",
    "`/recheck`",
    "/recheck now",
    "/rechecks",
    "@falco-rules-bot recheckplease",
    "@someone-else recheck",
    "<!-- /recheck -->",
]


@pytest.mark.parametrize("body", NOT_COMMANDS)
def test_commands_hidden_in_code_quotes_or_prose_are_not_commands(body: str) -> None:
    assert parse_commands(body, "falco-rules-bot") == []


def test_an_unclosed_fence_hides_everything_after_it() -> None:
    assert parse_commands("```\nnot closed\n/recheck\n", "falco-rules-bot") == []
    assert parse_commands("```\ncode\n```\n/recheck", "falco-rules-bot") == ["recheck"]


def _comment_payload(action: str, sender_type: str = "User", via_app: bool = False) -> dict[str, Any]:
    user = {"login": "someone", "type": sender_type}
    return {"action": action, "repository": {"full_name": "o/r"}, "installation": {"id": 1},
            "issue": {"number": 2, "pull_request": {"url": "x"}}, "sender": user,
            "comment": {"id": 3, "body": "/recheck", "user": user,
                        "performed_via_github_app": {"id": 9} if via_app else None}}  # fmt: skip


@pytest.mark.parametrize(
    ("action", "sender_type", "via_app"),
    [("edited", "User", False), ("deleted", "User", False), ("created", "Bot", False), ("created", "User", True)],
    ids=["edited", "deleted", "from-a-bot", "via-an-app"],
)
def test_comments_that_never_become_jobs(action: str, sender_type: str, via_app: bool) -> None:
    assert not plan("issue_comment", _comment_payload(action, sender_type, via_app), "falco-rules-bot").relevant
    assert plan("issue_comment", _comment_payload("created"), "falco-rules-bot").relevant  # the control


# ---------------------------------------------------------------------------------------------- end to end

e2e = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")


def completed(w: World) -> list[dict[str, Any]]:
    return [r for r in w.runs() if r["name"] == "falco-rules-bot" and r["status"] == "completed"]


def reviewed(server: BotServer, w: World) -> int:
    w.add_rule_commit()
    number = w.open()
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    w.completed_run()
    return number


@e2e
def test_recheck_that_must_not_run_a_review(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                            tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    number = reviewed(server, w)
    runs = len(completed(w))
    emu.set_permission(w.repo_name, "stranger", "read")
    emu.set_permission(w.repo_name, "maintainer", "write")
    other = emu.create_app(slug="helper-bot")

    def say(author: str, body: str, action: str = "created", **extra: Any) -> int:
        cid = emu.add_comment(w.repo_name, number, author=author, body=body)
        status, _ = server.deliver("issue_comment", action, repo=w.repo_name, number=number, comment_id=cid,
                                   installation=w.installation, **extra)  # fmt: skip
        assert status in (200, 202)
        return cid

    for _ in range(3):  # someone without write access: one polite reply, however often they ask
        say("stranger", "/recheck")
    say(other.bot_login, "/recheck")  # a bot
    say("maintainer", "/recheck", action="edited", changes={"body": {"from": "typo"}})  # an edited comment
    say("maintainer", "```\n/recheck\n```")  # in a code block
    say("maintainer", "> /recheck")  # in a quote
    wait_for(lambda: len(w.bot_comments(number)) == 2)
    time.sleep(1.5)
    replies = [c for c in w.bot_comments(number) if MARKER not in c["body"]]
    assert len(replies) == 1 and "write access" in replies[0]["body"]
    assert "@stranger" in replies[0]["body"]  # the one mention the bot makes is of the person who asked
    assert len(completed(w)) == runs


@e2e
def test_a_flood_of_rechecks_coalesces(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                       tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    number = reviewed(server, w)
    emu.set_permission(w.repo_name, "maintainer", "maintain")
    ids = [emu.add_comment(w.repo_name, number, author="maintainer", body="/recheck") for _ in range(100)]

    def deliver(cid: int) -> int:
        status, _ = server.deliver("issue_comment", "created", repo=w.repo_name, number=number, comment_id=cid,
                                   installation=w.installation)  # fmt: skip
        return status

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(deliver, ids)) == {202}
    store = store_of(server)

    def handled() -> bool:
        jobs = store.requests_for(w.repo_name, number, kind="comment")
        return len(jobs) == 100 and all(j.state not in ("queued", "running") for j in jobs)

    wait_for(handled, timeout=40)
    assert {j.outcome for j in store.requests_for(w.repo_name, number, kind="comment")} == {"recheck queued"}
    store.close()
    assert sum("eyes" in emu.reactions(c) for c in ids) == 1  # one acknowledgement, not 100 paced writes
    wait_for(lambda: len(completed(w)) >= 2, timeout=60)
    time.sleep(2.0)  # anything still to come would show now
    reruns = len(completed(w)) - 1
    assert 1 <= reruns <= 3, f"{reruns} reviews ran for 100 /recheck comments"
    # the review comment itself: see test_the_review_comment_survives_100_later_comments
    assert time.monotonic() - started < 60


@e2e
def test_the_review_comment_survives_100_later_comments(server: BotServer, emu: Emulator, app: Any,
                                                     keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    number = reviewed(server, w)
    for i in range(100):  # anyone can comment: no write access needed to push the bot's comment out of view
        emu.add_comment(w.repo_name, number, author="stranger", body=f"spam {i}")
    w.add_rule_commit("# more\n", message="More")
    w.push(number)
    server.deliver("pull_request", "synchronize", repo=w.repo_name, number=number, installation=w.installation)
    w.completed_run()
    time.sleep(0.5)
    comments = w.bot_comments(number)
    assert len(comments) == 1  # round trip 2 shows the last 100 comments only; the store remembers the bot's
    assert w.head()[:12] in comments[0]["body"]  # edited in place to the new head
