"""The cache through the official SDK: exact hits, joins, isolation, controls, content."""

from __future__ import annotations

import asyncio
import hashlib
import time
from functools import partial
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from proxy.state import STATE
from tests.conftest import ServerFactory, base_url, sim_requests


def client(server: TestServer, key: str = "sk-alice") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=base_url(server), max_retries=0)


def upstream_creates(sim: TestServer) -> int:
    return len([r for r in sim_requests(sim) if r.method == "POST" and r.raw_path == "/v1/videos"])


async def settle(proxy: TestServer) -> None:
    """Wait until the watcher has published everything it follows."""
    watcher = proxy.app[STATE].watcher
    assert watcher is not None
    assert await watcher.wait_idle(20.0)


async def create_raw(c: openai.AsyncOpenAI, **kwargs: Any) -> tuple[Any, Any]:
    raw = await c.videos.with_raw_response.create(**kwargs)
    return raw.parse(), raw.headers


async def test_exact_hit_answers_without_upstream(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    first, headers = await create_raw(alice, prompt="A red fox running through snow at dawn")
    assert headers["x-cache"] == "MISS"
    assert first.model_extra["extra_fields"]["cache_debug"]["cache_hit"] is False
    await settle(proxy)

    # Same request modulo case, whitespace and Unicode form: an exact hit.
    hit, headers = await create_raw(alice, prompt="a  red fox running through snow at DAWN ")
    assert headers["x-cache"] == "HIT"
    assert int(headers["age"]) >= 0
    assert "x-cache-similarity" not in headers  # nothing was embedded or compared
    assert upstream_creates(sim) == 1
    assert hit.id != first.id and hit.id.startswith("video_") and len(hit.id) == 38
    assert hit.status == "completed" and hit.progress == 100
    assert hit.prompt == "a  red fox running through snow at DAWN "
    assert hit.expires_at and hit.expires_at > hit.created_at
    debug = hit.model_extra["extra_fields"]["cache_debug"]
    assert debug["cache_hit"] is True and debug["hit_type"] == "direct"
    assert debug["cache_id"].startswith("ce_")
    assert debug["requested_model"] == "sora-2" and debug["requested_provider"] == "openai"
    (video,) = hit.model_extra["videos"]
    assert video["type"] == "url" and video["content_type"] == "video/mp4"
    assert video["url"] == str(proxy.make_url(f"/v1/videos/{hit.id}/content"))

    # The minted id works everywhere, and the bytes are the upstream's.
    assert (await alice.videos.retrieve(hit.id)).status == "completed"
    direct = client(sim)
    for variant in ("video", "thumbnail", "spritesheet"):
        cached = (await alice.videos.download_content(hit.id, variant=variant)).read()
        upstream = (await direct.videos.download_content(first.id, variant=variant)).read()
        assert hashlib.sha256(cached).digest() == hashlib.sha256(upstream).digest()
    await alice.close()


async def test_other_parameters_do_not_hit(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a paper plane", seconds="4")
    await settle(proxy)
    for kwargs in ({"seconds": "8"}, {"size": "1280x720"}, {"model": "sora-2-pro"}):
        _, headers = await create_raw(alice, prompt="a paper plane", **kwargs)
        assert headers["x-cache"] == "MISS", kwargs
    _, headers = await create_raw(alice, prompt="a paper plane", extra_body={"seed": 7})
    assert headers["x-cache"] == "MISS"
    assert upstream_creates(sim) == 5
    await alice.close()


async def test_tenants_are_isolated(proxy: TestServer, sim: TestServer) -> None:
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    await alice.videos.create(prompt="a secret product launch video")
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a secret product launch video")
    assert headers["x-cache"] == "HIT"
    _, headers = await create_raw(bob, prompt="a secret product launch video")
    assert headers["x-cache"] == "MISS"
    # Bob cannot use Alice's minted id at all.
    with pytest.raises(openai.NotFoundError):
        await bob.videos.retrieve(hit.id)
    with pytest.raises(openai.NotFoundError):
        await bob.videos.download_content(hit.id)
    # A namespace narrows Alice's scope: no hit across namespaces.
    _, headers = await create_raw(
        alice,
        prompt="a secret product launch video",
        extra_headers={"x-cache-namespace": "team-b"},
    )
    assert headers["x-cache"] == "MISS"
    await alice.close()
    await bob.close()


async def test_concurrent_identical_creates_cost_one_upstream_job(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    first, headers = await create_raw(alice, prompt="fireworks over a harbour")
    assert headers["x-cache"] == "MISS"
    results = await asyncio.gather(
        *(create_raw(alice, prompt="fireworks over a harbour") for _ in range(6))
    )
    assert [h["x-cache"] for _, h in results] == ["JOINED"] * 6
    assert upstream_creates(sim) == 1
    # Joiners are told a polling pace too (the SDK's poll reads it), as the creator is.
    assert all(int(h["openai-poll-after-ms"]) > 0 for _, h in results)
    joined = results[0][0]
    done = await alice.videos.poll(joined.id, poll_interval_ms=20)
    assert done.status == "completed" and done.id == joined.id
    await settle(proxy)
    cached = (await alice.videos.download_content(joined.id)).read()
    upstream = (await client(sim).videos.download_content(first.id)).read()
    assert cached == upstream
    await alice.close()


async def test_cache_control_headers(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a dog surfing", extra_headers={"Cache-Control": "no-store"})
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="a dog surfing")
    assert headers["x-cache"] == "MISS"  # the no-store video was not kept
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="a dog surfing")
    assert headers["x-cache"] == "HIT"
    _, headers = await create_raw(
        alice, prompt="a dog surfing", extra_headers={"Cache-Control": "no-cache"}
    )
    assert headers["x-cache"] == "BYPASS"
    await settle(proxy)  # no-cache still stores: the bypass refreshed the entry
    await asyncio.sleep(1.1)
    _, headers = await create_raw(
        alice, prompt="a dog surfing", extra_headers={"Cache-Control": "max-age=1"}
    )
    assert headers["x-cache"] == "MISS"  # the entry is older than a second
    assert upstream_creates(sim) == 4
    await alice.close()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-cache-threshold", "1.5"),
        ("x-cache-type", "fuzzy"),
        ("x-cache-ttl", "-3"),
        ("x-bf-cache-threshold", "high"),
        ("Cache-Control", "max-age=soon"),
        ("x-cache-namespace", "no spaces/allowed"),
        ("x-bf-cache-ttl", "500ms"),  # Go durations, but under a second
        ("x-bf-cache-ttl", "0s"),
        ("x-bf-cache-ttl", "5 minutes"),
        ("x-cache-ttl", "-5m"),
        ("x-bf-cache-no-store", "yes"),
        ("X-BF-Cache-No-Store", "1"),
    ],
)
async def test_malformed_cache_header_is_400(
    proxy: TestServer, sim: TestServer, header: str, value: str
) -> None:
    alice = client(proxy)
    with pytest.raises(openai.BadRequestError) as caught:
        await alice.videos.create(prompt="a cat", extra_headers={header: value})
    assert caught.value.body["param"].lower() == header.lower()
    assert header.lower() in caught.value.body["message"].lower()
    assert sim_requests(sim) == []
    await alice.close()


