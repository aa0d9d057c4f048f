"""The intake benchmark's baseline: a bare FastAPI endpoint that only answers 200, served as `serve` serves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot.web import FASTAPI_OPTIONS
from bot.web.server import uvicorn_options

app = FastAPI(**FASTAPI_OPTIONS)  # the App's own options: no docs, no built-in telemetry


@app.post("/webhook")
async def webhook() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **uvicorn_options("warning"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
