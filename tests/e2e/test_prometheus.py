"""A real Prometheus scrapes a real proxy: every Grafana panel query returns data, the alert
rules load, and promtool accepts the configuration."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import ServerFactory, base_url, free_port, until_ok
from tests.e2e.test_cache import create_raw, settle

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "grafana" / "dashboards" / "videocache.json"
ALERTS = ROOT / "grafana" / "alerts.yml"
ALERT_NAMES = {
    "VideocacheUpstreamErrorRatio",
    "VideocacheCacheDiskNearLimit",
    "VideocacheEmbeddingSlow",
}
WAVES = 5
WAVE_SECONDS = 4.5
RATE_WINDOW = "1m"


def tool(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed")
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = list(dashboard["panels"])
    while stack:
        panel = stack.pop(0)
        out.append(panel)
        stack.extend(panel.get("panels", []))
    return out


def substitute(expr: str, instance: str) -> str:
    for name, val in (
        ("${instance}", instance),
        ("$instance", instance),
        ("${model}", ".*"),
        ("$model", ".*"),
        ("${__rate_interval}", RATE_WINDOW),
        ("$__rate_interval", RATE_WINDOW),
        ("${__interval}", RATE_WINDOW),
        ("$__interval", RATE_WINDOW),
        ("${__range}", RATE_WINDOW),
        ("$__range", RATE_WINDOW),
    ):
        expr = expr.replace(name, val)
    assert "$" not in expr, f"unknown dashboard variable left in {expr!r}"
    return expr


def prometheus_config(target: str) -> str:
    return f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {json.dumps(str(ALERTS))}
scrape_configs:
  - job_name: videocache
    metrics_path: /metrics
    static_configs:
      - targets: [{json.dumps(target)}]
"""


async def query(http: aiohttp.ClientSession, url: str, expr: str) -> dict[str, Any]:
    async with http.get(f"{url}/api/v1/query", params={"query": expr}) as r:
        return await r.json()


def has_finite_value(answer: dict[str, Any]) -> bool:
    if answer.get("status") != "success":
        return False
    data = answer["data"]
    if data["resultType"] == "vector":
        values = [float(item["value"][1]) for item in data["result"]]
    elif data["resultType"] == "scalar":
        values = [float(data["result"][1])]
    else:
        return False
    return any(math.isfinite(v) for v in values)


