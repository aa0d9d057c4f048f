"""`falco-rules-bot serve`: uvicorn serving the application, with the queue consumer inside."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings


def uvicorn_options(log_level: str, log_format: str = "text") -> dict[str, Any]:
    """How uvicorn serves the App (the intake benchmark serves its bare baseline the same way); with LOG_FORMAT=json
    uvicorn keeps the logging bot.logs configured (its lines become JSON objects too)."""
    options = {"log_level": log_level, "lifespan": "on", "proxy_headers": False, "server_header": False,
               "access_log": False}  # fmt: skip
    if log_format == "json":
        options["log_config"] = None
    return options


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (raises SettingsError before listening when the settings are unsafe)."""
    import uvicorn

    from bot.web import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings.log_level.lower(), settings.log_format))
