"""Intake benchmark: signed deliveries acknowledged per second by one `serve` process, against a bare FastAPI
endpoint that only answers 200, in the same run, and the acknowledgement latency at 50 concurrent connections.

Both servers run as real processes on loopback, served by uvicorn the same way (`bot.web.server.uvicorn_options`);
the load comes from `benchmarks/loadgen.py`, a separate process. `serve` runs with its queue consumer off (the web
process of scale-out mode, or the intake half of the embedded mode): every 202 means the delivery and its review
request were committed to the store and put on the queue before the answer. Rounds alternate between the two
servers so that machine noise hits both alike; the figures are medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.e2e.harness import stop_process  # noqa: E402
from tests.emulator.webhooks import example, signature_256  # noqa: E402

SECRET = "benchmark-webhook-secret"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(argv: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it answers /healthz."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{argv} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{argv} did not answer in 30 s")


def load(url: str, requests_file: Path, connections: int, requests: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "loadgen.py"), url, str(requests_file),
                          "--connections", str(connections), "--requests", str(requests)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    lat = sorted(result["latencies"])
    result.update(rate=result["count"] / result["wall"], p50=statistics.median(lat),
                  p99=lat[max(0, int(len(lat) * 0.99) - 1)], max=lat[-1])  # fmt: skip
    del result["latencies"]
    return result


def write_requests(path: Path, pulls: int) -> int:
    """GitHub's example `pull_request.synchronize`, signed, for `pulls` pull requests of 20 repositories and
    2 installations (JSON lines for loadgen.py); the size of one body."""
    template = example("pull_request", "synchronize")
    size = 0
    with open(path, "w") as out:
        for i in range(pulls):
            payload = json.loads(json.dumps(template))
            payload["number"] = payload["pull_request"]["number"] = 1000 + i
            payload["repository"]["full_name"] = f"falcosecurity/rules-{i % 20}"
            payload["repository"]["name"] = f"rules-{i % 20}"
            payload["installation"]["id"] = 4000 + i % 2
            payload["pull_request"]["head"]["sha"] = f"{i:040x}"
            body = json.dumps(payload)
            size = len(body)
            headers = {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": signature_256(SECRET, body.encode()),
                       "User-Agent": "GitHub-Hookshot/benchmark"}  # fmt: skip
            out.write(json.dumps({"body": body, "headers": headers}) + "\n")
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pulls", type=int, default=200, help="pull requests the deliveries are spread over")
    parser.add_argument("--database-url", default=None, help="e.g. postgresql+psycopg://... (default: SQLite)")
    parser.add_argument("--redis-url", default=None, help="redis://... (default: Huey's SQLite queue)")
    parser.add_argument("--scaleout", action="store_true", help="start a PostgreSQL and a Redis here, use them")
    args = parser.parse_args()
    if args.scaleout:
        from tests.scaleout import servers

        redis, postgres = servers.Redis(), servers.Postgres()
        args.database_url, args.redis_url = postgres.fresh_url(), redis.fresh_url()
        try:
            return measure(args)
        finally:
            redis.stop()
            postgres.stop()
    return measure(args)


def measure(args: argparse.Namespace) -> int:
    """Run the rounds against both servers and print the figures."""
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        requests_file = tmp / "requests.jsonl"
        size = write_requests(requests_file, args.pulls)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "DATABASE_", "REDIS_"))}
        env.update(GITHUB_WEBHOOK_SECRET=SECRET, DATA_DIR=str(tmp / "data"), EMBEDDED_WORKER="false",
                   LOG_LEVEL="WARNING")  # fmt: skip
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
        bare_port, bot_port = free_port(), free_port()
        bare = start([sys.executable, str(ROOT / "benchmarks" / "bare_app.py"), "--port", str(bare_port)], env,
                     bare_port, tmp / "bare.log")  # fmt: skip
        bot = start([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(bot_port)], env,
                    bot_port, tmp / "bot.log")  # fmt: skip
        try:
            for url in (f"http://127.0.0.1:{bare_port}/webhook", f"http://127.0.0.1:{bot_port}/webhook"):
                load(url, requests_file, args.connections, 300)  # warm up both
            bare_runs, bot_runs = [], []
            for _ in range(args.rounds):
                bare_runs.append(load(f"http://127.0.0.1:{bare_port}/webhook", requests_file, args.connections,
                                      args.requests))  # fmt: skip
                bot_runs.append(load(f"http://127.0.0.1:{bot_port}/webhook", requests_file, args.connections,
                                     args.requests))  # fmt: skip
        finally:
            stop_process(bot)
            stop_process(bare)
        for run in bot_runs:
            if set(run["statuses"]) != {"202"}:
                raise SystemExit(f"the bot answered {run['statuses']}:\n{(tmp / 'bot.log').read_text()[-3000:]}")
        bare_rate = statistics.median(r["rate"] for r in bare_runs)
        bot_rate = statistics.median(r["rate"] for r in bot_runs)
        p50 = statistics.median(r["p50"] for r in bot_runs) * 1000
        p99 = statistics.median(r["p99"] for r in bot_runs) * 1000
        top = max(r["max"] for r in bot_runs) * 1000
        bare_p99 = statistics.median(r["p99"] for r in bare_runs) * 1000
        store = "PostgreSQL" if args.database_url else "SQLite"
        queue = "Redis" if args.redis_url else "SQLite queue"
        print(f"intake ({store}, {queue}), {args.connections} connections, {args.requests} deliveries x "
              f"{args.rounds} rounds (pull_request.synchronize of {args.pulls} pull requests, "
              f"{size} bytes each):")  # fmt: skip
        print(f"  bare FastAPI endpoint: {bare_rate:.0f}/s (p99 {bare_p99:.1f} ms)")
        print(f"  falco-rules-bot serve: {bot_rate:.0f}/s = {bot_rate / bare_rate:.2f} of the bare endpoint; "
              f"ack p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
