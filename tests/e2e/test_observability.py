"""Observability end to end: /metrics, Server-Timing, access logs and raw capture, with the
real proxy and simulator on loopback and the official SDK as the client."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest
import structlog
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from metrics.logging import configure_logging
from proxy.state import STATE
from simulator.state import SIM_STATE
from tests.conftest import ServerFactory, free_port, sim_requests
from tests.e2e.test_cache import client, create_raw, settle

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(server: TestServer, path: str = "/metrics") -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url(path)) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            return await r.text()


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(parsed: Samples, name: str, **labels: str) -> float:
    """The sum of every sample called ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    found = [v for (n, ls), v in parsed.items() if n == name and want <= ls]
    return sum(found)


def has_sample(parsed: Samples, name: str, **labels: str) -> bool:
    want = set(labels.items())
    return any(n == name and want <= ls for (n, ls) in parsed)


def series_per_family(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        counts[family.name] = len(family.samples)
    return counts


def timings(header: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        assert params.startswith("dur="), header
        out[name] = float(params[len("dur=") :])
    return out


# -- cardinality -------------------------------------------------------------------------


async def test_route_labels_are_templates_and_series_do_not_grow_with_ids(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    run = uuid.uuid4().hex[:12]
    ids = [f"video_obs{run}{i:05d}" for i in range(1000)]
    gate = asyncio.Semaphore(16)

    async def touch(video_id: str) -> None:
        async with gate:
            for call in (
                alice.videos.retrieve(video_id),
                alice.videos.download_content(video_id),
                alice.videos.delete(video_id),
            ):
                with pytest.raises(openai.NotFoundError):
                    await call

    await asyncio.gather(*(touch(i) for i in ids[:10]))
    await scrape(proxy)  # the /metrics route itself gets its series on the first scrape
    after_10 = await scrape(proxy)
    await asyncio.gather(*(touch(i) for i in ids[10:]))
    await scrape(proxy)
    after_1000 = await scrape(proxy)

    assert series_per_family(after_1000) == series_per_family(after_10)
    parsed = samples(after_1000)
    routes = {dict(ls)["route"] for (n, ls) in parsed if n == "videocache_requests_total"}
    assert {"/v1/videos/{id}", "/v1/videos/{id}/content", "/metrics"} <= routes
    for route, method in (
        ("/v1/videos/{id}", "GET"),
        ("/v1/videos/{id}/content", "GET"),
        ("/v1/videos/{id}", "DELETE"),
    ):
        count = value(parsed, "videocache_requests_total", route=route, method=method, status="404")
        assert count == 1000, (route, method, count)
    # Not one id, nor the unique part of any, anywhere in the exposition.
    assert run not in after_1000
    assert "video_obs" not in after_1000
    await alice.close()


# -- cache, savings, errors, bytes ------------------------------------------------------


async def test_cache_metrics_move_with_each_lookup_result(
    start_proxy: ServerFactory, sim: TestServer, embedder: Any
) -> None:
    proxy = await start_proxy(sim, embedder=embedder)
    state = proxy.app[STATE]
    alice = client(proxy)
    before = samples(await scrape(proxy))
    for result in ("hit", "semantic_hit", "miss", "bypass", "joined"):
        # Closed label sets start at zero.
        assert value(before, "videocache_cache_lookups_total", result=result) == 0

    prompt = "A red sports car driving along a coastal road at sunset"
    _, headers = await create_raw(alice, prompt=prompt, model="sora-2", seconds="4")
    assert headers["x-cache"] == "MISS"
    miss_timing = timings(headers["server-timing"])
    assert {"upstream", "lookup", "embed", "total"} <= set(miss_timing)
    assert miss_timing["total"] >= miss_timing["lookup"] >= 0
    assert miss_timing["upstream"] > 0
    await settle(proxy)

    m0 = samples(await scrape(proxy))
    hit, headers = await create_raw(alice, prompt=prompt.upper(), model="sora-2", seconds="4")
    assert headers["x-cache"] == "HIT"
    hit_timing = timings(headers["server-timing"])
    assert {"upstream", "lookup", "total"} <= set(hit_timing)
    assert hit_timing["upstream"] == 0  # answered without the upstream
    m1 = samples(await scrape(proxy))
    assert value(m1, "videocache_cache_lookups_total", result="hit") == 1
    saved = value(m1, "videocache_dollars_saved_total", model="sora-2") - value(
        m0, "videocache_dollars_saved_total", model="sora-2"
    )
    assert saved == pytest.approx(0.40)
    seconds = value(m1, "videocache_video_seconds_saved_total", model="sora-2") - value(
        m0, "videocache_video_seconds_saved_total", model="sora-2"
    )
    assert seconds == pytest.approx(4.0)
    # Bytes from the cache: a download of the minted hit id (before the bypass below
    # replaces the entry it points to).
    video = (await alice.videos.download_content(hit.id)).read()
    # Counted as sent: a conditional GET that still sends the whole file counts it all, a
    # range its length, a HEAD and a 304 nothing.
    content_url = proxy.make_url(f"/v1/videos/{hit.id}/content")
    auth = {"Authorization": "Bearer sk-alice"}
    async with aiohttp.ClientSession() as http:
        stale = {**auth, "If-None-Match": '"not-this-one"'}
        async with http.get(content_url, headers=stale) as r:
            assert r.status == 200 and len(await r.read()) == len(video)
            etag = r.headers["ETag"]
        async with http.get(content_url, headers={**auth, "Range": "bytes=0-99"}) as r:
            assert r.status == 206
        async with http.head(content_url, headers=auth) as r:
            assert r.status == 200
        async with http.get(content_url, headers={**auth, "If-None-Match": etag}) as r:
            assert r.status == 304
    cached_bytes = 2 * len(video) + 100

    _, headers = await create_raw(
        alice, prompt="At sunset, a red sports car drives along a coastal road", model="sora-2"
    )
    assert headers["x-cache"] == "SEMANTIC-HIT"
    semantic_timing = timings(headers["server-timing"])
    assert {"upstream", "lookup", "embed", "total"} <= set(semantic_timing)
    assert semantic_timing["lookup"] >= semantic_timing["embed"] > 0
    m2 = samples(await scrape(proxy))
    assert value(m2, "videocache_dollars_saved_total", model="sora-2") - value(
        m1, "videocache_dollars_saved_total", model="sora-2"
    ) == pytest.approx(0.40)

    _, headers = await create_raw(
        alice, prompt=prompt, model="sora-2", extra_headers={"Cache-Control": "no-cache"}
    )
    assert headers["x-cache"] == "BYPASS"
    joined_prompt = "fireworks over a harbour at midnight"
    _, headers = await create_raw(alice, prompt=joined_prompt)
    assert headers["x-cache"] == "MISS"
    _, headers = await create_raw(alice, prompt=joined_prompt)
    assert headers["x-cache"] == "JOINED"
    await settle(proxy)

    m = samples(await scrape(proxy))
    lookups = {
        r: value(m, "videocache_cache_lookups_total", result=r)
        for r in ("hit", "semantic_hit", "miss", "bypass", "joined")
    }
    assert lookups == {"hit": 1, "semantic_hit": 1, "miss": 2, "bypass": 1, "joined": 1}
    # Every semantic search observed its best similarity (the exact hit and the bypass
    # never searched; the first miss had nothing to compare with).
    assert value(m, "videocache_cache_similarity_count") >= 2
    assert value(m, "videocache_cache_similarity_bucket", le="+Inf") >= 2
    assert value(m, "videocache_embedding_duration_seconds_count") >= 3
    assert value(m, "videocache_embedding_batch_size_count") >= 3
    assert value(m, "videocache_embedding_batch_size_sum") >= 3
    cache = state.cache
    assert cache is not None
    assert value(m, "videocache_cache_entries") == cache.entries.count() >= 2
    assert value(m, "videocache_cache_bytes") == cache.blobs.total_bytes > len(video)
    assert value(m, "videocache_cache_max_bytes") == state.settings.cache_max_bytes
    for status in ("queued", "in_progress", "completed", "failed", "other"):
        assert has_sample(m, "videocache_watched_jobs", status=status)
    assert value(m, "videocache_watched_jobs") == 0  # settled: nothing in flight
    assert value(m, "videocache_content_bytes_total", source="cache") == cached_bytes
    # Nothing was relayed to a client from the upstream yet (the watcher's own downloads
    # are not client traffic); one relayed download counts exactly its bytes.
    assert value(m, "videocache_content_bytes_total", source="upstream") == 0
    for route in ("/v1/videos", "/v1/videos/{id}/content", "/metrics"):
        assert value(m, "videocache_overhead_duration_seconds_count", route=route) >= 1, route
    overhead = value(m, "videocache_overhead_duration_seconds_sum", route="/v1/videos")
    total = value(m, "videocache_request_duration_seconds_sum", route="/v1/videos")
    assert 0 < overhead <= total
    assert value(m, "videocache_requests_total", route="/v1/videos", status="200") == 6
    assert value(m, "videocache_build_info") == 1
    await alice.close()


async def test_a_join_counts_as_saved_once_the_job_it_joined_has_its_video(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(speed=10.0)  # a job takes 2 s: the joins arrive during it
    proxy = await start_proxy(sim)
    alice = client(proxy)

    async def saved() -> tuple[float, float]:
        parsed = samples(await scrape(proxy))
        return (
            value(parsed, "videocache_dollars_saved_total", model="sora-2"),
            value(parsed, "videocache_video_seconds_saved_total", model="sora-2"),
        )

    prompt = "Two herons landing on a frozen pond, slow motion"
    first, headers = await create_raw(alice, prompt=prompt, model="sora-2", seconds="4")
    assert headers["x-cache"] == "MISS"
    for _ in range(2):
        _, headers = await create_raw(alice, prompt=prompt, model="sora-2", seconds="4")
        assert headers["x-cache"] == "JOINED"
    # Nothing saved yet: a job that fails gives its joins nothing.
    assert await saved() == (0.0, 0.0)
    assert (await alice.videos.poll(first.id, poll_interval_ms=50)).status == "completed"
    await settle(proxy)
    dollars, seconds = await saved()
    assert dollars == pytest.approx(2 * 0.40) and seconds == pytest.approx(2 * 4.0)

    # A job that fails: its join saved nothing, now or later.
    sim.app[SIM_STATE].settings.fail_next = 1
    other = "A lighthouse beam sweeping over a stormy sea at night"
    doomed, headers = await create_raw(alice, prompt=other, model="sora-2", seconds="4")
    assert headers["x-cache"] == "MISS"
    _, headers = await create_raw(alice, prompt=other, model="sora-2", seconds="4")
    assert headers["x-cache"] == "JOINED"
    assert (await alice.videos.poll(doomed.id, poll_interval_ms=50)).status == "failed"
    await settle(proxy)
    assert await saved() == (pytest.approx(0.80), pytest.approx(8.0))
    state = proxy.app[STATE]
    assert state.cache is not None and state.cache.jobs.take_joins(doomed.id) == 0
    await alice.close()


async def test_upstream_errors_are_counted_by_kind(
    start_proxy: ServerFactory, start_simulator: ServerFactory, tmp_path: Any
) -> None:
    # refused: a proxy pointed at a port nobody listens on.
    closed = free_port()
    dead = await start_proxy(f"http://127.0.0.1:{closed}", data_dir=tmp_path / "dead")
    c = client(dead)
    with pytest.raises(openai.APIStatusError) as caught:
        await c.videos.create(prompt="a cat")
    assert caught.value.status_code == 502
    m = samples(await scrape(dead))
    assert value(m, "videocache_upstream_errors_total", kind="refused") == 1
    assert value(m, "videocache_requests_total", route="/v1/videos", status="502") == 1
    await c.close()

    sim = await start_simulator()
    proxy = await start_proxy(sim, data_dir=tmp_path / "live")
    alice = client(proxy)
    # 4xx: the upstream does not know the id.
    with pytest.raises(openai.NotFoundError):
        await alice.videos.retrieve("video_does_not_exist")
    # malformed: the upstream's JSON is cut mid-token.
    async with aiohttp.ClientSession() as http:
        async with http.post(sim.make_url("/_sim/faults"), json={"malformed_json": True}) as r:
            assert r.status == 200
        try:
            with pytest.raises(openai.APIStatusError) as caught:
                await alice.videos.list()
            assert caught.value.status_code == 502
        finally:
            await http.post(sim.make_url("/_sim/faults"), json={"malformed_json": False})
    m = samples(await scrape(proxy))
    kinds = {
        k: value(m, "videocache_upstream_errors_total", kind=k)
        for k in ("refused", "timeout", "4xx", "5xx", "malformed")
    }
    assert kinds == {"refused": 0, "timeout": 0, "4xx": 1, "5xx": 0, "malformed": 1}
    await alice.close()


async def stalling_download(
    start_simulator: ServerFactory, start_proxy: ServerFactory, **proxy: Any
) -> tuple[TestServer, str]:
    """A relayed (uncached) download whose upstream sends 256 KiB every 2.6 s."""
    sim = await start_simulator(content_bytes=4_000_000)
    relay = await start_proxy(sim, cache_enabled=False, **proxy)
    c = client(relay)
    video = await c.videos.create_and_poll(prompt="a long slow download", poll_interval_ms=20)
    await c.close()
    sim.app[SIM_STATE].settings.content_rate = 100_000
    return relay, str(relay.make_url(f"/v1/videos/{video.id}/content"))


async def test_an_upstream_stall_mid_body_cuts_the_connection(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    relay, url = await stalling_download(start_simulator, start_proxy, content_timeout=0.5)
    got = bytearray()
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in r.content.iter_any():
                got += chunk
    # A short body and a cut connection: no error response written into the body.
    assert 0 < len(got) < 4_000_000 and b"HTTP/1.1 504" not in got
    m = await recorded(relay)
    assert value(m, "videocache_upstream_errors_total", kind="timeout") == 1
    assert value(m, "videocache_requests_total", route="/v1/videos/{id}/content", status="200")


async def recorded(relay: TestServer) -> Samples:
    """The metrics once the download's request is recorded (after its handler returns)."""
    for _ in range(100):
        m = samples(await scrape(relay))
        if has_sample(m, "videocache_requests_total", route="/v1/videos/{id}/content"):
            return m
        await asyncio.sleep(0.1)
    raise AssertionError(f"the download was never recorded: {sorted(n for n, _ in m)}")


async def test_a_client_leaving_a_download_is_no_upstream_error(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    relay, url = await stalling_download(start_simulator, start_proxy)
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200
        await r.content.readexactly(1000)
    # The proxy notices at its next write, when the upstream's next piece arrives.
    m = await recorded(relay)
    # Counted as nginx counts it, "client closed request": not a 2xx, and not a 5xx.
    assert value(m, "videocache_requests_total", route="/v1/videos/{id}/content", status="499")
    kinds = {
        k: value(m, "videocache_upstream_errors_total", kind=k) for k in ("refused", "timeout")
    }
    assert kinds == {"refused": 0, "timeout": 0}
    assert not has_sample(m, "videocache_requests_total", status="502")


async def hang_up_after(port: int, raw: bytes, read: int = 0, wait: float = 0.0) -> bytes:
    """Send `raw` on a fresh connection, read `read` bytes (or wait `wait` s), then reset
    the connection: a client that went away."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    got = await reader.readexactly(read) if read else b""
    await asyncio.sleep(wait)
    writer.transport.abort()
    return got


async def requests_recorded(proxy: TestServer, route: str, status: str) -> Samples:
    for _ in range(100):
        m = samples(await scrape(proxy))
        if has_sample(m, "videocache_requests_total", route=route, status=status):
            return m
        await asyncio.sleep(0.05)
    seen = {k: v for k, v in m.items() if k[0] == "videocache_requests_total"}
    raise AssertionError(f"no {status} recorded for {route}: {seen}")


async def test_cached_content_is_recorded_as_it_was_sent(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    """The status a cached file decides as it is sent (206, 304, 416) and a client that
    leaves in the middle were recorded as 200 with the whole file (or nothing) counted:
    the record was made before the file went out."""
    sim = await start_simulator(content_bytes=30_000_000)
    proxy = await start_proxy(sim, cache_variants=["video"])
    alice = client(proxy)
    first = await alice.videos.create(prompt="a glacier calving into the sea")
    await settle(proxy)
    route = "/v1/videos/{id}/content"
    url = proxy.make_url(f"/v1/videos/{first.id}/content")
    auth = {"Authorization": "Bearer sk-alice"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=auth) as r:
            etag, size = r.headers["ETag"], len(await r.read())
        for extra, want in (
            ({"Range": "bytes=0-99"}, 206),
            ({"If-None-Match": etag}, 304),
            ({"Range": f"bytes={size}-"}, 416),
        ):
            async with http.get(url, headers={**auth, **extra}) as r:
                assert r.status == want
    raw = (
        f"GET /v1/videos/{first.id}/content HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer sk-alice\r\n\r\n"
    ).encode()
    await hang_up_after(proxy.port or 0, raw, read=2_000_000)
    m = await requests_recorded(proxy, route, "499")
    counts = {
        code: value(m, "videocache_requests_total", route=route, status=code)
        for code in ("200", "206", "304", "416", "499")
    }
    assert counts == {"200": 1, "206": 1, "304": 1, "416": 1, "499": 1}
    # The whole file once, 100 bytes, and what reached the client that left: more than it
    # read, less than the file.
    sent = value(m, "videocache_content_bytes_total", source="cache") - size - 100
    assert 2_000_000 <= sent < size
    await alice.close()


async def test_clients_that_hang_up_are_counted_499_not_as_errors(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    """A create whose client left while the upstream answered was counted 200; an upload
    cut short, 500 with a traceback (create) or 502 and an upstream error (a relayed
    path). Each is a client that went away: 499, and no upstream error."""
    sim = await start_simulator(slow_ms=600)
    proxy = await start_proxy(sim)
    port = proxy.port or 0
    body = b'{"prompt": "a kite over the dunes"}'
    create = (
        b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-alice\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body
    await hang_up_after(port, create, wait=0.2)
    await requests_recorded(proxy, "/v1/videos", "499")

    def upload(path: bytes) -> bytes:  # 5 MB announced, 1 MB sent
        head = (
            b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-alice\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000000\r\n\r\n"
        )
        return (
            head
            + b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n'
            + (
                b'--b\r\nContent-Disposition: form-data; name="input_reference"; '
                b'filename="a.png"\r\nContent-Type: image/png\r\n\r\n' + b"\0" * 1_000_000
            )
        )

    await hang_up_after(port, upload(b"/v1/videos"), wait=0.2)
    await hang_up_after(port, upload(b"/v1/videos/edits"), wait=0.2)
    m = await requests_recorded(proxy, "/v1/videos/edits", "499")
    assert value(m, "videocache_requests_total", route="/v1/videos", status="499") == 2
    for route in ("/v1/videos", "/v1/videos/edits"):
        for status in ("200", "500", "502"):
            assert not has_sample(m, "videocache_requests_total", route=route, status=status)
    kinds = {
        k: value(m, "videocache_upstream_errors_total", kind=k) for k in ("refused", "timeout")
    }
    assert kinds == {"refused": 0, "timeout": 0}
    # The create still reached the upstream once: its job is watched and cached as usual.
    await settle(proxy)
    assert len([r for r in sim.app[SIM_STATE].requests if r.raw_path == "/v1/videos"]) == 1


async def test_gauges_and_counters_agree_with_what_happened(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    """Three reviewed disagreements: the watched-jobs gauge read 0 until a job's first poll
    and "queued" while its video downloaded; upstream error bodies on the content route
    counted as video bytes; admin stats left deletions out of the evictions /metrics counts."""
    sim = await start_simulator(job_seconds=100.0, content_bytes=3_000_000, content_rate=6_000_000)
    proxy = await start_proxy(sim, admin_token="t", cache_variants=["video"])
    alice = client(proxy)
    first = await alice.videos.create(prompt="a tram in the rain")

    def watched(m: Samples) -> dict[str, float]:
        return {
            s: value(m, "videocache_watched_jobs", status=s)
            for s in ("queued", "in_progress", "completed")
            if value(m, "videocache_watched_jobs", status=s)
        }

    assert watched(samples(await scrape(proxy))) == {"queued": 1}  # at once
    seen: set[str] = set()
    watcher = proxy.app[STATE].watcher
    assert watcher is not None
    while watcher.active:
        seen |= set(watched(samples(await scrape(proxy))))
        await asyncio.sleep(0.02)
    assert "completed" in seen  # done upstream, while its 0.5 s download ran

    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content("video_nope")
    m = samples(await scrape(proxy))
    assert value(m, "videocache_content_bytes_total", source="upstream") == 0

    auth = {"Authorization": "Bearer t"}
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/admin/cache/entries"), headers=auth) as r:
            (entry,) = (await r.json())["data"]
        url = proxy.make_url(f"/admin/cache/entries/{entry['id']}")
        async with http.delete(url, headers=auth) as r:
            assert r.status in (200, 204)
        async with http.get(proxy.make_url("/admin/cache/stats"), headers=auth) as r:
            stats = await r.json()
    m = samples(await scrape(proxy))
    total = sum(v for (n, _), v in m.items() if n == "videocache_cache_evictions_total")
    assert stats["evictions"] == total == 1
    assert first.id
    await alice.close()


# -- access log --------------------------------------------------------------------------


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """structlog and the root logger writing JSON lines into a buffer, restored after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buf = io.StringIO()
    configure_logging(level="info", renderer="json", stream=buf)
    try:
        yield buf
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


# The access log is written in batches a moment after the requests (metrics.accesslog,
# metrics.logwriter): this is comfortably more than both delays.
LOG_BATCH_WAIT = 0.5


async def logged_requests(buf: io.StringIO, count: int, timeout: float = 10.0) -> None:
    """Return once ``count`` access events are in ``buf``, and a batch period more."""
    deadline = asyncio.get_running_loop().time() + timeout
    while buf.getvalue().count('"event":"request"') < count:
        if asyncio.get_running_loop().time() > deadline:
            break  # the assertions below say what is missing
        await asyncio.sleep(0.02)
    await asyncio.sleep(LOG_BATCH_WAIT)  # anything extra (a duplicate) would be in by now


def log_events(buf: io.StringIO) -> list[dict[str, Any]]:
    lines = buf.getvalue().splitlines()
    assert lines, "nothing was logged"
    events = []
    for line in lines:
        event = orjson.loads(line)  # every line is exactly one JSON object
        assert isinstance(event, dict), line
        events.append(event)
    return events


# Request lines and headers aiohttp's parser refuses: it quotes the refused line in the
# error it logs. Each carries a secret the log must not show.
MALFORMED = {
    "KEY-IN-API-KEY": b"GET /v1/videos HTTP/1.1\r\nHost: x\r\napi-key: %s\x01\r\n\r\n",
    "KEY-IN-GATEWAY": b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nx-litellm-api-key : %s\r\n\r\n",
    "KEY-IN-COOKIE": b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nCookie: s=%s\x02\r\n\r\n",
    "KEY-IN-QUERY": b"GET /v1/videos?key=%s\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "KEY-IN-LONG-LINE": b"GET / HTTP/1.1\r\nHost: x\r\nx-api-key: %s" + b"0" * 9000 + b"\r\n\r\n",
}


async def test_malformed_requests_leave_no_secret_in_the_log(
    proxy: TestServer, json_logs: io.StringIO
) -> None:
    for secret, request in MALFORMED.items():
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        writer.write(request % secret.encode())
        await writer.drain()
        assert (await reader.read(12)) == b"HTTP/1.0 400"  # aiohttp's own answer
        writer.close()
        await writer.wait_closed()
    for _ in range(100):  # the log writer batches lines
        if json_logs.getvalue().count("Error handling request") >= len(MALFORMED):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(LOG_BATCH_WAIT)
    text = json_logs.getvalue()
    assert [secret for secret in MALFORMED if secret in text] == []
    # What is left says what went wrong, without the bytes.
    errors = [e for e in log_events(json_logs) if e["event"].startswith("Error handling request")]
    assert len(errors) == len(MALFORMED)
    assert {e["reason"] for e in errors} >= {"Invalid header value char", "Invalid header token"}
    assert all(e["error"] in ("BadHttpMessage", "InvalidURLError", "LineTooLong") for e in errors)
    assert all("exception" not in e for e in errors)


async def test_the_log_names_the_model_also_when_the_client_left_it_out(
    proxy: TestServer, json_logs: io.StringIO
) -> None:
    # The Quick start sends no model: the log said "model": null for every request,
    # while the answer and the savings metrics said sora-2 (a user review).
    c = client(proxy, "sk-default-model")
    miss = await c.videos.with_raw_response.create(prompt="a heron in the reeds")
    await settle(proxy)
    hit = await c.videos.with_raw_response.create(prompt="A heron in the reeds")
    assert hit.headers["x-cache"] == "HIT"
    await c.close()
    await logged_requests(json_logs, 2)
    models = {e["request_id"]: e["model"] for e in log_events(json_logs) if e["event"] == "request"}
    assert models[miss.headers["x-request-id"]] == "sora-2"
    assert models[hit.headers["x-request-id"]] == "sora-2"
    assert hit.parse().model_extra["extra_fields"]["model_requested"] == "sora-2"


async def test_access_log_one_json_event_per_request_without_secrets(
    proxy: TestServer, sim: TestServer, json_logs: io.StringIO
) -> None:
    secret = "sk-secret-123"
    c = client(proxy, secret)
    sent: dict[str, dict[str, Any]] = {}

    raw = await c.videos.with_raw_response.create(prompt="a lighthouse in a storm", model="sora-2")
    miss = raw.parse()
    sent[raw.headers["x-request-id"]] = {
        "method": "POST", "route": "/v1/videos", "status": 200, "cache": "miss",
        "model": "sora-2", "video_id": miss.id,
    }  # fmt: skip
    await settle(proxy)
    raw = await c.videos.with_raw_response.create(prompt="A lighthouse in a storm", model="sora-2")
    hit = raw.parse()
    sent[raw.headers["x-request-id"]] = {
        "method": "POST", "route": "/v1/videos", "status": 200, "cache": "hit",
        "model": "sora-2", "video_id": hit.id, "similarity": 1.0,
    }  # fmt: skip
    raw = await c.videos.with_raw_response.retrieve(hit.id)
    sent[raw.headers["x-request-id"]] = {
        "method": "GET", "route": "/v1/videos/{id}", "status": 200, "video_id": hit.id,
    }  # fmt: skip
    raw = await c.videos.with_raw_response.download_content(hit.id)
    sent[raw.headers["x-request-id"]] = {
        "method": "GET", "route": "/v1/videos/{id}/content", "status": 200, "cache": "hit",
        "video_id": hit.id,
    }  # fmt: skip
    try:
        await c.videos.retrieve("video_nobody_knows")
    except openai.NotFoundError as exc:
        assert exc.response is not None
        sent[exc.response.headers["x-request-id"]] = {
            "method": "GET", "route": "/v1/videos/{id}", "status": 404,
            "video_id": "video_nobody_knows", "scope": None,
        }  # fmt: skip
    # A client-chosen request id is kept when it is a sane token.
    raw = await c.videos.with_raw_response.retrieve(
        miss.id, extra_headers={"x-request-id": "client-req-42"}
    )
    assert raw.headers["x-request-id"] == "client-req-42"
    sent["client-req-42"] = {"method": "GET", "route": "/v1/videos/{id}", "status": 200}
    await c.close()

    await logged_requests(json_logs, len(sent))
    text = json_logs.getvalue()
    assert secret not in text
    assert "secret-123" not in text
    events = log_events(json_logs)
    requests = [e for e in events if e["event"] == "request"]
    assert sorted(e["request_id"] for e in requests) == sorted(sent)  # exactly one each
    scope = proxy.app[STATE].cache.scope_for(f"Bearer {secret}")  # type: ignore[union-attr]
    for event in requests:
        want = sent[event["request_id"]]
        for key in (
            "request_id", "method", "route", "status", "duration_ms", "upstream_ms", "cache",
            "similarity", "model", "video_id", "level", "timestamp",
        ):  # fmt: skip
            assert key in event, (key, event)
        for key, expected in want.items():
            assert event.get(key) == expected, (key, event)
        assert event["duration_ms"] >= 0 and event["upstream_ms"] >= 0
        assert event["duration_ms"] >= event["upstream_ms"]
        # The scope (whenever the cache computed one: every id the proxy knows) is a
        # 16-character prefix of its HMAC, never the key. An id the proxy never recorded
        # goes straight upstream without one.
        if "scope" in want:
            continue
        assert len(event["scope"]) == 16 and scope.startswith(event["scope"])
    by_cache = {e["cache"]: e for e in requests if e["route"] == "/v1/videos"}
    assert by_cache["miss"]["upstream_ms"] > 0
    assert by_cache["hit"]["upstream_ms"] == 0
    published = [e for e in events if e["event"] == "cache_published"]
    assert len(published) == 1
    assert published[0]["job_id"] == miss.id and published[0]["bytes"] > 0


async def test_access_log_and_metrics_can_be_turned_off(
    start_proxy: ServerFactory, sim: TestServer, json_logs: io.StringIO
) -> None:
    proxy = await start_proxy(sim, metrics_enabled=False, access_log=False)
    c = client(proxy)
    await c.videos.create(prompt="a quiet proxy")
    with pytest.raises(openai.NotFoundError):
        await c.videos.retrieve("video_unknown")
    await settle(proxy)
    await c.close()
    await asyncio.sleep(LOG_BATCH_WAIT)  # a batched access line would be written by now
    # Nothing is exposed: /metrics is not the proxy's, and goes upstream as any other path.
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/metrics")) as r:
            assert r.status == 404 and "videocache_" not in await r.text()
    assert [r.raw_path for r in sim_requests(sim)][-1] == "/metrics"
    state = proxy.app[STATE]
    parsed = samples(state.metrics.render()[0].decode())
    for name in (
        "videocache_requests_total",
        "videocache_request_duration_seconds_count",
        "videocache_upstream_duration_seconds_count",
        "videocache_overhead_duration_seconds_count",
    ):
        assert not has_sample(parsed, name), name
    # The in-flight gauge is never moved (its children may exist, at zero).
    assert value(parsed, "videocache_requests_in_flight") == 0
    events = [orjson.loads(line) for line in json_logs.getvalue().splitlines()]
    # The proxy's own events (stdlib ones, such as the test server's aiohttp.access and
    # httpx, carry a "logger" name): no access log left, only the watcher's event.
    own = [e for e in events if "logger" not in e]
    assert [e for e in own if e["event"] == "request"] == []
    assert {e["event"] for e in own} <= {"cache_published"}


# -- raw capture ------------------------------------------------------------------------


async def test_raw_capture_off_by_default_on_per_request(
    proxy: TestServer, sim: TestServer
) -> None:
    c = client(proxy, "sk-capture-key")
    video = await c.videos.create(prompt="a kite over a beach")
    assert "raw_request" not in video.model_extra["extra_fields"]
    assert "raw_response" not in video.model_extra["extra_fields"]
    assert "raw_request" not in (await c.videos.retrieve(video.id)).model_extra["extra_fields"]

    on = {"x-videocache-capture": "true"}
    reference = b"\x89PNG-REFERENCE-BYTES-" + bytes(range(256)) * 40
    created = await c.videos.create(
        prompt="a kite over a beach, from a photo",
        input_reference=("kite.png", reference, "image/png"),
        extra_headers=on,
    )
    extra = created.model_extra["extra_fields"]
    raw_request, raw_response = extra["raw_request"], extra["raw_response"]
    assert raw_request["method"] == "POST" and raw_request["path"] == "/v1/videos"
    assert raw_request["content_type"].startswith("multipart/form-data")
    parts = {p["name"]: p for p in raw_request["body"]["parts"]}
    assert parts["prompt"]["value"] == "a kite over a beach, from a photo"
    file_part = parts["input_reference"]
    assert file_part["filename"] == "kite.png"
    assert file_part["bytes"] == len(reference)
    assert file_part["sha256"] == hashlib.sha256(reference).hexdigest()
    dumped = orjson.dumps(extra)
    assert b"REFERENCE-BYTES" not in dumped  # summarised, never copied
    headers = {k.lower(): v for k, v in raw_request["headers"].items()}
    assert headers["authorization"].startswith("Bearer ")
    assert "sk-capture-key" not in dumped.decode()
    assert raw_response["status"] == 200
    assert raw_response["body"]["id"] == created.id

    retrieved = await c.videos.retrieve(created.id, extra_headers=on)
    extra = retrieved.model_extra["extra_fields"]
    assert extra["raw_request"]["method"] == "GET"
    assert extra["raw_request"]["path"] == f"/v1/videos/{created.id}"
    assert extra["raw_request"]["body"] is None
    assert extra["raw_response"]["status"] == 200
    assert extra["raw_response"]["body"]["id"] == created.id
    assert "sk-capture-key" not in orjson.dumps(extra).decode()

    # The SDK's create is multipart: its query, gateway key headers and credential-named
    # form fields are redacted as a JSON body's are.
    secret = await c.videos.create(
        prompt="a kite at dusk",
        extra_headers={**on, "x-bf-vk": "sk-bf-virtual-key-1"},
        extra_query={"key": "sk-query-key-22", "api-key": "sk-query-key-33"},
        extra_body={"password": "hunter2-secret", "client_secret": "cs-secret-44"},
    )
    raw = secret.model_extra["extra_fields"]["raw_request"]
    dumped = orjson.dumps(raw).decode()
    for leaked in ("sk-bf-virtual", "sk-query-key", "hunter2", "cs-secret"):
        assert leaked not in dumped, leaked
    parts = {p["name"]: p["value"] for p in raw["body"]["parts"]}
    assert parts["password"] == parts["client_secret"] == "[REDACTED]"
    assert parts["prompt"] == "a kite at dusk"
    await c.close()


async def test_raw_capture_redacts_the_operators_credential_headers(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    # A header the operator made a credential is one, whatever its name.
    proxy = await start_proxy(
        sim, capture_raw=True, cache_credential_headers=["authorization", "X-Tenant-Token"]
    )
    c = client(proxy)
    tenant = {"x-tenant-token": "tenant-secret-9"}
    multipart = await c.videos.create(prompt="a tenant's kite", extra_headers=tenant)
    as_json = await c.post(
        "/videos",
        body={"prompt": "a tenant's balloon"},
        cast_to=openai.types.Video,
        options={"headers": tenant},
    )
    relayed = await c.videos.retrieve(as_json.id, extra_headers=tenant)
    for video in (multipart, as_json, relayed):
        raw = video.model_extra["extra_fields"]["raw_request"]
        headers = {k.lower(): v for k, v in raw["headers"].items()}
        assert headers["x-tenant-token"] == "[REDACTED]", raw["path"]
        assert "tenant-secret-9" not in orjson.dumps(video.model_extra).decode()
    await c.close()


async def test_raw_capture_setting_truncates_past_the_limit(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    proxy = await start_proxy(sim, capture_raw=True, capture_max_bytes=64)
    c = client(proxy)
    prompt = "a very long prompt about a slow sunrise over the mountains " * 8
    # A JSON create body (the SDK's videos.create always sends multipart).
    video = await c.post("/videos", body={"prompt": prompt}, cast_to=openai.types.Video)
    extra = video.model_extra["extra_fields"]
    raw_request, raw_response = extra["raw_request"], extra["raw_response"]
    assert raw_request["content_type"] == "application/json"
    assert raw_request["truncated"] is True
    assert raw_request["body"]["bytes"] == raw_request["body_bytes"] > 64
    assert len(raw_request["body"]["preview"]) <= 64
    assert raw_response["truncated"] is True
    assert raw_response["body"]["bytes"] == raw_response["body_bytes"] > 64
    assert len(raw_response["body"]["sha256"]) == 64
    # Small bodies stay whole under the same limit: the retrieve request has none.
    extra = (await c.videos.retrieve(video.id)).model_extra["extra_fields"]
    assert extra["raw_request"]["truncated"] is False
    assert extra["raw_request"]["body"] is None
    await c.close()


async def test_raw_capture_limit_applies_to_multipart_creates(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    proxy = await start_proxy(sim, capture_raw=True, capture_max_bytes=64)
    c = client(proxy)
    video = await c.videos.create(prompt="a slow sunrise over the mountains " * 8)
    raw_request = video.model_extra["extra_fields"]["raw_request"]
    assert raw_request["truncated"] is True
    await c.close()


# -- metrics port ------------------------------------------------------------------------


async def test_metrics_port_serves_metrics_only_there(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    port = free_port()
    proxy = await start_proxy(sim, metrics_port=port)
    c = client(proxy)
    await c.videos.create(prompt="a separate metrics listener")
    await c.close()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            assert r.status == 200
            assert r.headers["x-request-id"].startswith("req_")  # as on every response
            text = await r.text()
        sent = {"x-request-id": "scrape-7"}
        async with http.get(f"http://127.0.0.1:{port}/metrics", headers=sent) as r:
            assert r.headers["x-request-id"] == "scrape-7"
        async with http.get(proxy.make_url("/metrics")) as r:
            main_body = await r.text()
            assert r.status != 200 or "videocache_" not in main_body
        async with http.get(f"http://127.0.0.1:{port}/v1/videos") as r:
            assert r.status == 404  # the metrics listener serves nothing else
    parsed = samples(text)
    assert value(parsed, "videocache_requests_total", route="/v1/videos", method="POST") == 1
    assert "videocache_" not in main_body
    # The main port's /metrics went to the upstream: counted as a relayed path, not as the
    # proxy's own metrics route.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            parsed = samples(await r.text())
    assert not has_sample(parsed, "videocache_requests_total", route="/metrics")
    assert value(parsed, "videocache_requests_total", route="other", method="GET") == 1
