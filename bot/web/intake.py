"""POST /webhook: verify the signature on the raw body, record the delivery and its jobs, enqueue, answer."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.jobs import Jobs
from bot.render import phrases
from bot.settings import Settings
from bot.store import NewRequest, Store, StoreError
from bot.web.events import Plan, delivery_of, plan
from bot.web.signature import signature_valid

log = logging.getLogger("falco-rules-bot.intake")


def _say(key: str, **values: Any) -> str:
    return str(phrases("review.yml")["intake"][key]).format(**values)


def _answer(code: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=code)


async def _body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it grows over `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


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


def router(settings: Settings, store: Store, jobs: Jobs, check_name: str) -> APIRouter:
    """The webhook route."""
    routes = APIRouter()
    secrets = settings.webhook_secrets()

    @routes.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        limit = settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return _answer(400, detail=_say("bad_length"))
            if int(length) > limit:
                return _answer(413, detail=_say("too_large", limit=limit))
        body = await _body(request, limit)
        if body is None:
            return _answer(413, detail=_say("too_large", limit=limit))
        if not signature_valid(body, request.headers.get("x-hub-signature-256"), secrets):
            return _answer(401, detail=_say("bad_signature"))
        event, delivery_id = request.headers.get("x-github-event"), request.headers.get("x-github-delivery")
        if not event or not delivery_id or len(delivery_id) > 100:
            return _answer(400, detail=_say("missing_headers"))
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _answer(400, detail=_say("bad_json"))
        if not isinstance(payload, dict):
            return _answer(400, detail=_say("bad_json"))
        if event == "ping":
            return _answer(200, status="pong")
        p = plan(event, payload, check_name, settings.github_app_id)
        try:
            ids = await run_in_threadpool(_store_plan, store, event, delivery_id, payload, p,
                                          settings.review_delay_seconds)  # fmt: skip
        except StoreError as exc:
            log.error("delivery %s (%s) not recorded: %s", delivery_id, event, exc)
            return _answer(503, detail=_say("store_down"))
        if ids is None:
            return _answer(200, status="duplicate")
        for request_id, kind in ids:
            enqueue = jobs.enqueue_review if kind == "review" else jobs.enqueue
            try:
                await run_in_threadpool(enqueue, request_id)
            except Exception as exc:  # stored: the sweeper enqueues it once its lease is over
                log.warning("request %s stored but not enqueued (%s); the sweeper will", request_id, exc)
        if ids:
            return _answer(202, status="queued", requests=[i for i, _ in ids])
        return _answer(202, status="recorded" if p.installation else "ignored")

    return routes
