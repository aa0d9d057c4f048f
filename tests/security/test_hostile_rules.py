"""Rules files built to hurt, arriving through a pull request: the review ends with findings within a bounded
time, and the worker is still healthy afterwards."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")

RULE = "- rule: R{n}\n  desc: d.\n  condition: {cond}\n  output: x\n  priority: INFO\n"


def alias_bomb() -> str:  # the billion laughs of tests/unit/test_hostile.py
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "- list: defs\n  items: [x]\n  extra:\n    " + "\n    ".join(lines) + "\n- list: bomb\n  items: *a9\n"


def huge_file() -> str:  # over the 10 MiB default limit
    return "# " + "x" * (11 * 1024 * 1024) + "\n"


def pathological_condition() -> str:
    deep = "(" * 50_000 + "evt.type = open" + ")" * 50_000
    items = ", ".join(f"binary_number_{i}" for i in range(3000))
    many = f"- list: many\n  items: [{items}]\n- macro: m\n  condition: proc.name in (many)\n"
    chained = " and ".join(["m"] * 2000)
    return RULE.format(n=1, cond=deep) + many + RULE.format(n=2, cond=f"evt.type = execve and {chained}")


def test_rules_files_built_to_hurt_get_a_finding_and_the_worker_survives(server: BotServer, emu: Emulator,
                                                                          app: Any, keys: dict[str, Key],
                                                                          tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit(alias_bomb(), path="rules/bomb_rules.yaml", message="Bomb")
    w.add_rule_commit(huge_file(), path="rules/huge_rules.yaml", message="Huge")
    w.add_rule_commit(pathological_condition(), path="rules/slow_rules.yaml", message="Slow")
    number = w.open()
    started = time.monotonic()
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    run = w.completed_run(timeout=60)
    took = time.monotonic() - started
    assert run["conclusion"] == "failure"
    body = wait_for(lambda: w.bot_comments(number))[0]["body"]
    for code in ("LOAD_ERR_YAML_PARSE", "LOAD_ERR_FILE_READ", "LOAD_ERR_COMPILE_CONDITION"):
        assert code in body, code
    assert took < 45, f"the review took {took:.1f} s"
    # the server process is alive, answers, and its resident memory stayed bounded
    assert server.proc is not None and server.proc.poll() is None
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    with open(f"/proc/{server.proc.pid}/status") as status:
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    assert rss_kib < 1024 * 1024, f"{rss_kib} KiB resident"
    # and a normal pull request afterwards is reviewed as usual
    ok = World(emu, app, keys, tmp_path)
    ok.add_rule_commit()
    good = ok.open()
    server.deliver("pull_request", "opened", repo=ok.repo_name, number=good, installation=ok.installation)
    assert ok.completed_run(timeout=40)["conclusion"] == "success"
    assert len(ok.bot_comments(good)) == 1
