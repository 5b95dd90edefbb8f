"""The access log: one structlog event per request, emitted in batches.

Logging an event runs a dozen Python functions (structlog's bound logger, the processors,
orjson, the writer). Run once per request, between the much larger request handling, that
code is cold every time; the observability benchmark measured the access log at about
three times what the same calls cost in a tight loop, and at over 10 % of the proxy's
throughput. So a request only records its values and the time (a list append; ``build``
turns them into the event's fields later), and
``delay`` seconds after the first of a batch the batch goes through the logger in one loop,
where the code stays hot. Each event keeps the time of its request: the stamper
(:class:`metrics.logging.UtcTimeStamper`) formats a ``timestamp`` given as epoch seconds.
The event is rendered in a timer callback, outside the request's context: contextvars bound
during the request do not reach it (its fields are passed explicitly instead).

Record from one event-loop thread (the middleware does). If that loop stops before its timer
fires, the next record (on any loop, or none) writes the stranded batch first. Shutdown
calls :meth:`AccessLog.flush`; ``kill -9`` can lose the last ``delay`` of lines.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

DEFAULT_DELAY = 0.05
DEFAULT_MAX_PENDING = 1024


class AccessLog:
    """Batches access events for the emitter ``emitter()`` returns
    (:func:`metrics.logging.access_emitter`: ``emit(event, fields)``).

    ``emitter`` is called at every flush, so a logging configuration made after the app was
    built (tests do that) is the one used.
    """

    def __init__(
        self,
        emitter: Callable[[], Callable[[str, dict[str, Any]], None]],
        delay: float = DEFAULT_DELAY,
        max_pending: int = DEFAULT_MAX_PENDING,
        event: str = "request",
        build: Callable[[Any], dict[str, Any]] | None = None,
    ) -> None:
        self._emitter = emitter
        self._build = build
        self._delay = delay
        self._max_pending = max_pending
        self._event = event
        # (time, what record() got): a fields dict, or anything ``build`` turns into one.
        self._pending: list[tuple[float, Any]] = []
        self._timer: asyncio.Handle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def record(self, fields: Any) -> None:
        """Queue one access event: its fields dict, or (with ``build``) what ``build`` turns
        into one at flush time. Owned by the log from now on."""
        now = time.time()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._timer is not None and self._timer_loop is not loop:
            self.flush()  # a batch stranded on a loop that stopped before its timer fired
        self._pending.append((now, fields))
        if loop is None:
            self.flush()  # nothing would ever flush a held event
        elif len(self._pending) >= self._max_pending:
            # Soon, not now: the request that tipped the batch over does not pay for it.
            self._reschedule(loop, None)
        elif self._timer is None:
            self._reschedule(loop, self._delay)

    def _reschedule(self, loop: asyncio.AbstractEventLoop, delay: float | None) -> None:
        """Flush after ``delay`` seconds, or at the loop's next turn for None."""
        if self._timer is not None:
            self._timer.cancel()
        if delay is None:
            self._timer = loop.call_soon(self.flush)
        else:
            self._timer = loop.call_later(delay, self.flush)
        self._timer_loop = loop

    def flush(self) -> None:
        """Log every queued event now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        emit, event, build = self._emitter(), self._event, self._build
        dropped: list[str] = []
        for now, captured in pending:
            try:
                fields = build(captured) if build is not None else captured
                fields["timestamp"] = now
                emit(event, fields)
            except Exception as exc:  # one bad event must not take its batch with it
                dropped.append(repr(exc))
        if dropped:  # but it must not vanish without a trace either
            structlog.get_logger("videocache").error(
                "access_log_events_dropped", count=len(dropped), first_error=dropped[0]
            )
