"""The security suite reuses the end-to-end world (the GitHub emulator, the App, keys and users) and runs the bot
as one real `serve` process in embedded mode: what is proved here does not depend on the deployment mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import app, emu, keys
from tests.e2e.harness import BotServer
from tests.emulator import Emulator

__all__ = ["app", "emu", "honest_emulator", "keys", "server"]


@pytest.fixture(scope="module")
def server(emu: Emulator, app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with BotServer(emu, app, tmp_path_factory.mktemp("bot-data")) as bot:
        yield bot


@pytest.fixture(autouse=True)
def honest_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    """As in tests/e2e: every request the bot made was one GitHub would accept, every answer matched GitHub's
    schema; checked only where a test uses the emulator (the pure tests here start none)."""
    yield
    if "emu" in request.fixturenames:
        emulator = request.getfixturevalue("emu")
        assert emulator.graphql_rejections == []
        assert emulator.schema_violations == []
