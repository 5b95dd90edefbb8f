"""configure_logging: JSON lines on the given stream, request id, redaction."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
import structlog

from metrics.accesslog import AccessLog
from metrics.logging import access_emitter, access_logger, configure_logging, flush_logs
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
    flush_logs()  # lines are written in batches
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
    flush_logs()
    [line] = stream.getvalue().splitlines()
    assert orjson.loads(line)["event"] == "loud"


def test_console_renderer_and_bad_arguments() -> None:
    stream = io.StringIO()
    configure_logging("debug", "console", stream=stream)
    structlog.get_logger().info("hello", authorization=f"Bearer {SECRET}")
    flush_logs()
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
    access_emitter()("request", dict(fields))  # what AccessLog's batches use
    flush_logs()
    fast, main, emitted = (orjson.loads(line) for line in stream.getvalue().splitlines())
    emitted.pop("timestamp")
    stamps = [datetime.fromisoformat(e.pop("timestamp")) for e in (fast, main)]
    assert stamps[0].tzinfo == UTC and abs((stamps[1] - stamps[0]).total_seconds()) < 1
    assert list(fast) == list(main) == list(emitted) and fast == main == emitted
    assert SECRET not in stream.getvalue()
    assert fast["note"] == "Bearer [REDACTED]" and fast["raw"] == "bytes \ufffd"


def test_access_logger_follows_the_level_and_the_console_renderer() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    access_logger().info("request", status=200)
    access_emitter()("request", {"status": 200})
    flush_logs()
    assert stream.getvalue() == ""
    configure_logging("info", "console", stream=stream)
    access_emitter()("request", {"status": 200})
    flush_logs()
    assert "request" in stream.getvalue() and not stream.getvalue().startswith("{")


def test_line_writer_batches_without_any_event_loop() -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stream = Counting()
    writer = LineWriter(stream, flush_delay=0.05, max_pending=100)
    for i in range(10):
        writer.msg(f"line {i}")
    assert stream.getvalue() == ""  # held: one write for the burst, a moment later
    time.sleep(0.3)
    assert stream.getvalue().splitlines() == [f"line {i}" for i in range(10)]
    assert stream.flushes == 1
    for _ in range(100):
        writer.msg("x")
    assert len(stream.getvalue().splitlines()) == 110  # max_pending reached: written now
    for loop_round in range(2):  # loops that come and go strand nothing
        asyncio.run(asyncio.to_thread(writer.msg, f"round {loop_round}"))
    time.sleep(0.3)
    assert stream.getvalue().endswith("round 0\nround 1\n")


def test_line_writer_survives_a_finalizer_that_logs_during_a_write() -> None:
    class Reentrant(io.StringIO):
        writer: LineWriter | None = None

        def write(self, text: str) -> int:
            if self.writer is not None and "trigger" in text:
                self.writer.msg("from a finalizer")  # same thread, inside the write
            return super().write(text)

    stream = Reentrant()
    writer = stream.writer = LineWriter(stream, flush_delay=0.01)
    writer.msg("trigger")
    writer.flush()
    time.sleep(0.2)
    assert stream.getvalue().splitlines() == ["trigger", "from a finalizer"]


def test_line_writer_stops_writing_to_a_broken_pipe() -> None:
    class Broken(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            raise BrokenPipeError

    stream = Broken()
    writer = LineWriter(stream, flush_delay=0.01)
    writer.msg("a")
    writer.flush()
    writer.msg("b")
    writer.flush()
    assert stream.writes == 1


async def test_access_log_batches_and_keeps_each_request_time() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    log = AccessLog(access_emitter, delay=0.05, max_pending=50)
    before = datetime.now(UTC)
    log.record({"request_id": "a", "status": 200})
    await asyncio.sleep(0.3)  # recorded before the pause, written a moment later
    log.record({"request_id": "b", "status": 404})
    flush_logs()
    assert [orjson.loads(x)["request_id"] for x in stream.getvalue().splitlines()] == ["a"]
    log.flush()  # shutdown: nothing held back
    flush_logs()
    first, second = (orjson.loads(x) for x in stream.getvalue().splitlines())
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in (first, second)]
    # Each line carries its request's time, not the time the batch was written.
    assert before <= stamps[0] and (stamps[1] - stamps[0]).total_seconds() >= 0.25
    assert second == {**second, "event": "request", "level": "info", "status": 404}
    for i in range(50):  # max_pending: written at the next loop turn, not after 50 ms
        log.record({"request_id": f"n{i}"})
    await asyncio.sleep(0)
    flush_logs()
    assert len(stream.getvalue().splitlines()) == 52
    log.record({"request_id": "stranded"})  # its timer's loop ends before the timer fires

    def next_loop_records() -> None:
        asyncio.run(asyncio.sleep(0))  # another loop entirely
        log.record({"request_id": "later"})  # no loop here: the stranded one goes first

    await asyncio.to_thread(next_loop_records)
    flush_logs()
    assert [orjson.loads(x)["request_id"] for x in stream.getvalue().splitlines()[-2:]] == [
        "stranded",
        "later",
    ]


async def test_access_log_reports_events_it_could_not_write() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)

    def build(captured: object) -> dict[str, object]:
        if captured == "bad":
            raise ValueError("cannot build")
        return {"request_id": captured}

    log = AccessLog(access_emitter, build=build)
    for item in ("a", "bad", "b"):
        log.record(item)
    log.flush()
    flush_logs()
    events = [orjson.loads(x) for x in stream.getvalue().splitlines()]
    assert [e.get("request_id") for e in events if e["event"] == "request"] == ["a", "b"]
    [dropped] = [e for e in events if e["event"] == "access_log_events_dropped"]
    assert dropped["count"] == 1 and "cannot build" in dropped["first_error"]
