"""Scale-out mode when its own services fail: Redis restarted with jobs queued, PostgreSQL stopped during a review and
while webhooks arrive, and a worker that stalls past its lease. Each test runs its own Redis or PostgreSQL (so it can
stop them) and ends with nothing lost and nothing published twice."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client

from bot.gpg import gpg_available
from bot.store import Store
from tests.e2e.harness import ScaleOutGroup, World, wait_for
from tests.emulator import Emulator
from tests.gpgkeys import Key
from tests.scaleout import servers

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
# Short grace, sweep and lease periods, so that what the defaults do in minutes happens here in seconds.
FAST = {"QUEUE_GRACE_SECONDS": "2", "SWEEP_INTERVAL_SECONDS": "1", "REVIEW_LEASE_SECONDS": "6"}


@pytest.fixture(scope="module")
def own_redis() -> Iterator[servers.Redis]:
    servers.redis()  # skips (or fails under FRB_REQUIRE_SCALEOUT) when Redis and PostgreSQL cannot run here
    instance = servers.Redis()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[servers.Postgres]:
    servers.postgres()
    instance = servers.Postgres()
    yield instance
    instance.stop()


def pull_request(emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path) -> tuple[World, int]:
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    return w, w.open()


def reviewed_once(w: World, number: int) -> None:
    """The pull request's head has one completed, passing check run, and the pull request one bot comment."""
    assert w.completed_run(timeout=90)["conclusion"] == "success"
    time.sleep(1.0)
    assert [r["status"] for r in w.runs()] == ["completed"]
    assert len(w.bot_comments(number)) == 1


def test_redis_restarted_while_jobs_are_queued(emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path,
                                               own_redis: servers.Redis) -> None:  # fmt: skip
    bot = ScaleOutGroup(emu, app, tmp_path / "data", webs=1, workers=2, redis=own_redis,
                        REVIEW_DELAY_SECONDS="3", **FAST).start()  # fmt: skip
    try:
        pulls = [pull_request(emu, app, keys, tmp_path) for _ in range(4)]
        for w, number in pulls[:3]:
            status, _ = bot.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                    installation=w.installation)  # fmt: skip
            assert status == 202
        queue = redis_client.Redis.from_url(bot.redis_url)
        wait_for(lambda: queue.dbsize() > 0, timeout=5, interval=0.05)  # the three reviews wait in Redis
        own_redis.halt()  # gone, with everything it held
        w, number = pulls[3]
        status, _ = bot.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                installation=w.installation)  # fmt: skip
        assert status == 202  # stored in PostgreSQL: acknowledged, though it cannot be put on the queue now
        own_redis.resume()
        assert queue.dbsize() == 0  # the restarted Redis knows none of the four
        for w, number in pulls:  # the sweeper puts them back on the queue once their grace period is over
            reviewed_once(w, number)
    finally:
        bot.stop()


def test_postgresql_stopped_during_a_review_and_while_a_webhook_arrives(
    emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path, own_postgres: servers.Postgres
) -> None:
    bot = ScaleOutGroup(emu, app, tmp_path / "data", webs=1, workers=2, postgres=own_postgres, **FAST).start()
    store = Store(bot.database_url)
    try:
        (w1, n1), (w2, n2) = pull_request(emu, app, keys, tmp_path), pull_request(emu, app, keys, tmp_path)
        emu.faults.add(route="POST /graphql", status=None, delay=4.0, times=1)  # the review waits on GitHub
        status, _ = bot.deliver("pull_request", "opened", repo=w1.repo_name, number=n1, installation=w1.installation)
        assert status == 202
        wait_for(lambda: [r for r in store.requests_for(w1.repo_name, n1) if r.state == "running"], timeout=20)
        store.close()
        own_postgres.halt()  # mid-review: the worker's connections break, and the review cannot record anything
        payload, headers = emu.webhook("pull_request", "opened", repo=w2.repo_name, number=n2,
                                       installation=w2.installation, app=app)  # fmt: skip
        answer = bot.webs[0].post_raw(payload, headers)
        assert answer.status_code == 503  # not stored: GitHub shows a failed delivery, to be redelivered
        time.sleep(4.0)  # the review finishes its GitHub calls while the store is still down
        own_postgres.resume()
        assert bot.webs[0].post_raw(payload, headers).status_code == 202  # the redelivery, once the store is back
        reviewed_once(w1, n1)  # taken up again once its lease ran out, and published once
        reviewed_once(w2, n2)
        store = Store(bot.database_url)
        [done] = [r for r in store.requests_for(w1.repo_name, n1) if r.state == "done"]
        assert done.attempts >= 2
    finally:
        emu.faults.clear()
        store.close()
        bot.stop()


def test_a_worker_stalled_past_its_lease_is_taken_over_and_never_publishes(
    emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path
) -> None:
    bot = ScaleOutGroup(emu, app, tmp_path / "data", webs=1, workers=2, **FAST).start()
    store = Store(bot.database_url)
    stalled: int | None = None
    try:
        w, number = pull_request(emu, app, keys, tmp_path)
        emu.faults.add(route="POST /graphql", status=None, delay=2.0, times=1)
        bot.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
        owner = wait_for(lambda: next((r.lease_owner for r in store.requests_for(w.repo_name, number)
                                       if r.state == "running"), None), timeout=20)  # fmt: skip
        stalled = int(owner.split(":")[1])
        os.kill(stalled, signal.SIGSTOP)  # frozen mid-review, lease held: no crash, no restart
        reviewed_once(w, number)  # the other worker's sweeper hands the request out again after the lease
        [comment] = w.bot_comments(number)
        os.kill(stalled, signal.SIGCONT)
        time.sleep(4.0)  # the stalled worker wakes up, finishes its GitHub calls, finds the request is not its own
        assert len(emu.comment_history(comment["id"])) == 1  # it published nothing
        assert [r["status"] for r in w.runs()] == ["completed"]
        [done] = [r for r in store.requests_for(w.repo_name, number) if r.state == "done"]
        assert done.lease_owner != owner
    finally:
        if stalled is not None:
            os.kill(stalled, signal.SIGCONT)
        emu.faults.clear()
        store.close()
        bot.stop()
