"""kill -9 in the middle of a download, then restart on the same data dir: entries,
minted ids and watched jobs survive, and no partially written file is ever served."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from proxy.state import STATE
from simulator.state import SIM_STATE
from tests.conftest import ServerFactory, base_url, free_port, until_ok
from tests.e2e.test_cache import client, settle
from tests.e2e.test_observability import samples, scrape, value

CONTENT = 40 * 1024 * 1024
RATE = 40 * 1024 * 1024  # bytes/s: the download of the big video takes about a second


async def start_proxy_process(sim: TestServer, data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "VIDEOCACHE_CACHE_SEMANTIC": "false",
        "VIDEOCACHE_WATCH_INTERVAL": "0.05",
        "VIDEOCACHE_CACHE_VARIANTS": '["video"]',
        "VIDEOCACHE_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proxy.cli",
            "serve",
            "--upstream",
            str(sim.make_url("")).rstrip("/"),
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await until_ok(f"http://127.0.0.1:{port}/healthz", [proc], timeout=30)
    except AssertionError:
        proc.kill()
        raise
    return proc


def final_blobs(data_dir: Path) -> list[Path]:
    root = data_dir / "cache" / "blobs"
    return [p for p in root.glob("??/*") if p.is_file()]


def temp_blobs(data_dir: Path) -> list[Path]:
    return list((data_dir / "cache" / "blobs").glob(".tmp-*"))


async def until_hit(sdk: openai.AsyncOpenAI, prompt: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = await sdk.videos.with_raw_response.create(prompt=prompt)
        if raw.headers["x-cache"] == "HIT":
            return raw.parse().id
        await asyncio.sleep(0.2)
    raise AssertionError(f"no cache hit for {prompt!r}")


async def test_kill_9_mid_download_and_restart(
    start_simulator: ServerFactory, tmp_path: Path
) -> None:
    sim = await start_simulator(content_rate=RATE)
    data_dir = tmp_path / "data"
    port = free_port()
    proc = await start_proxy_process(sim, data_dir, port)
    base = f"http://127.0.0.1:{port}/v1"
    sdk = openai.AsyncOpenAI(api_key="sk-durable", base_url=base, max_retries=0)
    direct = openai.AsyncOpenAI(api_key="sk-durable", base_url=base_url(sim), max_retries=0)
    try:
        # A small video, fully cached, and a minted id for it.
        small = await sdk.videos.create(prompt="a small finished video")
        minted = await until_hit(sdk, "a small finished video")
        small_sha = hashlib.sha256((await direct.videos.download_content(small.id)).read())

        # A big one: kill -9 while its bytes are being written.
        async with aiohttp.ClientSession() as http:
            await http.post(sim.make_url("/_sim/faults"), json={"content_bytes": CONTENT})
        big = await sdk.videos.create(prompt="a big video interrupted")
        deadline = time.monotonic() + 20
        while not any(p.stat().st_size > 0 for p in temp_blobs(data_dir)):
            assert time.monotonic() < deadline, "the download never started"
            await asyncio.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert temp_blobs(data_dir), "killed mid-download: the partial file is a temp file"
        # Every file under a final name is complete: its name is its content's hash.
        for path in final_blobs(data_dir):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.name + path.name
        assert all(p.stat().st_size < CONTENT for p in final_blobs(data_dir))

        # The dead process's hold on the data dir went with it: the restart is not refused.
        proc = await start_proxy_process(sim, data_dir, port)
        # The minted id and the entry survived.
        assert (await sdk.videos.retrieve(minted)).status == "completed"
        cached = (await sdk.videos.download_content(minted)).read()
        assert hashlib.sha256(cached).digest() == small_sha.digest()
        # The interrupted job was picked up again and finished this time.
        big_hit = await until_hit(sdk, "a big video interrupted", timeout=60)
        cached = (await sdk.videos.download_content(big_hit)).read()
        upstream = (await direct.videos.download_content(big.id)).read()
        assert len(cached) == CONTENT
        assert hashlib.sha256(cached).digest() == hashlib.sha256(upstream).digest()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await sdk.close()
        await direct.close()


async def test_a_second_process_on_the_same_data_dir_refuses_to_start(
    start_simulator: ServerFactory, tmp_path: Path
) -> None:
    sim = await start_simulator()
    data_dir = tmp_path / "data"
    port = free_port()
    first = await start_proxy_process(sim, data_dir, port)
    try:
        upstream = str(sim.make_url("")).rstrip("/")
        serve = ["serve", "--upstream", upstream, "--data-dir", str(data_dir)]
        second = subprocess.run(
            [sys.executable, "-m", "proxy.cli", *serve, "--port", str(free_port())],
            env={**os.environ, "VIDEOCACHE_CACHE_SEMANTIC": "false"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        [line] = second.stderr.strip().splitlines()
        assert line.startswith(f"videocache: cannot start: data dir {data_dir} is in use")
        # It left the first one's files alone, and the first one still serves.
        names = sorted(p.name for p in data_dir.iterdir())
        assert names == ["cache", "secret.key", "videocache.lock"]
        sdk = openai.AsyncOpenAI(
            api_key="sk-first", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
        )
        raw = await sdk.videos.with_raw_response.create(prompt="made after the refusal")
        assert raw.headers["x-cache"] == "MISS" and raw.parse().status == "queued"
        await sdk.close()
    finally:
        first.kill()
        first.wait(timeout=10)


async def test_eviction_goes_by_entry_in_least_recently_used_order(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # Room for two entries of ~1.2 MB (plus their thumbnail and spritesheet), not three.
    sim = await start_simulator(content_bytes=1_200_000)
    proxy = await start_proxy(sim, cache_max_bytes=3 * 2**20)
    alice = client(proxy)
    for prompt in ("entry one", "entry two"):
        await alice.videos.create(prompt=prompt)
        await settle(proxy)
    # Entry one is used again (a hit, its video downloaded): entry two is now the oldest,
    # though entry one's thumbnail and spritesheet were never read.
    hit = await alice.videos.create(prompt="entry one")
    (await alice.videos.download_content(hit.id)).read()
    await alice.videos.create(prompt="entry three")
    await settle(proxy)
    cache = proxy.app[STATE].cache
    assert cache is not None
    assert sorted(e.prompt for e in cache.entries.iter_entries()) == ["entry one", "entry three"]
    assert cache.blobs.total_bytes <= 3 * 2**20
    await alice.close()


async def test_a_video_larger_than_the_cache_is_not_kept(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(content_bytes=200_000)
    proxy = await start_proxy(sim, cache_max_bytes=2**20)
    alice = client(proxy)
    await alice.videos.create(prompt="a short clip that fits")
    await settle(proxy)
    sim.app[SIM_STATE].settings.content_bytes = 1_500_000
    await alice.videos.create(prompt="a very long panorama")
    await settle(proxy)
    cache = proxy.app[STATE].cache
    assert cache is not None
    # The big one is not kept, and making room for it did not cost the entry already there.
    assert [e.prompt for e in cache.entries.iter_entries()] == ["a short clip that fits"]
    assert 0 < cache.blobs.total_bytes <= 2**20
    assert cache.stats().pending_jobs == 0
    await alice.close()


def bytes_on_disk(directory: Path) -> int:
    """Every file under `directory`: published blobs and downloads' temporary files."""
    total = 0
    for path in directory.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # a temp file renamed or removed
            if path.is_file():
                total += path.stat().st_size
    return total


