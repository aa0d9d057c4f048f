"""The web side of the App, and the only module importing FastAPI: routes for the webhook and health checks."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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


SETUP_PAGES = {"/setup": "start", "/setup/callback": "callback", "/setup/installed": "installed"}
DASHBOARD_PAGES = {"/": "home", "/reviews/{review_id}": "review", "/repos/{owner}/{repo}/matrix": "matrix",
                   "/login": "login", "/login/callback": "callback", "/logout": "logout"}  # fmt: skip
Serve = Callable[[str, Request], "dashboard.Page | None"]


def _setup_routes(app: FastAPI, wizard: setup.Setup) -> None:
    """GET /setup, /setup/callback (404 once the App is configured) and /setup/installed: bot.web.setup decides; in
    setup mode also POST /webhook, answering 503 (the intake's route is not registered then)."""
    wizard.announce()
    if wizard.mode:

        @app.post("/webhook", include_in_schema=False)
        async def webhook_in_setup_mode() -> JSONResponse:
            return JSONResponse({"detail": setup.say("webhook_unavailable")}, status_code=503)

    def serve(route: str, request: Request) -> dashboard.Page | None:
        return wizard.serve(route, dict(request.headers), dict(request.query_params), request.url.scheme == "https")

    _pages(app, SETUP_PAGES, serve)


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

    def serve(route: str, request: Request) -> dashboard.Page | None:
        return board.serve(route, dict(request.path_params), dict(request.headers), dict(request.query_params),
                           request.url.path, request.url.scheme == "https")  # fmt: skip

    _pages(app, DASHBOARD_PAGES, serve)


def _pages(app: FastAPI, pages: dict[str, str], serve: Serve) -> None:
    """A GET route for each path of `pages`, answered by `serve` (off the event loop) with the page's route name:
    its HTML and cookies, or 404 as an unknown route when it has none."""

    def answering(route: str) -> Callable[[Request], Awaitable[Response]]:
        async def page_of(request: Request) -> Response:
            page = await run_in_threadpool(serve, route, request)
            if page is None:
                return JSONResponse({"detail": "Not Found"}, status_code=404)
            response = HTMLResponse(page.html, status_code=page.status, headers=page.headers)
            for cookie in page.cookies:
                response.headers.append("set-cookie", cookie)
            return response

        return page_of

    for path, route in pages.items():
        app.add_api_route(path, answering(route), methods=["GET"], include_in_schema=False)
