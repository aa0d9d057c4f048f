"""A small closed-loop HTTP/1.1 load generator (asyncio, raw sockets, keep-alive), run as its own process.

`python benchmarks/loadgen.py URL REQUESTS_FILE --connections 50 --requests 2000` POSTs the requests of the file
(JSON lines: `{"body": text, "headers": {...}}`, taken in turn) over `connections` persistent connections, each
sending its next request as soon as the previous one is answered, with a fresh `X-GitHub-Delivery` per request.
It prints one JSON line: the count, the wall time, the statuses, and every latency in seconds. It costs far less
CPU per request than the servers it measures, so that on a small machine the figures describe the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlsplit


async def _connection(host: str, port: int, path: str, requests: list[tuple[bytes, str]], first: int, count: int,
                      latencies: list[float], statuses: dict[int, int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for i in range(first, first + count):
            body, fixed = requests[i % len(requests)]
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n{fixed}\r\n")  # fmt: skip
            start = time.perf_counter()
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(url: str, kinds: list[tuple[bytes, str]], connections: int, requests: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    per = [requests // connections + (1 if i < requests % connections else 0) for i in range(connections)]
    start = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, parts.path, kinds, i * 7919, n, latencies, statuses)
                           for i, n in enumerate(per)))  # fmt: skip
    wall = time.perf_counter() - start
    return {"count": len(latencies), "wall": wall, "statuses": statuses, "latencies": latencies}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("requests_file")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    kinds = []
    with open(args.requests_file) as f:
        for line in f:
            item = json.loads(line)
            kinds.append((item["body"].encode(), "".join(f"{k}: {v}\r\n" for k, v in item["headers"].items())))
    result = asyncio.run(_run(args.url, kinds, args.connections, args.requests))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
