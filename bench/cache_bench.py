"""Cache-path performance of videocache: hits, semantic lookup, batching, downloads, memory.

    .venv/bin/python bench/cache_bench.py [--quick]

Everything is measured in one run, each metric against a baseline taken in the same run
(interleaved where both are rates or latencies), on a shared 2-core machine:

1. Exact-hit create (JSON POST /v1/videos, same prompt and Authorization) through a real
   `videocache serve` over HTTP: p50/p99 over sequential requests. Baseline: GET /healthz
   on the same proxy (the floor of one round trip through it). Target p50 <= 3 ms.
2. Semantic lookup in process (CacheService.lookup: exact miss, embed with the real
   all-MiniLM-L6-v2 through SentenceTransformerEmbedder, search, near-miss guard) with
   100,000 entries: 10 buckets of 10,000 (the searched one holding 521 real prompts from
   bench/data/eval_pairs.jsonl), queried with their never-seen paraphrases; and the worst
   case, all 100,000 in the searched bucket. Baseline: a bare model.encode() of the same
   prompt, interleaved, run in the embedder's thread (a second torch thread team would slow
   both). Target p50 <= 25 ms.
3. 16 concurrent misses: SentenceTransformerEmbedder with the proxy's defaults (batches of up
   to 16, 2 ms window), 16 prompts gathered (one batch) vs the same 16 awaited one at a time
   (16 batches of one), rounds interleaved; the ratio is the median of the rounds' ratios.
   Target >= 3x prompts/s. Also the cost per prompt of one model call by batch size (1-32),
   which is what the default batch cap of 16 rests on.
4. Download of a cached video (hit's minted id, FileResponse from the blob store) vs
   bench/bare_file_server.py serving the very same file; MB/s, rounds interleaved;
   target >= 0.8x. Plus Range correctness (bytes=1000-1999, bytes=-500).
5. RSS (psutil, children included) of `videocache serve` on item 2's data dir (100,000
   entries) after one semantic create. Baseline: the same proxy with
   VIDEOCACHE_CACHE_SEMANTIC=false on an empty data dir. Target <= 900 MB.

Process, client and report helpers come from bench/passthrough.py. Results go to stdout and
bench/results/cache_bench.md (cache_bench-quick.md for --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from passthrough import (
    AUTH,
    HOST,
    Conn,
    HttpError,
    MiB,
    Server,
    check_alive,
    cpu_model,
    download,
    fmt,
    free_port,
    new_loop,
    pct,
    post_json,
    proxy_cmd,
    start,
    stop_all,
    supervised,
    wait_ready,
    write_report,
)

from cache.controls import CacheControls
from cache.embedder import SentenceTransformerEmbedder
from cache.index import VectorIndex
from cache.keys import bucket_key, exact_key
from cache.normalize import normalize_prompt
from cache.service import CacheConfig, CacheService, fingerprint
from cache.stores import CacheEntry

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
ADMIN_TOKEN = "bench-admin-token"
HIT_PROMPT = "A red fox trotting through fresh snow at dawn, cinematic, slow dolly in."
DIM = 384
# The searched bucket is OpenAI's defaults; the others vary seconds and size.
BATCH_SWEEP = (1, 4, 8, 16, 24, 32)  # batch sizes whose cost per prompt item 3 reports
BUCKET_PARAMS = [
    (s, z) for s in ("4", "8", "12") for z in ("720x1280", "1280x720", "1024x1792", "1792x1024")
][:10]


@dataclass(frozen=True)
class Plan:
    content_bytes: int
    hit_warmup: int
    hit_rounds: int
    hit_per_round: int
    entries: int
    lookups: int
    batch_rounds: int
    sweep_rounds: int
    dl_rounds: int


FULL = Plan(
    content_bytes=200 * MiB,
    hit_warmup=200,
    hit_rounds=10,
    hit_per_round=200,  # 2000 per endpoint
    entries=100_000,
    lookups=150,
    batch_rounds=30,
    sweep_rounds=6,
    dl_rounds=3,
)
QUICK = Plan(
    content_bytes=20 * MiB,
    hit_warmup=50,
    hit_rounds=4,
    hit_per_round=50,
    entries=5_000,
    lookups=30,
    batch_rounds=3,
    sweep_rounds=1,
    dl_rounds=2,
)


@dataclass
class Results:
    hit_ms: list[float] = field(default_factory=list)
    healthz_ms: list[float] = field(default_factory=list)
    # item 2, per bucket layout ("spread" / "one"): lists of ms
    lookup_total: dict[str, list[float]] = field(default_factory=dict)
    lookup_embed: dict[str, list[float]] = field(default_factory=dict)
    lookup_search: dict[str, list[float]] = field(default_factory=dict)
    index_search: dict[str, list[float]] = field(default_factory=dict)
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    encode_ms: list[float] = field(default_factory=list)
    searched_bucket: dict[str, int] = field(default_factory=dict)
    insert_s: float = float("nan")
    insert_single_ms: float = float("nan")
    insert_batched: bool = False
    service_open_s: float = float("nan")
    # item 3
    conc_pps: list[float] = field(default_factory=list)
    seq_pps: list[float] = field(default_factory=list)
    conc_encodes: list[int] = field(default_factory=list)
    sweep_ms: dict[int, list[float]] = field(default_factory=dict)
    seq_encodes: list[int] = field(default_factory=list)
    # item 4
    proxy_mbps: list[float] = field(default_factory=list)
    bare_mbps: list[float] = field(default_factory=list)
    ranges: dict[str, bool] = field(default_factory=dict)
    blob_bytes: int = 0
    # item 5
    rss_full: float = float("nan")
    rss_base: float = float("nan")
    rss_hit_kind: str = "?"
    ready_s: float = float("nan")
    hit_query: str = ""
    notes: list[str] = field(default_factory=list)

    def batch_ratios(self) -> list[float]:
        """Item 3: each paired round's gathered / sequential prompts per second."""
        return [c / s for c, s in zip(self.conc_pps, self.seq_pps, strict=True)]

    def sweep_summary(self) -> str:
        """Item 3: median ms a prompt for each batch size swept."""
        return ", ".join(f"{n}: {statistics.median(v):.2f}" for n, v in self.sweep_ms.items())


