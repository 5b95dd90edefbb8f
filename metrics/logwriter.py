"""The end of the logging pipeline: rendered lines to a stream, written in batches.

structlog's own PrintLogger flushes after every line, one ``write(2)`` per event. The access
log writes an event for every request, so under load that was a system call per request on
the proxy's one event-loop thread. :class:`LineWriter` queues the rendered lines and a small
daemon thread writes each burst in one call, ``flush_delay`` after its first line (at once
when the stream is a terminal someone is watching, or when ``max_pending`` lines wait). The
thread does not depend on any event loop, so a loop that stops or closes strands nothing.
Whole lines are written together, so they never interleave; stdlib records go through the
same writer (:class:`LineWriterHandler`). Lines leave in the order they were handed over,
which for batched access events (metrics.accesslog) is later than the request: every line
carries its own timestamp.

What a crash (``kill -9``) can lose is the last ``flush_delay`` of lines. A clean exit loses
nothing: :func:`metrics.logging.configure_logging` registers :meth:`LineWriter.flush` with
``atexit``, and ``logging.shutdown`` flushes the handler.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, TextIO

# Long enough to batch a burst of requests into one write, short enough that someone tailing
# the log sees nothing lag.
DEFAULT_FLUSH_DELAY = 0.05
# A burst bigger than this is written at once rather than held.
DEFAULT_MAX_PENDING = 512


class LineWriter:
    """A structlog logger writing one rendered line per event, in batches."""

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
        # Re-entrant: a write can run a finalizer that logs (an unclosed session's warning,
        # a destroyed task's), which comes back here on the same thread.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._broken = False

    def msg(self, message: str) -> None:
        with self._lock:
            self._pending.append(message)
            # At interpreter exit no thread can start (Thread.start would wait for ever: a
            # finalizer logging an unclosed session hung a failed start-up), so write now.
            if self._immediate or len(self._pending) >= self._max_pending or sys.is_finalizing():
                self._write_pending()
            elif len(self._pending) == 1:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="log-writer", daemon=True
                    )
                    self._thread.start()
                self._wake.notify()

    def flush(self) -> None:
        """Write every queued line now."""
        with self._lock:
            self._write_pending()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._wake.wait()
            time.sleep(self._delay)  # let the burst gather, outside the lock
            self.flush()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        if self._broken:
            return
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except ValueError:  # closed at shutdown: nothing left to save the lines to
            pass
        except OSError:  # a closed pipe: retrying would fail (and log) forever
            self._broken = True

    # structlog calls the method named like the level on its logger.
    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class LineWriterFactory:
    """structlog ``logger_factory``: one shared :class:`LineWriter` for every logger name.

    ``access_processors``: the short processor chain for the per-request access event (see
    :func:`metrics.logging.access_logger`), or None to log it through the main chain.
    ``level``: the configured minimum level (a stdlib number), for callers that bypass the
    filtering bound logger.
    """

    def __init__(
        self,
        stream: TextIO,
        flush_delay: float = DEFAULT_FLUSH_DELAY,
        access_processors: list[Any] | None = None,
        level: int = logging.NOTSET,
    ) -> None:
        self.writer = LineWriter(stream, flush_delay)
        self.access_processors = access_processors
        self.level = level

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

    def flush(self) -> None:
        self.writer.flush()
