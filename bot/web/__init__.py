"""The web side of the App, and the only module importing FastAPI: routes for the webhook and health checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.jobs import Jobs
from bot.render import phrases
from bot.settings import Settings, SettingsError
from bot.store import Store
from bot.web import dashboard, health, intake

log = logging.getLogger("falco-rules-bot.web")


def _server_say(key: str) -> str:
    return str(phrases("review.yml")["server"][key])


def check_settings(settings: Settings) -> None:
    """Raise SettingsError when `serve` cannot run safely with these settings."""
    if not settings.webhook_secrets():
        raise SettingsError(_server_say("no_secret"))
    if settings.embedded_workers() > 0 and not settings.has_app_credentials():
        raise SettingsError(_server_say("no_credentials"))


def create_app(settings: Settings) -> FastAPI:
    """The application: the store is migrated and the embedded consumer started when it starts serving."""
    check_settings(settings)
    store = Store(settings.database())
    jobs = Jobs(settings, store)
    consume = settings.embedded_workers() > 0  # scale-out (REDIS_URL): only verify and enqueue, by default

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
    webhook = intake.Intake(settings, store, jobs, str(phrases("check_run.yml")["name"]))
    limit = settings.max_body_bytes

    @app.post("/webhook")
    async def receive(request: Request) -> JSONResponse:
        problem = intake.length_problem(request.headers.get("content-length"), limit)
        if problem is None:
            body = await _body(request, limit)
            if body is None:
                problem = 413, {"detail": intake.say("too_large", limit=limit)}
            else:  # the store and the queue block: off the event loop
                problem = await run_in_threadpool(webhook.handle, dict(request.headers), body)
        return JSONResponse(problem[1], status_code=problem[0])

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        code, details = await run_in_threadpool(health.readiness, store, jobs)
        return JSONResponse(details, status_code=code)

    _dashboard_routes(app, dashboard.Dashboard(settings, store))
    return app


def _dashboard_routes(app: FastAPI, board: dashboard.Dashboard) -> None:
    """GET /, /reviews/{id}, /repos/{owner}/{repo}/matrix, and the GitHub sign-in's /login, /login/callback,
    /logout: bot.web.dashboard decides; 404 as unknown when off."""

    async def answer(request: Request, route: str, **args: str) -> Response:
        page = await run_in_threadpool(board.serve, route, args, dict(request.headers), dict(request.query_params),
                                       request.url.path, request.url.scheme == "https")  # fmt: skip
        if page is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        response = HTMLResponse(page.html, status_code=page.status, headers=page.headers)
        for cookie in page.cookies:
            response.headers.append("set-cookie", cookie)
        return response

    @app.get("/", include_in_schema=False)
    async def dashboard_home(request: Request) -> Response:
        return await answer(request, "home")

    @app.get("/reviews/{review_id}", include_in_schema=False)
    async def dashboard_review(request: Request, review_id: str) -> Response:
        return await answer(request, "review", review_id=review_id)

    @app.get("/repos/{owner}/{repo}/matrix", include_in_schema=False)
    async def dashboard_matrix(request: Request, owner: str, repo: str) -> Response:
        return await answer(request, "matrix", owner=owner, repo=repo)

    @app.get("/login", include_in_schema=False)
    async def dashboard_login(request: Request) -> Response:
        return await answer(request, "login")

    @app.get("/login/callback", include_in_schema=False)
    async def dashboard_callback(request: Request) -> Response:
        return await answer(request, "callback")

    @app.get("/logout", include_in_schema=False)
    async def dashboard_logout(request: Request) -> Response:
        return await answer(request, "logout")


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
