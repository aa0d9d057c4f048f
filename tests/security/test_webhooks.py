"""Hostile webhooks against the real server: forged, truncated and replayed signatures, huge and deep bodies,
events nobody asked for, and deliveries for repositories or installations the App does not have."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any

import httpx
import pytest

from bot.gpg import gpg_available
from bot.store import Store
from tests.e2e.harness import BotServer, World, wait_for
from tests.emulator import Emulator
from tests.emulator.webhooks import signature_256
from tests.gpgkeys import Key

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")

WRITES = ("POST", "PATCH", "PUT", "DELETE")


def store_of(server: BotServer) -> Store:
    return Store(f"sqlite:///{server.data_dir / 'falco-rules-bot.db'}")


def post(server: BotServer, body: bytes, event: str = "pull_request", signature: str | None = "sign",
         delivery: str | None = None) -> httpx.Response:  # fmt: skip
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
               "X-GitHub-Delivery": delivery or str(uuid.uuid4())}  # fmt: skip
    if signature == "sign":
        signature = signature_256(server.app.webhook_secret, body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(f"{server.url}/webhook", content=body, headers=headers, timeout=30)


def writes_since(emu: Emulator, mark: int) -> list[str]:
    """Calls that changed something on GitHub (minting an installation token aside). A repository outside the
    installation may still be public, so readable, and the bot tries to publish there: GitHub refuses (404)."""
    calls = emu.calls_since(mark)

    def query(c: Any) -> bool:
        return c.route == "POST /graphql" and "mutation" not in c.query

    return [c.route for c in calls if c.method in WRITES and not query(c) and c.status < 400
            and "access_tokens" not in str(c.route)]  # fmt: skip


def test_missing_wrong_and_truncated_signatures_are_refused(server: BotServer, emu: Emulator) -> None:
    store = store_of(server)
    before = store.count("deliveries")
    body = json.dumps({"action": "opened", "number": 1}).encode()
    good = signature_256(server.app.webhook_secret, body)
    for signature in (None, "", "sha256=", good[:-1], good[:20], good.replace("sha256=", "sha1="),
                      signature_256("not the secret", body), good + "00", good.upper()[:-2] + "ZZ"):  # fmt: skip
        answer = post(server, body, signature=signature)
        assert answer.status_code == 401, (signature, answer.text)
    # the right signature over other bytes (a body truncated in transit, or edited) fails too
    assert post(server, body[:-1], signature=good).status_code == 401
    assert post(server, body + b" ", signature=good).status_code == 401
    assert store.count("deliveries") == before  # nothing unverified reaches the store
    store.close()


def test_a_replayed_delivery_queues_nothing(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                            tmp_path: Any) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    body, headers = emu.webhook("pull_request", "opened", repo=w.repo_name, number=number,
                                installation=w.installation)  # fmt: skip
    first = httpx.post(f"{server.url}/webhook", content=body, headers=headers, timeout=30)
    replays = [httpx.post(f"{server.url}/webhook", content=body, headers=headers, timeout=30) for _ in range(3)]
    assert first.status_code == 202
    assert [r.status_code for r in replays] == [200, 200, 200]
    assert all(r.json() == {"status": "duplicate"} for r in replays)
    w.completed_run()
    time.sleep(1.0)
    store = store_of(server)
    assert len(store.requests_for(w.repo_name, number)) == 1  # one job for the delivery and its replays
    store.close()
    assert len([r for r in w.runs() if r["name"] == "falco-rules-bot"]) == 1
    assert len(w.bot_comments(number)) == 1


def test_a_valid_signature_with_a_new_delivery_id_is_a_new_delivery(server: BotServer, emu: Emulator, app: Any,
                                                                      keys: dict[str, Key],
                                                                      tmp_path: Any) -> None:  # fmt: skip
    """GitHub signs the body, not the X-GitHub-Delivery header: a captured body re-sent under a fresh id verifies,
    and counts as a new delivery. What bounds such a replay is that the job reviews the PR's current state,
    through GitHub's API, and coalesces with the others: it cannot make the bot say anything new."""
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    body, headers = emu.webhook("pull_request", "opened", repo=w.repo_name, number=number,
                                installation=w.installation)  # fmt: skip
    assert httpx.post(f"{server.url}/webhook", content=body, headers=headers, timeout=30).status_code == 202
    w.completed_run()
    again = {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
    answer = httpx.post(f"{server.url}/webhook", content=body, headers=again, timeout=30)
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    store = store_of(server)
    wait_for(lambda: all(r.state not in ("queued", "running") for r in store.requests_for(w.repo_name, number)))
    store.close()
    time.sleep(0.5)
    assert len(w.bot_comments(number)) == 1  # still one comment, describing the same head


def _raw_exchange(server: BotServer, head: bytes, body: bytes, read_timeout: float = 10.0) -> tuple[bytes, float]:
    """Send a request by hand (headers that lie about the body) and read the answer's first bytes."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as sock:
        sock.sendall(head + body)
        answer = sock.recv(4096)
    return answer, time.monotonic() - started


def test_a_huge_body_is_refused_without_being_read(server: BotServer) -> None:
    # announced: 4 GiB, only a few bytes sent; the answer comes at once, the server does not wait for the rest
    head = (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: ping\r\n"
            b"X-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256=00\r\n"
            b"Content-Length: 4294967296\r\n\r\n")  # fmt: skip
    answer, took = _raw_exchange(server, head, b'{"zen": "')
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert took < 5
    # not announced: chunked, more than the limit (25 MiB by default) streamed; refused once over it
    chunk = b"x" * (1024 * 1024)

    def chunks() -> Any:
        yield b'{"a": "'
        for _ in range(40):
            yield chunk

    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d2", "X-Hub-Signature-256": "sha256=00"}
    try:
        status = httpx.post(f"{server.url}/webhook", content=chunks(), headers=headers, timeout=30).status_code
    except httpx.HTTPError:  # the server may answer and close before the client has sent everything
        status = 413
    assert status == 413
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_json_is_a_400_not_a_500(server: BotServer, shape: str) -> None:
    depth = 200_000
    body = ("[" * depth + "]" * depth) if shape == "array" else ('{"a":' * depth + "1" + "}" * depth)
    answer = post(server, body.encode(), event="pull_request")
    assert answer.status_code == 400, answer.text
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_unknown_events_and_actions_are_ignored(server: BotServer, emu: Emulator, app: Any, keys: dict[str, Key],
                                                tmp_path: Any) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)
    w.add_rule_commit()
    number = w.open()
    store = store_of(server)
    pending = store.count("review_requests")
    mark = emu.mark()
    for event, action in (("pull_request", "labeled"), ("pull_request", "closed"), ("pull_request", "assigned")):
        status, text = server.deliver(event, action, repo=w.repo_name, number=number, installation=w.installation)
        assert (status, json.loads(text)["status"]) == (202, "ignored"), (event, action, text)
    invented = {"action": "opened", "repository": {"full_name": w.repo_name},
                "installation": {"id": w.installation}, "pull_request": {"number": number}}  # fmt: skip
    for event in ("star", "x-made-up-event", "../../etc/passwd", "pull_request_review_thread"):
        answer = post(server, json.dumps(invented).encode(), event=event)
        assert answer.status_code == 202, (event, answer.text)
        assert "requests" not in answer.json()
    for action in ("deleted", "", None, ["opened"], {"x": 1}, 7):
        answer = post(server, json.dumps({**invented, "action": action}).encode(), event="pull_request")
        assert answer.status_code == 202 and "requests" not in answer.json(), (action, answer.text)
    time.sleep(1.0)
    assert store.count("review_requests") == pending  # nothing queued
    assert emu.calls_since(mark) == []  # and GitHub never asked
    store.close()


@pytest.mark.parametrize("whose", ["unknown installation", "repository not in the installation"])
def test_a_delivery_for_what_the_app_does_not_have_publishes_nothing(server: BotServer, emu: Emulator, app: Any,
                                                                      keys: dict[str, Key], tmp_path: Any,
                                                                      whose: str) -> None:  # fmt: skip
    w = World(emu, app, keys, tmp_path)  # installed: the delivery below borrows its pull request
    w.add_rule_commit()
    number = w.open()
    if whose == "unknown installation":
        installation = 987_654_321
    else:  # a real installation of the App, that does not include the repository
        emu.add_repository(f"{w.owner}x/other", source=str(w.repo.path), default_branch="main")
        installation = emu.install(app, account=f"{w.owner}x", repositories=[f"{w.owner}x/other"])
    mark = emu.mark()
    body, headers = emu.webhook("pull_request", "opened", repo=w.repo_name, number=number, app=app,
                                installation=installation)  # fmt: skip
    answer = httpx.post(f"{server.url}/webhook", content=body, headers=headers, timeout=30)
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    store = store_of(server)

    def finished() -> list[Any]:
        done = [r for r in store.requests_for(w.repo_name, number) if r.state not in ("queued", "running")]
        return done

    request = wait_for(finished, timeout=60)[0]
    store.close()
    assert request.outcome  # the job ended, saying why
    assert "Traceback" not in request.outcome, request.outcome
    time.sleep(0.5)
    assert writes_since(emu, mark) == [], [(c.route, c.status) for c in emu.calls_since(mark)]
    if whose == "unknown installation":  # not even a token: no attempt to write anything, refused or not
        assert [c.route for c in emu.calls_since(mark) if c.method in WRITES] == [
            "POST /app/installations/{installation_id}/access_tokens"]  # fmt: skip
    assert w.bot_comments(number) == [] and w.runs() == []
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
