"""Reliability in both modes (the `server` fixture): GitHub failing on a share of its calls, and 200 pushes to 20
pull requests in 10 seconds."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.gitrepos import ALICE
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
REVIEWED = re.compile(r"Reviewed ([0-9a-f]{12})")


def completed(w: World, sha: str) -> list[dict[str, Any]]:
    return [r for r in w.runs(sha) if r["name"] == "falco-rules-bot" and r["status"] == "completed"]


def test_github_failing_on_a_share_of_calls(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                            tmp_path: Path) -> None:  # fmt: skip
    worlds = []
    for _ in range(3):
        w = World(emu, app, keys, tmp_path)
        w.add_rule_commit()
        worlds.append((w, w.open()))
    # Every fourth call fails with a 502; GraphQL also answers two 429s asking for a second's patience, leaves one
    # call unanswered past the bot's timeout, and a check run meets a secondary rate limit.
    emu.faults.add(route="*", status=502, every=4, times=None)
    emu.faults.add(route="POST /graphql", status=429, every=3, times=2, retry_after=1)
    emu.faults.add(route="POST /graphql", status=None, delay=9.0, times=1)  # GITHUB_TIMEOUT_SECONDS is 8
    emu.faults.add(route="POST /repos/{owner}/{repo}/check-runs", secondary_rate_limit=True, retry_after=1, times=1)
    mark = emu.mark()
    try:
        for w, number in worlds:
            status, _ = server.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                       installation=w.installation)  # fmt: skip
            assert status == 202
        for w, _ in worlds:
            assert w.completed_run(timeout=120)["conclusion"] == "success"
    finally:
        emu.faults.clear()
    time.sleep(1.5)
    for w, number in worlds:
        assert len(completed(w, w.head())) == 1 and len(w.runs()) == 1
        assert len(w.bot_comments(number)) == 1
    calls = [c for c in emu.calls_since(mark) if not c.path.endswith(".git") and "/info/refs" not in c.path]
    failed = [c for c in calls if c.status >= 400]
    assert len(failed) >= 6  # the faults did fire
    # Bounded: three clean reviews take at most 3 x 6 calls; with a quarter of them failing, each failure costs
    # one retry (a write re-reads what it may have done first: two), never a storm.
    assert len(calls) <= 3 * 6 + 2 * len(failed) + 3, [(c.route, c.status) for c in calls]
    for i, call in enumerate(calls):  # Retry-After honoured: the same installation does not ask again sooner
        if call.status in (429, 403):
            later = [c for c in calls[i + 1 :] if c.route == call.route and c.installation == call.installation]
            assert later and later[0].at - call.at >= 0.95, (call.route, later[0].at - call.at if later else None)


def test_200_pushes_to_20_pull_requests_in_10_seconds(server: BotServer, emu: Emulator, app: Any,
                                                      keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    """20 contributors push 10 times each, all at once, to 20 pull requests of 4 repositories (installations):
    each pull request's last head is reviewed once, and no review of an older head lands over a newer one's.
    (GitHub asks for a second between two writes of one installation: that, not the bot, bounds how soon the
    last reviews land; the 4 installations let them land in parallel.)"""
    pushes = 10
    worlds = [World(emu, app, keys, tmp_path) for _ in range(4)]
    pulls: list[tuple[World, int, list[str]]] = []  # (world, number, heads)
    for w in worlds:
        w.add_rule_commit()
        names = []
        for p in range(5):  # every head made beforehand: a branch per pull request and push
            w.repo.git("checkout", "-q", "-B", f"pr{p}", "feature")
            heads = []
            for k in range(pushes + 1):
                w.repo.write(f"rules/pr{p}_rules.yaml", f"# pull request {p}, push {k}\n")
                w.repo.commit(f"Change {k} of pull request {p}", ALICE, signoff=ALICE)
                w.repo.git("branch", "-f", f"pr{p}-{k}")
                heads.append(w.repo.git("rev-parse", "HEAD"))
                names.append(f"pr{p}-{k}")
            number = emu.open_pull_request(w.repo_name, source=str(w.repo.path), head_ref=f"pr{p}-0", base="main",
                                           title=f"Change {p}", body=f"Fixes #{w.issue}", author="alice")  # fmt: skip
            pulls.append((w, number, heads))
        emu.stage_commits(w.repo_name, w.repo.path, names)
    for w, number, _ in pulls:
        status, _ = server.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                   installation=w.installation)  # fmt: skip
        assert status == 202
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(pulls))

    def push_all(w: World, number: int, heads: list[str]) -> None:  # one contributor per pull request
        barrier.wait()
        for k in range(1, pushes + 1):
            emu.push_pull_request(w.repo_name, number, sha=heads[k])
            status, _ = server.deliver("pull_request", "synchronize", repo=w.repo_name, number=number,
                                       installation=w.installation)  # fmt: skip
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=push_all, args=pull) for pull in pulls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * (len(pulls) * pushes)  # 200 pushes, each acknowledged
    for w, number, heads in pulls:
        assert emu.issue(w.repo_name, number).head_sha == heads[-1]
    wait_for(lambda: all(completed(w, heads[-1]) for w, _, heads in pulls), timeout=180, interval=0.5)
    time.sleep(2.0)
    for w, number, heads in pulls:
        assert len(completed(w, heads[-1])) == 1  # each pull request's last head reviewed once
        assert all(len(completed(w, sha)) <= 1 for sha in heads)  # and no head twice
        [comment] = w.bot_comments(number)  # one comment per pull request, edited in place
        order = [next(k for k, sha in enumerate(heads) if sha.startswith(h))
                 for body in emu.comment_history(comment["id"]) for h in REVIEWED.findall(body)]  # fmt: skip
        assert order == sorted(order), order  # never an older head's review over a newer one's
        assert order[-1] == pushes
