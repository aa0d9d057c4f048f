"""Worker-pool benchmark (scale-out mode): reviews per minute with 1, 2 and 3 `worker` processes, and the resident
memory of the web process and of a worker over 1,000 reviews.

Everything is real and on loopback: PostgreSQL and Redis started here (tests/scaleout/servers.py), `serve` and
`worker` processes, the project's GitHub emulator, git repositories with GnuPG-signed commits. The pull requests
are typical (3 signed commits, one author, two rules files, a linked issue), one per repository and installation,
so that GitHub's one-second pause between two writes of an installation does not serialise the pool. Each review
is a full one: two GraphQL round trips, the author's keys, GnuPG, the checks and rules engine, a comment and a
check run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.store import Store  # noqa: E402
from tests.e2e.harness import ScaleOutGroup, World  # noqa: E402
from tests.emulator import Emulator  # noqa: E402
from tests.gitrepos import RULE  # noqa: E402
from tests.gpgkeys import make_key  # noqa: E402
from tests.scaleout import servers  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def typical_pulls(emu: Emulator, app: Any, keys: dict[str, Any], tmp: Path, n: int) -> list[tuple[World, int]]:
    pulls = []
    for _ in range(n):
        w = World(emu, app, keys, tmp)
        w.add_rule_commit()
        w.repo.write("rules/falco-incubating_rules.yaml", RULE.format(name="Incubating", cond="evt.type = connect"))
        w.add_rule_commit("")
        w.add_rule_commit("# a third commit\n", message="Tidy")
        pulls.append((w, w.open()))
    return pulls


def done_count(store: Store, pulls: list[tuple[World, int]]) -> int:
    return sum(1 for w, n in pulls for r in store.requests_for(w.repo_name, n) if r.state == "done")


def run_reviews(group: ScaleOutGroup, store: Store, pulls: list[tuple[World, int]], rounds: int,
                on_progress: Any = None) -> float:  # fmt: skip
    """Deliver `rounds` synchronize events to every pull request (one review each); seconds until all are done."""
    before = done_count(store, pulls)
    target = before + rounds * len(pulls)
    start = time.monotonic()
    for i in range(rounds):
        for w, number in pulls:
            status, _ = group.deliver("pull_request", "synchronize", repo=w.repo_name, number=number,
                                      installation=w.installation)  # fmt: skip
            assert status == 202, status
        # wait for this round before the next: a second delivery for a pull request would supersede the first
        goal = target - (rounds - i - 1) * len(pulls)
        while (count := done_count(store, pulls)) < goal:
            time.sleep(0.2)
            if time.monotonic() - start > 3600:
                raise SystemExit("reviews did not finish within an hour")
        if on_progress is not None:
            on_progress(count - before)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pulls", type=int, default=12, help="pull requests (each its own installation)")
    parser.add_argument("--rounds", type=int, default=3, help="reviews of every pull request per measurement")
    parser.add_argument("--memory-reviews", type=int, default=1000)
    parser.add_argument("--memory-only", action="store_true", help="skip the reviews-per-minute measurements")
    args = parser.parse_args()
    redis, postgres = servers.Redis(), servers.Postgres()
    emu = Emulator()
    emu.start()
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            keys = {"alice": make_key(tmp / "keys", "Alice Doe <alice@example.com>")}
            emu.add_user("alice", name="Alice Doe", email="alice@example.com", gpg_public_keys=(keys["alice"].public,))
            app = emu.create_app(slug="falco-rules-bot")
            pulls = typical_pulls(emu, app, keys, tmp, args.pulls)
            settings = {"REVIEW_DELAY_SECONDS": "0", "WORKERS": "1", "LOG_LEVEL": "WARNING"}
            rates = {}
            for workers in () if args.memory_only else (1, 2, 3):
                group = ScaleOutGroup(emu, app, tmp / f"pool{workers}", webs=1, workers=workers, redis=redis,
                                      postgres=postgres, **settings).start()  # fmt: skip
                store = Store(group.database_url)
                try:
                    run_reviews(group, store, pulls, 1)  # warm up: first reviews, caches, connections
                    took = run_reviews(group, store, pulls, args.rounds)
                finally:
                    store.close()
                    group.stop()
                rates[workers] = args.rounds * len(pulls) / took * 60
                print(f"{workers} worker process(es), 1 thread each: {rates[workers]:.0f} reviews/min "
                      f"({args.rounds * len(pulls)} reviews in {took:.1f} s; x{rates[workers] / rates[1]:.2f} of one)",
                      flush=True)  # fmt: skip
            # Memory: one web process and one worker (2 threads), over 1,000 reviews.
            group = ScaleOutGroup(emu, app, tmp / "memory", webs=1, workers=1, redis=redis, postgres=postgres,
                                  **{**settings, "WORKERS": "2"}).start()  # fmt: skip
            store = Store(group.database_url)
            web_pid, worker_pid = group.webs[0].proc.pid, group.workers[0].pid  # type: ignore[union-attr]
            samples: list[tuple[int, float, float]] = []

            def sample(done: int) -> None:
                samples.append((done, rss_mb(web_pid), rss_mb(worker_pid)))

            try:
                run_reviews(group, store, pulls, 1)
                sample(0)
                rounds = max(1, -(-args.memory_reviews // len(pulls)))
                run_reviews(group, store, pulls, rounds, on_progress=sample)
            finally:
                store.close()
                group.stop()
            print("reviews  web RSS (MB)  worker RSS (MB)")
            shown = [s for i, s in enumerate(samples) if i % max(1, len(samples) // 10) == 0 or i == len(samples) - 1]
            for done, web, worker in shown:
                print(f"{done:7d}  {web:12.1f}  {worker:15.1f}")
            tail = [s[2] for s in samples[len(samples) // 2 :]]
            print(f"worker RSS over the second half: median {statistics.median(tail):.1f} MB, "
                  f"max {max(tail):.1f} MB; web {samples[-1][1]:.1f} MB at the end")  # fmt: skip
    finally:
        emu.stop()
        redis.stop()
        postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
