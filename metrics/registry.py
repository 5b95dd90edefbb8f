"""Every Prometheus metric the proxy exports, owned by one :class:`Metrics` object.

Each ``Metrics`` holds its OWN ``CollectorRegistry`` (never prometheus_client's global default
registry), so two apps in one process (tests) never share or collide on series. Create one per
app and pass it explicitly; this module keeps no mutable state.

Labels are bounded by construction: every label value passes a guard that maps anything
outside a closed set to ``"other"`` (routes are templates such as ``/v1/videos/{id}``, never raw
paths; models are the keys of the price table). The per-request HTTP metrics
(:mod:`metrics.requests`) are plain objects written from the event-loop thread only; the rest
are prometheus_client children and thread-safe. Single process only: with several worker
processes each exports its own numbers.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.requests import RequestMetrics

OTHER = "other"

ROUTE_TEMPLATES: tuple[str, ...] = (
    "/v1/videos",
    "/v1/videos/{id}",
    "/v1/videos/{id}/content",
    "/v1/videos/{id}/remix",
    "/v1/videos/edits",
    "/v1/videos/extensions",
    "/v1/videos/characters",
    "/v1/videos/characters/{id}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/admin",
    OTHER,
)
METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", OTHER)
CACHE_RESULTS: tuple[str, ...] = ("hit", "semantic_hit", "miss", "bypass", "joined")
UPSTREAM_ERROR_KINDS: tuple[str, ...] = ("refused", "timeout", "4xx", "5xx", "malformed")
CONTENT_SOURCES: tuple[str, ...] = ("cache", "upstream")
EVICTION_REASONS: tuple[str, ...] = ("size", "ttl", "deleted", "invalid", OTHER)
JOB_STATUSES: tuple[str, ...] = ("queued", "in_progress", "completed", "failed", OTHER)

# Dollars per second of video. Keys are "model" or "model@size"; the sized key wins.
# Same shape as config.settings' ``prices`` so the configured mapping can be passed as is.
DEFAULT_PRICES: Mapping[str, float] = MappingProxyType(
    {
        "sora-2": 0.10,
        "sora-2-pro": 0.30,
        "sora-2-pro@1024x1792": 0.50,
        "sora-2-pro@1792x1024": 0.50,
    }
)

# Seconds. Video jobs are slow (30 s to minutes), downloads are large: reach 600 s.
SLOW_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
# The proxy's own time: from 100 microseconds.
OVERHEAD_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
EMBEDDING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
# Best cosine similarity; fine-grained where thresholds live (0.85..1.0).
SIMILARITY_BUCKETS = (
    0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 1.0,
)  # fmt: skip


def bounded(value: str | None, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``"other"``."""
    return value if value is not None and value in allowed else OTHER


_ROUTES = frozenset(ROUTE_TEMPLATES)


def route_label(route: str | None) -> str:
    """The route label: one of :data:`ROUTE_TEMPLATES`; any raw path becomes ``"other"``."""
    return bounded(route, _ROUTES)


def method_label(method: str | None) -> str:
    return bounded(method.upper() if method else None, METHODS)


def status_label(status: int | str | None) -> str:
    """HTTP status code as a string; anything not in 100..599 becomes ``"other"``."""
    try:
        code = int(status)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return OTHER
    return str(code) if 100 <= code <= 599 else OTHER


def _request_labels(route: str, method: str, status: int | str) -> tuple[str, str, str]:
    return route_label(route), method_label(method), status_label(status)


def _price_models(prices: Mapping[str, float]) -> frozenset[str]:
    return frozenset(key.split("@", 1)[0] for key in prices)


def model_label(model: str | None, prices: Mapping[str, float] = DEFAULT_PRICES) -> str:
    """The model label: a model named in the price table, else ``"other"``."""
    return bounded(model, _price_models(prices))


