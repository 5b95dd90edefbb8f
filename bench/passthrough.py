"""Pass-through overhead of videocache against a bare aiohttp forwarder and the upstream.

    .venv/bin/python bench/passthrough.py [--quick]

Starts the simulator (200 MiB content), bench/bare_forwarder.py and `videocache serve` on
free loopback ports, creates one video directly on the simulator, then measures, for
(a) direct, (b) bare forwarder, (c) videocache, with the three targets interleaved in
rounds so a noisy shared machine hits them alike:

1. GET /v1/videos/{id} at concurrency 1: p50/p99 latency; added p50 over direct.
2. GET /v1/videos/{id} at concurrency 64: requests per second; videocache / bare ratio.
3. GET /v1/videos/{id}/content (200 MiB): MB/s, read and discarded in 1 MiB chunks, and
   the proxy process's RSS (psutil) sampled during the download: peak growth over idle.

The load generator is a raw asyncio keep-alive HTTP/1.1 client (no aiohttp client
overhead), identical for all targets. Results go to stdout and bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
MiB = 1024 * 1024
AUTH = "Bearer sk-bench-passthrough"
TARGETS = ("direct", "bare", "videocache")
LABELS = {"direct": "direct", "bare": "bare forwarder", "videocache": "videocache"}


@dataclass(frozen=True)
class Plan:
    content_bytes: int
    lat_warmup: int
    lat_rounds: int
    lat_per_round: int
    conc: int
    tput_warmup: int
    tput_rounds: int
    tput_requests: int
    dl_rounds: int


FULL = Plan(
    content_bytes=200 * MiB,
    lat_warmup=200,
    lat_rounds=10,
    lat_per_round=200,  # 2000 per target
    conc=64,
    tput_warmup=2000,
    tput_rounds=3,
    tput_requests=20_000,
    dl_rounds=3,
)
QUICK = Plan(
    content_bytes=20 * MiB,
    lat_warmup=50,
    lat_rounds=4,
    lat_per_round=50,
    conc=64,
    tput_warmup=500,
    tput_rounds=2,
    tput_requests=2_000,
    dl_rounds=2,
)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, n: int = 20) -> str:
        """The last lines of the log, access-log lines left out."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join([ln for ln in lines if '"event":"request"' not in ln][-n:])


