"""`falco-rules-bot serve`: uvicorn serving the application, with the queue consumer inside."""

from __future__ import annotations

from bot.settings import Settings


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (raises SettingsError before listening when the settings are unsafe)."""
    import uvicorn

    from bot.web import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), lifespan="on",
                proxy_headers=False, server_header=False)  # fmt: skip
