"""Persistence (SQLAlchemy): deliveries, durable review requests, reviews, installations, agreements, locks.

Nothing here assumes one process: every decision that two workers could race on is one transaction
(SQLite: BEGIN IMMEDIATE; PostgreSQL: row conditions, unique keys and advisory locks).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    TextClause,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.store.schema import (
    MIGRATIONS,
    agreement_signatures,
    deliveries,
    installations,
    metadata,
    pr_locks,
    replies,
    review_requests,
    reviews,
    schema_version,
)

QUEUE_GRACE = 60.0  # a queued request not started this long after it was due is enqueued again
ACTIVE = ("queued", "running")


DeliveryRecord = tuple["Delivery", Sequence["NewRequest"], "InstallationUpdate | None"]
# The intake's statements, built once: SQLAlchemy compiles each once and reuses it for every delivery.
_SEEN_DELIVERIES = select(deliveries.c.delivery_id).where(
    deliveries.c.delivery_id.in_(bindparam("ids", expanding=True)))  # fmt: skip
_DELIVERY_COLUMNS = ("delivery_id", "event", "action", "repo", "installation_id", "received_at")
_REQUEST_COLUMNS = ("kind", "repo", "pr_number", "installation_id", "head_sha", "trigger", "delivery_id",
                    "command_comment_id", "details", "generation", "state", "lease_until", "attempts", "created_at",
                    "updated_at")  # fmt: skip
_TOP_REQUEST_ID = select(func.coalesce(func.max(review_requests.c.id), 0))


@functools.lru_cache(maxsize=8)
def _unnest_insert(table: str, columns: tuple[str, ...], dialect: Dialect) -> str:
    """PostgreSQL: INSERT rows given as one array per column, typed as the schema types the columns."""
    found = metadata.tables[table].c
    arrays = ", ".join(f"CAST(%s AS {found[c].type.compile(dialect=dialect)}[])" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


@functools.lru_cache(maxsize=64)
def _last_generations(n: int) -> TextClause:
    """SQLite: the last generation of each of `n` (repo, pull request, kind), or NULL: one probe of the generations'
    unique index each (max() over an equality prefix reads the index's last entry, not the pull request's
    history)."""
    triples = ", ".join(f"(:r{i}, :n{i}, :k{i})" for i in range(n))
    return text(f"WITH v(repo, n, kind) AS (VALUES {triples}) {_LAST_OF_EACH} FROM v")


# The last generation of each row of v(repo, n, kind), by one probe of the generations' unique index.
_LAST_OF_EACH = ("SELECT v.repo, v.n, v.kind, (SELECT max(r.generation) FROM review_requests r "
                 "WHERE r.repo = v.repo AND r.pr_number = v.n AND r.kind = v.kind)")  # fmt: skip


# PostgreSQL's forms of the intake's statements: one array per parameter, so one statement text whatever the batch
# (parsed and planned once, prepared by the driver), where an IN list or VALUES rows change it with the batch's size.
_NEW_DELIVERIES = " ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id"
_NEW_REQUEST_KEYS = " RETURNING id, kind, repo, pr_number, generation"
_LAST_GENERATIONS_PG = text(
    f"{_LAST_OF_EACH} "
    "FROM unnest(CAST(:repos AS varchar[]), CAST(:numbers AS integer[]), CAST(:kinds AS varchar[])) AS v(repo, n, kind)"
)
# One statement takes every lock of a batch, in the array's order (a function scan emits its rows in order).
_PR_ADVISORY_LOCKS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:ks AS bigint[])) AS t(k)")


class StoreError(Exception):
    """The store could not be read or written (the caller answers 503 or retries later)."""


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise StoreError(str(exc).splitlines()[0]) from exc

    return wrapper


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery."""

    delivery_id: str
    event: str
    action: str | None = None
    repo: str | None = None
    installation_id: int | None = None


@dataclass(frozen=True)
class NewRequest:
    """A job to store: a review of a pull request, or a comment to read for commands."""

    repo: str
    number: int
    installation_id: int
    trigger: str
    head_sha: str | None = None
    kind: str = "review"
    command_comment_id: int | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    """A stored job (a row of review_requests)."""

    id: int
    kind: str
    repo: str
    number: int
    installation_id: int
    head_sha: str | None
    trigger: str
    delivery_id: str | None
    command_comment_id: int | None
    details: dict[str, Any]
    generation: int
    state: str
    lease_until: float | None
    lease_owner: str | None
    attempts: int
    outcome: str | None


