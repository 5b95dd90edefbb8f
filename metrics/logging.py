"""structlog configuration: one JSON object per line on stdout.

Call :func:`configure_logging` ONCE at start-up (the CLI does). ``structlog.configure`` and
the root stdlib logger are process-wide by nature; calling again replaces the previous
configuration (tests do that), it never stacks handlers.

Pipeline, one small processor each: merge contextvars (bind a request id once per request
with ``structlog.contextvars.bind_contextvars(request_id=...)`` and it shows in every event),
add the level, ISO-8601 UTC timestamp, redact secrets, render. Handlers log an event name and
fields, never formatted strings: ``log.info("cache_hit", cache_id=..., similarity=...)``.

Standard-library loggers (aiohttp's, for instance) go through the same processors, so the
output stays one JSON object per line.

The per-request access event is the exception: it is batched (metrics.accesslog) and goes
through :class:`AccessEventRenderer`, a one-step chain with the same output but no
contextvars merge: its fields, request id included, are passed explicitly.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any, Literal, TextIO

import orjson
import structlog
import structlog.tracebacks
from aiohttp.http_exceptions import HttpProcessingError
from structlog.types import Processor

from metrics.logwriter import LineWriter, LineWriterFactory, LineWriterHandler
from metrics.redact import redact_event

Renderer = Literal["auto", "json", "console"]

_HANDLER_NAME = "videocache"


def _fallback(obj: Any) -> Any:
    # What orjson cannot serialise natively: bytes become text (structlog's UnicodeDecoder
    # did that for every value of every event; here it costs nothing unless bytes show up),
    # anything else its repr.
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).decode("utf-8", "replace")
    return repr(obj)


def summarize_parser_errors(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: aiohttp's HTTP parser errors (a malformed request line or
    header, logged by ``aiohttp.server`` as "Error handling request") become their class
    and reason, without the traceback and without the offending bytes.

    Why: aiohttp quotes the rejected line byte for byte in the exception's message
    (``Invalid header value char: b'api-key: <the key>\\x01'``), so a client, or anyone who
    can reach the port, could have any credential written to the log in clear: redaction
    recognises a credential by its name or its shape, not inside a quoted request line.
    The reason is the message up to its first colon, which never quotes the request."""
    exc_info = event_dict.get("exc_info")
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if isinstance(exc, HttpProcessingError):
        del event_dict["exc_info"]
        event_dict["error"] = type(exc).__name__
        message = exc.message if isinstance(exc.message, str) else ""
        event_dict["reason"] = message.split("\n", 1)[0].split(":", 1)[0].strip()
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None, **_: Any) -> str:
    # orjson escapes control characters, so an event never spans two lines.
    return orjson.dumps(obj, default=_fallback, option=orjson.OPT_NON_STR_KEYS).decode()


class UtcTimeStamper:
    """``timestamp``: ISO-8601 UTC with microseconds, as structlog's
    ``TimeStamper(fmt="iso", utc=True)`` writes it, at a fraction of the cost.

    The access log stamps every request; building a timezone-aware datetime for each costs
    more than the rest of the event. The date-and-seconds prefix is formatted once per
    second and reused. A float ``timestamp`` already in the event (epoch seconds) is
    formatted instead of the current time.
    """

    def __init__(self) -> None:
        # One tuple, swapped whole: the stdlib chain shares this stamper across threads.
        self._cached: tuple[int, str] = (-1, "")

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        # An event may bring its own time as epoch seconds (metrics.accesslog logs requests
        # a moment after they happened).
        now = event_dict.get("timestamp")
        if type(now) is not float:
            now = time.time()
        second = int(now)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cached = (second, prefix)
        event_dict["timestamp"] = f"{prefix}.{int((now - second) * 1e6):06d}Z"
        return event_dict


class AccessEventRenderer:
    """The whole processor chain of the access event in one step: level, timestamp,
    redaction, JSON. The output is what the main chain writes for the same event.

    The access event is logged for every request, and each processor is a Python call on
    the proxy's one event-loop thread: the observability benchmark measured the main chain
    at about 11 % of the proxy's throughput. This event never carries exceptions, stack
    info or contextvars, so those processors have nothing to do for it and are skipped.
    """

    def __init__(self) -> None:
        self._stamp = UtcTimeStamper()

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> str:
        event_dict["level"] = method_name
        self._stamp(logger, method_name, event_dict)
        redact_event(logger, method_name, event_dict)
        return orjson.dumps(event_dict, default=_fallback, option=orjson.OPT_NON_STR_KEYS).decode()


