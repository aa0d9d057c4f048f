"""POST /webhook, free of any web framework: verify the raw body, record the delivery and its jobs, enqueue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot import logs, metrics
from bot.jobs import Jobs
from bot.render import phrases
from bot.settings import Settings
from bot.store import Delivery, NewRequest, Store, StoreError
from bot.web.events import Plan, delivery_of, plan
from bot.web.payload import fields
from bot.web.signature import signature_valid

log = logging.getLogger("falco-rules-bot.intake")
Answer = tuple[int, dict[str, Any]]


def say(key: str, **values: Any) -> str:
    """One of the intake's answers (templates/review.yml)."""
    return str(phrases("review.yml")["intake"][key]).format(**values)


def length_problem(length: str | None, limit: int) -> Answer | None:
    """The answer to a Content-Length that is not a number or announces a body over `limit`; None when fine."""
    if length is None:
        return None
    if not length.strip().isdigit():
        return 400, {"detail": say("bad_length")}
    if int(length) > limit:
        return 413, {"detail": say("too_large", limit=limit)}
    return None


@dataclass(frozen=True)
class Prepared:
    """A verified, parsed delivery that needs the store: what to record for it."""

    event: str
    delivery_id: str
    delivery: Delivery
    plan: Plan


def _requests(store: Store, p: Plan) -> list[NewRequest]:
    """The plan's jobs, plus one per pull request whose head is the one a check suite or run names."""
    requests = list(p.requests)
    if p.head_lookup is not None:
        repo, head, installation, trigger = p.head_lookup
        known = {r.number for r in requests}
        for number, _ in store.prs_with_head(repo, head):
            if number not in known:
                requests.append(NewRequest(repo, number, installation, trigger, head_sha=head))
    return requests


def _log_fields(item: Prepared) -> dict[str, Any]:
    """The log context of one delivery."""
    d = item.delivery
    return {"delivery_id": item.delivery_id, "event": item.event, "repo": d.repo, "installation_id": d.installation_id}


class Intake:
    """The webhook endpoint's decisions; the web layer only hands it the headers and the raw body."""

    def __init__(self, settings: Settings, store: Store, jobs: Jobs, check_name: str) -> None:
        self.settings, self.store, self.jobs, self.check_name = settings, store, jobs, check_name
        self.secrets = settings.webhook_secrets()

    def prepare(self, headers: Mapping[str, str], body: bytes) -> Answer | Prepared:
        """Verify and parse (no I/O): the answer when the store is not needed, else what to record."""
        if not signature_valid(body, headers.get("x-hub-signature-256"), self.secrets):
            return 401, {"detail": say("bad_signature")}
        event, delivery_id = headers.get("x-github-event"), headers.get("x-github-delivery")
        if not event or not delivery_id or len(delivery_id) > 100:
            return 400, {"detail": say("missing_headers")}
        payload = fields(body)
        if payload is None:
            return 400, {"detail": say("bad_json")}
        if event == "ping":
            return 200, {"status": "pong"}
        p = plan(event, payload, self.check_name, self.settings.github_app_id)
        return Prepared(event, delivery_id, delivery_of(event, delivery_id, payload), p)

    def commit(self, batch: Sequence[Prepared]) -> tuple[list[Answer], list[tuple[int, str]]]:
        """Record the batch durably in one transaction: each delivery's answer, and the (id, kind) of every job
        stored (to enqueue once answered). A store that is down makes every answer a 503: nothing was stored."""
        try:
            records = [(item.delivery, _requests(self.store, item.plan), item.plan.installation) for item in batch]
            results = self.store.record_deliveries(records, self.settings.review_delay_seconds)
        except StoreError as exc:
            metrics.failure("store_down")
            for item in batch:
                with logs.context(**_log_fields(item)):
                    log.error("delivery %s (%s) not recorded: %s", item.delivery_id, item.event, exc)
            return [(503, {"detail": say("store_down")}) for _ in batch], []
        answers: list[Answer] = []
        jobs: list[tuple[int, str]] = []
        for item, (_, requests, _), ids in zip(batch, records, results, strict=True):
            if ids is None:
                answers.append((200, {"status": "duplicate"}))
            elif ids:
                jobs += [(i, r.kind) for i, r in zip(ids, requests, strict=True)]
                answers.append((202, {"status": "queued", "requests": ids}))
            else:
                answers.append((202, {"status": "recorded" if item.plan.installation else "ignored"}))
        if log.isEnabledFor(logging.DEBUG):  # off the hot path unless asked for
            for item, answer in zip(batch, answers, strict=True):
                with logs.context(**_log_fields(item)):
                    log.debug("delivery %s (%s): %s %s", item.delivery_id, item.event, answer[0], answer[1])
        return answers, jobs

    def enqueue(self, jobs: Sequence[tuple[int, str]]) -> None:
        """Put stored jobs on the queue (reviews after the debounce delay); any that cannot be are left to the
        sweeper, which enqueues them once their lease is over (they are in the store)."""
        delay = self.settings.review_delay_seconds
        try:
            self.jobs.enqueue_many([(request_id, delay if kind == "review" else 0.0) for request_id, kind in jobs])
        except Exception as exc:
            log.warning("requests %s stored but not enqueued (%s); the sweeper will", [i for i, _ in jobs], exc)

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """Verify, parse, store durably, enqueue, one delivery on its own: the status code and JSON body."""
        prepared = self.prepare(headers, body)
        return self.record(prepared) if isinstance(prepared, Prepared) else prepared

    def record(self, prepared: Prepared) -> Answer:
        """Record one prepared delivery on its own (no batch), enqueue its jobs; its answer."""
        answers, jobs = self.commit([prepared])
        self.enqueue(jobs)
        return answers[0]