@dataclass(frozen=True)
class InstallationUpdate:
    """What an installation or installation_repositories event says."""

    id: int
    account: str | None = None
    repositories: tuple[str, ...] | None = None  # the full list, when the event gives it
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    suspended: bool | None = None
    deleted: bool = False


@dataclass(frozen=True)
class Installation:
    """A stored installation."""

    id: int
    account: str | None
    repositories: tuple[str, ...]
    suspended: bool
    deleted: bool


@dataclass(frozen=True)
class ReviewRecord:
    """A published review."""

    request_id: int | None
    repo: str
    number: int
    head_sha: str
    base_sha: str
    conclusion: str
    report: dict[str, Any] = field(default_factory=dict)
    comment_id: int | None = None
    check_run_id: int | None = None


def _request(row: Any) -> Request:
    return Request(row.id, row.kind, row.repo, row.pr_number, row.installation_id, row.head_sha, row.trigger,
                   row.delivery_id, row.command_comment_id, json.loads(row.details) if row.details else {},
                   row.generation, row.state, row.lease_until, row.lease_owner, row.attempts, row.outcome)  # fmt: skip


class Store:
    """The store behind one SQLAlchemy URL (SQLite by default, PostgreSQL in scale-out)."""

    def __init__(self, url: str, queue_grace: float = QUEUE_GRACE) -> None:
        self.url, self.queue_grace = url, queue_grace
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.sqlite:
            if parsed.database and parsed.database != ":memory:":
                try:
                    os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"{parsed.database}: {exc.strerror or exc}") from exc
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine: Engine = create_engine(url, pool_pre_ping=not self.sqlite, **options)
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------
    @_guarded
    def migrate(self) -> int:
        """Apply the migrations not applied yet (safe when several processes start together); the version."""
        with self.engine.begin() as conn:
            if not self.sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one()
            for version, step in MIGRATIONS:
                if version > current:
                    step(conn)
                    conn.execute(insert(schema_version).values(version=version, applied_at=time.time()))
                    current = version
            return int(current)

    @_guarded
    def schema_version(self) -> int:
        """The latest migration applied (0 for an empty database); nothing is migrated."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("schema_version"):
                return 0
            return int(conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one())

    @_guarded
    def request_counts(self) -> dict[str, int]:
        """How many jobs are queued and how many running (one query on the (state, lease) index)."""
        c = review_requests.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.state, func.count()).where(c.state.in_(ACTIVE)).group_by(c.state))
            return {str(state): int(n) for state, n in rows}

    @_guarded
    def ping(self) -> None:
        """Raise StoreError unless the store answers."""
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # -- intake ---------------------------------------------------------------------------------
    @_guarded
    def record_delivery(self, delivery: Delivery, requests: Sequence[NewRequest] = (),
                        installation: InstallationUpdate | None = None, delay: float = 0.0,
                        now: float | None = None) -> list[int] | None:  # fmt: skip
        """Record a delivery and its jobs in one transaction; None when the delivery id was seen before."""
        return self.record_deliveries([(delivery, requests, installation)], delay, now)[0]

    @_guarded
    def record_deliveries(self, batch: Sequence[DeliveryRecord], delay: float = 0.0,
                          now: float | None = None) -> list[list[int] | None]:  # fmt: skip
        """Record several deliveries and their jobs in one transaction (a group commit); for each, the ids of its
        jobs, or None when its delivery id was seen before (in the store or earlier in the batch)."""
        now = time.time() if now is None else now
        try:
            with self.engine.begin() as conn:
                return self._record(conn, batch, delay, now)
        except IntegrityError:
            if len(batch) == 1:  # another process recorded the same delivery id meanwhile
                if self._delivery_seen(batch[0][0].delivery_id):
                    return [None]
                raise
        # A batch met a concurrent writer of one of its delivery ids: each on its own, so only that one is a duplicate.
        return [self.record_deliveries([item], delay, now)[0] for item in batch]

    def _record(self, conn: Connection, batch: Sequence[DeliveryRecord], delay: float,
                now: float) -> list[list[int] | None]:  # fmt: skip
        firsts: list[DeliveryRecord] = []  # each delivery id's first in the batch, in the batch's order
        known: set[str] = set()
        for item in batch:
            if item[0].delivery_id not in known:
                known.add(item[0].delivery_id)
                firsts.append(item)

        def rows(items: list[DeliveryRecord]) -> list[tuple[Any, ...]]:
            return [(d.delivery_id, d.event, d.action, d.repo, d.installation_id, now) for d, _, _ in items]

        if self.sqlite:  # the transaction holds the write lock: what is not there now will not be before the commit
            seen = set(conn.execute(_SEEN_DELIVERIES, {"ids": [d.delivery_id for d, _, _ in firsts]}).scalars())
            fresh = [item for item in firsts if item[0].delivery_id not in seen]
            self._insert_rows(conn, "deliveries", _DELIVERY_COLUMNS, rows(fresh))
        else:  # one statement both inserts and tells which were new (a concurrent writer's are waited for, skipped)
            new = {row[0] for row in self._insert_arrays(conn, "deliveries", _DELIVERY_COLUMNS, rows(firsts),
                                                         _NEW_DELIVERIES)}  # fmt: skip
            fresh = [item for item in firsts if item[0].delivery_id in new]
        ids = iter(self._add_requests(conn, [(r, d.delivery_id) for d, rs, _ in fresh for r in rs], delay, now))
        recorded = {d.delivery_id: [next(ids) for _ in rs] for d, rs, _ in fresh}
        for _, _, installation in fresh:
            if installation is not None:
                self._apply_installation(conn, installation, now)
        return [recorded.pop(d.delivery_id, None) for d, _, _ in batch]

    def _delivery_seen(self, delivery_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_SEEN_DELIVERIES, {"ids": [delivery_id]}).first() is not None

    @_guarded
    def add_review_request(self, request: NewRequest, delivery_id: str | None = None, delay: float = 0.0,
                           now: float | None = None) -> int:  # fmt: skip
        """Store one job (its own transaction); its id."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            return self._add_request(conn, request, delivery_id, delay, now)

    def _add_request(self, conn: Connection, r: NewRequest, delivery_id: str | None, delay: float, now: float) -> int:
        return self._add_requests(conn, [(r, delivery_id)], delay, now)[0]

    def _add_requests(self, conn: Connection, items: Sequence[tuple[NewRequest, str | None]], delay: float,
                      now: float) -> list[int]:  # fmt: skip
        """Insert jobs, each the next generation of its pull request and kind; their ids, in order."""
        if not items:
            return []
        if not self.sqlite:  # the generations of a pull request are handed out one transaction at a time; the
            # locks are taken in one order (ascending), so that two batches never wait for each other
            keys = sorted({zlib.crc32(f"{r.repo}#{r.number}".encode()) for r, _ in items})
            conn.execute(_PR_ADVISORY_LOCKS, {"ks": keys}).all()
        triples = sorted({(r.repo, r.number, r.kind) for r, _ in items})
        if self.sqlite:
            params = {f"{key}{i}": value for i, t in enumerate(triples) for key, value in zip("rnk", t, strict=True)}
            found = conn.execute(_last_generations(len(triples)), params)
        else:
            repos, numbers, kinds = map(list, zip(*triples, strict=True))
            found = conn.execute(_LAST_GENERATIONS_PG, {"repos": repos, "numbers": numbers, "kinds": kinds})
        last = {(repo, number, kind): int(g or 0) for repo, number, kind, g in found}
        rows = []
        for r, delivery_id in items:
            generation = last[(r.repo, r.number, r.kind)] = last.get((r.repo, r.number, r.kind), 0) + 1
            rows.append((r.kind, r.repo, r.number, r.installation_id, r.head_sha, r.trigger, delivery_id,
                         r.command_comment_id, json.dumps(r.details) if r.details else None, generation, "queued",
                         now + delay + self.queue_grace, 0, now, now))  # fmt: skip
        if self.sqlite:
            ids = self._next_request_ids(conn, len(rows))
            self._insert_rows(conn, "review_requests", ("id", *_REQUEST_COLUMNS),
                              [(i, *row) for i, row in zip(ids, rows, strict=True)])  # fmt: skip
            return ids
        made: dict[tuple[Any, ...], int] = {}
        for i, kind, repo, number, generation in self._insert_arrays(conn, "review_requests", _REQUEST_COLUMNS, rows,
                                                                     _NEW_REQUEST_KEYS):  # fmt: skip
            made[(kind, repo, number, generation)] = int(i)
        return [made[(row[0], row[1], row[2], row[9])] for row in rows]  # by (kind, repo, number, generation)

    def _next_request_ids(self, conn: Connection, n: int) -> list[int]:
        """SQLite: ids for `n` new jobs, handed out before the insert so that one executemany can write them all
        (the transaction holds SQLite's write lock, BEGIN IMMEDIATE: nobody else inserts meanwhile)."""
        top = int(conn.execute(_TOP_REQUEST_ID).scalar_one())
        return list(range(top + 1, top + 1 + n))

    def _insert_rows(self, conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """SQLite: INSERT many rows through executemany (in process, no per-row statement work)."""
        if rows:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def _insert_arrays(self, conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                       returning: str) -> list[tuple[Any, ...]]:  # fmt: skip
        """PostgreSQL: INSERT many rows as one statement over one array per column (one round trip and one
        execution, where executemany would execute once per row; one statement text, parsed once); what the
        RETURNING clause `returning` gives back."""
        if not rows:
            return []
        arrays = tuple(map(list, zip(*rows, strict=True)))
        return [tuple(row) for row in conn.exec_driver_sql(_unnest_insert(table, columns, conn.dialect) + returning,
                                                           arrays)]  # fmt: skip

    # -- the job's life -------------------------------------------------------------------------
    @_guarded
    def get_request(self, request_id: int) -> Request | None:
        """One job by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(review_requests).where(review_requests.c.id == request_id)).first()
        return _request(row) if row is not None else None

    @_guarded
    def requests_for(self, repo: str, number: int, kind: str | None = None) -> list[Request]:
        """The jobs of a pull request, oldest first."""
        c = review_requests.c
        query = select(review_requests).where(c.repo == repo, c.pr_number == number).order_by(c.id)
        if kind is not None:
            query = query.where(c.kind == kind)
        with self.engine.connect() as conn:
            return [_request(row) for row in conn.execute(query)]

    @_guarded
    def claim(self, request_id: int, owner: str, lease: float, now: float | None = None) -> Request | None:
        """Take a queued job (or one whose runner's lease expired) for `lease` seconds; None if not available."""
        now = time.time() if now is None else now
        c = review_requests.c
        with self.engine.begin() as conn:
            taken = conn.execute(update(review_requests).where(c.id == request_id, or_(
                c.state == "queued", (c.state == "running") & (c.lease_until < now))).values(
                state="running", lease_owner=owner, lease_until=now + lease, attempts=c.attempts + 1,
                updated_at=now))  # fmt: skip
            if taken.rowcount != 1:
                return None
            row = conn.execute(select(review_requests).where(c.id == request_id)).one()
        return _request(row)

    @_guarded
    def newer_request_exists(self, request: Request) -> bool:
        """Whether a later review request of the same pull request exists (coalescing: the newest wins)."""
        c = review_requests.c
        query = select(c.id).where(c.repo == request.repo, c.pr_number == request.number, c.kind == request.kind,
                                   c.generation > request.generation).limit(1)  # fmt: skip
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    @_guarded
    def finish(self, request_id: int, owner: str, state: str, outcome: str, now: float | None = None) -> bool:
        """End a job the caller holds: done, superseded or failed, with a word on why."""
        now = time.time() if now is None else now
        c = review_requests.c
        with self.engine.begin() as conn:
            result = conn.execute(update(review_requests).where(c.id == request_id, c.lease_owner == owner).values(
                state=state, outcome=outcome[:2000], lease_until=None, updated_at=now))  # fmt: skip
            return result.rowcount == 1

    @_guarded
    def renew(self, request_id: int, owner: str, lease: float, now: float | None = None) -> bool:
        """Extend `owner`'s lease on a running job by `lease` seconds; False when the job is no longer theirs (it
        outlived its lease and the sweeper or another worker took it: the new holder publishes, not this one)."""
        now = time.time() if now is None else now
        c = review_requests.c
        with self.engine.begin() as conn:
            result = conn.execute(update(review_requests).where(
                c.id == request_id, c.state == "running", c.lease_owner == owner).values(
                lease_until=now + lease, updated_at=now))  # fmt: skip
            return result.rowcount == 1

    @_guarded
    def requeue(self, request_id: int, owner: str, delay: float, undo_attempt: bool = False,
                now: float | None = None) -> bool:  # fmt: skip
        """Give a held job back to the queue, due in `delay` seconds."""
        now = time.time() if now is None else now
        c = review_requests.c
        attempts = c.attempts - 1 if undo_attempt else c.attempts
        with self.engine.begin() as conn:
            result = conn.execute(update(review_requests).where(c.id == request_id, c.lease_owner == owner).values(
                state="queued", lease_owner=None, lease_until=now + delay + self.queue_grace, attempts=attempts,
                updated_at=now))  # fmt: skip
            return result.rowcount == 1

    @_guarded
    def due_requests(self, now: float | None = None, limit: int = 200) -> list[Request]:
        """Jobs whose lease expired: queued ones whose queue message was lost, running ones whose runner died.

        Each comes back as queued with a fresh grace period, so that one sweep enqueues it once.
        """
        now = time.time() if now is None else now
        c = review_requests.c
        with self.engine.begin() as conn:
            rows = conn.execute(select(review_requests).where(c.state.in_(ACTIVE), c.lease_until < now)
                                .order_by(c.id).limit(limit)).all()  # fmt: skip
            ids = [row.id for row in rows]
            if ids:
                conn.execute(update(review_requests).where(c.id.in_(ids)).values(
                    state="queued", lease_owner=None, lease_until=now + self.queue_grace, updated_at=now))  # fmt: skip
        return [_request(row) for row in rows]

    @_guarded
    def pending_requests(self) -> list[Request]:
        """The queued requests, oldest first."""
        c = review_requests.c
        with self.engine.connect() as conn:
            return [
                _request(r) for r in conn.execute(select(review_requests).where(c.state == "queued").order_by(c.id))
            ]

    @_guarded
    def owners(self) -> set[str]:
        """The owners of running jobs and of PR locks (to find those of processes that died)."""
        with self.engine.connect() as conn:
            running = conn.execute(select(review_requests.c.lease_owner).where(
                review_requests.c.state == "running").distinct()).scalars()  # fmt: skip
            locks = conn.execute(select(pr_locks.c.owner).distinct()).scalars()
            return {o for o in [*running, *locks] if o}

    @_guarded
    def expire_owner(self, owner: str) -> None:
        """Release what a dead process held: its jobs become due now, its locks go."""
        c = review_requests.c
        with self.engine.begin() as conn:
            conn.execute(update(review_requests).where(c.lease_owner == owner, c.state == "running")
                         .values(state="queued", lease_owner=None, lease_until=0.0))  # fmt: skip
            conn.execute(delete(pr_locks).where(pr_locks.c.owner == owner))

    # -- per-PR lease lock ----------------------------------------------------------------------
    @_guarded
    def acquire_pr_lock(self, repo: str, number: int, owner: str, ttl: float, now: float | None = None) -> bool:
        """Take the pull request's lock for `ttl` seconds, unless someone else holds an unexpired one."""
        now = time.time() if now is None else now
        c = pr_locks.c
        with self.engine.begin() as conn:
            taken = conn.execute(update(pr_locks).where(c.repo == repo, c.pr_number == number, or_(
                c.expires_at < now, c.owner == owner)).values(owner=owner, expires_at=now + ttl))  # fmt: skip
            if taken.rowcount == 1:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(insert(pr_locks).values(repo=repo, pr_number=number, owner=owner,
                                                         expires_at=now + ttl))  # fmt: skip
                return True
            except IntegrityError:
                return False

    @_guarded
    def release_pr_lock(self, repo: str, number: int, owner: str) -> None:
        """Give the lock back (only its owner can)."""
        c = pr_locks.c
        with self.engine.begin() as conn:
            conn.execute(delete(pr_locks).where(c.repo == repo, c.pr_number == number, c.owner == owner))

    # -- reviews --------------------------------------------------------------------------------
    @_guarded
    def record_review(self, record: ReviewRecord, now: float | None = None) -> None:
        """Keep a published review (the report JSON, the comment and check run ids)."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            conn.execute(insert(reviews).values(request_id=record.request_id, repo=record.repo,
                pr_number=record.number, head_sha=record.head_sha, base_sha=record.base_sha,
                conclusion=record.conclusion, report=json.dumps(record.report), comment_id=record.comment_id,
                check_run_id=record.check_run_id, created_at=now))  # fmt: skip

    @_guarded
    def reviews_of(self, repo: str, number: int) -> list[ReviewRecord]:
        """The published reviews of a pull request, oldest first."""
        c = reviews.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(reviews).where(c.repo == repo, c.pr_number == number).order_by(c.id)).all()
        return [ReviewRecord(r.request_id, r.repo, r.pr_number, r.head_sha, r.base_sha, r.conclusion,
                             json.loads(r.report), r.comment_id, r.check_run_id) for r in rows]  # fmt: skip

    @_guarded
    def has_review(self, repo: str, number: int, head_sha: str) -> bool:
        """Whether a review of this head was published."""
        c = reviews.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.id).where(c.repo == repo, c.pr_number == number, c.head_sha == head_sha)
                               .limit(1)).first()  # fmt: skip
        return row is not None

    @_guarded
    def last_comment_id(self, repo: str, number: int) -> int | None:
        """The id of the review comment last published on a pull request (the bot's own, edited in place)."""
        c = reviews.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.comment_id).where(c.repo == repo, c.pr_number == number,
                                                          c.comment_id.is_not(None))
                               .order_by(c.id.desc()).limit(1)).first()  # fmt: skip
        return int(row[0]) if row is not None else None

    @_guarded
    def prs_with_head(self, repo: str, head_sha: str) -> list[tuple[int, int]]:
        """(PR number, installation id) of the pull requests seen with this head commit."""
        c = review_requests.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.pr_number, c.installation_id).where(c.repo == repo, c.head_sha == head_sha)
                                .distinct()).all()  # fmt: skip
        return sorted({(int(r[0]), int(r[1])) for r in rows})

    @_guarded
    def latest_head(self, repo: str, number: int) -> str | None:
        """The last head commit seen for a pull request."""
        c = review_requests.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.head_sha).where(c.repo == repo, c.pr_number == number, c.head_sha.is_not(None))
                               .order_by(c.id.desc()).limit(1)).first()  # fmt: skip
        return str(row[0]) if row is not None else None

    # -- installations --------------------------------------------------------------------------
    def _apply_installation(self, conn: Connection, u: InstallationUpdate, now: float) -> None:
        row = conn.execute(select(installations).where(installations.c.id == u.id)).first()
        repos = list(json.loads(row.repositories)) if row is not None else []
        if u.repositories is not None:
            repos = list(u.repositories)
        repos = [r for r in repos if r not in u.removed] + [r for r in u.added if r not in repos]
        values = {
            "account": u.account if u.account is not None else (row.account if row is not None else None),
            "repositories": json.dumps(repos),
            "deleted": u.deleted,
            "updated_at": now,
            "suspended": u.suspended if u.suspended is not None else bool(row is not None and row.suspended),
        }
        if row is None:
            conn.execute(insert(installations).values(id=u.id, **values))
        else:
            conn.execute(update(installations).where(installations.c.id == u.id).values(**values))

    @_guarded
    def installation(self, installation_id: int) -> Installation | None:
        """A stored installation."""
        with self.engine.connect() as conn:
            row = conn.execute(select(installations).where(installations.c.id == installation_id)).first()
        if row is None:
            return None
        return Installation(row.id, row.account, tuple(json.loads(row.repositories)), row.suspended, row.deleted)

    # -- agreement signatures and replies -------------------------------------------------------
    @_guarded
    def add_signature(self, repo: str, login: str, comment_url: str | None, now: float | None = None) -> bool:
        """Record that `login` signed the agreement on `repo`; False when already recorded."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(insert(agreement_signatures).values(repo=repo, login=login.lower(), signed_at=now,
                                                                     comment_url=comment_url))  # fmt: skip
                return True
            except IntegrityError:
                return False

    @_guarded
    def signatures(self, repo: str) -> list[str]:
        """The logins that signed the agreement on `repo`."""
        c = agreement_signatures.c
        with self.engine.connect() as conn:
            return [str(x) for x in conn.execute(select(c.login).where(c.repo == repo).order_by(c.id)).scalars()]

    @_guarded
    def take_reply_slot(self, repo: str, number: int, kind: str, window: float, now: float | None = None) -> bool:
        """True at most once per `window` seconds per pull request and kind (the caller then replies)."""
        now = time.time() if now is None else now
        c = replies.c
        with self.engine.begin() as conn:
            taken = conn.execute(update(replies).where(c.repo == repo, c.pr_number == number, c.kind == kind,
                                                       c.at <= now - window).values(at=now))  # fmt: skip
            if taken.rowcount == 1:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(insert(replies).values(repo=repo, pr_number=number, kind=kind, at=now))
                return True
            except IntegrityError:
                return False

    @_guarded
    def count(self, table: str) -> int:
        """Rows in a table (for /readyz-like checks and tests)."""
        target = metadata.tables[table]
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(target)).scalar_one())


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below opens every transaction
    cursor = dbapi_connection.cursor()
    # The wait first: switching a new database to WAL takes a lock that another process starting at the same
    # moment may hold, and without a busy timeout that switch fails at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=30000")
    # Even so, the switch to WAL can answer "database is locked" at once while another connection makes the same
    # switch (SQLite does not always wait on the busy handler for it): it is tried again for up to 30 seconds.
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, across processes: reads then writes are atomic


# -- the dashboard's reads (appended; nothing above depends on them) ------------------------------
@dataclass(frozen=True)
class StoredReview:
    """A published review with its row id and when it was stored (what the dashboard lists)."""

    id: int
    created_at: float
    record: ReviewRecord


def _stored_review(row: Any) -> StoredReview:
    record = ReviewRecord(row.request_id, row.repo, row.pr_number, row.head_sha, row.base_sha, row.conclusion,
                          json.loads(row.report), row.comment_id, row.check_run_id)  # fmt: skip
    return StoredReview(int(row.id), float(row.created_at), record)


class DashboardReads:
    """Read-only queries of the dashboard over a Store's engine (kept apart from the review path)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    @_guarded
    def installations(self) -> list[Installation]:
        """Every stored installation that was not deleted, by account name."""
        c = installations.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(installations).where(c.deleted.is_(False)).order_by(c.account, c.id)).all()
        return [Installation(r.id, r.account, tuple(json.loads(r.repositories)), r.suspended, r.deleted) for r in rows]

    @_guarded
    def reviewed_repositories(self) -> list[tuple[str, int, float]]:
        """(repository, reviews, time of the last one) of every repository with a stored review."""
        c = reviews.c
        query = select(c.repo, func.count(c.id), func.max(c.created_at)).group_by(c.repo).order_by(c.repo)
        with self.engine.connect() as conn:
            return [(str(r[0]), int(r[1]), float(r[2])) for r in conn.execute(query)]

    @_guarded
    def review_count(self) -> int:
        """How many reviews are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(reviews)).scalar_one())

    @_guarded
    def recent_reviews(self, limit: int, offset: int = 0) -> list[StoredReview]:
        """Stored reviews, newest first, `limit` of them after skipping `offset`."""
        query = select(reviews).order_by(reviews.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_stored_review(r) for r in conn.execute(query)]

    @_guarded
    def review(self, review_id: int) -> StoredReview | None:
        """One stored review by its id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
        return _stored_review(row) if row is not None else None

    @_guarded
    def latest_reviews_of(self, repo: str, limit: int = 50) -> list[StoredReview]:
        """The newest stored reviews of any pull request of `repo` (case-insensitive name), newest first."""
        c = reviews.c
        query = select(reviews).where(func.lower(c.repo) == repo.lower()).order_by(c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_stored_review(r) for r in conn.execute(query)]
