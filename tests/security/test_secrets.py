"""After a run with reviews, failures and hostile deliveries, no secret is anywhere a person or an attacker could
read: the server's log, the store, the dashboard's pages, error answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, World
from tests.emulator import Emulator
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
DASHBOARD = "dashboard-bearer-for-the-test-0123456789"


@pytest.fixture
def watched(emu: Emulator, app: Any, tmp_path: Path) -> Iterator[BotServer]:
    with BotServer(emu, app, tmp_path / "data", DASHBOARD_TOKEN=DASHBOARD, LOG_LEVEL="DEBUG") as bot:
        yield bot


def test_no_secret_in_logs_store_dashboard_or_answers(watched: BotServer, emu: Emulator, app: Any,
                                                      keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    answers: list[str] = []
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    answers.append(watched.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                   installation=w.installation)[1])  # fmt: skip
    w.completed_run()
    # a review that fails on GitHub's side (its error lands in the store and the log)
    emu.faults.add(route="POST /graphql", status=403, times=1, message="Resource not accessible by integration")
    w.add_rule_commit("# more\n", message="More")
    w.push(number)
    answers.append(watched.deliver("pull_request", "synchronize", repo=w.repo_name, number=number,
                                   installation=w.installation)[1])  # fmt: skip
    w.completed_run()
    # refused deliveries
    for headers in ({"X-Hub-Signature-256": "sha256=00"}, {}):
        answers.append(httpx.post(f"{watched.url}/webhook", content=b"{}", headers=headers, timeout=10).text)
    pages = [
        httpx.get(f"{watched.url}{path}", headers={"Authorization": f"Bearer {DASHBOARD}"}, timeout=10).text
        for path in ("/", "/reviews/1", "/reviews/2", f"/repos/{w.repo_name}/matrix")
    ]
    watched.stop()  # everything flushed to disk
    assert w.repo_name in pages[0]  # the dashboard did show the run
    tokens = list(emu.tokens)
    assert tokens, "the emulator minted installation tokens during the run"
    key_lines = [line for line in app.private_key_pem.splitlines() if len(line) > 40]
    secrets = {"webhook secret": [app.webhook_secret], "private key": key_lines, "installation token": tokens}
    places = {
        "server log": watched.log.read_bytes(),
        "store": b"".join(p.read_bytes() for p in (watched.data_dir).glob("falco-rules-bot.db*")),
        "dashboard": "".join(pages).encode(),
        "answers": "".join(answers).encode(),
    }
    assert len(places["server log"]) > 0 and len(places["store"]) > 0
    for what, values in secrets.items():
        for value in values:
            for where, data in places.items():
                assert value.encode() not in data, f"the {what} appears in the {where}"