class Writer:
    """Group commit: one thread records every delivery waiting at that moment in one transaction (no lock
    contention between requests, one commit for many deliveries), answers the whole batch with one call into the
    event loop, then puts the batch's jobs on the queue in one write, after the answers. The store is the truth:
    a job whose enqueue is lost in a crash is enqueued by the sweeper or at the next start."""

    def __init__(self, intake: Intake, max_batch: int = 200, linger: float = 0.005, poll: float = 0.0002) -> None:
        self.intake, self.max_batch, self.linger, self.poll = intake, max_batch, linger, poll
        self._pending: queue.SimpleQueue[Waiting | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the writer thread."""
        self._threads = [threading.Thread(target=self._write, name="intake-writer", daemon=True)]
        for thread in self._threads:
            thread.start()

    async def submit(self, prepared: Prepared) -> Answer:
        """The answer to this delivery, once it is recorded (or could not be)."""
        if not self._threads:  # not started, or stopped: record it on its own
            return self.intake.record(prepared)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending.put((prepared, future, loop))
        return await future

    def stop(self) -> None:
        """Record and answer what is waiting, enqueue its jobs, then stop the thread."""
        if self._threads:
            self._pending.put(None)
            self._threads[0].join(timeout=30)
            self._threads = []

    def _write(self) -> None:
        stopping = False
        while not stopping:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            # Under load, deliveries arrive every fraction of a millisecond: gathering them a moment longer lets one
            # commit (and one queue write) serve many. The writer keeps gathering while they keep coming, looking
            # again every `poll` seconds, for `linger` seconds at most; a lone delivery waits one `poll` only.
            deadline = time.monotonic() + self.linger
            arriving = True
            while len(batch) < self.max_batch:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    if not arriving or time.monotonic() >= deadline:
                        break
                    arriving = False
                    time.sleep(self.poll)
                    continue
                if item is None:
                    stopping = True
                    break
                arriving = True
                batch.append(item)
            try:
                answers, jobs = self.intake.commit([prepared for prepared, _, _ in batch])
            except Exception:  # never leave a request unanswered
                log.exception("recording %d deliveries failed", len(batch))
                answers, jobs = [(503, {"detail": say("store_down")}) for _ in batch], []
            loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], Answer]]] = {}
            for (_, future, loop), answer in zip(batch, answers, strict=True):
                loops.setdefault(loop, []).append((future, answer))
            for loop, results in loops.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these answers any more
                    loop.call_soon_threadsafe(_resolve, results)
            if jobs:
                self.intake.enqueue(jobs)


Waiting = tuple[Prepared, "asyncio.Future[Answer]", asyncio.AbstractEventLoop]


def _resolve(results: list[tuple[asyncio.Future[Answer], Answer]]) -> None:
    """On the event loop: hand each waiting request its answer (unless it gave up waiting)."""
    for future, answer in results:
        if not future.done():
            future.set_result(answer)