def proxy_cmd(port: int, upstream: str, data_dir: Path) -> list[str]:
    """The `videocache serve` command line the benchmarks start (the venv's console script,
    or the module when run from a checkout without it)."""
    videocache = Path(sys.executable).parent / "videocache"
    head = [str(videocache)] if videocache.exists() else [sys.executable, "-m", "proxy.cli"]
    return [
        *head,
        "serve",
        "--upstream",
        upstream,
        "--host",
        HOST,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


def start(name: str, cmd: list[str], port: int, logdir: Path, env: dict[str, str]) -> Server:
    log = logdir / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    return Server(name, port, proc, log)


def stop_all(servers: list[Server]) -> None:
    for s in servers:
        if s.proc.poll() is None:
            s.proc.terminate()
    for s in servers:
        try:
            s.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait(timeout=5)


@contextlib.contextmanager
def supervised(servers: list[Server]) -> Iterator[None]:
    """Stop every server when the block ends; if it fails, print each one's log tail first
    (a benchmark's error is usually in a server's log, not in the traceback)."""
    try:
        yield
    except BaseException:
        for s in servers:
            print(f"--- {s.name} log tail ---\n{s.tail()}", file=sys.stderr)
        raise
    finally:
        stop_all(servers)


def check_alive(servers: list[Server], skip: tuple[Server, ...] = ()) -> None:
    """Fail the run if a server (other than those in ``skip``, stopped on purpose) exited."""
    for s in servers:
        if s not in skip and s.proc.poll() is not None:
            raise RuntimeError(f"{s.name} died during the run:\n{s.tail()}")


def write_report(table: str, output: Path) -> None:
    """Print the results table and keep it in ``output``."""
    print()
    print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    print(f"written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


# --------------------------------------------------------------------------- raw client


class HttpError(RuntimeError):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection; bodies are counted, never kept (except JSON)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(HOST, port, limit=MiB)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def _head(self) -> tuple[int, int | None, bool]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        return status, length, chunked

    async def request(self, raw: bytes, keep: bool = False) -> tuple[int, int, bytes]:
        """Send one request; returns (status, body bytes, body if keep)."""
        self.writer.write(raw)
        status, length, chunked = await self._head()
        reader = self.reader
        if chunked:
            parts: list[bytes] = []
            total = 0
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    break
                data = await reader.readexactly(size + 2)
                total += size
                if keep:
                    parts.append(data[:-2])
            return status, total, b"".join(parts)
        if length is None:
            raise HttpError("response without Content-Length or chunking")
        if length <= MiB:
            body = await reader.readexactly(length)
            return status, length, body if keep else b""
        remaining = length
        while remaining:  # large body: read and discard in chunks of up to 1 MiB
            chunk = await reader.read(min(MiB, remaining))
            if not chunk:
                raise HttpError(f"connection closed with {remaining} bytes unread")
            remaining -= len(chunk)
        return status, length, b""


def get_request(port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: {AUTH}\r\n"
        "Accept: application/json\r\nUser-Agent: videocache-bench\r\n\r\n"
    ).encode()


def post_json(port: int, path: str, obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: {AUTH}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited ({server.proc.returncode}):\n{server.tail()}")
        try:
            conn = await Conn.open(server.port)
            try:
                status, _, _ = await asyncio.wait_for(
                    conn.request(get_request(server.port, path)), 5
                )
            finally:
                conn.close()
            if status < 500:
                return
            last = f"status {status}"
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            last = repr(exc)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready after {timeout}s ({last}):\n{server.tail()}")


# --------------------------------------------------------------------------- measurements


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def latency_batch(port: int, path: str, n: int) -> list[float]:
    conn = await Conn.open(port)
    raw = get_request(port, path)
    out: list[float] = []
    clock = time.perf_counter
    try:
        for i in range(n):
            t0 = clock()
            try:
                status, _, _ = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError) as exc:
                raise HttpError(f"port {port} {path}: request {i + 1}/{n} failed: {exc!r}") from exc
            out.append((clock() - t0) * 1000.0)
            if status != 200:
                raise HttpError(f"port {port} {path}: status {status}")
    finally:
        conn.close()
    return out


async def throughput_run(port: int, path: str, total: int, conc: int) -> float:
    conns = await asyncio.gather(*(Conn.open(port) for _ in range(conc)))
    raw = get_request(port, path)
    left = total
    errors = 0

    async def worker(conn: Conn) -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            status, _, _ = await conn.request(raw)
            if status != 200:
                errors += 1

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - t0
    finally:
        for c in conns:
            c.close()
    if errors:
        raise HttpError(f"port {port}: {errors} non-200 answers at concurrency {conc}")
    return total / elapsed


class RssSampler:
    """Samples a process's RSS every few milliseconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class _Discard(asyncio.BufferedProtocol):
    """Receives one response straight into a reused 1 MiB buffer (recv_into, no copies);
    parses the head, then only counts body bytes."""

    def __init__(self) -> None:
        self.buf = bytearray(MiB)
        self.view = memoryview(self.buf)
        self.head = b""
        self.status = 0
        self.length = -1
        self.got = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        if self.length < 0:
            self.head += self.buf[:nbytes]
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.head[:end].split(b"\r\n")
            self.status = int(lines[0].split(b" ", 2)[1])
            self.length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    self.length = int(value)
            nbytes = len(self.head) - end - 4
        self.got += nbytes
        if self.got >= self.length and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def download(port: int, path: str, expect: int, pid: int | None) -> tuple[float, float]:
    """(MB/s, peak RSS growth in MB of `pid` over its idle RSS; nan when pid is None)."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_connection(_Discard, HOST, port)
    growth = float("nan")
    try:
        idle = psutil.Process(pid).memory_info().rss if pid else 0
        sampler = RssSampler(pid) if pid else None
        with sampler or contextlib.nullcontext():
            t0 = time.perf_counter()
            transport.write(get_request(port, path))
            await proto.done
            elapsed = time.perf_counter() - t0
        if sampler is not None:
            growth = max(0, sampler.peak - idle) / 1e6
    finally:
        transport.close()
    if proto.status != 200 or proto.length != expect or proto.got != expect:
        raise HttpError(
            f"port {port} download: status {proto.status}, {proto.got} of {expect} bytes"
        )
    return expect / 1e6 / elapsed, growth


def rounds_order(rnd: int) -> list[str]:
    """Rotate the order each round so no target always runs first or last."""
    k = rnd % 3
    order = list(TARGETS[k:] + TARGETS[:k])
    return order if rnd % 2 == 0 else order[::-1]


# --------------------------------------------------------------------------- report


@dataclass
class Results:
    lat: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    lat_round_p50: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    rps: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    mbps: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    rss_growth: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    idle_rss: dict[str, float] = field(default_factory=dict)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def fmt(x: float, digits: int = 2) -> str:
    return "-" if x != x else f"{x:,.{digits}f}"  # nan -> "-"


def render(res: Results, plan: Plan, quick: bool, loop_name: str) -> str:
    p50 = {t: pct(sorted(res.lat[t]), 50) for t in TARGETS}
    p99 = {t: pct(sorted(res.lat[t]), 99) for t in TARGETS}
    # Added p50: the median over rounds of (target p50 - direct p50) in the same round.
    added = {
        t: statistics.median(
            a - d for a, d in zip(res.lat_round_p50[t], res.lat_round_p50["direct"], strict=True)
        )
        for t in ("bare", "videocache")
    }
    rps = {t: statistics.median(res.rps[t]) for t in TARGETS}
    rps_ratio = statistics.median(
        c / b for c, b in zip(res.rps["videocache"], res.rps["bare"], strict=True)
    )
    mbps = {t: statistics.median(res.mbps[t]) for t in TARGETS}
    dl_ratio = statistics.median(
        c / b for c, b in zip(res.mbps["videocache"], res.mbps["bare"], strict=True)
    )
    growth = {t: max(res.rss_growth[t]) if res.rss_growth[t] else float("nan") for t in TARGETS}

    def met(ok: bool) -> str:
        return "yes" if ok else "**NO**"

    n_lat = plan.lat_rounds * plan.lat_per_round
    size_mb = plan.content_bytes / MiB
    rows = [
        ("metric", "direct", "bare forwarder", "videocache", "target", "met?"),
        ("---", "---:", "---:", "---:", "---", "---"),
        (
            f"GET /v1/videos/{{id}} c=1 p50 (ms), n={n_lat}",
            fmt(p50["direct"], 3),
            fmt(p50["bare"], 3),
            fmt(p50["videocache"], 3),
            "",
            "",
        ),
        (
            "GET /v1/videos/{id} c=1 p99 (ms)",
            fmt(p99["direct"], 3),
            fmt(p99["bare"], 3),
            fmt(p99["videocache"], 3),
            "",
            "",
        ),
        (
            "added p50 over direct, c=1 (ms)",
            "-",
            fmt(added["bare"], 3),
            fmt(added["videocache"], 3),
            "videocache <= 0.5 ms",
            met(added["videocache"] <= 0.5),
        ),
        (
            f"GET /v1/videos/{{id}} c={plan.conc} (req/s), "
            f"{plan.tput_rounds}x{plan.tput_requests:,} req",
            fmt(rps["direct"], 0),
            fmt(rps["bare"], 0),
            fmt(rps["videocache"], 0),
            f">= 0.8x bare (got {rps_ratio:.2f}x)",
            met(rps_ratio >= 0.8),
        ),
        (
            f"GET /content {size_mb:.0f} MiB (MB/s), {plan.dl_rounds} rounds",
            fmt(mbps["direct"], 0),
            fmt(mbps["bare"], 0),
            fmt(mbps["videocache"], 0),
            f">= 0.8x bare (got {dl_ratio:.2f}x)",
            met(dl_ratio >= 0.8),
        ),
        (
            "proxy peak RSS growth during download (MB)",
            "-",
            fmt(growth["bare"], 1),
            fmt(growth["videocache"], 1),
            "< 20 MB",
            met(growth["videocache"] < 20),
        ),
        (
            "proxy idle RSS before download (MB)",
            "-",
            fmt(res.idle_rss.get("bare", float("nan")), 1),
            fmt(res.idle_rss.get("videocache", float("nan")), 1),
            "",
            "",
        ),
    ]
    import aiohttp  # version only

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"# videocache pass-through benchmark{' (QUICK smoke run)' if quick else ''}",
        "",
        f"- date: {now}",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores "
        f"(load generator and all servers share them), Python {platform.python_version()}, "
        f"aiohttp {aiohttp.__version__}, client loop {loop_name}",
        "- load generator: raw asyncio keep-alive HTTP/1.1 client, targets interleaved in "
        "rotating order each round; latency medians are per-round differences vs direct, "
        "rates are medians over rounds",
        "",
    ]
    body = ["| " + " | ".join(r) + " |" for r in rows]
    detail = [
        "",
        "Per-round raw values:",
        "",
        "- c=1 p50 per round (ms): "
        + "; ".join(f"{t} " + ", ".join(f"{v:.3f}" for v in res.lat_round_p50[t]) for t in TARGETS),
        f"- c={plan.conc} req/s per round: "
        + "; ".join(f"{t} " + ", ".join(f"{v:.0f}" for v in res.rps[t]) for t in TARGETS),
        "- download MB/s per round: "
        + "; ".join(f"{t} " + ", ".join(f"{v:.0f}" for v in res.mbps[t]) for t in TARGETS),
        "- RSS growth per round (MB): "
        + "; ".join(
            f"{t} " + ", ".join(f"{v:.1f}" for v in res.rss_growth[t])
            for t in ("bare", "videocache")
        ),
    ]
    return "\n".join(header + body + detail) + "\n"


# --------------------------------------------------------------------------- main


async def bench(plan: Plan, servers: dict[str, Server]) -> Results:
    sim = servers["simulator"]
    ports = {
        "direct": sim.port,
        "bare": servers["bare"].port,
        "videocache": servers["videocache"].port,
    }
    pids = {
        "direct": None,
        "bare": servers["bare"].proc.pid,
        "videocache": servers["videocache"].proc.pid,
    }

    await wait_ready(sim, "/v1/videos/video_none")
    await wait_ready(servers["bare"], "/v1/videos/video_none")
    await wait_ready(servers["videocache"], "/healthz")
    print(
        "ports: " + ", ".join(f"{t}={p}" for t, p in ports.items()),
        flush=True,
    )

    # One video, created directly on the simulator, polled until completed.
    conn = await Conn.open(sim.port)
    status, _, body = await conn.request(
        post_json(sim.port, "/v1/videos", {"prompt": "a benchmark fox"}), keep=True
    )
    if status != 200:
        raise HttpError(f"create failed: {status} {body[:300]!r}")
    video_id = json.loads(body)["id"]
    deadline = time.monotonic() + 30
    while True:
        status, _, body = await conn.request(
            get_request(sim.port, f"/v1/videos/{video_id}"), keep=True
        )
        state = json.loads(body).get("status")
        if state == "completed":
            break
        if state == "failed" or time.monotonic() > deadline:
            raise HttpError(f"video {video_id} ended {state}")
        await asyncio.sleep(0.02)
    conn.close()
    print(f"video {video_id} completed", flush=True)

    # Warm-up: a JSON create through each proxy, and the retrieve route everywhere.
    for t in ("bare", "videocache"):
        c = await Conn.open(ports[t])
        status, _, body = await c.request(
            post_json(ports[t], "/v1/videos", {"prompt": f"warm-up via {t}"}), keep=True
        )
        c.close()
        if status != 200:
            raise HttpError(f"warm-up create via {t}: {status} {body[:300]!r}")
    retrieve = f"/v1/videos/{video_id}"
    content = f"/v1/videos/{video_id}/content"
    for t in TARGETS:
        await latency_batch(ports[t], retrieve, plan.lat_warmup)
        await throughput_run(ports[t], retrieve, plan.tput_warmup, plan.conc)

    res = Results()
    t_start = time.perf_counter()
    print(f"[1] latency c=1: {plan.lat_rounds} rounds x {plan.lat_per_round}", flush=True)
    for rnd in range(plan.lat_rounds):
        for t in rounds_order(rnd):
            samples = await latency_batch(ports[t], retrieve, plan.lat_per_round)
            res.lat[t].extend(samples)
            res.lat_round_p50[t].append(statistics.median(samples))
    print(
        "    p50 ms: "
        + ", ".join(f"{t}={statistics.median(res.lat[t]):.3f}" for t in TARGETS)
        + f"  ({time.perf_counter() - t_start:.0f}s)",
        flush=True,
    )

    print(
        f"[2] throughput c={plan.conc}: {plan.tput_rounds} rounds x {plan.tput_requests}",
        flush=True,
    )
    for rnd in range(plan.tput_rounds):
        for t in rounds_order(rnd):
            rps = await throughput_run(ports[t], retrieve, plan.tput_requests, plan.conc)
            res.rps[t].append(rps)
            print(f"    round {rnd + 1} {t}: {rps:,.0f} req/s", flush=True)

    print(f"[3] download {plan.content_bytes / MiB:.0f} MiB: {plan.dl_rounds} rounds", flush=True)
    await asyncio.sleep(0.5)
    for t in ("bare", "videocache"):
        pid = pids[t]
        assert pid is not None
        res.idle_rss[t] = psutil.Process(pid).memory_info().rss / 1e6
    for rnd in range(plan.dl_rounds):
        for t in rounds_order(rnd):
            mbps, growth = await download(ports[t], content, plan.content_bytes, pids[t])
            res.mbps[t].append(mbps)
            if pids[t]:
                res.rss_growth[t].append(growth)
            print(
                f"    round {rnd + 1} {t}: {mbps:,.0f} MB/s, RSS growth {fmt(growth, 1)} MB",
                flush=True,
            )
            await asyncio.sleep(0.2)
    return res


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts and sizes (smoke run)")
    parser.add_argument("--output", type=Path, help="markdown file to write the table to")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    output = args.output or BENCH / "results" / (
        "passthrough-quick.md" if args.quick else "passthrough.md"
    )
    random.seed(0)

    py = sys.executable
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="vc-bench-") as tmp:
        logdir = Path(tmp)
        with supervised(servers):
            sim_port, bare_port, vc_port = free_port(), free_port(), free_port()
            while len({sim_port, bare_port, vc_port}) < 3:
                bare_port, vc_port = free_port(), free_port()
            upstream = f"http://{HOST}:{sim_port}"
            servers.append(
                start(
                    "simulator",
                    [
                        py,
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
                    ],
                    sim_port,
                    logdir,
                    env,
                )
            )
            servers.append(
                start(
                    "bare",
                    [
                        py,
                        str(BENCH / "bare_forwarder.py"),
                        "--upstream",
                        upstream,
                        "--port",
                        str(bare_port),
                    ],
                    bare_port,
                    logdir,
                    env,
                )
            )
            vc_cmd = proxy_cmd(vc_port, upstream, logdir / "vc-data")
            servers.append(start("videocache", vc_cmd, vc_port, logdir, env))
            by_name = {s.name: s for s in servers}
            loop = new_loop()
            loop_name = type(loop).__module__.split(".")[0]
            try:
                res = loop.run_until_complete(bench(plan, by_name))
            finally:
                loop.close()
            check_alive(servers)
    table = render(res, plan, args.quick, loop_name)
    write_report(table, output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
