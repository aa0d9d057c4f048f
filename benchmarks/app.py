"""App benchmark: GitHub API calls per review, webhook acknowledgement latency, delivery-to-comment time.

Everything runs on loopback: the project's GitHub emulator (which counts every call), `falco-rules-bot
serve` as a real process, real git repositories with GnuPG-signed commits.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.e2e.harness import BotServer, World, wait_for  # noqa: E402
from tests.emulator import Emulator  # noqa: E402
from tests.gitrepos import RULE  # noqa: E402
from tests.gpgkeys import Key, make_key  # noqa: E402

TOKEN = "POST /app/installations/{installation_id}/access_tokens"


def rest_baseline(commits: int, rules_files_changed: int, rules_files_total: int, authors: int, issues: int) -> int:
    """What a straightforward REST implementation spends on the same review (one call per need, 100 per page).

    token, GET the pull request, list its commits and files, the policy file's contents, each changed rules
    file's contents at head and base and each unchanged one at head, each author's GPG keys, each referenced
    issue, the head's statuses and check runs (agreement `status` mode), list the comments to find the bot's,
    PATCH it, create the check run.
    """
    pages = -(-commits // 100)
    return (1 + 1 + pages + 1 + 1 + 2 * rules_files_changed + (rules_files_total - rules_files_changed)
            + authors + issues + 2 + 1 + 1 + 1)  # fmt: skip


def calls_per_review(emu: Emulator, server: BotServer, app: Any, keys: dict[str, Key], tmp: Path,
                     commits: int) -> dict[str, Any]:  # fmt: skip
    """Calls of the second review of a PR (an existing comment), with and without minting the token."""
    w = World(emu, app, keys, tmp)
    w.add_rule_commit()
    w.repo.write("rules/falco-incubating_rules.yaml", RULE.format(name="Incubating", cond="evt.type = connect"))
    w.add_rule_commit("")
    number = w.open()
    server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
    w.completed_run()
    for i in range(commits - 2):
        w.add_rule_commit(f"# change {i}\n", message=f"Change {i}")
    w.push(number)
    head = w.head()
    mark = emu.mark()
    server.deliver("pull_request", "synchronize", repo=w.repo_name, number=number, installation=w.installation)
    w.completed_run(head, timeout=120)
    time.sleep(0.5)
    calls = [c for c in emu.calls_since(mark) if not c.path.endswith(".git") and "/webhook" not in c.path]
    routes = [c.route for c in calls]
    minted = routes.count(TOKEN)
    return {"commits": commits, "calls": len(calls), "with_token": len(calls) - minted + 1, "routes": routes,
            "rest": rest_baseline(commits, 2, 2, 1, 1)}  # fmt: skip


def ack_latency(emu: Emulator, app: Any, keys: dict[str, Key], tmp: Path, concurrency: int,
                rounds: int) -> dict[str, float]:  # fmt: skip
    """Seconds to acknowledge signed deliveries, `concurrency` at a time (the queue consumer off)."""
    server = BotServer(emu, app, tmp / "ack", EMBEDDED_WORKER="false").start()
    w = World(emu, app, keys, tmp)
    w.add_rule_commit()
    number = w.open()
    samples: list[float] = []
    lock = threading.Lock()
    url = f"{server.url}/webhook"
    try:
        for _ in range(rounds):
            barrier = threading.Barrier(concurrency)
            signed = [emu.webhook("pull_request", "synchronize", repo=w.repo_name, number=number,
                                  installation=w.installation, app=app) for _ in range(concurrency)]  # fmt: skip

            def one(delivery: tuple[bytes, dict[str, str]], barrier: threading.Barrier = barrier) -> None:
                with httpx.Client(timeout=30) as client:
                    barrier.wait()
                    start = time.perf_counter()
                    status = client.post(url, content=delivery[0], headers=delivery[1]).status_code
                    took = time.perf_counter() - start
                assert status == 202, status
                with lock:
                    samples.append(took)

            threads = [threading.Thread(target=one, args=(d,)) for d in signed]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        server.stop()
    samples.sort()
    return {"n": len(samples), "p50": statistics.median(samples), "p99": samples[int(len(samples) * 0.99) - 1],
            "max": samples[-1]}  # fmt: skip


def delivery_to_comment(emu: Emulator, server: BotServer, app: Any, keys: dict[str, Key], tmp: Path,
                        n: int) -> list[float]:  # fmt: skip
    """Seconds from POSTing `pull_request.opened` to the review comment being on the pull request."""
    times = []
    for _ in range(n):
        w = World(emu, app, keys, tmp)
        w.add_rule_commit()
        number = w.open()
        start = time.perf_counter()
        server.deliver("pull_request", "opened", repo=w.repo_name, number=number, installation=w.installation)
        wait_for(partial(w.bot_comments, number), timeout=60, interval=0.01)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reviews", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        keys = {"alice": make_key(tmp / "keys", "Alice Doe <alice@example.com>")}
        emu = Emulator()
        emu.start()
        emu.add_user("alice", name="Alice Doe", email="alice@example.com", gpg_public_keys=(keys["alice"].public,))
        app = emu.create_app(slug="falco-rules-bot")
        server = BotServer(emu, app, tmp / "data").start()
        try:
            for commits in (3, 100):
                r = calls_per_review(emu, server, app, keys, tmp, commits)
                print(f"calls per review, {commits} commits: {r['calls']} (with a token minted: {r['with_token']}; "
                      f"straightforward REST: {r['rest']})  {r['routes']}")  # fmt: skip
            lat = ack_latency(emu, app, keys, tmp, args.concurrency, args.rounds)
            p50, p99, top = (lat[k] * 1000 for k in ("p50", "p99", "max"))
            print(f"ack latency at {args.concurrency} concurrent, {lat['n']} deliveries: "
                  f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms")  # fmt: skip
            for delay in ("0", "2.0"):  # no debounce: the work itself; the default debounce: what a contributor sees
                timed = BotServer(emu, app, tmp / f"data-{delay}", REVIEW_DELAY_SECONDS=delay).start()
                try:
                    times = delivery_to_comment(emu, timed, app, keys, tmp, args.reviews)
                finally:
                    timed.stop()
                mid, low, high = (round(x * 1000) for x in (statistics.median(times), min(times), max(times)))
                print(f"delivery to comment, REVIEW_DELAY_SECONDS={delay}: median {mid} ms, min {low} ms, "
                      f"max {high} ms ({len(times)} pull requests)")  # fmt: skip
        finally:
            server.stop()
            emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
