"""configure_logging: JSON lines on the given stream, request id, redaction."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
import structlog

from metrics.accesslog import AccessLog
from metrics.logging import access_logger, configure_logging
from metrics.logwriter import LineWriter

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "videocache"]:
        root.removeHandler(handler)


def test_json_lines_with_request_id_and_no_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "auto")  # stdout, not a tty under capsys: JSON
    log = structlog.get_logger("videocache.test")
    structlog.contextvars.bind_contextvars(request_id="req_abc123")
    log.info(
        "request_received",
        headers={"Authorization": f"Bearer {SECRET}", "Cookie": "sid=s3cr3t", "api-key": SECRET},
        api_key=SECRET,
        prompt="multi\nline prompt",
    )
    log.debug("not_shown")
    log.warning("upstream_error", error=f"401 for key {SECRET}")
    logging.getLogger("aiohttp.access").info("GET /v1/videos 200")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3
    events = [orjson.loads(line) for line in lines]
    assert all(isinstance(e, dict) for e in events)
    assert [e["event"] for e in events] == [
        "request_received",
        "upstream_error",
        "GET /v1/videos 200",
    ]
    assert all(e["request_id"] == "req_abc123" for e in events)
    assert events[0]["level"] == "info" and events[1]["level"] == "warning"
    assert events[0]["timestamp"].endswith("Z")
    assert events[0]["headers"]["Authorization"] == "Bearer [REDACTED]"
    assert events[0]["prompt"] == "multi\nline prompt"
    for secret in (SECRET, "s3cr3t"):
        assert secret not in out


def test_level_filter_and_explicit_stream() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    structlog.get_logger().info("quiet")
    structlog.get_logger().error("loud", n=1)
    [line] = stream.getvalue().splitlines()
    assert orjson.loads(line)["event"] == "loud"


def test_console_renderer_and_bad_arguments() -> None:
    stream = io.StringIO()
    configure_logging("debug", "console", stream=stream)
    structlog.get_logger().info("hello", authorization=f"Bearer {SECRET}")
    text = stream.getvalue()
    assert "hello" in text and SECRET not in text
    with pytest.raises(ValueError):
        configure_logging("loud")
    with pytest.raises(ValueError):
        configure_logging("info", "xml")


def test_reconfiguring_does_not_stack_handlers() -> None:
    configure_logging(stream=io.StringIO())
    configure_logging(stream=io.StringIO())
    root = logging.getLogger()
    assert len([h for h in root.handlers if h.get_name() == "videocache"]) == 1


def test_access_logger_writes_what_the_main_chain_writes() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    fields = {
        "request_id": "req_1",
        "route": "/v1/videos/{id}",
        "status": 200,
        "duration_ms": 1.5,
        "similarity": None,
        "note": f"Bearer {SECRET}",
        "api_key": SECRET,
        "raw": b"bytes \xff",
    }
    access_logger().info("request", **fields)
    structlog.get_logger("videocache").info("request", **fields)
    fast, main = (orjson.loads(line) for line in stream.getvalue().splitlines())
    stamps = [datetime.fromisoformat(e.pop("timestamp")) for e in (fast, main)]
    assert stamps[0].tzinfo == UTC and abs((stamps[1] - stamps[0]).total_seconds()) < 1
    assert list(fast) == list(main) and fast == main
    assert SECRET not in stream.getvalue()
    assert fast["note"] == "Bearer [REDACTED]" and fast["raw"] == "bytes \ufffd"


def test_access_logger_follows_the_level_and_the_console_renderer() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    access_logger().info("request", status=200)
    assert stream.getvalue() == ""
    configure_logging("info", "console", stream=stream)
    access_logger().info("request", status=200)
    assert "request" in stream.getvalue() and not stream.getvalue().startswith("{")


async def test_line_writer_batches_inside_a_loop_and_writes_at_once_outside() -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stream = Counting()
    writer = LineWriter(stream, flush_delay=0.05, max_pending=100)
    for i in range(10):
        writer.msg(f"line {i}")
    assert stream.getvalue() == ""  # held: one write for the burst, later
    await asyncio.sleep(0.2)
    assert stream.getvalue().splitlines() == [f"line {i}" for i in range(10)]
    assert stream.flushes == 1
    for _ in range(100):
        writer.msg("x")
    assert len(stream.getvalue().splitlines()) == 110  # max_pending reached: written now
    await asyncio.sleep(0.1)

    def from_a_thread() -> None:
        writer.msg("from a worker thread")

    await asyncio.to_thread(from_a_thread)  # no loop in that thread: written at once
    assert stream.getvalue().endswith("from a worker thread\n")


async def test_access_log_batches_and_keeps_each_request_time() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    log = AccessLog(access_logger(), delay=0.05, max_pending=50)
    before = datetime.now(UTC)
    log.record({"request_id": "a", "status": 200})
    await asyncio.sleep(0.3)  # recorded before the pause, written a moment later
    log.record({"request_id": "b", "status": 404})
    assert [orjson.loads(x)["request_id"] for x in stream.getvalue().splitlines()] == ["a"]
    log.flush()  # shutdown: nothing held back
    await asyncio.sleep(0.1)  # the writer's own batch
    first, second = (orjson.loads(x) for x in stream.getvalue().splitlines())
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in (first, second)]
    # Each line carries its request's time, not the time the batch was written.
    assert before <= stamps[0] and (stamps[1] - stamps[0]).total_seconds() >= 0.25
    assert second == {**second, "event": "request", "level": "info", "status": 404}
    for i in range(50):  # max_pending: written without waiting for the timer
        log.record({"request_id": f"n{i}"})
    await asyncio.sleep(0.1)
    assert len(stream.getvalue().splitlines()) == 52