# --------------------------------------------------------------------------- HTTP helpers


async def exchange(conn: Conn, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on a keep-alive connection: (status, lower-cased headers, body)."""
    conn.writer.write(raw)
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise HttpError(f"no Content-Length in answer {status}: {headers}")
    body = await conn.reader.readexactly(int(headers["content-length"]))
    return status, headers, body


def raw_get(port: int, path: str, extra: dict[str, str] | None = None) -> bytes:
    headers = {"Authorization": AUTH, **(extra or {})}
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{lines}\r\n".encode()


async def create(port: int, prompt: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    conn = await Conn.open(port)
    try:
        status, headers, body = await exchange(
            conn, post_json(port, "/v1/videos", {"prompt": prompt})
        )
    finally:
        conn.close()
    return status, headers, json.loads(body) if body else {}


async def wait_published(port: int, want: int, timeout: float) -> None:
    raw = raw_get(port, "/admin/cache/stats", {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        conn = await Conn.open(port)
        try:
            status, _, body = await exchange(conn, raw)
        finally:
            conn.close()
        last = (status, body[:200])
        if status == 200 and json.loads(body).get("entries", 0) >= want:
            return
        await asyncio.sleep(0.2)
    raise HttpError(f"no published entry after {timeout}s: {last}")


def rss_tree(pid: int) -> float:
    """RSS in MB of a process and all its descendants."""
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 1e6


# --------------------------------------------------------------------------- 1 and 4


async def bench_http(
    plan: Plan, res: Results, sim: Server, logdir: Path, env: dict[str, str]
) -> None:
    servers: list[Server] = []
    with supervised(servers):
        port = free_port()
        data = logdir / "vc-http"
        proxy = start(
            "videocache-http", proxy_cmd(port, f"http://{HOST}:{sim.port}", data), port, logdir, env
        )
        servers.append(proxy)
        await wait_ready(proxy, "/healthz", timeout=180)
        status, headers, video = await create(port, HIT_PROMPT)
        if status != 200:
            raise HttpError(f"first create: {status} {video}")
        print(f"    first create: x-cache {headers.get('x-cache')}, waiting", flush=True)
        t0 = time.perf_counter()
        await wait_published(port, 1, timeout=300)
        print(f"    published after {time.perf_counter() - t0:.1f}s", flush=True)

        # ---- 1. exact-hit create vs /healthz, same client code, interleaved rounds.
        hit_raw = post_json(port, "/v1/videos", {"prompt": HIT_PROMPT})
        health_raw = raw_get(port, "/healthz")
        clock = time.perf_counter

        async def run(raw: bytes, n: int, hit: bool) -> list[float]:
            conn = await Conn.open(port)
            out: list[float] = []
            try:
                for _ in range(n):
                    t = clock()
                    status, headers, _ = await exchange(conn, raw)
                    out.append((clock() - t) * 1000.0)
                    if status != 200 or (hit and headers.get("x-cache") != "HIT"):
                        raise HttpError(f"status {status}, x-cache {headers.get('x-cache')}")
            finally:
                conn.close()
            return out

        await run(hit_raw, plan.hit_warmup, True)
        await run(health_raw, plan.hit_warmup, False)
        print(
            f"[1] exact-hit create vs /healthz: {plan.hit_rounds} x {plan.hit_per_round}",
            flush=True,
        )
        for rnd in range(plan.hit_rounds):
            order = [(hit_raw, True), (health_raw, False)]
            for raw, hit in order if rnd % 2 == 0 else order[::-1]:
                (res.hit_ms if hit else res.healthz_ms).extend(
                    await run(raw, plan.hit_per_round, hit)
                )
        print(
            f"    p50 hit {statistics.median(res.hit_ms):.3f} ms, "
            f"healthz {statistics.median(res.healthz_ms):.3f} ms",
            flush=True,
        )

        # ---- 4. cached download vs bare FileResponse on the same blob file.
        blobs = [p for p in (data / "cache" / "blobs").rglob("*") if p.is_file()]
        blob = max(blobs, key=lambda p: p.stat().st_size)
        res.blob_bytes = size = blob.stat().st_size
        if size != plan.content_bytes:
            raise HttpError(f"largest blob {blob} has {size} bytes, not {plan.content_bytes}")
        bare_port = free_port()
        bare = start(
            "bare-file",
            [
                sys.executable,
                str(BENCH / "bare_file_server.py"),
                "--file",
                str(blob),
                "--port",
                str(bare_port),
            ],
            bare_port,
            logdir,
            env,
        )
        servers.append(bare)
        await wait_ready(bare, "/x")
        status, headers, video = await create(port, HIT_PROMPT)
        if headers.get("x-cache") != "HIT":
            raise HttpError(f"expected a HIT for the download id: {status} {headers}")
        path = f"/v1/videos/{video['id']}/content"
        print(f"[4] download {size / MiB:.0f} MiB: {plan.dl_rounds} rounds, {path}", flush=True)
        await download(port, path, size, None)  # warm page cache and both servers
        await download(bare_port, "/video.mp4", size, None)
        for rnd in range(plan.dl_rounds):
            order = [("proxy", port, path, proxy), ("bare", bare_port, "/video.mp4", bare)]
            for name, p, pth, srv in order if rnd % 2 == 0 else order[::-1]:
                mbps, _ = await download(p, pth, size, srv.proc.pid)
                (res.proxy_mbps if name == "proxy" else res.bare_mbps).append(mbps)
                print(f"    round {rnd + 1} {name}: {mbps:,.0f} MB/s", flush=True)
                await asyncio.sleep(0.2)

        content = blob.read_bytes()
        expect = {"bytes=1000-1999": content[1000:2000], "bytes=-500": content[-500:]}
        for name, p, pth in (("proxy", port, path), ("bare", bare_port, "/video.mp4")):
            conn = await Conn.open(p)
            try:
                for rng, want in expect.items():
                    status, headers, body = await exchange(conn, raw_get(p, pth, {"Range": rng}))
                    first = len(content) - len(want) if rng.endswith("-500") else 1000
                    crange = f"bytes {first}-{first + len(want) - 1}/{len(content)}"
                    res.ranges[f"{name} {rng}"] = (
                        status == 206 and body == want and headers.get("content-range") == crange
                    )
            finally:
                conn.close()
        del content
        print(
            "    ranges: "
            + ", ".join(f"{k} {'ok' if v else 'FAIL'}" for k, v in res.ranges.items()),
            flush=True,
        )
        check_alive(servers)


# --------------------------------------------------------------------------- 2 and 3


def load_pairs() -> list[dict[str, str]]:
    path = BENCH / "data" / "eval_pairs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def bench_batching(
    plan: Plan, res: Results, embedder: SentenceTransformerEmbedder, prompts: list[str]
) -> None:
    print(f"[3] 16 prompts gathered vs sequential: {plan.batch_rounds} rounds", flush=True)
    pool = iter(prompts)
    await embedder.embed_many([next(pool) for _ in range(16)])  # warm-up
    for rnd in range(plan.batch_rounds):
        modes = ["gather", "sequential"] if rnd % 2 == 0 else ["sequential", "gather"]
        # Both modes encode the same 16 prompts (nothing is cached between them): a paired
        # comparison, so a round's ratio does not depend on how long its prompts are.
        texts = [next(pool) for _ in range(16)]
        for mode in modes:
            calls = embedder.encode_calls
            t0 = time.perf_counter()
            if mode == "gather":
                out = await asyncio.gather(*(embedder.embed(t) for t in texts))
            else:
                out = [await embedder.embed(t) for t in texts]
            elapsed = time.perf_counter() - t0
            assert len(out) == 16
            encodes = embedder.encode_calls - calls
            if mode == "gather":
                res.conc_pps.append(16 / elapsed)
                res.conc_encodes.append(encodes)
            else:
                res.seq_pps.append(16 / elapsed)
                res.seq_encodes.append(encodes)
    print(
        f"    gather {statistics.median(res.conc_pps):.0f} prompts/s, sequential "
        f"{statistics.median(res.seq_pps):.0f} prompts/s",
        flush=True,
    )
    # Cost per prompt by batch size (one model call each, in the embedder's thread): where
    # it stops falling is the default batch cap (embedding_max_batch).
    for rnd in range(plan.sweep_rounds):
        for size in BATCH_SWEEP if rnd % 2 == 0 else BATCH_SWEEP[::-1]:
            texts = [next(pool) for _ in range(size)]
            t0 = time.perf_counter()
            await embedder.run_in_model_thread(partial(embedder.encode_batch, texts))
            res.sweep_ms.setdefault(size, []).append((time.perf_counter() - t0) * 1000 / size)
    print(f"    ms a prompt by batch size: {res.sweep_summary()}", flush=True)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


async def bench_semantic(
    plan: Plan,
    res: Results,
    embedder: SentenceTransformerEmbedder,
    data_dir: Path,
    scope: str,
    cached: list[str],
    queries: list[str],
) -> None:
    n = plan.entries
    n_buckets = len(BUCKET_PARAMS)
    per_bucket = n // n_buckets
    print(
        f"[2] semantic lookup: {n:,} entries, {n_buckets} buckets of {per_bucket:,}, "
        f"{len(cached)} real prompts",
        flush=True,
    )
    config = CacheConfig(threshold=0.80, ttl=7 * 24 * 3600, max_bytes=20 * 1024**3)
    service = CacheService(data_dir, config, embedder)
    try:
        # Real embeddings for the cached prompts; the bulk are "real-looking": a random real
        # embedding plus isotropic noise (cosine ~0.64 to it), so they sit on the prompt
        # manifold like real neighbours do but stay below the 0.80 threshold.
        real = np.stack([e.vector for e in await embedder.embed_many(cached)])
        rng = np.random.default_rng(0)
        noise_scale = 1.2 / np.sqrt(DIM)
        blob_shas = {
            v: service.blobs.put_bytes(f"bench {v} bytes".encode())
            for v in ("video", "thumbnail", "spritesheet")
        }
        now = time.time()
        fps = []
        for seconds, size in BUCKET_PARAMS:
            fields = {"prompt": "", "seconds": seconds, "size": size}
            fps.append(fingerprint(scope=scope, namespace="", fields=fields, input_reference=""))
        bucket_keys = [bucket_key(fp) for fp in fps]

        def make(i: int) -> tuple[CacheEntry, np.ndarray]:
            b = i % n_buckets
            r = i // n_buckets
            if b == 0 and r < len(cached):
                prompt, vec, blobs = cached[r], real[r], dict(blob_shas)
            else:
                base = real[rng.integers(len(real))]
                vec = unit(base + rng.standard_normal(DIM).astype(np.float32) * noise_scale)
                prompt, blobs = f"bulk prompt {i}: {cached[i % len(cached)]}", {}
            fp = fps[b]
            fp_i = fingerprint(
                scope=scope,
                namespace="",
                fields={"prompt": prompt, "seconds": fp.seconds, "size": fp.size},
                input_reference="",
            )
            upstream = f"video_{hashlib.sha256(str(i).encode()).hexdigest()[:32]}"
            entry = CacheEntry(
                id=f"ce_bench{i:010d}",
                scope=scope,
                namespace="",
                exact_key=exact_key(fp_i),
                bucket_key=bucket_keys[b],
                prompt=prompt,
                model=fp.model,
                seconds=fp.seconds,
                size=fp.size,
                upstream_video_id=upstream,
                video={
                    "id": upstream,
                    "object": "video",
                    "model": fp.model,
                    "status": "completed",
                    "progress": 100,
                    "seconds": fp.seconds,
                    "size": fp.size,
                    "prompt": prompt,
                    "created_at": int(now),
                },
                blobs=blobs,
                content_types={k: "video/mp4" for k in blobs},
                size_bytes=200 * MiB if blobs else 0,
                created_at=now,
                expires_at=now + 7 * 24 * 3600,
                embedding=vec.tobytes(),
            )
            return entry, vec

        # Insert through EntryStore.put one by one (each its own diskcache transaction);
        # if that extrapolates past 2 minutes, the rest go 1,000 per outer transaction.
        vectors = np.empty((n, DIM), dtype=np.float32)
        probe = min(n, 2000)
        t0 = time.perf_counter()
        for i in range(probe):
            entry, vectors[i] = make(i)
            service.entries.put(entry)
        single = (time.perf_counter() - t0) / probe
        res.insert_single_ms = single * 1000
        res.insert_batched = single * n > 120
        print(
            f"    put one by one: {single * 1000:.3f} ms/entry -> "
            f"{single * n:.0f}s for {n:,}{' (batching the rest)' if res.insert_batched else ''}",
            flush=True,
        )
        i = probe
        while i < n:
            if res.insert_batched:
                with service.entries._cache.transact():  # bench only: store internals
                    for j in range(i, min(n, i + 1000)):
                        entry, vectors[j] = make(j)
                        service.entries.put(entry)
                i = min(n, i + 1000)
            else:
                entry, vectors[i] = make(i)
                service.entries.put(entry)
                i += 1
        res.insert_s = time.perf_counter() - t0
        print(f"    inserted {n:,} in {res.insert_s:.1f}s", flush=True)
    finally:
        service.close()

    # Reopen: this is what a proxy start does (index rebuilt from the store).
    t0 = time.perf_counter()
    service = CacheService(data_dir, config, embedder)
    res.service_open_s = time.perf_counter() - t0
    try:
        print(
            f"    CacheService reopened in {res.service_open_s:.1f}s, index {len(service.index):,}",
            flush=True,
        )
        spread = service.index
        one = VectorIndex()  # worst case: every entry in the searched bucket
        ids = [f"ce_bench{i:010d}" for i in range(n)]
        for entry_id, vec in zip(ids, vectors, strict=True):
            one.add(bucket_keys[0], entry_id, vec)
        indexes = {"spread": spread, "one": one}
        for layout, idx in indexes.items():
            res.searched_bucket[layout] = idx.bucket_size(bucket_keys[0])
            for d in (res.lookup_total, res.lookup_embed, res.lookup_search, res.index_search):
                d[layout] = []
            res.kinds[layout] = {}
        controls = CacheControls()
        model = embedder.model

        def encode(text: str) -> float:
            t = time.perf_counter()
            model.encode(
                [text],
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=1,
                show_progress_bar=False,
            )
            return (time.perf_counter() - t) * 1000

        async def one_lookup(layout: str, q: str) -> None:
            service.index = indexes[layout]
            fp = fingerprint(scope=scope, namespace="", fields={"prompt": q}, input_reference="")
            lk = await service.lookup(fp, controls)
            assert lk.bucket_key == bucket_keys[0] and lk.embedding is not None
            res.lookup_total[layout].append(lk.lookup_seconds * 1000)
            res.lookup_embed[layout].append(lk.embed_seconds * 1000)
            res.lookup_search[layout].append((lk.lookup_seconds - lk.embed_seconds) * 1000)
            res.kinds[layout][lk.kind] = res.kinds[layout].get(lk.kind, 0) + 1
            if lk.kind == "semantic_hit" and not res.hit_query:
                res.hit_query = q
            t = time.perf_counter()
            service.index.search(lk.bucket_key, lk.embedding, k=5)
            res.index_search[layout].append((time.perf_counter() - t) * 1000)

        for q in queries[:5]:  # warm-up
            await one_lookup("spread", q)
            await one_lookup("one", q)
            await embedder.run_in_model_thread(partial(encode, q))
        for d in (res.lookup_total, res.lookup_embed, res.lookup_search, res.index_search):
            for v in d.values():
                v.clear()
        res.kinds = {k: {} for k in indexes}
        for k, q in enumerate(queries[5 : 5 + plan.lookups]):
            steps = ["spread", "one", "encode"]
            rot = steps[k % 3 :] + steps[: k % 3]
            for step in rot:
                if step == "encode":
                    res.encode_ms.append(await embedder.run_in_model_thread(partial(encode, q)))
                else:
                    await one_lookup(step, q)
        service.index = spread
        for layout in indexes:
            print(
                f"    {layout}: bucket {res.searched_bucket[layout]:,}, lookup p50 "
                f"{statistics.median(res.lookup_total[layout]):.2f} ms (embed "
                f"{statistics.median(res.lookup_embed[layout]):.2f}, rest "
                f"{statistics.median(res.lookup_search[layout]):.2f}), "
                f"kinds {res.kinds[layout]}",
                flush=True,
            )
        print(f"    bare model.encode p50 {statistics.median(res.encode_ms):.2f} ms", flush=True)
    finally:
        service.close()


# --------------------------------------------------------------------------- 5


async def bench_rss(
    res: Results, sim: Server, logdir: Path, env: dict[str, str], full_dir: Path, query: str
) -> None:
    servers: list[Server] = []
    upstream = f"http://{HOST}:{sim.port}"
    with supervised(servers):
        base_port = free_port()
        base = start(
            "videocache-nosemantic",
            proxy_cmd(base_port, upstream, logdir / "vc-empty"),
            base_port,
            logdir,
            dict(env, VIDEOCACHE_CACHE_SEMANTIC="false"),
        )
        servers.append(base)
        await wait_ready(base, "/readyz", timeout=120)
        port = free_port()
        t0 = time.perf_counter()
        full = start("videocache-100k", proxy_cmd(port, upstream, full_dir), port, logdir, env)
        servers.append(full)
        await wait_ready(full, "/readyz", timeout=300)
        res.ready_s = time.perf_counter() - t0
        status, headers, body = await create(port, query)
        res.rss_hit_kind = headers.get("x-cache", f"status {status}")
        debug = body.get("extra_fields", {}).get("cache_debug", {})
        if not debug.get("model_used"):
            res.notes.append(f"item 5: the semantic create did not embed ({status} {debug})")
        # One plain create on the baseline too, so both have served a create.
        await create(base_port, HIT_PROMPT)
        await asyncio.sleep(1.0)
        res.rss_full = rss_tree(full.proc.pid)
        res.rss_base = rss_tree(base.proc.pid)
        print(
            f"[5] RSS: 100k+model {res.rss_full:.0f} MB (ready after {res.ready_s:.1f}s, "
            f"create {res.rss_hit_kind}), no-semantic empty {res.rss_base:.0f} MB",
            flush=True,
        )
        check_alive(servers)


# --------------------------------------------------------------------------- report


def render(res: Results, plan: Plan, quick: bool, total_s: float) -> str:
    def met(ok: bool) -> str:
        return "yes" if ok else "**NO**"

    def p(values: list[float], q: float) -> float:
        return pct(sorted(values), q)

    n_hit = len(res.hit_ms)
    n = plan.entries
    rows: list[tuple[str, str, str, str, str]] = [
        (
            f"1. exact-hit create p50 (ms), n={n_hit}; baseline GET /healthz",
            fmt(p(res.hit_ms, 50), 3),
            fmt(p(res.healthz_ms, 50), 3),
            "<= 3 ms",
            met(p(res.hit_ms, 50) <= 3),
        ),
        (
            "1. exact-hit create p99 (ms); baseline GET /healthz",
            fmt(p(res.hit_ms, 99), 3),
            fmt(p(res.healthz_ms, 99), 3),
            "",
            "",
        ),
    ]
    for layout, label in (("spread", "bucket of"), ("one", "worst case, one bucket of")):
        size = res.searched_bucket.get(layout, 0)
        tot = res.lookup_total.get(layout, [])
        rows += [
            (
                f"2. semantic lookup p50 (ms), {n:,} entries, {label} {size:,}; "
                "baseline bare model.encode",
                fmt(p(tot, 50)),
                fmt(p(res.encode_ms, 50)),
                "<= 25 ms",
                met(p(tot, 50) <= 25),
            ),
            (
                f"2. semantic lookup p99 (ms), {label} {size:,}",
                fmt(p(tot, 99)),
                fmt(p(res.encode_ms, 99)),
                "",
                "",
            ),
            (
                f"2. - embed part p50 (ms), {label} {size:,}",
                fmt(p(res.lookup_embed.get(layout, []), 50)),
                fmt(p(res.encode_ms, 50)),
                "",
                "",
            ),
            (
                f"2. - search part p50 (ms), {label} {size:,}; baseline VectorIndex.search alone",
                fmt(p(res.lookup_search.get(layout, []), 50)),
                fmt(p(res.index_search.get(layout, []), 50), 3),
                "",
                "",
            ),
        ]
    rows.append(
        (
            f"2. insert {n:,} entries (s)"
            + (
                "; batched 1,000 per transaction after the first 2,000"
                if res.insert_batched
                else "; EntryStore.put one by one"
            ),
            fmt(res.insert_s, 1),
            f"{res.insert_single_ms:.3f} ms/put",
            "",
            "",
        )
    )
    conc, seq = statistics.median(res.conc_pps), statistics.median(res.seq_pps)
    ratio = statistics.median(res.batch_ratios())
    rows.append(
        (
            f"3. 16 concurrent misses (prompts/s), {len(res.conc_pps)} rounds; baseline sequential",
            fmt(conc, 0),
            fmt(seq, 0),
            f">= 3x (got {ratio:.2f}x)",
            met(ratio >= 3),
        )
    )
    pm, bm = statistics.median(res.proxy_mbps), statistics.median(res.bare_mbps)
    dl_ratio = statistics.median(a / b for a, b in zip(res.proxy_mbps, res.bare_mbps, strict=True))
    rows.append(
        (
            f"4. cached download {res.blob_bytes / MiB:.0f} MiB (MB/s), {len(res.proxy_mbps)} "
            "rounds; baseline bare FileResponse",
            fmt(pm, 0),
            fmt(bm, 0),
            f">= 0.8x (got {dl_ratio:.2f}x)",
            met(dl_ratio >= 0.8),
        )
    )
    proxy_ok = all(v for k, v in res.ranges.items() if k.startswith("proxy"))
    bare_ok = all(v for k, v in res.ranges.items() if k.startswith("bare"))
    rows.append(
        (
            "4. Range bytes=1000-1999 and bytes=-500 match the file",
            "ok" if proxy_ok and res.ranges else "FAIL",
            "ok" if bare_ok else "FAIL",
            "ok",
            met(proxy_ok and bool(res.ranges)),
        )
    )
    rows.append(
        (
            f"5. proxy RSS (MB), model loaded + {n:,} entries; baseline semantic=false, empty dir",
            fmt(res.rss_full, 0),
            fmt(res.rss_base, 0),
            "<= 900 MB",
            met(res.rss_full <= 900),
        )
    )

    import aiohttp
    import sentence_transformers
    import torch

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"# videocache cache benchmark{' (QUICK smoke run)' if quick else ''}",
        "",
        f"- date: {now}",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores (shared: client, servers and the "
        f"in-process model all run on them), Python {platform.python_version()}, aiohttp "
        f"{aiohttp.__version__}, sentence-transformers {sentence_transformers.__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
        f"- whole run: {total_s:.0f}s; baselines measured in the same run, interleaved",
        "",
        "| metric | measured | baseline (same run) | target | met? |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    body = ["| " + " | ".join(r) + " |" for r in rows]
    detail = [
        "",
        "Details:",
        "",
        "- 1: JSON POST /v1/videos, same prompt and Authorization, every answer checked for "
        "`x-cache: HIT`; one keep-alive connection, raw asyncio client, rounds of "
        f"{plan.hit_per_round} alternating with /healthz.",
        "- 2: lookup = CacheService.lookup (exact-key miss, in-flight check, embed through "
        "SentenceTransformerEmbedder with its default 2 ms batch window, search k=5, guard, "
        "entry read); search part = lookup_seconds - embed_seconds. Bucket layouts and the "
        "bare encode interleaved per query. Outcomes: "
        + "; ".join(f"{k}: {v}" for k, v in res.kinds.items())
        + f". Entries stored via EntryStore.put: {res.insert_single_ms:.3f} ms each; "
        f"CacheService open (index rebuild from the store) {res.service_open_s:.1f}s. The "
        "worst case re-indexes all entries into the searched bucket in memory (same store).",
        "- 2: per-query p50/p99 (ms) lookup spread "
        f"{fmt(p(res.lookup_total.get('spread', []), 50))}/"
        f"{fmt(p(res.lookup_total.get('spread', []), 99))}, one "
        f"{fmt(p(res.lookup_total.get('one', []), 50))}/"
        f"{fmt(p(res.lookup_total.get('one', []), 99))}; VectorIndex.search alone p50 spread "
        f"{fmt(p(res.index_search.get('spread', []), 50), 3)}, one "
        f"{fmt(p(res.index_search.get('one', []), 50), 3)}",
        "- 3: prompts/s per round gather "
        + ", ".join(f"{v:.0f}" for v in res.conc_pps)
        + "; sequential "
        + ", ".join(f"{v:.0f}" for v in res.seq_pps)
        + f"; encode calls per round gather {sorted(set(res.conc_encodes))}, sequential "
        f"{sorted(set(res.seq_encodes))}; per-round ratio quartiles "
        + "/".join(f"{q:.2f}" for q in statistics.quantiles(res.batch_ratios(), n=4)),
        "- 3: ms a prompt by batch size (one model call, median of "
        f"{len(next(iter(res.sweep_ms.values()), []))} rounds): {res.sweep_summary()}",
        "- 4: MB/s per round proxy "
        + ", ".join(f"{v:.0f}" for v in res.proxy_mbps)
        + "; bare "
        + ", ".join(f"{v:.0f}" for v in res.bare_mbps)
        + "; ranges "
        + ", ".join(f"{k} {'ok' if v else 'FAIL'}" for k, v in res.ranges.items()),
        f"- 5: the 100k proxy was ready (/readyz) {res.ready_s:.1f}s after start; its "
        f"semantic create answered x-cache {res.rss_hit_kind}",
    ] + [f"- note: {note}" for note in res.notes]
    return "\n".join(header + body + detail) + "\n"


# --------------------------------------------------------------------------- main


async def bench(plan: Plan, res: Results, sim: Server, logdir: Path, env: dict[str, str]) -> None:
    await wait_ready(sim, "/v1/videos/video_none")
    await bench_http(plan, res, sim, logdir, env)

    pairs = load_pairs()
    cached = sorted({r["a"] for r in pairs})
    hit_queries = [r["b"] for r in pairs if r["label"] == "hit"]
    miss_queries = [r["b"] for r in pairs if r["label"] == "miss"]
    random.Random(1).shuffle(hit_queries)
    random.Random(2).shuffle(miss_queries)
    # Paraphrases that normalise to a cached prompt would be exact hits (no embedding).
    known = {normalize_prompt(a) for a in cached}
    queries = [
        q
        for pair in zip(hit_queries, miss_queries, strict=False)
        for q in pair
        if normalize_prompt(q) not in known
    ]
    others = sorted({r["b"] for r in pairs} - set(queries[: plan.lookups + 5]))
    random.Random(3).shuffle(others)
    batch_prompts = others + [f"{t} Variation {k}." for k in range(3) for t in cached]

    print("    loading the embedding model in process", flush=True)
    embedder = SentenceTransformerEmbedder()  # the proxy's defaults
    await embedder.start()
    try:
        await bench_batching(plan, res, embedder, batch_prompts)
        full_dir = logdir / "vc-100k"
        from cache.scope import load_or_create_secret, resolve_scope

        scope = resolve_scope(load_or_create_secret(full_dir), AUTH, "credential", "default")
        await bench_semantic(plan, res, embedder, full_dir, scope, cached, queries)
    finally:
        await embedder.close()
    await bench_rss(res, sim, logdir, env, logdir / "vc-100k", res.hit_query or queries[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts and sizes (smoke run)")
    parser.add_argument("--output", type=Path, help="markdown file to write the table to")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    output = args.output or BENCH / "results" / (
        "cache_bench-quick.md" if args.quick else "cache_bench.md"
    )
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        VIDEOCACHE_WATCH_INTERVAL="0.2",
        VIDEOCACHE_ADMIN_TOKEN=ADMIN_TOKEN,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    started = time.perf_counter()
    res = Results()
    servers: list[Server] = []
    tmp = Path(tempfile.mkdtemp(prefix="vc-cache-bench-"))
    try:
        sim_port = free_port()
        sim_cmd = [
            sys.executable,
            "-m",
            "simulator",
            "--host",
            HOST,
            "--port",
            str(sim_port),
            "--speed",
            "1000",
            "--content-bytes",
            str(plan.content_bytes),
        ]
        sim = start("simulator", sim_cmd, sim_port, tmp, env)
        servers.append(sim)
        loop = new_loop()
        try:
            loop.run_until_complete(bench(plan, res, sim, tmp, env))
        finally:
            loop.close()
        if sim.proc.poll() is not None:
            raise RuntimeError(f"simulator died during the run:\n{sim.tail()}")
    finally:
        stop_all(servers)
        shutil.rmtree(tmp, ignore_errors=True)
    table = render(res, plan, args.quick, time.perf_counter() - started)
    write_report(table, output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
