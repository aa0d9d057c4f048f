"""The web side of the App, and the only module importing FastAPI: routes for the webhook and health checks."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.jobs import Jobs
from bot.render import phrases
from bot.settings import Settings, SettingsError
from bot.store import Store
from bot.web import dashboard, endpoint, health, intake, setup

log = logging.getLogger("falco-rules-bot.web")


# No generated API docs; and none of FastAPI's own OpenTelemetry instrumentation, which looks for a configured
# provider in the environment on every request (the App's metrics are its own).
FASTAPI_OPTIONS: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None,
                                   "telemetry": {"tracing": False, "metrics": False, "logs": False}}  # fmt: skip


def _server_say(key: str) -> str:
    return str(phrases("review.yml")["server"][key])


def check_settings(settings: Settings) -> None:
    """Raise SettingsError when `serve` cannot run safely with these settings."""
    if setup.setup_mode(settings):
        return  # setup mode: /setup registers the App, /webhook answers 503 until then (bot.web.setup)
    if not settings.webhook_secrets():
        raise SettingsError(_server_say("no_secret"))
    if settings.embedded_workers() > 0 and not settings.has_app_credentials():
        raise SettingsError(_server_say("no_credentials"))


def create_app(settings: Settings) -> FastAPI:
    """The application: the store is migrated and the embedded consumer started when it starts serving."""
    check_settings(settings)
    store = Store(settings.database(), **settings.store_options())
    jobs = Jobs(settings, store)
    # scale-out (REDIS_URL): only verify and enqueue, by default; setup mode: nothing to consume
    consume = settings.embedded_workers() > 0 and not setup.setup_mode(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.migrate)
        if consume:
            await run_in_threadpool(jobs.recover)
            jobs.start_consumer()
        writer.start()
        # What start-up built lives as long as the process: out of the collector's sight, so that its full
        # collections stay short (they would otherwise walk every module, route and template on each pass).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await run_in_threadpool(writer.stop)
            if consume:
                await run_in_threadpool(jobs.stop_consumer)
            store.close()

    app = FastAPI(title="falco-rules-bot", lifespan=lifespan, **FASTAPI_OPTIONS)
    app.state.settings, app.state.store, app.state.jobs = settings, store, jobs
    metrics.watch(store, jobs)
    webhook = intake.Intake(settings, store, jobs, str(phrases("check_run.yml")["name"]))
    writer = intake.Writer(webhook)
    wizard = setup.Setup(settings)
    if not wizard.mode:  # first in the router: every delivery is matched against it before any other route
        hook = endpoint.Webhook(webhook, writer, settings.max_body_bytes)
        app.router.routes.append(Route("/webhook", hook, methods=["POST"], include_in_schema=False))
    _setup_routes(app, wizard)  # in setup mode its own POST /webhook answers 503

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        code, details = await run_in_threadpool(health.readiness, store, jobs)
        return JSONResponse(details, status_code=code)

    _metrics_route(app, settings.metrics_token)
    _dashboard_routes(app, dashboard.Dashboard(settings, store))
    return app


def _setup_routes(app: FastAPI, wizard: setup.Setup) -> None:
    """GET /setup, /setup/callback (404 once the App is configured) and /setup/installed: bot.web.setup decides; in
    setup mode also POST /webhook, answering 503 (the intake's route is not registered then)."""
    wizard.announce()

    async def answer(request: Request, route: str) -> Response:
        page = await run_in_threadpool(wizard.serve, route, dict(request.headers), dict(request.query_params),
                                       request.url.scheme == "https")  # fmt: skip
        if page is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        response = HTMLResponse(page.html, status_code=page.status, headers=page.headers)
        for value in page.cookies:
            response.headers.append("set-cookie", value)
        return response

    if wizard.mode:

        @app.post("/webhook", include_in_schema=False)
        async def webhook_in_setup_mode() -> JSONResponse:
            return JSONResponse({"detail": setup.say("webhook_unavailable")}, status_code=503)

    @app.get("/setup", include_in_schema=False)
    async def setup_start(request: Request) -> Response:
        return await answer(request, "start")

    @app.get("/setup/callback", include_in_schema=False)
    async def setup_callback(request: Request) -> Response:
        return await answer(request, "callback")

    @app.get("/setup/installed", include_in_schema=False)
    async def setup_installed(request: Request) -> Response:
        return await answer(request, "installed")


def _metrics_route(app: FastAPI, token: str | None) -> None:
    """GET /metrics: this process's Prometheus metrics; with METRICS_TOKEN set, for its bearer only."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Response:
        if not metrics.authorized(request.headers.get("authorization"), token):
            detail = str(phrases("metrics.yml")["unauthorized"])
            return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=content_type)


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
