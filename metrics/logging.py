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
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import orjson
import structlog
import structlog.tracebacks
from structlog.types import Processor

from metrics.redact import redact_event

Renderer = Literal["auto", "json", "console"]

_HANDLER_NAME = "videocache"


def _orjson_dumps(obj: Any, default: Any = None, **_: Any) -> str:
    # orjson escapes control characters, so an event never spans two lines.
    return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()


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
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: Processor
    if console:
        final = structlog.dev.ConsoleRenderer(colors=is_tty)
    else:
        # Tracebacks as data, WITHOUT frame locals (they may hold credentials), and before
        # redaction so a token quoted in an exception message is scrubbed too.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
        final = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    shared.append(redact_event)

    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            final,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        # Cached: without it every event rebuilds a bound logger through the lazy proxy,
        # on the request hot path. Loggers are created per app (AppState.log), after this
        # one start-up call, so caching never pins an old configuration.
        cache_logger_on_first_use=True,
    )
    _configure_stdlib(number, shared, final, out)


def _configure_stdlib(level: int, shared: list[Processor], final: Processor, out: TextIO) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, final],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
