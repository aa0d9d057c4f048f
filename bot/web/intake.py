"""POST /webhook, free of any web framework: verify the raw body, record the delivery and its jobs, enqueue."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from bot.jobs import Jobs
from bot.render import phrases
from bot.settings import Settings
from bot.store import NewRequest, Store, StoreError
from bot.web.events import Plan, delivery_of, plan
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


def _store_plan(store: Store, event: str, delivery_id: str, payload: dict[str, Any], p: Plan,
                delay: float) -> list[tuple[int, str]] | None:  # fmt: skip
    """Store the delivery and its jobs in one transaction; (id, kind) of each job, None for a duplicate."""
    requests = list(p.requests)
    if p.head_lookup is not None:
        repo, head, installation, trigger = p.head_lookup
        known = {r.number for r in requests}
        for number, _ in store.prs_with_head(repo, head):
            if number not in known:
                requests.append(NewRequest(repo, number, installation, trigger, head_sha=head))
    ids = store.record_delivery(delivery_of(event, delivery_id, payload), requests, p.installation, delay=delay)
    return None if ids is None else [(i, r.kind) for i, r in zip(ids, requests, strict=True)]


class Intake:
    """The webhook endpoint's decisions; the web layer only hands it the headers and the raw body."""

    def __init__(self, settings: Settings, store: Store, jobs: Jobs, check_name: str) -> None:
        self.settings, self.store, self.jobs, self.check_name = settings, store, jobs, check_name
        self.secrets = settings.webhook_secrets()

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """Verify, parse, store durably, enqueue; the status code and JSON body to answer GitHub with."""
        if not signature_valid(body, headers.get("x-hub-signature-256"), self.secrets):
            return 401, {"detail": say("bad_signature")}
        event, delivery_id = headers.get("x-github-event"), headers.get("x-github-delivery")
        if not event or not delivery_id or len(delivery_id) > 100:
            return 400, {"detail": say("missing_headers")}
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return 400, {"detail": say("bad_json")}
        if not isinstance(payload, dict):
            return 400, {"detail": say("bad_json")}
        if event == "ping":
            return 200, {"status": "pong"}
        p = plan(event, payload, self.check_name, self.settings.github_app_id)
        try:
            ids = _store_plan(self.store, event, delivery_id, payload, p, self.settings.review_delay_seconds)
        except StoreError as exc:
            log.error("delivery %s (%s) not recorded: %s", delivery_id, event, exc)
            return 503, {"detail": say("store_down")}
        if ids is None:
            return 200, {"status": "duplicate"}
        for request_id, kind in ids:
            enqueue = self.jobs.enqueue_review if kind == "review" else self.jobs.enqueue
            try:
                enqueue(request_id)
            except Exception as exc:  # stored: the sweeper enqueues it once its lease is over
                log.warning("request %s stored but not enqueued (%s); the sweeper will", request_id, exc)
        if ids:
            return 202, {"status": "queued", "requests": [i for i, _ in ids]}
        return 202, {"status": "recorded" if p.installation else "ignored"}