async def test_downloads_in_progress_count_against_cache_max_bytes(
    start_proxy: ServerFactory, start_simulator: ServerFactory, tmp_path: Path
) -> None:
    """Six 1.5 MB videos finish together under a 5 MiB limit, downloaded slowly enough to
    overlap. Before, each was on disk beside the limit until its publish evicted back under
    it (a review saw 2.6x). Now the bytes being written count as they arrive: older entries
    make room, and what cannot fit beside the other downloads is not cached."""
    limit = 5 * 2**20
    sim = await start_simulator(content_bytes=1_500_000, content_rate=3_000_000)
    data = tmp_path / "data"
    proxy = await start_proxy(sim, data_dir=data, cache_max_bytes=limit, cache_variants=["video"])
    alice = client(proxy)
    await alice.videos.create(prompt="an older clip")
    await settle(proxy)
    await asyncio.gather(*(alice.videos.create(prompt=f"clip number {i}") for i in range(6)))
    watcher = proxy.app[STATE].watcher
    assert watcher is not None
    peak = 0
    while True:
        peak = max(peak, bytes_on_disk(data / "cache" / "blobs"))
        if watcher.active == 0:
            break
        await asyncio.sleep(0.002)
    cache = proxy.app[STATE].cache
    assert cache is not None
    assert 3 * 1_500_000 < peak <= limit  # the downloads overlapped, within the limit
    kept = sorted(e.prompt for e in cache.entries.iter_entries())
    # At most three 1.5 MB videos fit: the older entry makes room for new ones, and what
    # finds the rest held by other downloads is not cached. (Two that find it full at the
    # same moment both give up, so as few as two may remain.)
    assert len(kept) <= 3 and sum(p.startswith("clip number") for p in kept) >= 2, kept
    assert cache.blobs.total_bytes <= limit and cache.blobs.writing_bytes == 0
    assert bytes_on_disk(data / "cache" / "blobs") == cache.blobs.total_bytes  # no temp file left
    assert cache.stats().pending_jobs == 0
    # Each kept entry serves its whole video.
    for entry in cache.entries.iter_entries():
        hit = await alice.videos.create(prompt=entry.prompt)
        assert len((await alice.videos.download_content(hit.id)).read()) >= 1_500_000
    await alice.close()


