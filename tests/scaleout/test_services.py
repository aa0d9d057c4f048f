"""The scale-out services are the tests' own, and the App's settings select them: PostgreSQL for the store,
Redis (Huey's RedisHuey) for the queue."""

from __future__ import annotations

import subprocess

from bot.jobs import Jobs
from bot.settings import load_settings
from bot.store import Delivery, NewRequest, Store
from tests.scaleout import servers


def test_the_services_are_our_own_on_loopback(redis_server: servers.Redis,
                                              postgres_server: servers.Postgres) -> None:  # fmt: skip
    assert redis_server.port not in (6379,) and postgres_server.port not in (5432,)
    assert redis_server.proc.poll() is None
    owner = subprocess.run(["stat", "-c", "%U", postgres_server.data], capture_output=True, text=True, check=True)
    assert owner.stdout.strip() != "root"  # PostgreSQL refuses to run as root


def test_settings_alone_select_postgresql_and_redis(redis_server: servers.Redis, postgres_server: servers.Postgres,
                                                    tmp_path: object) -> None:  # fmt: skip
    settings = load_settings(data_dir=str(tmp_path), database_url=postgres_server.fresh_url(),
                             redis_url=redis_server.fresh_url(), github_app_id=None, github_private_key=None,
                             github_private_key_path=None)  # fmt: skip
    assert settings.scale_out() and settings.embedded_workers() == 0
    store = Store(settings.database())
    try:
        assert store.engine.dialect.name == "postgresql"
        store.migrate()
        jobs = Jobs(settings, store)
        assert type(jobs.huey).__name__ == "RedisHuey"
        jobs.ping()
        job = NewRequest("falco/rules", 1, 7, "pull_request.opened", head_sha="a" * 40)
        ids = store.record_delivery(Delivery("d1", "pull_request", "opened"), [job])
        assert ids == [1]
        jobs.enqueue(1)
        assert jobs.huey.pending_count() == 1  # in Redis, for any worker anywhere
        jobs.huey.flush()
    finally:
        store.close()
