"""GET /healthz (the process answers) and GET /readyz (the store and the queue answer too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.jobs import Jobs
from bot.render import phrases
from bot.store import Store


def _say(key: str, **values: Any) -> str:
    return str(phrases("review.yml")["readyz"][key]).format(**values)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def router(store: Store, jobs: Jobs) -> APIRouter:
    """The health routes."""
    routes = APIRouter()

    @routes.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @routes.get("/readyz")
    async def readyz() -> JSONResponse:
        details = {"store": _say("ok"), "queue": _say("ok")}
        ready = True
        try:
            await run_in_threadpool(store.ping)
        except Exception as exc:  # any failure means not ready
            details["store"], ready = _say("store_down", error=_first_line(exc)), False
        try:
            await run_in_threadpool(jobs.ping)
        except Exception as exc:
            details["queue"], ready = _say("queue_down", error=_first_line(exc)), False
        return JSONResponse({"status": "ok" if ready else "unavailable", **details}, status_code=200 if ready else 503)

    return routes