@pytest.mark.parametrize("header", ["x-cache-type", "X-BF-Cache-Type"])
async def test_semantic_only_lookup_without_semantic_lookup_is_400(
    proxy: TestServer, sim: TestServer, header: str
) -> None:
    # This proxy runs without the model: a request asking to look up only by meaning used
    # to miss silently, creating a paid upstream job every time.
    alice = client(proxy)
    with pytest.raises(openai.BadRequestError) as caught:
        await alice.videos.create(prompt="a cat", extra_headers={header: "semantic"})
    assert caught.value.body["param"].lower() == header.lower()
    assert "cache_semantic" in caught.value.body["message"]
    assert sim_requests(sim) == []
    _, headers = await create_raw(alice, prompt="a cat", extra_headers={header: "direct"})
    assert headers["x-cache"] == "MISS"
    await alice.close()


async def test_failed_and_filtered_jobs_are_never_cached(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(fail_next=1, filter_next=0)
    proxy = await start_proxy(sim)
    alice = client(proxy)
    failed = await alice.videos.create_and_poll(prompt="doomed", poll_interval_ms=20)
    assert failed.status == "failed"
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="doomed")
    assert headers["x-cache"] == "MISS"
    async with aiohttp.ClientSession() as http:
        await http.post(sim.make_url("/_sim/faults"), json={"filter_next": 1})
    blocked = await alice.videos.create_and_poll(prompt="blocked", poll_interval_ms=20)
    assert blocked.status == "failed"
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="blocked")
    assert headers["x-cache"] == "MISS"
    assert proxy.app[STATE].cache.entries.count() == 1  # only the second "doomed" run
    await alice.close()


