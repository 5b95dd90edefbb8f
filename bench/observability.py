"""Cost of videocache's observability: metrics + access log on vs off, and /metrics scrapes.

    .venv/bin/python bench/observability.py [--quick]

Everything in one run, on a shared 2-core machine, with subprocesses on loopback:

1. Throughput of GET /v1/videos/{id} (an upstream id, relayed) at concurrency 32 through
   three `videocache serve` processes on the same simulator (`python -m simulator --speed
   1000`): "on" with VIDEOCACHE_METRICS_ENABLED=true and VIDEOCACHE_ACCESS_LOG=true, "off"
   with both false, and "off-b", a second identical "off" proxy: the A/A control, whose
   ratio to "off" shows how much this machine's noise alone moves the result. Each proxy's
   stdout goes to a file, so the access log's cost (one JSON line per request) is real.
   The machine is shared and its speed drifts by 10-20 % within seconds, so a run is many
   short rounds; each round measures the three back to back, in an order rotated every
   round. The result is the median over rounds of on / mean(off, off-b): neighbours in time
   share the machine's mood, and two "off" proxies make a steadier baseline than one. The
   table also shows on/off and the A/A ratio off-b/off. Target: on >= 0.9x off.
2. GET /metrics on a proxy whose data dir holds 100,000 cache entries (written up front
   through cache.stores.EntryStore, 1,000 per diskcache transaction), p50 of 50 scrapes on
   one keep-alive connection. Baseline: the same on a proxy with an empty cache, scrapes
   interleaved in blocks of 10. Target: p50 < 50 ms.

The load generator is bench/passthrough.py's raw asyncio keep-alive HTTP/1.1 client.
Results go to stdout and bench/results/observability.md (observability-quick.md for
--quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from passthrough import (
    HOST,
    Conn,
    HttpError,
    Server,
    check_alive,
    cpu_model,
    fmt,
    free_port,
    get_request,
    new_loop,
    pct,
    post_json,
    proxy_cmd,
    start,
    stop_all,
    supervised,
    throughput_run,
    wait_ready,
    write_report,
)

from cache.service import CacheConfig, CacheService
from cache.stores import CacheEntry

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
CONCURRENCY = 32


@dataclass(frozen=True)
class Plan:
    warmup: int
    rounds: int
    per_round: int
    entries: int
    scrapes: int


FULL = Plan(warmup=500, rounds=45, per_round=2_000, entries=100_000, scrapes=50)
QUICK = Plan(warmup=200, rounds=3, per_round=1_000, entries=5_000, scrapes=20)


@dataclass
class Results:
    rps_on: list[float] = field(default_factory=list)
    rps_off: list[float] = field(default_factory=list)
    rps_off_b: list[float] = field(default_factory=list)
    log_lines_on: int = 0
    log_bytes_on: int = 0
    log_lines_off: int = 0
    populate_s: float = float("nan")
    start_big_s: float = float("nan")
    scrape_big_ms: list[float] = field(default_factory=list)
    scrape_empty_ms: list[float] = field(default_factory=list)
    exposition_bytes: dict[str, int] = field(default_factory=dict)
    entries_gauge: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- set-up


def populate(data_dir: Path, n: int) -> float:
    """Write ``n`` cache entries into ``data_dir`` the way the proxy stores them."""
    t0 = time.perf_counter()
    service = CacheService(
        data_dir,
        CacheConfig(threshold=0.8, ttl=7 * 24 * 3600, max_bytes=20 * 1024**3, semantic=False),
        None,
    )
    scope = service.scope_for("Bearer sk-bench-observability")
    now = time.time()
    try:
        store = service.entries
        i = 0
        while i < n:
            with store._cache.transact():  # bench only: store internals, 1,000 per commit
                for j in range(i, min(n, i + 1000)):
                    upstream = f"video_{j:032x}"
                    store.put(
                        CacheEntry(
                            id=f"ce_obs{j:010d}",
                            scope=scope,
                            namespace="",
                            exact_key=f"exact-{j:012d}",
                            bucket_key=f"bucket-{j % 10}",
                            prompt=f"bench prompt number {j}",
                            model="sora-2",
                            seconds="4",
                            size="720x1280",
                            upstream_video_id=upstream,
                            video={"id": upstream, "object": "video", "status": "completed"},
                            blobs={},
                            content_types={},
                            size_bytes=0,
                            created_at=now,
                            expires_at=now + 7 * 24 * 3600,
                        )
                    )
            i = min(n, i + 1000)
        assert store.count() == n, store.count()
    finally:
        service.close()
    return time.perf_counter() - t0


def proxy_env(base: dict[str, str], observe: bool) -> dict[str, str]:
    flag = "true" if observe else "false"
    return {
        **base,
        "VIDEOCACHE_METRICS_ENABLED": flag,
        "VIDEOCACHE_ACCESS_LOG": flag,
        # No embedding model: this measures the relay path, not semantic lookup.
        "VIDEOCACHE_CACHE_SEMANTIC": "false",
        "VIDEOCACHE_LOG_FORMAT": "json",
    }


async def create_video(port: int) -> str:
    conn = await Conn.open(port)
    try:
        status, _, body = await conn.request(
            post_json(port, "/v1/videos", {"prompt": "observability bench"}), keep=True
        )
    finally:
        conn.close()
    if status != 200:
        raise HttpError(f"create on the simulator answered {status}")
    return str(json.loads(body)["id"])


# --------------------------------------------------------------------------- measurements


async def bench_throughput(
    plan: Plan, res: Results, on: Server, off: Server, off_b: Server, path: str
) -> None:
    print(f"[1] GET {path} c={CONCURRENCY}: {plan.rounds} rounds x {plan.per_round}", flush=True)
    for server in (on, off, off_b):
        await throughput_run(server.port, path, plan.warmup, CONCURRENCY)
    slots = [(on, res.rps_on), (off, res.rps_off), (off_b, res.rps_off_b)]
    for rnd in range(plan.rounds):
        # Rotate (not just reverse) so each proxy runs first, second and third equally often.
        for server, out in slots[rnd % 3 :] + slots[: rnd % 3]:
            out.append(await throughput_run(server.port, path, plan.per_round, CONCURRENCY))
            await asyncio.sleep(0.1)
        print(
            f"    round {rnd + 1}: on {res.rps_on[-1]:,.0f} req/s, off {res.rps_off[-1]:,.0f}, "
            f"off-b {res.rps_off_b[-1]:,.0f}",
            flush=True,
        )


async def scrape_once(conn: Conn, port: int) -> tuple[float, bytes]:
    raw = get_request(port, "/metrics")
    t0 = time.perf_counter()
    status, _, body = await conn.request(raw, keep=True)
    elapsed = (time.perf_counter() - t0) * 1000.0
    if status != 200:
        raise HttpError(f"/metrics on port {port} answered {status}")
    return elapsed, body


def gauge(text: bytes, name: str) -> float:
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


async def bench_scrapes(plan: Plan, res: Results, big: Server, empty: Server) -> None:
    print(f"[2] GET /metrics: {plan.scrapes} scrapes each, interleaved by 10", flush=True)
    conns = {"big": await Conn.open(big.port), "empty": await Conn.open(empty.port)}
    ports = {"big": big.port, "empty": empty.port}
    out = {"big": res.scrape_big_ms, "empty": res.scrape_empty_ms}
    try:
        for name in conns:  # warm-up: the first scrape resolves lazily created series
            _, body = await scrape_once(conns[name], ports[name])
        done = 0
        while done < plan.scrapes:
            block = min(10, plan.scrapes - done)
            for name in conns:
                for _ in range(block):
                    ms, body = await scrape_once(conns[name], ports[name])
                    out[name].append(ms)
                    res.exposition_bytes[name] = len(body)
                    res.entries_gauge[name] = gauge(body, "videocache_cache_entries")
            done += block
    finally:
        for conn in conns.values():
            conn.close()


# --------------------------------------------------------------------------- report


def ratios(num: list[float], den: list[float]) -> list[float]:
    return sorted(a / b for a, b in zip(num, den, strict=True))


def render(res: Results, plan: Plan, quick: bool, total_s: float) -> str:
    on = statistics.median(res.rps_on)
    off = statistics.median(res.rps_off)
    on_off = ratios(res.rps_on, res.rps_off)
    aa = ratios(res.rps_off_b, res.rps_off)
    both_off = [(a + b) / 2 for a, b in zip(res.rps_off, res.rps_off_b, strict=True)]
    on_both = ratios(res.rps_on, both_off)
    ratio = statistics.median(on_both)
    big = sorted(res.scrape_big_ms)
    empty = sorted(res.scrape_empty_ms)
    big_p50 = pct(big, 50)

    def met(ok: bool) -> str:
        return "yes" if ok else "**NO**"

    n = plan.entries
    lines = [
        "# videocache observability benchmark" + (" (--quick)" if quick else ""),
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (load generator, simulator and "
        "proxies share them)",
        f"- Python {platform.python_version()}, aiohttp {aiohttp.__version__}; run took "
        f"{total_s:.0f} s",
        "- proxies: `videocache serve` subprocesses, stdout to a file; semantic lookup off; "
        "simulator `python -m simulator --speed 1000`",
        "",
        "| metric | observability on | off / baseline | result | target | met? |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        f"| GET /v1/videos/{{id}} c={CONCURRENCY}: req/s (median of {plan.rounds} rounds x "
        f"{plan.per_round:,}); median per-round ratio on / mean(off, off-b) | {on:,.0f} | "
        f"{statistics.median(both_off):,.0f} | {ratio:.2f}x | on >= 0.9x off | "
        f"{met(ratio >= 0.9)} |",
        f"| the same against off alone | {on:,.0f} | {off:,.0f} | "
        f"{statistics.median(on_off):.2f}x |  |  |",
        f"| A/A control: off-b vs off, same measurement | {statistics.median(res.rps_off_b):,.0f} "
        f"| {off:,.0f} | {statistics.median(aa):.2f}x | about 1.00x |  |",
        f"| GET /metrics p50 (ms), {n:,} entries vs empty cache, {plan.scrapes} scrapes | "
        f"{fmt(big_p50)} | {fmt(pct(empty, 50))} | +{fmt(big_p50 - pct(empty, 50))} ms "
        f"| < 50 ms | {met(big_p50 < 50)} |",
        f"| GET /metrics p99 (ms) | {fmt(pct(big, 99))} | {fmt(pct(empty, 99))} |  |  |  |",
        "",
        "Details:",
        "",
        f"- per-round ratio on / mean(off, off-b), sorted: "
        f"{', '.join(f'{v:.2f}' for v in on_both)} "
        f"(quartiles {pct(on_both, 25):.2f} / {pct(on_both, 75):.2f})",
        f"- per-round ratio on/off, sorted: {', '.join(f'{v:.2f}' for v in on_off)} "
        f"(quartiles {pct(on_off, 25):.2f} / {pct(on_off, 75):.2f})",
        f"- per-round ratio off-b/off (A/A), sorted: {', '.join(f'{v:.2f}' for v in aa)} "
        f"(quartiles {pct(aa, 25):.2f} / {pct(aa, 75):.2f})",
        f"- req/s per round: on {', '.join(f'{v:,.0f}' for v in res.rps_on)}; "
        f"off {', '.join(f'{v:,.0f}' for v in res.rps_off)}; "
        f"off-b {', '.join(f'{v:,.0f}' for v in res.rps_off_b)}",
        f"- access log of the 'on' proxy: {res.log_lines_on:,} lines, "
        f"{res.log_bytes_on / 1e6:.1f} MB; the 'off' proxy wrote {res.log_lines_off:,} "
        "request lines",
        f"- cache entries reported by /metrics: {res.entries_gauge.get('big', float('nan')):,.0f} "
        f"(populated in {res.populate_s:.1f} s; that proxy started in "
        f"{res.start_big_s:.1f} s) vs {res.entries_gauge.get('empty', float('nan')):,.0f}",
        f"- exposition size: {res.exposition_bytes.get('big', 0):,} bytes vs "
        f"{res.exposition_bytes.get('empty', 0):,} bytes (entries and bytes are gauges read "
        "from store counters at scrape time, so they do not grow with the cache)",
        "",
    ]
    return "\n".join(lines)


def count_request_lines(log: Path) -> tuple[int, int]:
    lines = 0
    with log.open("rb") as fh:
        for line in fh:
            if b'"event":"request"' in line:
                lines += 1
    return lines, log.stat().st_size


async def run(plan: Plan, res: Results, tmp: Path, env: dict[str, str]) -> None:
    servers: list[Server] = []
    py = sys.executable
    with supervised(servers):
        sim_port = free_port()
        upstream = f"http://{HOST}:{sim_port}"
        sim_cmd = [py, "-m", "simulator", "--host", HOST, "--port", str(sim_port)]
        sim = start("simulator", [*sim_cmd, "--speed", "1000"], sim_port, tmp, env)
        servers.append(sim)
        taken = {sim_port}

        def start_proxy(name: str, observe: bool) -> Server:
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            cmd = proxy_cmd(port, upstream, tmp / f"data-{name}")
            return start(f"proxy-{name}", cmd, port, tmp, proxy_env(env, observe))

        on = start_proxy("on", True)
        off = start_proxy("off", False)
        off_b = start_proxy("off-b", False)
        servers += [on, off, off_b]
        await wait_ready(sim, "/_sim/health")
        for proxy in (on, off, off_b):
            await wait_ready(proxy, "/healthz")
        video_id = await create_video(sim_port)
        await bench_throughput(plan, res, on, off, off_b, f"/v1/videos/{video_id}")
        res.log_lines_on, res.log_bytes_on = count_request_lines(on.log)
        res.log_lines_off, _ = count_request_lines(off.log)
        stop_all([on, off, off_b])

        print(f"[2] populating {plan.entries:,} entries", flush=True)
        res.populate_s = populate(tmp / "data-big", plan.entries)
        print(f"    done in {res.populate_s:.1f}s", flush=True)
        t0 = time.perf_counter()
        big = start_proxy("big", True)
        servers.append(big)
        await wait_ready(big, "/healthz", timeout=300)
        res.start_big_s = time.perf_counter() - t0
        empty = start_proxy("empty", True)
        servers.append(empty)
        await wait_ready(empty, "/healthz")
        await bench_scrapes(plan, res, big, empty)
        check_alive(servers, skip=(on, off, off_b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    parser.add_argument("--output", type=Path, help="markdown file to write the table to")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    output = args.output or BENCH / "results" / (
        "observability-quick.md" if args.quick else "observability.md"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in list(env):
        if name.startswith("VIDEOCACHE_"):
            del env[name]  # only what this bench sets
    res = Results()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vc-obs-bench-") as tmp:
        loop = new_loop()
        try:
            loop.run_until_complete(run(plan, res, Path(tmp), env))
        finally:
            loop.close()
    table = render(res, plan, args.quick, time.perf_counter() - started)
    write_report(table, output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
