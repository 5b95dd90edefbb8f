"""The Prometheus config, alert rules and their unit tests pass promtool; every dashboard
expression is valid PromQL (checked by promtool as recording rules)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "videocache.json"


def find_promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else None
    )
    if found is None:
        message = "promtool not found (Debian: apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [find_promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def test_prometheus_config_is_valid() -> None:
    promtool("check", "config", "grafana/prometheus.yml")
    config = yaml.safe_load((GRAFANA / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "videocache" and job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["videocache:8080"]
    assert config["rule_files"] == ["alerts.yml"]


def test_alert_rules_are_valid() -> None:
    promtool("check", "rules", "grafana/alerts.yml")
    rules = yaml.safe_load((GRAFANA / "alerts.yml").read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "VideocacheUpstreamErrorRatio",
        "VideocacheCacheDiskNearLimit",
        "VideocacheEmbeddingSlow",
    }


def test_alert_unit_tests_pass() -> None:
    promtool("test", "rules", "grafana/alerts_test.yml")


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's template variables with values PromQL accepts."""
    for variable, value in {
        "$__rate_interval": "5m",
        "$__interval": "1m",
        "$__range": "1h",
        "$instance": ".*",
        "$model": ".*",
    }.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr_{i}", "expr": grafana_to_promql(e)}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    promtool("check", "rules", str(path))
