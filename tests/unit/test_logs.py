"""bot.logs: the context each line carries (threads and nesting), the JSON and text formats, and configure()."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.StreamHandler[io.StringIO]]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger("falco-rules-bot.test-logs")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(handler)
    try:
        yield logger, stream, handler
    finally:
        logger.removeHandler(handler)


def test_json_lines_carry_the_context_in_force(captured: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, handler = captured
    handler.setFormatter(logs.formatter("json"))
    with logs.context(delivery_id="d-1", event="pull_request", repo=None):
        logger.info("outer %s", 1)
        with logs.context(repo="falco/rules", pr=12, request_id=7):
            logger.warning("inner")
        logger.info("outer again")
    logger.info("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["outer 1", "inner", "outer again", "outside"]
    assert lines[0] == {"time": lines[0]["time"], "level": "INFO", "logger": "falco-rules-bot.test-logs",
                        "message": "outer 1", "delivery_id": "d-1", "event": "pull_request"}  # fmt: skip
    assert lines[1]["repo"] == "falco/rules" and lines[1]["pr"] == 12 and lines[1]["request_id"] == 7
    assert lines[1]["delivery_id"] == "d-1" and lines[1]["level"] == "WARNING"
    assert "repo" not in lines[2] and "delivery_id" not in lines[3]
    assert lines[0]["time"].endswith("Z") and "T" in lines[0]["time"]


def test_an_exception_is_one_string_field(captured: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, handler = captured
    handler.setFormatter(logs.formatter("json"))
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception("it failed")
    text = stream.getvalue()
    assert text.count("\n") == 1  # one line, the traceback inside it
    line = json.loads(text)
    assert line["message"] == "it failed" and line["level"] == "ERROR"
    assert "Traceback" in line["exception"] and "ValueError: bad\nvalue" in line["exception"]


def test_each_thread_has_its_own_context(captured: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, handler = captured
    handler.setFormatter(logs.formatter("json"))
    barrier = threading.Barrier(2)

    def job(request_id: int) -> None:
        with logs.context(request_id=request_id):
            logs.bind(repo=f"o/r{request_id}")
            barrier.wait()
            logger.info("job %s", request_id)

    threads = [threading.Thread(target=job, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = {json.loads(line)["message"]: json.loads(line) for line in stream.getvalue().splitlines()}
    assert lines["job 1"]["repo"] == "o/r1" and lines["job 2"]["repo"] == "o/r2"
    assert lines["job 1"]["request_id"] == 1 and lines["job 2"]["request_id"] == 2
    assert logs.current() == {}


def test_text_lines_show_the_context_after_the_message(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(logs.formatter("text"))
    logger.info("plain")
    with logs.context(repo="falco/rules", pr=3):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    first, second = stream.getvalue().split("\n", 1)
    assert first.endswith("INFO falco-rules-bot.test-logs: plain")
    assert second.splitlines()[0].endswith("ERROR falco-rules-bot.test-logs: failed [repo=falco/rules pr=3]")
    assert "RuntimeError: boom" in second


def test_configure_sends_uvicorns_lines_through_the_json_formatter() -> None:
    code = ("import logging, uvicorn.config; from bot import logs; logs.configure('info', 'json');"
            "logging.getLogger('uvicorn.error').info('Started server process');"
            "logging.getLogger('huey.consumer').warning('from huey');"
            "logging.getLogger('falco-rules-bot.x').debug('hidden at INFO')")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("uvicorn.error", "Started server process"), ("huey.consumer", "from huey")]  # fmt: skip
