"""Fixtures of the end-to-end suite: keys and users, the emulator, the App, and the bot as a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import BotServer, ScaleOutGroup
from tests.emulator import Emulator
from tests.gpgkeys import Key, people


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Key]:
    return people(tmp_path_factory.mktemp("e2e-keys"))


@pytest.fixture(scope="module")
def emu(keys: dict[str, Key]) -> Iterator[Emulator]:
    emulator = Emulator()
    emulator.start()
    emulator.add_user("alice", name="Alice Doe", email="alice@example.com", gpg_public_keys=(keys["alice"].public,))
    emulator.add_user("mallory", name="Mallory", email="mallory@example.com", gpg_public_keys=(keys["mallory"].public,))
    emulator.add_user("maintainer", name="Maya Maintainer", email="maya@example.com")
    emulator.add_user("stranger", name="Sam Stranger", email="sam@example.com")
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def app(emu: Emulator) -> Any:
    return emu.create_app(slug="falco-rules-bot")


MODES = ("embedded", "scaleout")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every scenario of this directory runs in both modes (other suites importing `server` get the embedded one)."""
    if "server" in metafunc.fixturenames:
        metafunc.parametrize("server", MODES, indirect=True, scope="module")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, emu: Emulator, app: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:  # fmt: skip
    """The bot in either mode: one `serve` with its embedded consumer (SQLite, Huey's SQLite queue), or scale-out:
    two `serve` processes taking deliveries in turn and three `worker` processes, over PostgreSQL and Redis."""
    data = tmp_path_factory.mktemp("bot-data")
    mode = getattr(request, "param", "embedded")
    with ScaleOutGroup(emu, app, data) if mode == "scaleout" else BotServer(emu, app, data) as bot:
        yield bot


@pytest.fixture(autouse=True)
def honest_emulator(emu: Emulator) -> Iterator[None]:
    """Every request the bot made was one GitHub would accept, and every answer matched GitHub's schema."""
    yield
    assert emu.graphql_rejections == []
    assert emu.schema_violations == []
