"""Per-request state shared by the handlers and middlewares (no globals)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from proxy.routes import Route

if TYPE_CHECKING:
    from proxy.state import AppState


@dataclass(slots=True)
class RequestContext:
    request: web.Request
    state: AppState
    route: Route
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    upstream_seconds: float = 0.0
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

    @property
    def raw_path(self) -> str:
        return self.request.raw_path

    @property
    def query_string(self) -> str:
        raw = self.request.raw_path
        return raw.split("?", 1)[1] if "?" in raw else ""

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0
