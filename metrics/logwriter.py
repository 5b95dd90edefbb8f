"""The end of the logging pipeline: rendered lines to a stream, flushed in batches.

structlog's own PrintLogger flushes after every line, one ``write(2)`` per event. The access
log writes an event for every request, so under load that was a system call per request on
the proxy's one event-loop thread. :class:`LineWriter` keeps the lines of a burst and writes
them in one call ``flush_delay`` after the first, or at once when no event loop runs in this
thread (start-up, worker threads), when the stream is a terminal someone is watching, or when
``max_pending`` lines are waiting. Whole lines are written together, so they never
interleave; stdlib records go through the same writer (:class:`LineWriterHandler`), so the
order of lines is the order of events.

What a crash (``kill -9``) can lose is the last ``flush_delay`` of lines. A clean exit loses
nothing: :func:`metrics.logging.configure_logging` registers :meth:`LineWriter.flush` with
``atexit``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, TextIO

# Long enough to batch a burst of requests into one write, short enough that someone tailing
# the log sees nothing lag.
DEFAULT_FLUSH_DELAY = 0.05
# A burst bigger than this is written at once rather than held.
DEFAULT_MAX_PENDING = 512


class LineWriter:
    """A structlog logger writing one rendered line per event, flushing in batches."""

    def __init__(
        self,
        stream: TextIO,
        flush_delay: float = DEFAULT_FLUSH_DELAY,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._stream = stream
        self._delay = flush_delay
        self._max_pending = max_pending
        self._immediate = bool(getattr(stream, "isatty", lambda: False)())
        # Lines wait here, not in the stream's buffer: with PYTHONUNBUFFERED=1 (common in
        # containers) every stream.write is a system call of its own.
        self._pending: list[str] = []
        # Worker threads log too (blob writes): the list and the stream are shared.
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            if self._immediate:
                self._write([message])
                return
            first = not self._pending
            self._pending.append(message)
            if len(self._pending) >= self._max_pending:
                self._write_pending()
                return
            if not first:
                return  # a flush is already scheduled
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._write_pending()  # no loop in this thread: nothing would flush later
                return
        loop.call_later(self._delay, self.flush)

    def flush(self) -> None:
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except ValueError:  # closed at shutdown: nothing left to save the lines to
            pass

    # structlog calls the method named like the level on its logger.
    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class LineWriterFactory:
    """structlog ``logger_factory``: one shared :class:`LineWriter` for every logger name.

    ``access_processors``: the short processor chain for the per-request access event (see
    :func:`metrics.logging.access_logger`), or None to log it through the main chain.
    """

    def __init__(
        self,
        stream: TextIO,
        flush_delay: float = DEFAULT_FLUSH_DELAY,
        access_processors: list[Any] | None = None,
    ) -> None:
        self.writer = LineWriter(stream, flush_delay)
        self.access_processors = access_processors

    def __call__(self, *args: object) -> LineWriter:
        return self.writer


class LineWriterHandler(logging.Handler):
    """A stdlib logging handler that hands formatted records to a :class:`LineWriter`."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.msg(self.format(record))
        except Exception:  # logging must never take the caller down; stdlib's own policy
            self.handleError(record)
