"""The application's state, passed explicitly: one object on the app, no module globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from config.settings import Settings
from metrics.accesslog import AccessLog
from metrics.registry import Metrics
from proxy.credentials import Credentials
from proxy.upstream import Upstream

if TYPE_CHECKING:
    from cache.service import CacheService, Lookup
    from cache.stores import CacheEntry, JobRecord
    from proxy.watcher import Watcher


@dataclass
class AppState:
    settings: Settings
    upstream: Upstream
    metrics: Metrics
    # The per-request access event, batched (build_app sets it up with its field builder).
    access_log: AccessLog
    log: Any = field(default_factory=lambda: structlog.get_logger("videocache"))
    cache: CacheService | None = None
    watcher: Watcher | None = None
    # owner (HMAC of a credential) -> the request headers that authenticate it upstream.
    # Memory only, on purpose: raw credentials are never written to disk.
    credentials: Credentials = field(default_factory=Credentials)

    def record_upstream_error(self, kind: str) -> None:
        self.metrics.upstream_error(kind)

    def watch(self, job_id: str, finished: bool = False) -> None:
        if self.watcher is not None:
            self.watcher.watch(job_id, finished)

    def observe_lookup(self, lookup: Lookup) -> None:
        searched = lookup.embedding is not None and lookup.similarity is not None
        self.metrics.cache_lookup(lookup.kind, lookup.similarity if searched else None)

    def observe_saving(self, saved: CacheEntry | JobRecord, count: int = 1) -> None:
        """`count` generations like `saved` (a hit's entry, a joined job) not paid for."""
        try:
            seconds = float(saved.seconds)
        except ValueError:
            seconds = 0.0
        for _ in range(count):  # each is an unpriced hit when its model has no price
            self.metrics.record_saved(saved.model, saved.size, seconds)

    def observe_content_bytes(self, source: str, nbytes: int) -> None:
        self.metrics.content_sent(source, nbytes)

    def observe_watched(self) -> None:
        if self.watcher is not None:
            self.metrics.set_watched_jobs(self.watcher.status_counts())


STATE = web.AppKey("videocache_state", AppState)