def price_per_second(
    model: str | None, size: str | None, prices: Mapping[str, float] | None = None
) -> float:
    """Dollars per second of video for ``model`` at ``size`` (e.g. ``"1280x720"``).

    ``prices`` maps ``"model"`` or ``"model@size"`` to a rate; the sized key wins. Unknown
    models cost 0.0 (and are counted as unpriced by :meth:`Metrics.record_saved`).
    """
    table = DEFAULT_PRICES if prices is None else prices
    if not model:
        return 0.0
    if size and f"{model}@{size}" in table:
        return float(table[f"{model}@{size}"])
    return float(table.get(model, 0.0))


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What the cache store reports at scrape time. The store keeps these as running
    counters; producing them must be O(1), never a walk over entries."""

    entries: int
    bytes: int
    max_bytes: int


CacheStatsSource = Callable[[], CacheStats]


class _CacheStatsCollector(Collector):
    """Reads the store's counters at scrape time (callback style): a scrape costs the same
    with 10 or 100,000 entries. Before a source is bound, or if it fails, reports zeros /
    nothing respectively rather than breaking the scrape."""

    def __init__(self) -> None:
        self.source: CacheStatsSource | None = None

    def describe(self) -> list[Metric]:
        return list(self._families(CacheStats(0, 0, 0)))

    def collect(self) -> Iterator[Metric]:
        if self.source is None:
            stats = CacheStats(0, 0, 0)
        else:
            try:
                stats = self.source()
            except Exception:  # a broken store must not break /metrics
                return
        yield from self._families(stats)

    @staticmethod
    def _families(stats: CacheStats) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "videocache_cache_entries", "Entries in the response cache.", value=stats.entries
        )
        yield GaugeMetricFamily(
            "videocache_cache_bytes", "Bytes stored by the response cache.", value=stats.bytes
        )
        yield GaugeMetricFamily(
            "videocache_cache_max_bytes",
            "Configured size limit of the response cache in bytes.",
            value=stats.max_bytes,
        )


class Metrics:
    """All metrics of one proxy instance, registered in ``self.registry``."""

    def __init__(
        self,
        *,
        version: str = "0.0.0",
        prices: Mapping[str, float] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.prices: Mapping[str, float] = MappingProxyType(
            dict(DEFAULT_PRICES if prices is None else prices)
        )
        self._priced_models = _price_models(self.prices)
        reg = self.registry

        # HTTP: written on every request, so kept in plain objects (metrics.requests).
        self.http = RequestMetrics(_request_labels, _ROUTES, OTHER, SLOW_BUCKETS, OVERHEAD_BUCKETS)
        reg.register(self.http)
        self.upstream_errors = Counter(
            "videocache_upstream_errors_total",
            "Failed upstream calls by kind.",
            ["kind"],
            registry=reg,
        )
        self.content_bytes = Counter(
            "videocache_content_bytes_total",
            "Video content bytes sent to clients, by where they came from.",
            ["source"],
            registry=reg,
        )

        # Cache
        self.cache_lookups = Counter(
            "videocache_cache_lookups_total",
            "Cache lookups by result: hit, semantic_hit, miss, bypass, joined.",
            ["result"],
            registry=reg,
        )
        self.cache_similarity = Histogram(
            "videocache_cache_similarity",
            "Best cosine similarity found by a semantic lookup.",
            buckets=SIMILARITY_BUCKETS,
            registry=reg,
        )
        self.embedding_duration = Histogram(
            "videocache_embedding_duration_seconds",
            "Time to embed one batch of prompts.",
            buckets=EMBEDDING_BUCKETS,
            registry=reg,
        )
        self.embedding_batch_size = Histogram(
            "videocache_embedding_batch_size",
            "Prompts per embedding batch.",
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.cache_evictions = Counter(
            "videocache_cache_evictions_total",
            "Cache entries removed, by reason.",
            ["reason"],
            registry=reg,
        )
        self._cache_stats = _CacheStatsCollector()
        reg.register(self._cache_stats)

        # Savings
        self.video_seconds_saved = Counter(
            "videocache_video_seconds_saved_total",
            "Seconds of video not generated again: cache hits, and joins of a job that completed.",
            ["model"],
            registry=reg,
        )
        self.dollars_saved = Counter(
            "videocache_dollars_saved_total",
            "Estimated dollars not spent upstream: cache hits, and joins of a job that completed.",
            ["model"],
            registry=reg,
        )
        self.unpriced_hits = Counter(
            "videocache_unpriced_hits_total",
            "Cache hits and joins for a model with no price in the price table.",
            ["model"],
            registry=reg,
        )

        # Jobs and build
        self.watched_jobs = Gauge(
            "videocache_watched_jobs",
            "Upstream video jobs the proxy is watching, by status.",
            ["status"],
            registry=reg,
        )
        self.build_info = Gauge(
            "videocache_build_info",
            "Always 1; labels carry the version and the Python version.",
            ["version", "python"],
            registry=reg,
        )
        self.build_info.labels(version, platform.python_version()).set(1)

        # Closed label sets start at zero so rate() and ratios work from the first scrape.
        for result in CACHE_RESULTS:
            self.cache_lookups.labels(result)
        for kind in UPSTREAM_ERROR_KINDS:
            self.upstream_errors.labels(kind)
        for reason in EVICTION_REASONS:
            self.cache_evictions.labels(reason)
        for source in CONTENT_SOURCES:
            self.content_bytes.labels(source)
        for status in JOB_STATUSES:
            self.watched_jobs.labels(status)
        # Models come from the price table, so they are a closed set too: the savings panels
        # read 0 before the first hit instead of "No data".
        for model in sorted(self._priced_models | {OTHER}):
            self.video_seconds_saved.labels(model)
            self.dollars_saved.labels(model)
            self.unpriced_hits.labels(model)

    # -- HTTP ------------------------------------------------------------------------

    def upstream_error(self, kind: str) -> None:
        self.upstream_errors.labels(bounded(kind, UPSTREAM_ERROR_KINDS)).inc()

    def content_sent(self, source: str, nbytes: int) -> None:
        self.content_bytes.labels(bounded(source, CONTENT_SOURCES)).inc(nbytes)

    # -- cache -----------------------------------------------------------------------

    def cache_lookup(self, result: str, similarity: float | None = None) -> None:
        """Count a lookup; ``similarity`` is the best score of a semantic search, if any."""
        self.cache_lookups.labels(bounded(result, CACHE_RESULTS)).inc()
        if similarity is not None:
            self.cache_similarity.observe(similarity)

    def embedding_batch(self, seconds: float, batch_size: int) -> None:
        self.embedding_duration.observe(seconds)
        self.embedding_batch_size.observe(batch_size)

    def cache_evicted(self, reason: str, count: int = 1) -> None:
        self.cache_evictions.labels(bounded(reason, EVICTION_REASONS)).inc(count)

    def bind_cache_stats(self, source: CacheStatsSource | None) -> None:
        """Read entries/bytes/max_bytes from ``source`` at each scrape (must be O(1))."""
        self._cache_stats.source = source

    def record_saved(self, model: str | None, size: str | None, video_seconds: float) -> float:
        """A hit or a completed join saved ``video_seconds`` of video: count them and the dollars
        not spent. Returns the dollars; models without a price count as unpriced hits."""
        label = bounded(model, self._priced_models)
        self.video_seconds_saved.labels(label).inc(video_seconds)
        rate = price_per_second(model, size, self.prices)
        if rate <= 0:
            self.unpriced_hits.labels(label).inc()
            return 0.0
        dollars = rate * video_seconds
        self.dollars_saved.labels(label).inc(dollars)
        return dollars

    def model_label(self, model: str | None) -> str:
        return bounded(model, self._priced_models)

    # -- jobs ------------------------------------------------------------------------

    def set_watched_jobs(self, counts: Mapping[str, int]) -> None:
        """Replace the watched-job gauge with ``counts`` (status -> jobs); missing statuses
        become 0, unknown statuses are summed into ``other``."""
        totals = dict.fromkeys(JOB_STATUSES, 0)
        for status, count in counts.items():
            totals[bounded(status, JOB_STATUSES)] += count
        for status, count in totals.items():
            self.watched_jobs.labels(status).set(count)

    # -- exposition ------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric and its Content-Type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def sample_names(self) -> frozenset[str]:
        """Every sample name this registry can expose (``*_total``, ``*_bucket``, ...)."""
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",),
        }
        names: set[str] = set()
        for family in self.registry.collect():
            for suffix in suffixes.get(family.type, ("",)):
                names.add(family.name + suffix)
        return frozenset(names)
