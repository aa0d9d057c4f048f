"""Scale-out mode only (the other scenarios run in both modes through the `server` fixture): web processes that
only enqueue, one job for a delivery sent to several web processes at once, and a worker killed mid-review."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.gpg import gpg_available
from bot.store import Store
from tests.e2e.harness import ScaleOutGroup, World, wait_for
from tests.emulator import Emulator
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
DELIVERY = "5ca1e0a7-0000-4000-8000-000000000005"


@pytest.fixture(scope="module")
def group(emu: Emulator, app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOutGroup]:
    with ScaleOutGroup(emu, app, tmp_path_factory.mktemp("scaleout")) as bot:
        yield bot


def completed(w: World) -> list[dict[str, Any]]:
    return [r for r in w.runs() if r["name"] == "falco-rules-bot" and r["status"] == "completed"]


def test_serve_only_enqueues_and_a_worker_reviews(emu: Emulator, app: Any, keys: dict[str, Key],
                                                  tmp_path: Path) -> None:  # fmt: skip
    bot = ScaleOutGroup(emu, app, tmp_path / "data", webs=1, workers=0).start()
    try:
        w = World(emu, app, keys, tmp_path)
        w.add_rule_commit()
        number = w.open()
        status, _ = bot.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
        assert status == 202
        time.sleep(2.5)  # well past the debounce delay: no consumer runs inside `serve`
        assert completed(w) == []
        bot.start_worker()
        assert w.completed_run()["conclusion"] == "success"
        assert len(w.bot_comments(number)) == 1
    finally:
        bot.stop()


def test_one_delivery_sent_to_every_web_process_at_once_is_one_job(
    group: ScaleOutGroup, emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path
) -> None:
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def send(i: int) -> None:
        barrier.wait()
        web = group.webs[i % len(group.webs)]
        status, _ = web.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                installation=w.installation, delivery=DELIVERY)  # fmt: skip
        statuses.append(status)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 5 + [202]  # one acknowledged as new, the rest as duplicates, none failed
    w.completed_run()
    time.sleep(1.5)
    assert len(completed(w)) == 1
    assert len(w.bot_comments(number)) == 1


def test_a_worker_killed_mid_review_is_taken_over(group: ScaleOutGroup, emu: Emulator, app: Any,
                                                  keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    emu.faults.add(route="POST /graphql", status=None, delay=8.0, times=1)  # the first review hangs on GitHub
    store = Store(group.database_url)
    try:
        status, _ = group.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                  installation=w.installation)  # fmt: skip

        def holder() -> str | None:
            running = [r for r in store.requests_for(w.repo_name, number) if r.state == "running"]
            return running[0].lease_owner if running else None

        owner = wait_for(holder, timeout=20)
        assert status == 202
        pid = int(owner.split(":")[1])
        assert pid != os.getpid()
        group.kill_worker(pid)  # SIGKILL in the middle of the review
        group.start_worker()  # the process manager starts a new one: it releases what the dead one held
        run = w.completed_run(timeout=60)
        assert run["conclusion"] == "success"
        time.sleep(1.5)
        assert len(completed(w)) == 1
        assert len(w.runs()) == 1  # one check run in all
        assert len(w.bot_comments(number)) == 1
        done = [r for r in store.requests_for(w.repo_name, number) if r.state == "done"]
        assert len(done) == 1 and done[0].lease_owner != owner and done[0].attempts == 2
    finally:
        store.close()
