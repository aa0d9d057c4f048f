"""GET /healthz (the process answers) and GET /readyz (the store and the queue answer too)."""

from __future__ import annotations

from typing import Any

from bot.jobs import Jobs
from bot.render import phrases
from bot.store import Store


def _say(key: str, **values: Any) -> str:
    return str(phrases("review.yml")["readyz"][key]).format(**values)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def readiness(store: Store, jobs: Jobs) -> tuple[int, dict[str, str]]:
    """200 when the store and the queue both answer, else 503 saying which does not."""
    details = {"store": _say("ok"), "queue": _say("ok")}
    ready = True
    try:
        store.ping()
    except Exception as exc:  # any failure means not ready
        details["store"], ready = _say("store_down", error=_first_line(exc)), False
    try:
        jobs.ping()
    except Exception as exc:
        details["queue"], ready = _say("queue_down", error=_first_line(exc)), False
    return (200 if ready else 503), {"status": "ok" if ready else "unavailable", **details}
