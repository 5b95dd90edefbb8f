"""metrics.requests: the hand-kept request metrics expose exactly what prometheus_client's own
Counter and Histogram would for the same observations."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics.registry import OVERHEAD_BUCKETS, SLOW_BUCKETS, Metrics

REQUEST_FAMILIES = (
    "videocache_requests",
    "videocache_request_duration_seconds",
    "videocache_upstream_duration_seconds",
    "videocache_overhead_duration_seconds",
)


def parsed(
    body: bytes, names: tuple[str, ...]
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.name not in names:
            continue
        for s in family.samples:
            if not s.name.endswith("_created"):  # creation times differ, their presence not
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_same_exposition_as_prometheus_client_for_the_same_observations() -> None:
    rng = random.Random(7)
    ours = Metrics()
    reference = CollectorRegistry()
    count = Counter("videocache_requests", "x", ["route", "method", "status"], registry=reference)
    total = Histogram(
        "videocache_request_duration_seconds", "x", ["route"], buckets=SLOW_BUCKETS,
        registry=reference,
    )  # fmt: skip
    upstream = Histogram(
        "videocache_upstream_duration_seconds", "x", ["route"], buckets=SLOW_BUCKETS,
        registry=reference,
    )  # fmt: skip
    overhead = Histogram(
        "videocache_overhead_duration_seconds", "x", ["route"], buckets=OVERHEAD_BUCKETS,
        registry=reference,
    )  # fmt: skip
    routes = ["/v1/videos", "/v1/videos/{id}", "/v1/videos/{id}/content"]
    # Values exactly on bucket bounds too: "le" means less than OR EQUAL.
    values = [*SLOW_BUCKETS, *OVERHEAD_BUCKETS, 0.0, 601.0, 1e-7]
    values += [rng.uniform(0, 2) ** 6 for _ in range(2000)]
    for value in values:
        route = rng.choice(routes)
        status = rng.choice([200, 404, 502])
        up = value * rng.choice([0.0, 0.5, 0.99])
        ours.http.observe(route, "GET", status, value, up)
        count.labels(route, "GET", str(status)).inc()
        total.labels(route).observe(value)
        if up > 0:
            upstream.labels(route).observe(up)
        overhead.labels(route).observe(max(0.0, value - up))
    mine = parsed(ours.render()[0], REQUEST_FAMILIES)
    theirs = parsed(generate_latest(reference), REQUEST_FAMILIES)
    # 9 counter series; per route two slow histograms and one overhead histogram, each with
    # its buckets, +Inf, _count and _sum.
    histograms = 2 * (len(SLOW_BUCKETS) + 3) + len(OVERHEAD_BUCKETS) + 3
    assert len(theirs) == 9 + 3 * histograms
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert mine[key] == value or abs(mine[key] - value) < 1e-9 * max(1.0, value), key


def test_in_flight_counts_up_and_down_per_route() -> None:
    metrics = Metrics()
    metrics.http.enter("/v1/videos")
    metrics.http.enter("/v1/videos")
    metrics.http.enter("/not/a/template")
    got = parsed(metrics.render()[0], ("videocache_requests_in_flight",))
    assert got == {
        ("videocache_requests_in_flight", (("route", "/v1/videos"),)): 2.0,
        ("videocache_requests_in_flight", (("route", "other"),)): 1.0,
    }
    metrics.http.leave("/v1/videos")
    metrics.http.leave("/v1/videos")
    metrics.http.leave("/not/a/template")
    got = parsed(metrics.render()[0], ("videocache_requests_in_flight",))
    assert set(got.values()) == {0.0}


def test_created_series_like_prometheus_client() -> None:
    metrics = Metrics()
    metrics.http.observe("/v1/videos", "POST", 200, 0.2, 0.1)
    names = {
        s.name
        for family in text_string_to_metric_families(metrics.render()[0].decode())
        for s in family.samples
    }
    for family in REQUEST_FAMILIES:
        assert f"{family}_created" in names, family


def test_nan_is_not_counted() -> None:
    metrics = Metrics()
    metrics.http.observe("/v1/videos", "GET", 200, float("nan"), 0.0)
    metrics.http.observe("/v1/videos", "GET", 200, 0.5, 0.25)
    got = parsed(metrics.render()[0], REQUEST_FAMILIES)
    key = ("videocache_request_duration_seconds_count", (("route", "/v1/videos"),))
    assert got[key] == 1.0
    assert got[("videocache_request_duration_seconds_sum", (("route", "/v1/videos"),))] == 0.5