async def traffic(proxy: TestServer, sim: TestServer) -> None:
    """Waves of misses, joins, bypasses, exact and semantic hits, downloads and errors,
    for three models (one unpriced). Each wave uses a fresh key, so a fresh scope: the same
    prompts miss again, and the small cache evicts earlier waves' videos."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for wave in range(WAVES):
            wave_started = time.monotonic()
            c = openai.AsyncOpenAI(
                api_key=f"sk-wave-{wave}", base_url=base_url(proxy), max_retries=0
            )
            car = "A red sports car driving along a coastal road at sunset"
            dog = "a golden retriever playing in autumn leaves"
            plane = "a paper plane gliding over a city"
            _, h = await create_raw(c, prompt=car, model="sora-2")
            assert h["x-cache"] == "MISS"
            joins = await asyncio.gather(
                *(create_raw(c, prompt=car, model="sora-2") for _ in range(2))
            )
            assert [jh["x-cache"] for _, jh in joins] == ["JOINED"] * 2
            first, _ = await create_raw(c, prompt=dog, model="sora-2-pro", size="1792x1024")
            await create_raw(c, prompt=plane, model="sora-2-nano")  # not in the price table
            _, h = await create_raw(
                c, prompt=plane, model="sora-2-nano", extra_headers={"Cache-Control": "no-cache"}
            )
            assert h["x-cache"] == "BYPASS"
            # Jobs take 1.2 s (240 / speed 200): in flight across at least one scrape.
            await settle(proxy)

            for prompt, kw in (
                (car.upper(), {"model": "sora-2"}),
                (dog, {"model": "sora-2-pro", "size": "1792x1024"}),
                (plane, {"model": "sora-2-nano"}),
            ):
                hit, h = await create_raw(c, prompt=prompt, **kw)
                assert h["x-cache"] == "HIT", prompt
            _, h = await create_raw(
                c, prompt="At sunset, a red sports car drives along a coastal road", model="sora-2"
            )
            assert h["x-cache"] == "SEMANTIC-HIT"
            _, h = await create_raw(
                c,
                prompt="a golden retriever playing among autumn leaves",
                model="sora-2-pro",
                size="1792x1024",
            )
            assert h["x-cache"] == "SEMANTIC-HIT"
            assert len((await c.videos.download_content(hit.id)).read()) > 0
            assert len((await c.videos.download_content(first.id)).read()) > 0
            await c.videos.retrieve(first.id)
            # Upstream errors: 404s every wave, a malformed answer every other wave.
            with pytest.raises(openai.NotFoundError):
                await c.videos.retrieve(f"video_missing_{wave}")
            if wave % 2 == 1:
                await http.post(sim.make_url("/_sim/faults"), json={"malformed_json": True})
                try:
                    with pytest.raises(openai.InternalServerError):
                        await c.videos.list()
                finally:
                    await http.post(sim.make_url("/_sim/faults"), json={"malformed_json": False})
            await c.close()
            left = WAVE_SECONDS - (time.monotonic() - wave_started)
            if left > 0:
                await asyncio.sleep(left)
    assert time.monotonic() - started < 45


async def test_every_dashboard_panel_has_data_in_a_real_prometheus(
    start_simulator: ServerFactory,
    start_proxy: ServerFactory,
    embedder: Any,
    tmp_path: Path,
) -> None:
    prometheus, promtool = tool("prometheus"), tool("promtool")
    # Videos of ~200 KB (4 per wave) in a 1 MiB cache: every wave evicts the previous one's.
    sim = await start_simulator(content_bytes=200_000, job_seconds=240.0)
    proxy = await start_proxy(sim, embedder=embedder, cache_max_bytes=1024 * 1024)
    target = f"127.0.0.1:{proxy.port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(target))

    check = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout + check.stderr

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:
            await until_ok(f"{url}/-/ready", [proc], timeout=30)
            await traffic(proxy, sim)

            async with http.get(f"{url}/api/v1/targets") as r:
                targets = (await r.json())["data"]["activeTargets"]
            assert [(t["labels"]["instance"], t["health"]) for t in targets] == [(target, "up")]

            async with http.get(f"{url}/api/v1/rules") as r:
                rules = await r.json()
            assert rules["status"] == "success"
            loaded = {
                rule["name"]
                for group in rules["data"]["groups"]
                for rule in group["rules"]
                if rule["type"] == "alerting"
            }
            assert loaded == ALERT_NAMES
            assert all(
                rule["health"] in ("ok", "unknown")
                for group in rules["data"]["groups"]
                for rule in group["rules"]
            )

            dashboard = json.loads(DASHBOARD.read_text())
            targets_by_panel = [
                (panel["title"], t["refId"], substitute(t["expr"], target))
                for panel in panels(dashboard)
                for t in panel.get("targets", [])
                if t.get("expr")
            ]
            assert len(targets_by_panel) >= 20
            # A scrape or two may still be on its way: retry for a few seconds.
            failing: dict[str, str] = {}
            deadline = time.monotonic() + 15
            while True:
                failing = {}
                for title, ref, expr in targets_by_panel:
                    answer = await query(http, url, expr)
                    if not has_finite_value(answer):
                        failing[f"{title} [{ref}]"] = f"{expr} -> {json.dumps(answer)[:300]}"
                if not failing or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)
            assert not failing, "panels without data:\n" + "\n".join(
                f"  {k}: {v}" for k, v in failing.items()
            )
            # A few values that must be more than "some series exist".
            for expr in (
                f'sum(rate(videocache_cache_evictions_total{{instance="{target}"}}[1m])) > 0',
                f'sum(videocache_dollars_saved_total{{instance="{target}"}}) > 0',
                f'sum(videocache_unpriced_hits_total{{instance="{target}"}}) > 0',
                f'max_over_time(sum(videocache_watched_jobs{{instance="{target}"}})[1m:1s]) > 0',
                f'sum(rate(videocache_upstream_errors_total{{instance="{target}",'
                f'kind=~"4xx|malformed"}}[1m])) > 0',
                # Every priced model is exported from 0: count the ones hits have moved.
                f'count(count by (model) (videocache_dollars_saved_total{{instance="{target}"}}'
                " > 0)) >= 2",
            ):
                answer = await query(http, url, expr)
                assert answer["status"] == "success" and answer["data"]["result"], expr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