async def test_a_retry_right_after_a_failure_makes_a_new_job(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(fail_next=1)
    # The watcher would not poll again for a minute: the creator's own poll is what counts.
    proxy = await start_proxy(sim, watch_interval=60)
    alice = client(proxy)
    joined, headers = await create_raw(alice, prompt="doomed at first")
    assert headers["x-cache"] == "MISS"
    joiner, headers = await create_raw(alice, prompt="doomed at first")
    assert headers["x-cache"] == "JOINED"
    failed = await alice.videos.poll(joined.id, poll_interval_ms=20)
    assert failed.status == "failed"
    retry, headers = await create_raw(alice, prompt="doomed at first")
    assert headers["x-cache"] == "MISS" and retry.id != joined.id
    assert upstream_creates(sim) == 2
    assert (await alice.videos.poll(retry.id, poll_interval_ms=20)).status == "completed"
    # The join of the failed job reads failed too, without waiting for the watcher.
    assert (await alice.videos.retrieve(joiner.id)).status == "failed"
    await alice.close()


async def test_deleting_a_video_takes_it_from_hits_made_before_a_refresh(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    first = await alice.videos.create(prompt="a paper plane")
    await settle(proxy)
    early_hit, headers = await create_raw(alice, prompt="a paper plane")
    assert headers["x-cache"] == "HIT"
    refresh = {"Cache-Control": "no-cache"}
    _, headers = await create_raw(alice, prompt="a paper plane", extra_headers=refresh)
    assert headers["x-cache"] == "BYPASS"
    await settle(proxy)
    # The refresh replaced the entry; the early hit keeps the first video's files.
    kept = (await alice.videos.download_content(early_hit.id)).read()
    assert kept == (await client(sim).videos.download_content(first.id)).read()
    assert (await alice.videos.delete(first.id)).deleted
    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content(early_hit.id)
    assert not (await alice.videos.retrieve(early_hit.id)).model_extra.get("videos")
    _, headers = await create_raw(alice, prompt="a paper plane")
    assert headers["x-cache"] == "HIT"  # the refreshed entry, from another video, stays
    await alice.close()


async def test_a_hit_on_a_refreshed_entry_keeps_the_expiry_it_was_given(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a dandelion clock", extra_headers={"x-cache-ttl": "3"})
    await settle(proxy)
    early_hit, headers = await create_raw(alice, prompt="a dandelion clock")
    assert headers["x-cache"] == "HIT" and early_hit.expires_at is not None
    cache = proxy.app[STATE].cache
    assert cache is not None
    (first_entry,) = cache.entries.iter_entries()
    refresh = {"Cache-Control": "no-cache"}  # and the default TTL for the new entry
    await create_raw(alice, prompt="a dandelion clock", extra_headers=refresh)
    await settle(proxy)
    (second_entry,) = cache.entries.iter_entries()
    kept_files = set(first_entry.blobs.values())
    assert kept_files.isdisjoint(second_entry.blobs.values())
    # The entry it came from is replaced; the hit still says, and keeps, what it promised
    # (not the upstream video's own expiry, about an hour).
    kept = await alice.videos.retrieve(early_hit.id)
    assert kept.expires_at == early_hit.expires_at and kept.model_extra["videos"]
    assert len((await alice.videos.download_content(early_hit.id)).read()) > 1000
    # expires_at is whole seconds, rounded down: the expiry itself is up to 1 s later.
    await asyncio.sleep(max(0.0, early_hit.expires_at - time.time()) + 1.2)
    lapsed = await alice.videos.retrieve(early_hit.id)
    assert lapsed.status == "completed" and not lapsed.model_extra.get("videos")
    assert lapsed.expires_at is not None and lapsed.expires_at <= time.time()
    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content(early_hit.id)
    later_hit, headers = await create_raw(alice, prompt="a dandelion clock")
    assert headers["x-cache"] == "HIT" and later_hit.expires_at > time.time() + 3600
    # The files kept for the early hit serve nothing now: the periodic sweep removes them
    # (before, only eviction, a purge or a delete did). The new entry's stay.
    assert all(cache.blobs.path(sha) for sha in kept_files)
    await asyncio.to_thread(partial(cache.evict, sweep=True))  # what the sweep task runs
    assert not any(cache.blobs.path(sha) for sha in kept_files)
    assert all(cache.blobs.path(sha) for sha in second_entry.blobs.values())
    assert len((await alice.videos.download_content(later_hit.id)).read()) > 1000
    await alice.close()


async def test_purging_a_scope_takes_the_files_a_refresh_kept_for_its_hits(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    proxy = await start_proxy(sim, admin_token="admin-secret")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    for c in (alice, bob):
        await c.videos.create(prompt="a chalk drawing in the rain")
    await settle(proxy)
    early = {}
    for name, c in (("alice", alice), ("bob", bob)):
        early[name], _ = await create_raw(c, prompt="a chalk drawing in the rain")
        refresh = {"Cache-Control": "no-cache"}
        await create_raw(c, prompt="a chalk drawing in the rain", extra_headers=refresh)
    await settle(proxy)
    cache = proxy.app[STATE].cache
    assert cache is not None
    hit_job = cache.get_job(early["alice"].id)
    assert hit_job is not None and cache.entries.get(hit_job.entry_id or "") is None  # replaced
    alice_scope = hit_job.scope
    admin = {"Authorization": "Bearer admin-secret"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.make_url("/admin/cache/purge"), headers=admin, json={"scope": alice_scope}
        ) as r:
            assert r.status == 200
    # Alice's early hit served the refreshed-away video from kept files: they went with
    # her scope. Bob's, in another scope, still serves his.
    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content(early["alice"].id)
    assert not (await alice.videos.retrieve(early["alice"].id)).model_extra.get("videos")
    assert len((await bob.videos.download_content(early["bob"].id)).read()) > 1000
    await alice.close()
    await bob.close()


async def test_an_expired_entry_replaced_takes_its_files_and_hits_with_it(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a soap bubble", extra_headers={"x-cache-ttl": "1"})
    await settle(proxy)
    early, headers = await create_raw(alice, prompt="a soap bubble")
    assert headers["x-cache"] == "HIT"
    cache = proxy.app[STATE].cache
    assert cache is not None
    hit_job = cache.get_job(early.id)
    entry = cache.entries.get(hit_job.entry_id or "") if hit_job else None
    assert entry is not None
    old_files = set(entry.blobs.values())
    await asyncio.sleep(2.1)  # past the TTL; the identical create is a miss and replaces it
    _, headers = await create_raw(alice, prompt="a soap bubble")
    assert headers["x-cache"] == "MISS"
    await settle(proxy)
    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content(early.id)
    assert not (await alice.videos.retrieve(early.id)).model_extra.get("videos")
    assert old_files and all(cache.blobs.path(sha) is None for sha in old_files)
    await alice.close()


async def test_an_entry_past_its_ttl_answers_nothing(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    first = await alice.videos.create(prompt="a mayfly", extra_headers={"x-cache-ttl": "1"})
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a mayfly")
    assert headers["x-cache"] == "HIT" and hit.model_extra["videos"]
    await asyncio.sleep(1.5)  # past the TTL, long before the 10-minute sweep
    expired = await alice.videos.retrieve(hit.id)
    assert expired.status == "completed" and not expired.model_extra.get("videos")
    assert expired.expires_at is not None and expired.expires_at <= time.time()
    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content(hit.id)
    # The original id is the upstream's again: its content comes from there.
    assert len((await alice.videos.download_content(first.id)).read()) > 1000
    _, headers = await create_raw(alice, prompt="a mayfly")
    assert headers["x-cache"] == "MISS"
    await alice.close()


async def test_cached_content_range_etag_head(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a ball bouncing")
    await settle(proxy)
    hit, _ = await create_raw(alice, prompt="a ball bouncing")
    url = proxy.make_url(f"/v1/videos/{hit.id}/content")
    auth = {"Authorization": "Bearer sk-alice"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=auth) as r:
            full = await r.read()
            etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
            assert r.headers["x-cache"] == "HIT" and r.headers["Content-Type"] == "video/mp4"
            assert "Content-Disposition" not in r.headers  # the upstream sent none
        async with http.get(url, headers={**auth, "Range": "bytes=10-99"}) as r:
            assert r.status == 206
            assert await r.read() == full[10:100]
            assert r.headers["Content-Range"] == f"bytes 10-99/{len(full)}"
        async with http.get(url, headers={**auth, "Range": "bytes=-5"}) as r:
            assert r.status == 206 and await r.read() == full[-5:]
        for unsatisfiable in (f"bytes={len(full)}-", "bytes=-0", "bytes=-000"):
            async with http.get(url, headers={**auth, "Range": unsatisfiable}) as r:
                assert r.status == 416, unsatisfiable
                assert r.headers["Content-Range"] == f"bytes */{len(full)}"
        # Ranges it cannot use are ignored (RFC 9110 14.2): the whole file, not a 416.
        for unusable in ("bytes=0-1,5-6", "items=0-1", "bytes=abc", "bytes=5-2"):
            async with http.get(url, headers={**auth, "Range": unusable}) as r:
                assert r.status == 200 and await r.read() == full, unusable
        # If-Range with an entity tag: the range only while it is still the file's.
        ranged = {**auth, "Range": "bytes=0-9"}
        async with http.get(url, headers={**ranged, "If-Range": etag}) as r:
            assert r.status == 206 and await r.read() == full[:10]
        async with http.get(url, headers={**ranged, "If-Range": modified}) as r:
            assert r.status == 206 and await r.read() == full[:10]
        earlier = "Mon, 01 Jan 2024 00:00:00 GMT"
        for stale in ('"0-0"', f"W/{etag}", earlier, "not a validator"):
            async with http.get(url, headers={**ranged, "If-Range": stale}) as r:
                assert r.status == 200 and await r.read() == full, stale
        # Whitespace RFC 9110 allows, and offsets too long to be real.
        async with http.get(url, headers={**auth, "Range": "bytes = 0 - 1"}) as r:
            assert r.status == 206 and await r.read() == full[:2]
        async with http.get(url, headers={**auth, "Range": "bytes=" + "9" * 5000 + "-"}) as r:
            assert r.status == 200 and await r.read() == full
        async with http.get(url, headers={**auth, "If-None-Match": etag}) as r:
            assert r.status == 304
        async with http.head(url, headers=auth) as r:
            assert r.status == 200 and int(r.headers["Content-Length"]) == len(full)
        async with http.get(url, headers={"Authorization": "Bearer sk-mallory"}) as r:
            assert r.status == 404
    await alice.close()


async def test_delete_minted_and_upstream_ids(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    first = await alice.videos.create(prompt="a windmill")
    await settle(proxy)
    hit, _ = await create_raw(alice, prompt="a windmill")
    assert (await alice.videos.delete(hit.id)).deleted is True
    with pytest.raises(openai.NotFoundError):
        await alice.videos.retrieve(hit.id)
    _, headers = await create_raw(alice, prompt="a windmill")
    assert headers["x-cache"] == "HIT"  # deleting a minted id keeps the cached video
    assert not [r for r in sim_requests(sim) if r.method == "DELETE"]
    # Deleting the upstream video purges what was cached from it.
    assert (await alice.videos.delete(first.id)).deleted is True
    _, headers = await create_raw(alice, prompt="a windmill")
    assert headers["x-cache"] == "MISS"
    await alice.close()


async def test_remix_of_minted_id_and_remix_cache(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    first = await alice.videos.create(prompt="a castle on a hill")
    await settle(proxy)
    hit, _ = await create_raw(alice, prompt="a castle on a hill")
    raw = await alice.videos.with_raw_response.remix(hit.id, prompt="the castle in winter")
    remixed = raw.parse()
    assert raw.headers["x-cache"] == "MISS"
    # The client remixed its minted id; the upstream's id for the source stays inside.
    assert remixed.remixed_from_video_id == hit.id
    assert (await alice.videos.retrieve(remixed.id)).remixed_from_video_id == hit.id
    remix_paths = [r.raw_path for r in sim_requests(sim) if r.raw_path.endswith("/remix")]
    assert remix_paths == [f"/v1/videos/{first.id}/remix"]
    await settle(proxy)
    raw = await alice.videos.with_raw_response.remix(hit.id, prompt="The castle in winter.")
    assert raw.headers["x-cache"] == "HIT"
    assert raw.parse().remixed_from_video_id == hit.id
    assert len([r for r in sim_requests(sim) if r.raw_path.endswith("/remix")]) == 1
    # After the upstream forgets the source, remixing the minted id is a clear 404.
    async with aiohttp.ClientSession() as http:
        await http.delete(sim.make_url(f"/v1/videos/{first.id}"))
    with pytest.raises(openai.NotFoundError) as gone:
        await alice.videos.remix(hit.id, prompt="the castle at night")
    assert hit.id in gone.value.message and first.id not in gone.value.message
    await alice.close()


async def test_cached_content_outlives_upstream_assets(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(asset_ttl=1)
    proxy = await start_proxy(sim)
    alice = client(proxy)
    first = await alice.videos.create(prompt="a comet")
    await settle(proxy)
    await asyncio.sleep(1.5)
    with pytest.raises(openai.NotFoundError):
        await client(sim).videos.download_content(first.id)
    # Both the original (upstream) id and a minted one are served from disk.
    assert len((await alice.videos.download_content(first.id)).read()) > 1000
    hit, _ = await create_raw(alice, prompt="a comet")
    assert len((await alice.videos.download_content(hit.id)).read()) > 1000
    await alice.close()


async def test_cached_content_names_the_file_after_the_id_it_is_served_under(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    """A LiteLLM upstream names the file after its own id. A hit or a join served from the
    cache must not pass on another request's upstream id: the name becomes the served id.
    The creator, asking by the upstream id, gets the upstream's header as it was sent."""
    sim = await start_simulator(content_disposition=True, asset_ttl=2)
    proxy = await start_proxy(sim)
    alice = client(proxy)
    first = await alice.videos.create(prompt="a lighthouse in a storm")
    joined, headers = await create_raw(alice, prompt="a lighthouse in a storm")
    assert headers["x-cache"] == "JOINED"
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a lighthouse in a storm")
    assert headers["x-cache"] == "HIT"
    await asyncio.sleep(2.5)  # the upstream's copy expires: everything below is from disk
    with pytest.raises(openai.NotFoundError):
        await client(sim).videos.download_content(first.id)

    def named(raw: Any) -> str:
        assert raw.headers["x-cache"] == "HIT"
        return raw.headers["Content-Disposition"]

    original = await alice.videos.download_content(first.id)
    assert named(original.response) == f'attachment; filename="{first.id}.mp4"'
    for served in (hit.id, joined.id):
        for variant, extension in (("video", "mp4"), ("thumbnail", "webp"), ("spritesheet", "jpg")):
            got = await alice.videos.download_content(served, variant=variant)
            assert named(got.response) == f'attachment; filename="{served}.{extension}"'
            assert first.id not in str(got.response.headers)
    await alice.close()


async def test_admin_api(start_proxy: ServerFactory, sim: TestServer) -> None:
    proxy = await start_proxy(sim, admin_token="admin-secret")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    await alice.videos.create(prompt="one")
    await bob.videos.create(prompt="two", extra_headers={"x-cache-namespace": "ns1"})
    await settle(proxy)
    admin = {"Authorization": "Bearer admin-secret"}
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/admin/cache/stats")) as r:
            assert r.status == 401
        async with http.get(proxy.make_url("/admin/cache/stats"), headers=admin) as r:
            stats = await r.json()
            assert stats["entries"] == 2 and stats["bytes"] > 0
        async with http.get(proxy.make_url("/admin/cache/entries"), headers=admin) as r:
            listed = (await r.json())["data"]
            assert {e["prompt"] for e in listed} == {"one", "two"}
            assert all("sk-" not in str(e) for e in listed)  # scopes are HMACs
        # A purge that would take more than it names is refused, and takes nothing.
        alice_scope = next(e["scope"] for e in listed if e["prompt"] == "one")
        for wider, param in (
            ({"all": True, "scope": alice_scope}, "all"),
            ({"all": True, "namespace": "ns1"}, "all"),
            ({"scope": alice_scope, "namespce": "ns1"}, "namespce"),
        ):
            async with http.post(
                proxy.make_url("/admin/cache/purge"), headers=admin, json=wider
            ) as r:
                assert r.status == 400 and (await r.json())["error"]["param"] == param
        async with http.get(proxy.make_url("/admin/cache/stats"), headers=admin) as r:
            assert (await r.json())["entries"] == 2
        async with http.post(
            proxy.make_url("/admin/cache/purge"), headers=admin, json={"namespace": "ns1"}
        ) as r:
            assert (await r.json())["purged"] == 1
        entry_id = next(e["id"] for e in listed if e["prompt"] == "one")
        async with http.delete(
            proxy.make_url(f"/admin/cache/entries/{entry_id}"), headers=admin
        ) as r:
            assert r.status == 200
        async with http.post(proxy.make_url("/admin/cache/purge"), headers=admin, json={}) as r:
            assert r.status == 400
        # Both removals are counted as evictions "deleted"; the other reasons start at 0.
        async with http.get(proxy.make_url("/metrics")) as r:
            metrics = await r.text()
        assert 'videocache_cache_evictions_total{reason="deleted"} 2.0' in metrics
        assert 'videocache_cache_evictions_total{reason="size"} 0.0' in metrics
    _, headers = await create_raw(alice, prompt="one")
    assert headers["x-cache"] == "MISS"
    await alice.close()
    await bob.close()


async def test_admin_api_disabled_without_token(proxy: TestServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/admin/cache/stats")) as r:
            assert r.status == 404


async def test_shared_scope_only_when_configured(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    proxy = await start_proxy(sim, cache_scope="shared", cache_shared_name="team")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    await alice.videos.create(prompt="a shared company intro")
    await settle(proxy)
    hit, headers = await create_raw(bob, prompt="a shared company intro")
    assert headers["x-cache"] == "HIT"  # the operator chose one scope for everyone
    assert hit.status == "completed"
    # A namespace still narrows it.
    _, headers = await create_raw(
        bob, prompt="a shared company intro", extra_headers={"x-cache-namespace": "private"}
    )
    assert headers["x-cache"] == "MISS"
    assert upstream_creates(sim) == 2
    # Alice may read Bob's minted id in the shared scope, but not delete it from him.
    with pytest.raises(openai.NotFoundError):
        await alice.videos.delete(hit.id)
    assert (await bob.videos.retrieve(hit.id)).status == "completed"
    assert (await bob.videos.delete(hit.id)).deleted
    await alice.close()
    await bob.close()


async def test_entry_ttl_from_header(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a short-lived clip", extra_headers={"x-cache-ttl": "1"})
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a short-lived clip")
    assert headers["x-cache"] == "HIT"
    assert hit.expires_at - hit.created_at <= 2
    await asyncio.sleep(1.2)
    _, headers = await create_raw(alice, prompt="a short-lived clip")
    assert headers["x-cache"] == "MISS"  # expired entries never answer
    await alice.close()


async def slow_download_setup(
    start_simulator: ServerFactory, start_proxy: ServerFactory, size: int, rate: int
) -> tuple[TestServer, TestServer]:
    """Jobs that finish in half a second, videos of `size` bytes sent at `rate` bytes/s,
    and a watcher whose own next poll is seconds away: only the creator's poll through the
    proxy tells it a job is done."""
    sim = await start_simulator(speed=40.0, content_bytes=size, content_rate=rate)
    return sim, await start_proxy(sim, watch_interval=5.0)


async def test_a_repeat_the_moment_the_first_finished_is_a_hit(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    # The Quick start: create_and_poll, then the same prompt again at once. The download
    # takes a while (1 MB at 2 MB/s), yet the repeat must not become a join that reads
    # "queued" for a finished video.
    sim, proxy = await slow_download_setup(start_simulator, start_proxy, 1_000_000, 2_000_000)
    alice = client(proxy)
    first = await alice.videos.create_and_poll(
        prompt="A ferry crossing a calm bay at dawn", poll_interval_ms=50
    )
    assert first.status == "completed"
    again, headers = await create_raw(alice, prompt="A ferry crossing a calm bay at dawn")
    assert headers["x-cache"] == "HIT" and again.status == "completed"
    assert again.model_extra["extra_fields"]["cache_debug"]["cache_hit"] is True
    assert upstream_creates(sim) == 1
    content = await alice.videos.download_content(again.id)
    assert len(content.content) == 1_000_000


async def test_a_join_reads_finished_progress_while_the_video_downloads(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    _, proxy = await slow_download_setup(start_simulator, start_proxy, 3_000_000, 1_000_000)
    alice = client(proxy)
    first = await alice.videos.create(prompt="Lanterns drifting down a river at night")
    joined, headers = await create_raw(alice, prompt="Lanterns drifting down a river at night")
    assert headers["x-cache"] == "JOINED" and joined.status == "queued"
    done = await alice.videos.poll(first.id, poll_interval_ms=50)
    assert done.status == "completed"
    # The creator's poll woke the watcher; the 3 MB take about three seconds to arrive.
    for _ in range(100):
        during = await alice.videos.retrieve(joined.id)
        if during.progress == 100:
            break
        await asyncio.sleep(0.02)
    assert during.status == "in_progress" and during.progress == 100
    after = await alice.videos.poll(joined.id, poll_interval_ms=100)
    assert after.status == "completed"
    assert len((await alice.videos.download_content(joined.id)).content) == 3_000_000