def access_logger() -> Any:
    """The logger for the per-request access event.

    With the JSON renderer configured by :func:`configure_logging`: a structlog logger on the
    same writer and level filter whose chain is :class:`AccessEventRenderer`. Otherwise (the
    console renderer, or logging configured elsewhere) a plain ``structlog.get_logger``.
    """
    config = structlog.get_config()
    factory = config["logger_factory"]
    processors = getattr(factory, "access_processors", None)
    if not isinstance(factory, LineWriterFactory) or processors is None:
        return structlog.get_logger("videocache.access")
    return structlog.wrap_logger(
        factory.writer, processors=processors, wrapper_class=config["wrapper_class"]
    ).bind()


AccessEmitter = Callable[[str, dict[str, Any]], None]


def access_emitter() -> AccessEmitter:
    """``emit(event, fields)``: log one access event, as ``access_logger().info(event,
    **fields)`` would, for :class:`metrics.accesslog.AccessLog`'s batches.

    With the JSON renderer configured by :func:`configure_logging` the access chain (one
    processor) and the writer are called directly: structlog's bound-logger wrapper copies
    the fields three times per event, which at one event per request is worth skipping.
    Events below the configured level are dropped, as the bound logger would. Anything else
    goes through :func:`access_logger`.
    """
    config = structlog.get_config()
    factory = config["logger_factory"]
    processors = getattr(factory, "access_processors", None)
    if not isinstance(factory, LineWriterFactory) or not processors or len(processors) != 1:
        log = access_logger()
        return lambda event, fields: log.info(event, **fields)
    if factory.level > logging.INFO:
        return lambda event, fields: None
    render, writer = processors[0], factory.writer

    def emit(event: str, fields: dict[str, Any]) -> None:
        fields["event"] = event
        writer.msg(render(writer, "info", fields))

    return emit


def flush_logs() -> None:
    """Write every log line still held by the configured writer (tests, shutdown)."""
    writer = getattr(structlog.get_config()["logger_factory"], "writer", None)
    if isinstance(writer, LineWriter):
        writer.flush()


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(
    level: str = "info", renderer: Renderer | str = "auto", stream: TextIO | None = None
) -> None:
    """Configure structlog (and the stdlib root logger) process-wide.

    ``renderer``: "json" (one object per line), "console" (human-readable), or "auto":
    console when ``stream`` is a terminal, JSON otherwise. ``stream`` defaults to stdout.
    """
    out: TextIO = sys.stdout if stream is None else stream
    if renderer not in ("auto", "json", "console"):
        raise ValueError(f"unknown log renderer {renderer!r}")
    is_tty = bool(getattr(out, "isatty", lambda: False)())
    console = renderer == "console" or (renderer == "auto" and is_tty)
    number = _level_number(level)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        UtcTimeStamper(),
        summarize_parser_errors,  # before any renderer sees the exception
    ]
    final: Processor
    access: list[Processor] | None = None
    if console:
        final = structlog.dev.ConsoleRenderer(colors=is_tty)
    else:
        access = [AccessEventRenderer()]
        # Tracebacks as data, WITHOUT frame locals (they may hold credentials), and before
        # redaction so a token quoted in an exception message is scrubbed too.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
        final = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    shared.append(redact_event)

    # Lines are kept for a moment and written in batches (metrics.logwriter): a flush per
    # access-log line was a system call per request.
    factory = LineWriterFactory(out, access_processors=access, level=number)
    atexit.register(factory.writer.flush)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            final,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=factory,
        # Cached: without it every event rebuilds a bound logger through the lazy proxy,
        # on the request hot path. Loggers are created per app (AppState.log), after this
        # one start-up call, so caching never pins an old configuration.
        cache_logger_on_first_use=True,
    )
    _configure_stdlib(number, shared, final, factory.writer)


def _configure_stdlib(
    level: int, shared: list[Processor], final: Processor, writer: LineWriter
) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, final],
    )
    handler = LineWriterHandler(writer)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
