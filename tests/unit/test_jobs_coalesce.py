"""Coalescing and crash recovery of review jobs: the parts decided by the store, before any GitHub call.

The settings carry no App credentials: a job that reached GitHub would fail with "credentials not
configured", so a request ending `superseded` or `done` here proves no GitHub call was attempted.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.jobs import Jobs, html_base
from bot.settings import load_settings
from bot.store import Delivery, InstallationUpdate, NewRequest, Store


@pytest.fixture
def jobs(tmp_path: Path) -> Jobs:
    settings = load_settings(data_dir=str(tmp_path), github_webhook_secret="s", github_app_id=None,
                             github_private_key=None, github_private_key_path=None, review_max_attempts=2,
                             database_url=None, queue_path=None, redis_url=None)  # fmt: skip
    store = Store(settings.database())
    store.migrate()
    return Jobs(settings, store)


def request(jobs: Jobs, number: int = 1, head: str | None = "a" * 40, kind: str = "review") -> int:
    details = {"body": "hello", "login": "someone"} if kind == "comment" else None
    new = NewRequest("falco/rules", number, 7, "pull_request.synchronize", head_sha=head, kind=kind, details=details)
    return jobs.store.add_review_request(new)


def state(jobs: Jobs, rid: int) -> tuple[str, str | None]:
    req = jobs.store.get_request(rid)
    assert req is not None
    return req.state, req.outcome


def test_a_burst_leaves_only_the_newest_request(jobs: Jobs) -> None:
    ids = [request(jobs, head=f"{i:040x}") for i in range(5)]
    for rid in ids[:-1]:
        jobs.run(rid)
    assert [state(jobs, rid)[0] for rid in ids[:-1]] == ["superseded"] * 4
    assert state(jobs, ids[-1])[0] == "queued"
    gens = [jobs.store.get_request(rid).generation for rid in ids]  # type: ignore[union-attr]
    assert gens == sorted(gens) and len(set(gens)) == 5


def test_the_newest_request_goes_on_to_github(jobs: Jobs) -> None:
    rid = request(jobs)
    jobs.run(rid)
    current, outcome = state(jobs, rid)
    assert current == "failed"  # it went on to GitHub, and the server has no credentials: fail closed
    assert outcome is not None and "GITHUB_APP_ID" in outcome


def test_a_newer_comment_does_not_supersede_a_review(jobs: Jobs) -> None:
    rid = request(jobs)
    request(jobs, kind="comment")
    assert not jobs.store.newer_request_exists(jobs.store.get_request(rid))  # type: ignore[arg-type]


def test_other_pull_requests_do_not_coalesce(jobs: Jobs) -> None:
    first = request(jobs, number=1)
    request(jobs, number=2)
    assert not jobs.store.newer_request_exists(jobs.store.get_request(first))  # type: ignore[arg-type]


def test_a_duplicate_message_does_nothing(jobs: Jobs) -> None:
    rid = request(jobs)
    request(jobs)
    jobs.run(rid)
    jobs.run(rid)
    req = jobs.store.get_request(rid)
    assert req is not None and (req.state, req.attempts) == ("superseded", 1)


def test_a_locked_pull_request_is_retried_later(jobs: Jobs) -> None:
    rid = request(jobs)
    assert jobs.store.acquire_pr_lock("falco/rules", 1, "another-worker", ttl=600)
    before = jobs.huey.scheduled_count() + jobs.huey.pending_count()
    jobs.run(rid)
    req = jobs.store.get_request(rid)
    assert req is not None and (req.state, req.attempts) == ("queued", 0)
    assert jobs.huey.scheduled_count() + jobs.huey.pending_count() == before + 1


def test_a_suspended_installation_is_not_reviewed(jobs: Jobs) -> None:
    jobs.store.record_delivery(Delivery("d", "installation", "suspend"), installation=InstallationUpdate(7, "x", (),
                               suspended=True))  # fmt: skip
    rid = request(jobs)
    jobs.run(rid)
    assert state(jobs, rid) == ("done", "installation suspended or removed")


def test_a_job_interrupted_too_often_fails_closed(jobs: Jobs) -> None:
    rid = request(jobs)
    for n in range(2):  # two runs that died mid-review (their lease ran out)
        assert jobs.store.claim(rid, f"dead-{n}", lease=-1) is not None
    jobs.run(rid)
    current, outcome = state(jobs, rid)
    assert current == "failed" and outcome is not None and "interrupted" in outcome


def test_recovery_requeues_what_a_killed_process_held(jobs: Jobs) -> None:
    dead = f"{jobs.host}:999999:gone"  # no such process
    rid = request(jobs)
    jobs.store.claim(rid, dead, lease=600)
    jobs.store.acquire_pr_lock("falco/rules", 1, dead, ttl=600)
    queued = request(jobs, number=2)
    assert jobs.recover() == 2
    assert state(jobs, rid)[0] == "queued" and state(jobs, queued)[0] == "queued"
    assert jobs.store.owners() == set()
    assert jobs.huey.pending_count() + jobs.huey.scheduled_count() >= 2


def test_recovery_leaves_live_workers_alone(jobs: Jobs) -> None:
    rid = request(jobs)
    other = f"{jobs.host}:1:another"  # pid 1 is alive
    jobs.store.claim(rid, other, lease=600)
    jobs.recover()
    assert state(jobs, rid)[0] == "running"


def test_the_sweeper_enqueues_requests_whose_lease_ran_out(jobs: Jobs) -> None:
    rid = request(jobs)
    jobs.store.claim(rid, "somewhere-else:1:x", lease=-1)
    assert jobs.sweep() == 1
    assert jobs.sweep() == 0
    assert jobs.huey.pending_count() == 1
    jobs.run(rid)  # what the consumer would do with the message
    assert state(jobs, rid)[0] == "failed"  # reached GitHub (no credentials here)


def test_the_queue_answers(jobs: Jobs) -> None:
    jobs.ping()
    jobs.enqueue(1, delay=0.0)
    jobs.enqueue(2, delay=30.0)
    assert jobs.huey.pending_count() == 2  # a delayed message waits in the queue until a worker schedules it


def test_the_embedded_consumer_starts_and_stops(jobs: Jobs) -> None:
    rid = request(jobs)
    jobs.start_consumer()
    try:
        jobs.enqueue(rid)
        deadline = time.monotonic() + 10
        while state(jobs, rid)[0] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        jobs.stop_consumer()
    assert state(jobs, rid)[0] == "failed"


def test_html_base() -> None:
    assert html_base("https://api.github.com") == "https://github.com"
    assert html_base("https://ghe.example.com/api/v3/") == "https://ghe.example.com"
    assert html_base("http://127.0.0.1:9000") == "http://127.0.0.1:9000"


def test_requests_due_together_travel_as_one_message_fanned_out_when_due(jobs: Jobs) -> None:
    ids = [request(jobs, number=n) for n in (1, 2, 3)]
    jobs.enqueue_many([(rid, 0.0) for rid in ids] + [(request(jobs, number=4), 30.0)])
    assert jobs.huey.pending_count() == 2  # one message for the three due now, one for the one due later
    messages = [jobs.huey.dequeue() for _ in range(2)]
    [dispatch] = [m for m in messages if m.name.endswith("dispatch")]
    assert dispatch.args == (ids,)
    jobs.huey.execute(dispatch)  # a worker takes it: one message per request, for any worker
    fanned = [jobs.huey.dequeue() for _ in range(jobs.huey.pending_count())]
    assert sorted(m.args[0] for m in fanned) == ids
    for message in fanned:
        jobs.huey.execute(message)
    assert [state(jobs, rid)[0] for rid in ids] == ["failed"] * 3  # each went on to its review (no credentials)