async def test_a_download_is_retried_while_the_upstream_keeps_the_video(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    """The watcher gave up on a finished video after five failed downloads (about a minute
    at the default interval; 1.5 s here): once the upstream recovered, the next identical
    create paid for a second job. It now retries until the video's content expires."""
    sim = await start_simulator(truncate_content=True)
    proxy = await start_proxy(sim, cache_variants=["video"])
    alice = client(proxy)
    await alice.videos.create(prompt="a heron in the reeds")
    await asyncio.sleep(2.5)  # five cut downloads and more
    sim.app[SIM_STATE].settings.truncate_content = False
    await settle(proxy)
    again = await alice.videos.with_raw_response.create(prompt="a heron in the reeds")
    assert again.headers["x-cache"] == "HIT"
    creates = [r for r in sim.app[SIM_STATE].requests if r.raw_path == "/v1/videos"]
    assert len(creates) == 1
    downloads = [r for r in sim.app[SIM_STATE].requests if "/content" in r.raw_path]
    assert len(downloads) > 5
    await alice.close()


async def test_a_disk_that_fails_ends_the_job_instead_of_stranding_it(
    start_proxy: ServerFactory, start_simulator: ServerFactory, tmp_path: Path
) -> None:
    sim = await start_simulator(slow_ms=300)
    proxy = await start_proxy(sim, data_dir=tmp_path / "data")
    alice = client(proxy)
    # The blob directory turns into a file: every write there fails (as on a full or
    # broken disk), for real, while the job runs.
    blobs = tmp_path / "data" / "cache" / "blobs"
    blobs.rename(tmp_path / "blobs-away")
    blobs.write_bytes(b"not a directory")
    first = await alice.videos.create(prompt="a kettle on a stove")
    await settle(proxy)  # the watcher ends; it does not die with the job pending
    cache = proxy.app[STATE].cache
    assert cache is not None
    job = cache.get_job(first.id)
    assert job is not None and job.status == "completed" and not job.pending
    assert cache.entries.count() == 0
    blobs.unlink()
    (tmp_path / "blobs-away").rename(blobs)
    # The identical create is a new job, not a join of one that will never be cached.
    second = await alice.videos.with_raw_response.create(prompt="a kettle on a stove")
    assert second.headers["x-cache"] == "MISS"
    await settle(proxy)
    third = await alice.videos.with_raw_response.create(prompt="a kettle on a stove")
    assert third.headers["x-cache"] == "HIT"
    await alice.close()


async def test_a_variant_refused_for_now_is_fetched_again(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # Every second request is a 429: the thumbnail's and spritesheet's first tries among them.
    sim = await start_simulator(rate_limit_every=2)
    proxy = await start_proxy(sim)
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=3)
    await alice.videos.create(prompt="a weathervane in a gale")
    await settle(proxy)
    sim.app[SIM_STATE].settings.rate_limit_every = 0
    cache = proxy.app[STATE].cache
    assert cache is not None
    [entry] = cache.entries.iter_entries()
    assert sorted(entry.blobs) == ["spritesheet", "thumbnail", "video"]
    tries = [r for r in sim.app[SIM_STATE].requests if "variant=thumbnail" in r.raw_path]
    assert len(tries) >= 2  # refused once at least, then fetched
    # The try before the last was refused with `Retry-After: 1`, which the retry honoured
    # (the watcher's own backoff at this interval is a fraction of that).
    assert tries[-1].at - tries[-2].at >= 0.95
    await alice.close()


@pytest.mark.parametrize("fault", ["html_content", "json_content", "empty_content"])
async def test_content_that_is_no_media_is_never_cached(
    start_proxy: ServerFactory, start_simulator: ServerFactory, fault: str
) -> None:
    # A 200 whose body is a sign-in page, a JSON error labelled video/mp4, or nothing: a
    # hit would hand it out as the video for the entry's whole life.
    sim = await start_simulator(**{fault: True})
    proxy = await start_proxy(sim)
    alice = client(proxy)
    before = samples(await scrape(proxy))
    video = await alice.videos.create_and_poll(
        prompt="a tide pool at low tide", poll_interval_ms=50
    )
    assert video.status == "completed"
    await settle(proxy)
    cache = proxy.app[STATE].cache
    assert cache is not None and list(cache.entries.iter_entries()) == []
    assert len(cache.blobs) == 0  # nothing of it kept on disk either
    again = await alice.videos.with_raw_response.create(prompt="a tide pool at low tide")
    assert again.headers["x-cache"] == "MISS"  # a new job: never the page as a video
    after = samples(await scrape(proxy))
    malformed = value(after, "videocache_upstream_errors_total", kind="malformed")
    assert malformed - value(before, "videocache_upstream_errors_total", kind="malformed") >= 5
    await alice.close()


@pytest.mark.parametrize(
    "fault",
    [
        "content_redirect",  # a 302 to where the bytes are (the watcher follows it)
        "gzip_content",  # a CDN in front encoding for a client that accepts gzip
    ],
)
async def test_content_sent_another_way_is_cached_as_the_video(
    start_proxy: ServerFactory, start_simulator: ServerFactory, fault: str
) -> None:
    sim = await start_simulator(**{fault: True})
    proxy = await start_proxy(sim)
    alice = client(proxy)
    first = await alice.videos.create_and_poll(prompt="a heron in reeds", poll_interval_ms=50)
    await settle(proxy)
    hit = await alice.videos.with_raw_response.create(prompt="a heron in reeds")
    assert hit.headers["x-cache"] == "HIT"
    cached = (await alice.videos.download_content(hit.parse().id)).read()
    setattr(sim.app[SIM_STATE].settings, fault, False)
    original = (await alice.videos.download_content(first.id)).read()  # from the upstream
    assert cached == original and cached[4:8] == b"ftyp"
    await alice.close()


async def test_a_lowered_size_limit_holds_from_start_up(
    start_proxy: ServerFactory, start_simulator: ServerFactory, tmp_path: Path
) -> None:
    sim = await start_simulator(content_bytes=1_200_000)
    data = tmp_path / "data"
    before = await start_proxy(sim, data_dir=data, cache_max_bytes=20 * 2**20)
    alice = client(before)
    for prompt in ("first", "second", "third"):
        await alice.videos.create(prompt=prompt)
        await settle(before)
    await alice.close()
    await before.close()
    # Restarted with room for one entry: the two least recently used go before it serves.
    after = await start_proxy(sim, data_dir=data, cache_max_bytes=2 * 2**20)
    cache = after.app[STATE].cache
    assert cache is not None
    assert [e.prompt for e in cache.entries.iter_entries()] == ["third"]
    assert 0 < cache.blobs.total_bytes <= 2 * 2**20
    alice = client(after)
    hit = await alice.videos.with_raw_response.create(prompt="first")
    assert hit.headers["x-cache"] == "MISS"
    await alice.close()
