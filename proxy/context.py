"""Per-request state shared by the handlers and middlewares (no globals)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from proxy.routes import Route, request_target

if TYPE_CHECKING:
    from proxy.state import AppState


def target_of(request: web.Request) -> str:
    """The request's path and query in origin-form (proxy.routes.request_target)."""
    rel = request.rel_url
    return request_target(request.raw_path, rel.raw_path, rel.raw_query_string)


@dataclass(slots=True)
class RequestContext:
    request: web.Request
    state: AppState
    route: Route
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    upstream_seconds: float = 0.0
    upstream_started: float | None = None
    # The model as the client sent it; once an answer names one (the upstream's default,
    # a cached video's), that one (logs and errors then say which model it was).
    model_requested: str | None = None
    # Filled by the cache path; read by logs, metrics and Server-Timing.
    cache_result: str | None = None
    similarity: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    log_fields: dict[str, Any] = field(default_factory=dict)
    # Remix: the source id as the client named it, and as the upstream knows it.
    remixed_from: str | None = None
    remix_source: str | None = None
    # Raw capture (extra_fields.raw_request / raw_response), when asked for.
    capture: bool = False
    raw_request: dict[str, Any] | None = None
    # The client hung up before its answer was sent in full (logged and counted as 499).
    client_gone: bool = False

    @property
    def raw_path(self) -> str:
        """Path and query exactly as sent (an absolute-form target reduced to them)."""
        return target_of(self.request)

    @property
    def query_string(self) -> str:
        raw = self.raw_path
        return raw.split("?", 1)[1] if "?" in raw else ""

    @contextlib.contextmanager
    def upstream_timer(self) -> Iterator[None]:
        """Time spent on the upstream (connect, send, wait, read), added up per request."""
        self.upstream_started = time.perf_counter()
        try:
            yield
        finally:
            self.upstream_seconds += time.perf_counter() - self.upstream_started
            self.upstream_started = None

    def upstream_elapsed(self) -> float:
        """Upstream time so far, including a call still under way (headers are sent, and
        extra_fields written, before the upstream body has ended)."""
        running = 0.0
        if self.upstream_started is not None:
            running = time.perf_counter() - self.upstream_started
        return self.upstream_seconds + running

    def answered_model(self, model: object) -> str | None:
        """Record the model an answer names when the client named none; the model to
        report as requested."""
        if self.model_requested is None and isinstance(model, str) and model:
            self.model_requested = model
        return self.model_requested

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0
