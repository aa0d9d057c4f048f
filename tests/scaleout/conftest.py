"""Session fixtures of the scale-out tier: the test run's own Redis and PostgreSQL (tests/scaleout/servers.py).

Each is started on first use on a free loopback port in a temporary directory (PostgreSQL as the `postgres`
system user when the tests run as root) and stopped when the session ends. Without redis-server or initdb the
tests skip, saying why, unless FRB_REQUIRE_SCALEOUT is set (.ci/run sets it): then they fail.
The e2e suite (tests/e2e) and the store's tests (tests/unit/test_store.py) use the same instances.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scaleout import servers


@pytest.fixture(scope="session")
def redis_server() -> Iterator[servers.Redis]:
    yield servers.redis()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.Postgres]:
    yield servers.postgres()


@pytest.fixture(scope="session", autouse=True)
def _stop_services() -> Iterator[None]:
    yield
    servers.stop_all()
