"""configure_logging: JSON lines on the given stream, request id, redaction."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog

from metrics.logging import configure_logging

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
