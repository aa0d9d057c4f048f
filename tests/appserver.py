"""The real application under uvicorn in a thread, on a free loopback port (for tests that speak HTTP to it)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from bot.settings import Settings
from bot.store import Store
from bot.web import create_app


class Running:
    """`with Running(settings) as app:` serves create_app(settings) at app.url until the block ends."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def store(self) -> Store:
        store = self.app.state.store
        assert isinstance(store, Store)
        return store

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
