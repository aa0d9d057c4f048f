"""The web side of the App: webhook intake and health routes, in a FastAPI application built from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from bot.jobs import Jobs
from bot.render import phrases
from bot.settings import Settings, SettingsError
from bot.store import Store
from bot.web import health, intake

log = logging.getLogger("falco-rules-bot.web")


def _server_say(key: str) -> str:
    return str(phrases("review.yml")["server"][key])


def check_settings(settings: Settings) -> None:
    """Raise SettingsError when `serve` cannot run safely with these settings."""
    if not settings.webhook_secrets():
        raise SettingsError(_server_say("no_secret"))
    if settings.redis_url:
        raise SettingsError(_server_say("redis_unsupported"))
    if settings.embedded_worker and settings.workers > 0 and not settings.has_app_credentials():
        raise SettingsError(_server_say("no_credentials"))


def create_app(settings: Settings) -> FastAPI:
    """The application: the store is migrated and the embedded consumer started when it starts serving."""
    check_settings(settings)
    store = Store(settings.database())
    jobs = Jobs(settings, store)
    consume = settings.embedded_worker and settings.workers > 0

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.migrate)
        if consume:
            await run_in_threadpool(jobs.recover)
            jobs.start_consumer()
        try:
            yield
        finally:
            if consume:
                await run_in_threadpool(jobs.stop_consumer)
            store.close()

    app = FastAPI(title="falco-rules-bot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.store, app.state.jobs = settings, store, jobs
    check_name = str(phrases("check_run.yml")["name"])
    app.include_router(intake.router(settings, store, jobs, check_name))
    app.include_router(health.router(store, jobs))
    return app
