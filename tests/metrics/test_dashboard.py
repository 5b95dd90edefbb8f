"""The Grafana dashboard uses only metrics Metrics defines and has every required panel."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from metrics.registry import Metrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "videocache.json").read_text())
METRIC_NAME = re.compile(r"\bvideocache_[a-zA-Z0-9_]*")
# Everything that looks like a metric selector: an identifier followed by { or [ or ).
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=\{|\[)")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset"}


def panels() -> list[dict[str, Any]]:
    return [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_every_expr_names_only_defined_metrics() -> None:
    defined = Metrics().sample_names()
    for expr in exprs():
        used = set(METRIC_NAME.findall(expr))
        assert used, f"no videocache metric in {expr!r}"
        assert used <= defined, f"undefined metrics {used - defined} in {expr!r}"
        selectors = set(SELECTOR.findall(expr)) - PROMQL_WORDS
        assert selectors <= defined, f"unknown selector {selectors - defined} in {expr!r}"


def test_alerts_use_only_defined_metrics() -> None:
    defined = Metrics().sample_names()
    rules = yaml.safe_load((GRAFANA / "alerts.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        used = set(METRIC_NAME.findall(rule["expr"]))
        assert used and used <= defined, rule["alert"]


def test_required_panels_exist() -> None:
    def metrics_of(title_fragment: str) -> set[str]:
        matching = [p for p in panels() if title_fragment.lower() in p["title"].lower()]
        assert matching, f"no panel titled like {title_fragment!r}"
        return {m for p in matching for t in p["targets"] for m in METRIC_NAME.findall(t["expr"])}

    assert "videocache_requests_total" in metrics_of("request rate")
    latency = metrics_of("total vs overhead")
    assert {
        "videocache_request_duration_seconds_bucket",
        "videocache_overhead_duration_seconds_bucket",
    } <= latency
    latency_exprs = [
        t["expr"] for p in panels() if "overhead" in p["title"].lower() for t in p["targets"]
    ]
    for q in ("0.5", "0.95", "0.99"):
        assert any(e.startswith(f"histogram_quantile({q},") for e in latency_exprs)
    assert "videocache_cache_lookups_total" in metrics_of("hit ratio")
    assert "videocache_dollars_saved_total" in metrics_of("dollars saved")
    assert "videocache_video_seconds_saved_total" in metrics_of("video seconds saved")
    assert "videocache_cache_similarity_bucket" in metrics_of("similarity")
    assert "videocache_embedding_duration_seconds_bucket" in metrics_of("embedding latency")
    assert "videocache_cache_bytes" in metrics_of("cache size")
    assert "videocache_cache_entries" in metrics_of("cache entries")
    assert "videocache_cache_evictions_total" in metrics_of("evictions")
    assert "videocache_upstream_errors_total" in metrics_of("upstream errors")
    assert "videocache_watched_jobs" in metrics_of("watched jobs")
    assert "videocache_requests_in_flight" in metrics_of("in flight")


def test_dashboard_shape() -> None:
    assert 36 <= DASHBOARD["schemaVersion"] <= 41
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["current"]["value"] == "prometheus"
    assert (
        variables["instance"]["query"]["query"] == "label_values(videocache_build_info, instance)"
    )
    assert "model" in variables
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]


def test_provisioning_points_at_prometheus_and_dashboards() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [source] = ds["datasources"]
    assert source["uid"] == "prometheus" and source["url"] == "http://prometheus:9090"
    dash = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "videocache.yml").read_text())
    [provider] = dash["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"simulator", "proxy", "prometheus", "grafana"} <= set(compose["services"])
