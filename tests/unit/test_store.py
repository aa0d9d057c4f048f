"""The store on a real SQLite file and on a real PostgreSQL (started by the tests): migrations, delivery
dedupe, generations, leases, signatures, replies; and the races of several processes, each with its own Store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import (
    MIGRATIONS,
    QUEUE_GRACE,
    Delivery,
    InstallationUpdate,
    NewRequest,
    ReviewRecord,
    Store,
    StoreError,
)
from tests.scaleout import servers

T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store's URL: a SQLite file, or a database of the test run's own PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    return servers.postgres().fresh_url()


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def race(url: str, n: int, work: Callable[[Store, int], Any]) -> list[Any]:
    """`work(store, i)` in `n` threads at once, each with its own Store (its own connections, like processes)."""
    stores = [Store(url) for _ in range(n)]
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(stores[i], i)
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == []
    return results


def pr(number: int = 1, head: str | None = "a" * 40, **kw: object) -> NewRequest:
    return NewRequest("falco/rules", number, 7, "pull_request.opened", head_sha=head, **kw)  # type: ignore[arg-type]


def test_migrations_from_empty_and_again(url: str) -> None:
    latest = MIGRATIONS[-1][0]
    assert Store(url).migrate() == latest
    assert Store(url).migrate() == latest  # idempotent
    assert Store(url).count("schema_version") == len(MIGRATIONS)
    for table in ("deliveries", "review_requests", "reviews", "installations", "agreement_signatures", "replies",
                  "pr_locks"):  # fmt: skip
        assert Store(url).count(table) == 0


def test_two_processes_migrating_together(url: str) -> None:
    results = race(url, 6, lambda s, _i: s.migrate())
    assert results == [MIGRATIONS[-1][0]] * 6
    assert Store(url).count("schema_version") == len(MIGRATIONS)


def test_the_same_delivery_to_several_web_processes_is_one_job(store: Store, url: str) -> None:
    d = Delivery("guid-race", "pull_request", "synchronize", "falco/rules", 7)
    results = race(url, 8, lambda s, _i: s.record_delivery(d, [pr()]))
    assert sum(r is not None for r in results) == 1  # one 202; the others see a duplicate (200), none fails
    assert [r for r in results if r is not None] == [[1]]
    assert (store.count("deliveries"), store.count("review_requests")) == (1, 1)


def test_concurrent_requests_of_one_pull_request_get_distinct_generations(store: Store, url: str) -> None:
    race(url, 8, lambda s, i: s.record_delivery(Delivery(f"g{i}", "pull_request", "synchronize"), [pr()]))
    assert sorted(r.generation for r in store.requests_for("falco/rules", 1)) == list(range(1, 9))


def test_a_group_commit_records_a_batch_in_order_and_drops_its_duplicates(store: Store) -> None:
    store.record_delivery(Delivery("old", "pull_request", "opened"), [pr(1)], now=T0)
    batch = [
        (Delivery("a", "pull_request", "synchronize"), [pr(1)], None),
        (Delivery("old", "pull_request", "synchronize"), [pr(1)], None),  # seen before the batch
        (Delivery("b", "pull_request", "synchronize"), [pr(2), pr(1)], None),
        (Delivery("a", "pull_request", "synchronize"), [pr(1)], None),  # twice in the batch: the first counts
        (Delivery("c", "installation", "created"), [], InstallationUpdate(9, "falco", ("falco/rules",))),
    ]
    results = store.record_deliveries(batch, delay=2.0, now=T0 + 1)
    assert results == [[2], None, [3, 4], None, []]
    assert store.count("deliveries") == 4
    generations = {r.id: (r.number, r.generation, r.delivery_id) for r in store.requests_for("falco/rules", 1)}
    assert generations == {1: (1, 1, "old"), 2: (1, 2, "a"), 4: (1, 3, "b")}
    [second] = store.requests_for("falco/rules", 2)
    assert (second.id, second.generation, second.lease_until) == (3, 1, T0 + 1 + 2.0 + QUEUE_GRACE)
    installation = store.installation(9)
    assert installation is not None and installation.repositories == ("falco/rules",)
    assert store.record_deliveries([(Delivery("d", "pull_request", "opened"), [pr(3)], None)]) == [[5]]


def test_concurrent_batches_sharing_a_delivery_record_it_once_and_the_rest_of_each(store: Store, url: str) -> None:
    def batch(i: int) -> list[tuple[Delivery, list[NewRequest], None]]:
        return [(Delivery(f"own-{i}", "pull_request", "synchronize"), [pr(i + 10)], None),
                (Delivery("shared", "pull_request", "synchronize"), [pr(1)], None)]  # fmt: skip

    results = race(url, 6, lambda s, i: s.record_deliveries(batch(i)))
    assert all(r[0] is not None for r in results)  # every batch's own delivery is recorded
    assert sum(r[1] is not None for r in results) == 1  # the shared one exactly once
    assert store.count("deliveries") == 7 and store.count("review_requests") == 7
    ids = [i for r in results for part in r if part is not None for i in part]
    assert sorted(ids) == sorted(set(ids))


def test_one_worker_claims_a_job_and_one_holds_the_pr_lock(store: Store, url: str) -> None:
    rid = store.add_review_request(pr())
    claims = race(url, 8, lambda s, i: s.claim(rid, f"w{i}", lease=60))
    assert sum(c is not None for c in claims) == 1
    locks = race(url, 8, lambda s, i: s.acquire_pr_lock("falco/rules", 1, f"w{i}", ttl=60))
    assert locks.count(True) == 1


def test_a_delivery_is_recorded_once_with_its_requests(store: Store) -> None:
    d = Delivery("guid-1", "pull_request", "opened", "falco/rules", 7)
    ids = store.record_delivery(d, [pr()], now=T0)
    assert ids == [1]
    assert store.record_delivery(d, [pr()], now=T0 + 1) is None
    assert store.count("deliveries") == 1
    assert store.count("review_requests") == 1
    req = store.get_request(1)
    assert req is not None
    assert (req.state, req.attempts, req.delivery_id, req.generation) == ("queued", 0, "guid-1", 1)


def test_a_delivery_without_requests_is_still_recorded(store: Store) -> None:
    assert store.record_delivery(Delivery("guid-2", "star", "created")) == []
    assert store.record_delivery(Delivery("guid-2", "star", "created")) is None
    assert store.count("deliveries") == 1


def test_installations(store: Store) -> None:
    store.record_delivery(Delivery("i1", "installation", "created"),
                          installation=InstallationUpdate(9, "falco", ("falco/rules", "falco/x")))  # fmt: skip
    store.record_delivery(Delivery("i2", "installation_repositories", "removed"),
                          installation=InstallationUpdate(9, added=("falco/y",), removed=("falco/x",)))  # fmt: skip
    store.record_delivery(Delivery("i3", "installation", "suspend"), installation=InstallationUpdate(9, suspended=True))
    inst = store.installation(9)
    assert inst is not None
    assert (inst.account, inst.repositories, inst.suspended, inst.deleted) == ("falco", ("falco/rules", "falco/y"),
                                                                               True, False)  # fmt: skip
    store.record_delivery(Delivery("i4", "installation", "deleted"), installation=InstallationUpdate(9, deleted=True))
    assert store.installation(9).deleted  # type: ignore[union-attr]
    assert store.installation(10) is None


def test_generations_count_per_pull_request_and_kind(store: Store) -> None:
    a = store.add_review_request(pr(1))
    b = store.add_review_request(pr(1))
    c = store.add_review_request(pr(2))
    d = store.add_review_request(pr(1, kind="comment", details={"body": "/recheck"}))
    gens = {i: store.get_request(i).generation for i in (a, b, c, d)}  # type: ignore[union-attr]
    assert gens == {a: 1, b: 2, c: 1, d: 1}
    assert store.get_request(d).details == {"body": "/recheck"}  # type: ignore[union-attr]


def test_claim_is_exclusive_and_lease_expiry_lets_another_take_over(store: Store) -> None:
    rid = store.add_review_request(pr(), now=T0)
    first = store.claim(rid, "w1", lease=60, now=T0)
    assert first is not None and first.attempts == 1 and first.state == "running"
    assert store.claim(rid, "w2", lease=60, now=T0 + 30) is None  # held
    second = store.claim(rid, "w2", lease=60, now=T0 + 61)  # w1 died: its lease is over
    assert second is not None and second.lease_owner == "w2" and second.attempts == 2
    assert not store.finish(rid, "w1", "done", "late")  # the old owner no longer holds it
    assert store.finish(rid, "w2", "done", "reviewed")
    assert store.claim(rid, "w3", lease=60, now=T0 + 1000) is None  # done is final


def test_requeue_gives_the_job_back(store: Store) -> None:
    rid = store.add_review_request(pr(), now=T0)
    store.claim(rid, "w1", lease=60, now=T0)
    assert store.requeue(rid, "w1", delay=5, undo_attempt=True, now=T0)
    req = store.get_request(rid)
    assert req is not None and (req.state, req.attempts, req.lease_owner) == ("queued", 0, None)
    assert req.lease_until == T0 + 5 + QUEUE_GRACE


def test_due_requests_are_the_lost_and_the_abandoned(store: Store) -> None:
    lost = store.add_review_request(pr(1), now=T0)  # queued, its message lost
    fresh = store.add_review_request(pr(2), now=T0 + 100)
    dead = store.add_review_request(pr(3), now=T0)
    store.claim(dead, "w-dead", lease=30, now=T0)
    due = store.due_requests(now=T0 + QUEUE_GRACE + 1)
    assert sorted(r.id for r in due) == [lost, dead]
    assert fresh not in [r.id for r in due]
    assert store.due_requests(now=T0 + QUEUE_GRACE + 2) == []  # one sweep enqueues each once
    assert store.get_request(dead).state == "queued"  # type: ignore[union-attr]


def test_dead_owners_are_released(store: Store) -> None:
    rid = store.add_review_request(pr(), now=T0)
    store.claim(rid, "host:1:x", lease=600, now=T0)
    assert store.acquire_pr_lock("falco/rules", 1, "host:1:x", ttl=600, now=T0)
    assert store.owners() == {"host:1:x"}
    store.expire_owner("host:1:x")
    assert store.owners() == set()
    assert store.claim(rid, "host:2:y", lease=600, now=T0 + 1) is not None


def test_the_pr_lock_is_a_lease(store: Store) -> None:
    assert store.acquire_pr_lock("falco/rules", 1, "w1", ttl=10, now=T0)
    assert store.acquire_pr_lock("falco/rules", 1, "w1", ttl=10, now=T0 + 1)  # re-entrant for its owner
    assert not store.acquire_pr_lock("falco/rules", 1, "w2", ttl=10, now=T0 + 5)
    assert store.acquire_pr_lock("falco/rules", 2, "w2", ttl=10, now=T0 + 5)  # another PR
    assert store.acquire_pr_lock("falco/rules", 1, "w2", ttl=10, now=T0 + 12)  # w1's lock expired
    store.release_pr_lock("falco/rules", 1, "w1")  # not the owner any more: nothing happens
    assert not store.acquire_pr_lock("falco/rules", 1, "w3", ttl=10, now=T0 + 13)
    store.release_pr_lock("falco/rules", 1, "w2")
    assert store.acquire_pr_lock("falco/rules", 1, "w3", ttl=10, now=T0 + 13)


def test_signatures_are_unique_per_repository_and_login(store: Store) -> None:
    assert store.add_signature("falco/rules", "Alice", "https://x/1")
    assert not store.add_signature("falco/rules", "alice", "https://x/2")
    assert store.add_signature("falco/other", "alice", None)
    assert store.signatures("falco/rules") == ["alice"]


def test_one_reply_per_pull_request_and_hour(store: Store) -> None:
    assert store.take_reply_slot("falco/rules", 1, "unauthorised", 3600, now=T0)
    assert not store.take_reply_slot("falco/rules", 1, "unauthorised", 3600, now=T0 + 10)
    assert store.take_reply_slot("falco/rules", 1, "help", 3600, now=T0 + 10)
    assert store.take_reply_slot("falco/rules", 2, "unauthorised", 3600, now=T0 + 10)
    assert not store.take_reply_slot("falco/rules", 1, "unauthorised", 3600, now=T0 + 3599)
    assert store.take_reply_slot("falco/rules", 1, "unauthorised", 3600, now=T0 + 3600)


def test_reviews_and_heads(store: Store) -> None:
    store.add_review_request(pr(4, head="b" * 40))
    assert store.prs_with_head("falco/rules", "b" * 40) == [(4, 7)]
    assert store.latest_head("falco/rules", 4) == "b" * 40
    assert not store.has_review("falco/rules", 4, "b" * 40)
    store.record_review(ReviewRecord(1, "falco/rules", 4, "b" * 40, "c" * 40, "success", {"schema": "x"}, 11, 12))
    assert store.has_review("falco/rules", 4, "b" * 40)
    assert store.reviews_of("falco/rules", 4)[0].report == {"schema": "x"}
    assert store.last_comment_id("falco/rules", 4) == 11
    store.record_review(ReviewRecord(2, "falco/rules", 4, "d" * 40, "c" * 40, "neutral", {}, None, 13))
    assert store.last_comment_id("falco/rules", 4) == 11  # a review without a comment keeps the comment's id
    assert store.last_comment_id("falco/rules", 5) is None


def test_a_store_that_cannot_open_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError):
        Store(f"sqlite:///{tmp_path / 'file' / 'bot.db'}").ping()


def test_a_lease_is_renewed_only_by_its_holder_before_anyone_takes_the_job_over(store: Store) -> None:
    rid = store.add_review_request(pr(), now=T0)
    assert store.claim(rid, "w1", lease=10, now=T0) is not None
    assert store.renew(rid, "w1", lease=10, now=T0 + 30)  # late, but nobody took it: still w1's
    assert not store.renew(rid, "w2", lease=10, now=T0 + 31)
    assert store.due_requests(now=T0 + 45) != []  # w1 stalls again: the sweeper hands the job out again
    assert not store.renew(rid, "w1", lease=10, now=T0 + 46)  # w1 wakes up: no longer its job
    assert store.claim(rid, "w2", lease=10, now=T0 + 47) is not None
    assert not store.renew(rid, "w1", lease=10, now=T0 + 48)
    assert store.renew(rid, "w2", lease=10, now=T0 + 48)
