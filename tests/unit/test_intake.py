"""The webhook intake as GitHub meets it: the real application under uvicorn on loopback, spoken to over HTTP."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings, SettingsError, load_settings
from bot.web import create_app
from bot.web.signature import sign, signature_valid
from tests.appserver import Running as AppServer
from tests.e2e.harness import wait_for

SECRET = "It's a Secret to Everybody"
REPO = {"full_name": "falco/rules", "name": "rules", "owner": {"login": "falco"}}


def test_githubs_published_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!", SECRET.encode()) == expected
    assert signature_valid(b"Hello, World!", expected, [SECRET.encode()])
    assert signature_valid(b"Hello, World!", expected.upper().replace("SHA256=", "sha256="), [SECRET.encode()])
    assert signature_valid(b"Hello, World!", expected, [b"old secret", SECRET.encode()])  # rotation
    assert not signature_valid(b"Hello, World!", expected[:-1], [SECRET.encode()])
    assert not signature_valid(b"Hello, World!!", expected, [SECRET.encode()])
    assert not signature_valid(b"Hello, World!", expected.replace("sha256=", ""), [SECRET.encode()])
    assert not signature_valid(b"Hello, World!", None, [SECRET.encode()])
    assert not signature_valid(b"Hello, World!", expected, [])


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": str(tmp_path), "github_webhook_secret": f"rotated-out,{SECRET}",
                              "embedded_worker": False, "max_body_bytes": 64 * 1024, "database_url": None,
                              "queue_path": None, "redis_url": None, "github_app_id": 1}  # fmt: skip
    return load_settings(**{**values, **overrides})


class Running(AppServer):
    """The application under uvicorn, and a way to POST deliveries to it as GitHub would."""

    def post(self, event: str | None, payload: Any = None, body: bytes | None = None, delivery: str | None = "d-1",
             signature: str | None = "good", headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
        raw = body if body is not None else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/test"}
        if event is not None:
            sent["X-GitHub-Event"] = event
        if delivery is not None:
            sent["X-GitHub-Delivery"] = delivery
        if signature == "good":
            sent["X-Hub-Signature-256"] = sign(raw, SECRET.encode())
        elif signature is not None:
            sent["X-Hub-Signature-256"] = signature
        sent.update(headers or {})
        return httpx.post(f"{self.url}/webhook", content=raw, headers=sent, timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with Running(settings_for(tmp_path)) as running:
        yield running


def opened(number: int = 12, head: str = "a" * 40, action: str = "opened") -> dict[str, Any]:
    pull = {"number": number, "state": "open", "head": {"sha": head}}
    return {"action": action, "number": number, "repository": REPO, "installation": {"id": 7}, "pull_request": pull,
            "sender": {"type": "User"}}  # fmt: skip


def comment(body: str, sender_type: str = "User", via_app: Any = None, on_pr: bool = True) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": 12}
    if on_pr:
        issue["pull_request"] = {"url": "https://api.github.com/repos/falco/rules/pulls/12"}
    return {"action": "created", "repository": REPO, "installation": {"id": 7}, "issue": issue,
            "sender": {"type": sender_type, "login": "maya"},
            "comment": {"id": 99, "node_id": "IC_x", "body": body, "html_url": "https://github.com/x#99",
                        "user": {"login": "maya", "type": sender_type},
                        "performed_via_github_app": via_app}}  # fmt: skip


def test_health(server: Running) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "good-but-truncated", "sha1=abc", ""])
def test_a_bad_signature_is_refused_and_nothing_stored(server: Running, signature: str | None) -> None:
    payload = opened()
    if signature == "good-but-truncated":
        signature = sign(json.dumps(payload).encode(), SECRET.encode())[:-2]
    answer = server.post("pull_request", payload, signature=signature)
    assert answer.status_code == 401
    assert server.store.count("deliveries") == 0 and server.store.count("review_requests") == 0


def test_a_signature_over_other_bytes_is_refused(server: Running) -> None:
    raw = json.dumps(opened()).encode()
    answer = server.post("pull_request", body=raw + b" ", signature=sign(raw, SECRET.encode()))
    assert answer.status_code == 401


def test_the_rotated_out_secret_still_verifies(server: Running) -> None:
    raw = json.dumps({"zen": "Keep it logically awesome."}).encode()
    assert server.post("ping", body=raw, signature=sign(raw, b"rotated-out")).status_code == 200


def test_oversize_bodies_are_refused(server: Running) -> None:
    big = json.dumps({"action": "opened", "padding": "x" * (70 * 1024)}).encode()
    assert server.post("pull_request", body=big).status_code == 413
    assert server.store.count("deliveries") == 0


def test_oversize_bodies_without_a_length_are_refused_while_streaming(server: Running) -> None:
    chunks = [b"{" + b" " * 32 * 1024] * 4

    def stream() -> Iterator[bytes]:
        yield from chunks

    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-9", "X-Hub-Signature-256": "sha256=00"}
    answer = httpx.post(f"{server.url}/webhook", content=stream(), headers=headers, timeout=10)
    assert answer.status_code == 413


def test_missing_headers(server: Running) -> None:
    assert server.post(None, opened()).status_code == 400
    assert server.post("pull_request", opened(), delivery=None).status_code == 400
    assert server.store.count("deliveries") == 0


def test_malformed_json(server: Running) -> None:
    assert server.post("pull_request", body=b"{not json").status_code == 400
    assert server.post("pull_request", body=b"[1, 2]").status_code == 400
    assert server.post("pull_request", body=b"\xff\xfe").status_code == 400


def test_json_that_is_not_utf_8_is_refused_even_where_the_bot_does_not_read(server: Running) -> None:
    body = b'{"action": "opened", "pull_request": {"title": "caf\xe9", "number": 12}}'
    assert server.post("pull_request", body=body).status_code == 400
    assert server.store.count("deliveries") == 0


def test_a_delivery_of_an_unusual_shape_is_recorded_not_refused(server: Running) -> None:
    payload = {**opened(), "repository": "falco/rules"}  # not an object: no repository to act on
    answer = server.post("pull_request", payload, delivery="odd-1")
    assert (answer.status_code, answer.json()) == (202, {"status": "ignored"})
    assert server.store.count("deliveries") == 1 and server.store.count("review_requests") == 0


def test_the_webhook_takes_only_post(server: Running) -> None:
    answer = httpx.get(f"{server.url}/webhook")
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
    assert answer.json() == {"detail": "Method Not Allowed"}


def test_a_sender_that_goes_away_mid_body_costs_nothing(server: Running, caplog: pytest.LogCaptureFixture) -> None:
    raw = json.dumps(opened()).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: gone\r\n"
            f"X-Hub-Signature-256: {sign(raw, SECRET.encode())}\r\nContent-Length: {len(raw)}\r\n\r\n"
        )
        sock.sendall(head.encode() + raw[:100])
    time.sleep(0.3)  # time for the server to see the connection close
    assert server.post("pull_request", opened(number=13), delivery="after").status_code == 202
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [d for d in ("gone", "after") if server.store.requests_for("falco/rules", 12 if d == "gone" else 13)] == [
        "after"]  # fmt: skip


def test_ping(server: Running) -> None:
    answer = server.post("ping", {"zen": "Design for failure.", "hook_id": 1})
    assert answer.status_code == 200


def test_a_pull_request_event_is_stored_then_queued(server: Running) -> None:
    answer = server.post("pull_request", opened(), delivery="guid-1")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    [req] = server.store.requests_for("falco/rules", 12)
    assert (req.kind, req.state, req.head_sha, req.trigger, req.installation_id, req.delivery_id) == (
        "review", "queued", "a" * 40, "pull_request.opened", 7, "guid-1")  # fmt: skip
    jobs = server.app.state.jobs  # stored before the answer; put on the queue right after it, off the answer's path
    wait_for(lambda: jobs.huey.pending_count() + jobs.huey.scheduled_count() == 1, timeout=5, interval=0.01)
    time.sleep(0.2)
    assert jobs.huey.pending_count() + jobs.huey.scheduled_count() == 1


def test_a_redelivery_is_acknowledged_and_not_queued_again(server: Running) -> None:
    assert server.post("pull_request", opened(), delivery="guid-2").status_code == 202
    again = server.post("pull_request", opened(), delivery="guid-2")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(server.store.requests_for("falco/rules", 12)) == 1
    assert server.store.count("deliveries") == 1


@pytest.mark.parametrize("action", ["synchronize", "reopened", "edited", "ready_for_review"])
def test_other_pull_request_actions_are_reviewed(server: Running, action: str) -> None:
    assert server.post("pull_request", opened(action=action)).status_code == 202
    assert len(server.store.requests_for("falco/rules", 12)) == 1


def test_events_the_bot_does_not_handle_are_recorded_and_ignored(server: Running) -> None:
    for n, (event, payload) in enumerate([("star", {"action": "created", "repository": REPO}),
                                          ("pull_request", opened(action="closed")),
                                          ("pull_request", opened(action="labeled"))]):  # fmt: skip
        answer = server.post(event, payload, delivery=f"other-{n}")
        assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert server.store.count("deliveries") == 3
    assert server.store.count("review_requests") == 0


def test_a_comment_on_a_pull_request_becomes_a_comment_job(server: Running) -> None:
    assert server.post("issue_comment", comment("/recheck")).status_code == 202
    [req] = server.store.requests_for("falco/rules", 12)
    assert (req.kind, req.command_comment_id, req.details["body"], req.details["login"]) == (
        "comment", 99, "/recheck", "maya")  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [comment("/recheck", sender_type="Bot"), comment("/recheck", via_app={"id": 1}), comment("/recheck", on_pr=False),
     {**comment("/recheck"), "action": "edited"}],
    ids=["bot", "app", "issue", "edited"],
)  # fmt: skip
def test_comments_that_are_ignored(server: Running, payload: dict[str, Any]) -> None:
    answer = server.post("issue_comment", payload)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert server.store.count("review_requests") == 0


def test_check_run_and_check_suite_rerequested(server: Running) -> None:
    server.post("pull_request", opened(number=3, head="c" * 40), delivery="first")
    check = {"name": "falco-rules-bot", "head_sha": "c" * 40, "pull_requests": [], "app": {"id": 1}}
    run = {"action": "rerequested", "repository": REPO, "installation": {"id": 7}, "check_run": check}
    assert server.post("check_run", run, delivery="run").status_code == 202
    assert [r.trigger for r in server.store.requests_for("falco/rules", 3)] == ["pull_request.opened",
                                                                               "check_run.rerequested"]  # fmt: skip
    other = {**run, "check_run": {**run["check_run"], "name": "DCO"}}
    assert server.post("check_run", other, delivery="other").json()["status"] == "ignored"
    suite = {"action": "rerequested", "repository": REPO, "installation": {"id": 7},
             "check_suite": {"head_sha": "f" * 40, "pull_requests": [{"number": 5}], "app": {"id": 1}}}  # fmt: skip
    assert server.post("check_suite", suite, delivery="suite").status_code == 202
    assert [r.head_sha for r in server.store.requests_for("falco/rules", 5)] == ["f" * 40]


def test_installation_events_are_recorded(server: Running) -> None:
    created = {"action": "created", "installation": {"id": 8, "account": {"login": "falco"}},
               "repositories": [{"full_name": "falco/rules"}], "sender": {"type": "User"}}  # fmt: skip
    assert server.post("installation", created, delivery="i1").json()["status"] == "recorded"
    added = {"action": "added", "installation": {"id": 8}, "repositories_added": [{"full_name": "falco/x"}],
             "repositories_removed": []}  # fmt: skip
    assert server.post("installation_repositories", added, delivery="i2").status_code == 202
    inst = server.store.installation(8)
    assert inst is not None and inst.repositories == ("falco/rules", "falco/x") and inst.account == "falco"


def test_a_store_that_is_down_answers_503_never_202(tmp_path: Path) -> None:
    with Running(settings_for(tmp_path)) as running:
        db = tmp_path / "falco-rules-bot.db"
        running.store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.mkdir()  # the database file is now a directory: nothing can be written
        answer = running.post("pull_request", opened(), delivery="lost")
        assert answer.status_code == 503
        ready = httpx.get(f"{running.url}/readyz")
        assert ready.status_code == 503 and ready.json()["queue"] == "ok" and ready.json()["store"] != "ok"


def test_serving_needs_a_webhook_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET"):
        create_app(settings_for(tmp_path, github_webhook_secret=" , "))


def test_the_embedded_consumer_needs_credentials(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GITHUB_APP_ID"):
        create_app(settings_for(tmp_path, embedded_worker=True, github_app_id=None, github_private_key=None,
                                github_private_key_path=None))  # fmt: skip


def test_redis_selects_scale_out_where_serve_only_enqueues(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, redis_url="redis://127.0.0.1:1/0", embedded_worker=True, github_app_id=None,
                            github_private_key=None, github_private_key_path=None)  # fmt: skip
    assert settings.embedded_workers() == 0  # no consumer inside, so no App credentials needed to take webhooks
    app = create_app(settings)
    assert type(app.state.jobs.huey).__name__ == "RedisHuey"
    assert (
        settings_for(tmp_path, redis_url="redis://127.0.0.1:1/0", embedded_worker=True, workers=3).embedded_workers()
        == 3
    )
