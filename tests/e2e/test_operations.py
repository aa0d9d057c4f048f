"""Operating the App: JSON logs carrying each job's context, and Prometheus metrics from `serve` and `worker`, seen
from real processes reviewing a real pull request against the GitHub emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, World, free_port, stop_process, wait_for
from tests.emulator import Emulator
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
TOKEN = "metrics-bearer-for-the-test-0123456789"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a Prometheus text exposition, by name and label set."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            found = SAMPLE.match(line)
            assert found, line
            labels = frozenset(LABEL.findall(found.group(2) or ""))
            out[(found.group(1), labels)] = float(found.group(3))
    return out


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def deliver_opened(server: BotServer, emu: Emulator, app: Any, w: World, number: int) -> tuple[str, list[int]]:
    """`pull_request.opened`, signed and POSTed as GitHub would: its delivery id and the request ids answered."""
    payload, headers = emu.webhook("pull_request", "opened", repo=w.repo_name, number=number,
                                   installation=w.installation, app=app)  # fmt: skip
    answer = httpx.post(f"{server.url}/webhook", content=payload, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    delivery = next(v for k, v in headers.items() if k.lower() == "x-github-delivery")
    return delivery, list(answer.json()["requests"])


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of the log as a JSON object (a line that is not one fails the test)."""
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return out


@pytest.fixture
def served(emu: Emulator, app: Any, tmp_path: Path) -> Any:
    with BotServer(emu, app, tmp_path / "data", LOG_FORMAT="json", METRICS_TOKEN=TOKEN) as bot:
        yield bot


def test_json_logs_carry_the_delivery_and_the_jobs_context(served: BotServer, emu: Emulator, app: Any,
                                                           keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    delivery, requests = deliver_opened(served, emu, app, w, number)
    assert w.completed_run()["conclusion"] == "success"

    def finished() -> list[dict[str, Any]]:
        return [e for e in json_lines(served.log) if e.get("request_id") == requests[0]
                and str(e.get("message", "")).startswith(f"request {requests[0]}: done")]  # fmt: skip

    line = wait_for(finished, timeout=20)[0]
    assert line["delivery_id"] == delivery and line["repo"] == w.repo_name and line["pr"] == number
    assert line["installation_id"] == w.installation and line["level"] == "INFO"
    assert line["logger"] == "falco-rules-bot.jobs"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    served.stop()
    entries = json_lines(served.log)  # uvicorn's own lines too: every line is a JSON object
    assert any(e["logger"].startswith("uvicorn") for e in entries)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert not any(e.get("request_id") == requests[0] and e.get("repo") != w.repo_name for e in entries)


def test_metrics_count_deliveries_reviews_and_github_calls(served: BotServer, emu: Emulator, app: Any,
                                                           keys: dict[str, Key], tmp_path: Path) -> None:  # fmt: skip
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": TOKEN}):
        refused = httpx.get(f"{served.url}/metrics", headers=headers, timeout=10)
        assert refused.status_code == 401 and "METRICS_TOKEN" in refused.json()["detail"]
        assert TOKEN not in refused.text
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    deliver_opened(served, emu, app, w, number)
    w.completed_run()
    bad = httpx.post(f"{served.url}/webhook", content=b"{}", timeout=10,
                     headers={"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-bad",
                              "X-Hub-Signature-256": "sha256=00"})  # fmt: skip
    assert bad.status_code == 401
    odd = httpx.post(f"{served.url}/webhook", content=b"{}", timeout=10,
                     headers={"X-GitHub-Event": "made_up_event_name", "X-Hub-Signature-256": "sha256=00"})  # fmt: skip
    assert odd.status_code == 401

    def scraped() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        page = httpx.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
        found = samples(page.text)
        return found if value(found, "falco_rules_bot_reviews_total", conclusion="success") else None

    found = wait_for(scraped, timeout=20)
    assert value(found, "falco_rules_bot_deliveries_total", event="pull_request", status="202") == 1
    assert value(found, "falco_rules_bot_deliveries_total", event="pull_request", status="401") == 1
    assert value(found, "falco_rules_bot_deliveries_total", event="other", status="401") == 1  # no label per name
    assert value(found, "falco_rules_bot_review_duration_seconds_count", conclusion="success") == 1
    total = value(found, "falco_rules_bot_review_duration_seconds_sum", conclusion="success")
    assert total is not None and 0 < total < 60
    assert value(found, "falco_rules_bot_review_duration_seconds_bucket", conclusion="success", le="+Inf") == 1
    graphql = value(found, "falco_rules_bot_github_requests_total", method="POST", route="/graphql", status="200")
    assert graphql is not None and graphql >= 2  # the two round trips
    runs = value(found, "falco_rules_bot_github_requests_total", method="POST",
                 route="/repos/{owner}/{repo}/check-runs", status="201")  # fmt: skip
    assert runs == 1
    tokens = value(found, "falco_rules_bot_github_requests_total", method="POST",
                   route="/app/installations/{id}/access_tokens", status="201")  # fmt: skip
    assert tokens == 1  # one installation token, reused for the whole review
    remaining = [v for (name, _), v in found.items() if name == "falco_rules_bot_github_rate_limit_remaining"]
    assert remaining and all(0 < v <= 15000 for v in remaining)
    for state in ("pending", "scheduled"):
        assert value(found, "falco_rules_bot_queue_messages", state=state) is not None
    assert value(found, "falco_rules_bot_queue_requests", state="queued") == 0
    assert value(found, "falco_rules_bot_queue_requests", state="running") == 0
    assert not any(name.startswith("falco_rules_bot_failures") and v > 0 for (name, _), v in found.items())


def test_each_worker_serves_its_own_metrics(emu: Emulator, app: Any, keys: dict[str, Key], tmp_path: Path) -> None:
    data = tmp_path / "data"
    web = BotServer(emu, app, data, WORKERS="0").start()  # intake only: the worker process reviews
    port = free_port()
    worker = BotServer(emu, app, data, WORKERS="1", METRICS_PORT=str(port))._spawn("worker")
    try:
        w = World(emu, app, keys, tmp_path)
        w.add_rule_commit()
        number = w.open()
        deliver_opened(web, emu, app, w, number)
        assert w.completed_run()["conclusion"] == "success"

        def worker_metrics() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            except httpx.HTTPError:
                return None
            found = samples(page.text)
            return found if value(found, "falco_rules_bot_reviews_total", conclusion="success") == 1 else None

        found = wait_for(worker_metrics, timeout=20)
        assert value(found, "falco_rules_bot_review_duration_seconds_count", conclusion="success") == 1
        assert value(found, "falco_rules_bot_github_requests_total", method="POST", route="/graphql", status="200")
        assert value(found, "falco_rules_bot_queue_requests", state="running") == 0
        assert value(found, "falco_rules_bot_deliveries_total", event="pull_request", status="202") is None
        on_web = samples(httpx.get(f"{web.url}/metrics", timeout=10).text)  # no METRICS_TOKEN: open
        assert value(on_web, "falco_rules_bot_deliveries_total", event="pull_request", status="202") == 1
        assert value(on_web, "falco_rules_bot_reviews_total", conclusion="success") is None
    finally:
        stop_process(worker, timeout=20)
        web.stop()
