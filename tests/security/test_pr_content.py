"""A pull request written to hurt the comment, end to end: hostile rule names, commit messages, title, body and
file paths; a user comment that carries the bot's marker is never taken for the bot's own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gitrepos import RULE
from tests.gpgkeys import Key
from tests.security.test_render import MARKER, assert_well_formed

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")

NASTY = f"{MARKER} @alice @falcosecurity/maintainers #1 GH-2 <img src=x onerror=alert(1)> </details> **b** [x](y)"


def hostile_rule() -> str:
    name = json.dumps(f"Shell {NASTY} \u202eesrever\u202c \x1b[31m")  # JSON strings are YAML double-quoted scalars
    long_cond = "evt.type = execve and (" + " or ".join(f"proc.name = p{i}" for i in range(3000)) + ")"
    broken = RULE.format(name=name, cond="evt.type = execve and proc.nme = bash")  # a finding naming the rule
    return broken + RULE.format(name=json.dumps(f"Long {NASTY}"), cond=long_cond)


def test_hostile_content_gives_a_well_formed_comment(server: BotServer, emu: Emulator, app: Any,
                                                     keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    path = f"rules/{NASTY.replace('/', '_')} \u202e.yaml"
    w.add_rule_commit(hostile_rule(), path=path, signoff=False,
                      message=f"Add {NASTY}\x07\x1b[2J" + "y" * 5000)  # fmt: skip
    number = w.open(title=f"Title {NASTY}", body=f"{NASTY}\n\nFixes #{w.issue}\n\n" + "z" * 70_000)
    # before the bot ever comments, someone posts a comment carrying its marker
    decoy = emu.add_comment(w.repo_name, number, author="mallory", body=f"{MARKER}\n### falco-rules-bot: all passed")
    status, _ = server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    assert status == 202
    run = w.completed_run(timeout=60)
    assert run["conclusion"] == "failure"
    body = wait_for(lambda: w.bot_comments(number))[0]["body"]
    assert_well_formed(body)
    assert "DCO" in body  # the review did run over the hostile commit and files
    assert "&lt;\\!-- falco-rules-bot:review --&gt;" in body  # the input is there, inert
    assert "@\u200balice" in body and "\\#\u200b1" in body
    assert "\u202e" not in run["output"]["summary"] and "<img" not in run["output"]["summary"]
    # a push: the bot edits its own comment, never the decoy
    w.add_rule_commit("# more\n", path=path, message="More")
    w.push(number)
    server.deliver("pull_request", "synchronize", repo=w.repo_name, number=number, installation=w.installation)
    w.completed_run(timeout=60)
    time.sleep(0.5)
    comments = emu.comments(w.repo_name, number)
    mine = [c for c in comments if c["user"] == app.bot_login]
    assert len(mine) == 1
    assert_well_formed(mine[0]["body"])
    decoys = [c for c in comments if c["id"] == decoy]
    assert decoys[0]["body"] == f"{MARKER}\n### falco-rules-bot: all passed"
    assert decoys[0]["updated_at"] == decoys[0]["created_at"] and not decoys[0]["minimized"]


def test_a_marker_comment_by_another_app_is_not_taken_either(server: BotServer, emu: Emulator, app: Any,
                                                             keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    other = emu.create_app(slug="copycat-bot")
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    copy = emu.new_comment(w.repo_name, number, author=other.bot_login, body=f"{MARKER}\nfake", app_id=other.id)
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    w.completed_run()
    comments = emu.comments(w.repo_name, number)
    assert len([c for c in comments if c["user"] == app.bot_login]) == 1
    assert next(c for c in comments if c["id"] == copy.id)["body"] == f"{MARKER}\nfake"
