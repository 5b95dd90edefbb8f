"""The metrics registry: bounded labels, its own registry, rendering, prices."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from metrics.registry import (
    CACHE_RESULTS,
    DEFAULT_PRICES,
    ROUTE_TEMPLATES,
    CacheStats,
    Metrics,
    price_per_second,
    route_label,
)


def samples(metrics: Metrics, name: str) -> list[tuple[dict[str, str], float]]:
    body, _ = metrics.render()
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == name
    ]


def test_raw_paths_collapse_into_one_other_series() -> None:
    metrics = Metrics()
    for i in range(1000):
        metrics.http.observe(f"/v1/videos/video_{i}/content", "GET", 200, 0.01, 0.0)
    series = samples(metrics, "videocache_requests_total")
    assert series == [({"route": "other", "method": "GET", "status": "200"}, 1000.0)]
    buckets = samples(metrics, "videocache_request_duration_seconds_bucket")
    assert {labels["route"] for labels, _ in buckets} == {"other"}


def test_templates_are_kept_and_other_labels_bounded() -> None:
    assert all(route_label(t) == t for t in ROUTE_TEMPLATES)
    metrics = Metrics()
    metrics.http.observe("/v1/videos/{id}", "frobnicate", 999, 2.0, 1.5)
    metrics.cache_lookup("weird")
    metrics.upstream_error("gremlins")
    [(labels, _)] = samples(metrics, "videocache_requests_total")
    assert labels == {"route": "/v1/videos/{id}", "method": "other", "status": "other"}
    assert samples(metrics, "videocache_overhead_duration_seconds_sum") == [
        ({"route": "/v1/videos/{id}"}, 0.5)
    ]
    results = {labels["result"] for labels, _ in samples(metrics, "videocache_cache_lookups_total")}
    assert results == {*CACHE_RESULTS, "other"}


def test_each_instance_owns_its_registry() -> None:
    a, b = Metrics(), Metrics()  # would raise "Duplicated timeseries" on a shared registry
    a.http.observe("/healthz", "GET", 200, 0.001, 0.0)
    assert a.registry is not b.registry
    assert samples(b, "videocache_requests_total") == []
    assert REGISTRY.get_sample_value("videocache_requests_total") is None


def test_render_returns_exposition_and_content_type() -> None:
    metrics = Metrics(version="1.2.3")
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert all(name.startswith("videocache_") for name in names)
    [(labels, value)] = samples(metrics, "videocache_build_info")
    assert labels["version"] == "1.2.3" and labels["python"] and value == 1.0


def test_cache_gauges_read_the_store_callback_at_scrape_time() -> None:
    metrics = Metrics()
    calls: list[int] = []

    def stats() -> CacheStats:
        calls.append(1)
        return CacheStats(entries=100_000, bytes=5_000, max_bytes=10_000)

    assert samples(metrics, "videocache_cache_entries") == [({}, 0.0)]
    metrics.bind_cache_stats(stats)
    assert samples(metrics, "videocache_cache_entries") == [({}, 100_000.0)]
    assert samples(metrics, "videocache_cache_bytes") == [({}, 5_000.0)]
    assert samples(metrics, "videocache_cache_max_bytes") == [({}, 10_000.0)]
    assert len(calls) == 3  # one call per scrape, nothing else

    def broken() -> CacheStats:
        raise OSError("disk gone")

    metrics.bind_cache_stats(broken)
    assert samples(metrics, "videocache_cache_entries") == []  # scrape still succeeds


def test_price_per_second_defaults_and_overrides() -> None:
    assert price_per_second("sora-2", "1280x720") == pytest.approx(0.10)
    assert price_per_second("sora-2-pro", "1280x720") == pytest.approx(0.30)
    assert price_per_second("sora-2-pro", "1024x1792") == pytest.approx(0.50)
    assert price_per_second("sora-2-pro", "1792x1024") == pytest.approx(0.50)
    assert price_per_second("veo-3", "1280x720") == 0.0
    assert price_per_second(None, None) == 0.0
    custom = {"veo-3": 0.4, "veo-3@1920x1080": 0.75}
    assert price_per_second("veo-3", "1280x720", custom) == pytest.approx(0.4)
    assert price_per_second("veo-3", "1920x1080", custom) == pytest.approx(0.75)
    assert price_per_second("sora-2", "1280x720", custom) == 0.0
    assert dict(DEFAULT_PRICES)["sora-2"] == pytest.approx(0.10)


def test_savings_use_prices_and_bound_the_model_label() -> None:
    metrics = Metrics(prices={"sora-2": 0.1, "sora-2-pro@1792x1024": 0.5})

    def by_model(name: str) -> dict[str, float]:
        return {labels["model"]: v for labels, v in samples(metrics, name)}

    # Every model of the price table, and "other", is exported from 0 before any hit.
    zero = {"sora-2": 0.0, "sora-2-pro": 0.0, "other": 0.0}
    for name in ("dollars_saved", "video_seconds_saved", "unpriced_hits"):
        assert by_model(f"videocache_{name}_total") == zero
    assert metrics.record_saved("sora-2-pro", "1792x1024", 8) == pytest.approx(4.0)
    assert metrics.record_saved("sora-2-pro", "1280x720", 4) == 0.0  # no price at this size
    for i in range(50):
        assert metrics.record_saved(f"made-up-{i}", "1280x720", 4) == 0.0
    assert by_model("videocache_dollars_saved_total") == {**zero, "sora-2-pro": pytest.approx(4.0)}
    seconds = by_model("videocache_video_seconds_saved_total")
    assert seconds == {**zero, "sora-2-pro": 12.0, "other": 200.0}
    unpriced = by_model("videocache_unpriced_hits_total")
    assert unpriced == {**zero, "sora-2-pro": 1.0, "other": 50.0}


def test_watched_jobs_and_in_flight() -> None:
    metrics = Metrics()
    metrics.set_watched_jobs({"queued": 2, "in_progress": 3, "mystery": 1})
    jobs = {labels["status"]: v for labels, v in samples(metrics, "videocache_watched_jobs")}
    assert jobs == {"queued": 2, "in_progress": 3, "completed": 0, "failed": 0, "other": 1}
    metrics.http.enter("/v1/videos")
    assert samples(metrics, "videocache_requests_in_flight") == [({"route": "/v1/videos"}, 1)]
    metrics.http.leave("/v1/videos")
    assert samples(metrics, "videocache_requests_in_flight") == [({"route": "/v1/videos"}, 0)]


def test_histograms_have_the_promised_buckets() -> None:
    metrics = Metrics()
    metrics.http.observe("/v1/videos", "POST", 200, 1.0, 0.9)
    metrics.cache_lookup("semantic_hit", similarity=0.93)
    metrics.embedding_batch(0.01, 4)

    def bounds(name: str) -> list[float]:
        return [float(labels["le"]) for labels, _ in samples(metrics, name)]

    assert max(bounds("videocache_upstream_duration_seconds_bucket")[:-1]) == 600.0
    assert min(bounds("videocache_overhead_duration_seconds_bucket")) == 0.0001
    similarity = bounds("videocache_cache_similarity_bucket")[:-1]
    assert similarity[0] == 0.5 and similarity[-1] == 1.0 and len(similarity) >= 10
    assert samples(metrics, "videocache_embedding_batch_size_sum") == [({}, 4.0)]


def test_eviction_reasons_bounded() -> None:
    metrics = Metrics()
    metrics.cache_evicted("size", 3)
    metrics.cache_evicted("ttl")
    metrics.cache_evicted("cosmic-ray")
    reasons = {
        labels["reason"]: v for labels, v in samples(metrics, "videocache_cache_evictions_total")
    }
    # Every reason is exported from the start (at 0), so the dashboard's panel has data.
    assert reasons == {"size": 3.0, "ttl": 1.0, "deleted": 0.0, "invalid": 0.0, "other": 1.0}
