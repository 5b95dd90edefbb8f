"""CacheService's merging of identical misses, without HTTP: who leads, who waits, and that
callers which never settle (benchmarks, tools) are not made to wait."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cache.controls import CacheControls
from cache.keys import RequestFingerprint
from cache.ownership import DataDirInUse
from cache.service import CacheConfig, CacheService, fingerprint


def service(tmp_path: Path) -> CacheService:
    return CacheService(tmp_path, CacheConfig(threshold=0.8, ttl=3600, max_bytes=2**30), None)


def request(prompt: str = "a red kite over dunes") -> RequestFingerprint:
    return fingerprint(scope="s", namespace="", fields={"prompt": prompt}, input_reference="")


async def test_lookups_that_do_not_lead_never_wait(tmp_path: Path) -> None:
    cache = service(tmp_path)
    first = await cache.lookup(request(), CacheControls())
    second = await asyncio.wait_for(cache.lookup(request(), CacheControls()), 1.0)
    assert (first.kind, second.kind) == ("miss", "miss")
    assert not first.leading and not second.leading
    cache.close()


async def test_identical_leading_lookups_wait_for_the_leaders_job(tmp_path: Path) -> None:
    cache = service(tmp_path)
    leader = await cache.lookup(request(), CacheControls(), lead=True)
    assert leader.kind == "miss" and leader.leading
    waiting = asyncio.ensure_future(cache.lookup(request(), CacheControls(), lead=True))
    other = await cache.lookup(request("another prompt"), CacheControls(), lead=True)
    assert other.leading  # a different request is not held up
    await asyncio.sleep(0.05)
    assert not waiting.done()
    job = cache.remember_miss(leader, {"id": "video_up1", "status": "queued"}, CacheControls())
    joined = await asyncio.wait_for(waiting, 1.0)
    assert joined.kind == "joined" and joined.job is not None and joined.job.id == job.id
    cache.settle(other)
    cache.close()


async def test_one_waiter_leads_when_the_leader_made_no_job(tmp_path: Path) -> None:
    cache = service(tmp_path)
    leader = await cache.lookup(request(), CacheControls(), lead=True)
    waiting = [
        asyncio.ensure_future(cache.lookup(request(), CacheControls(), lead=True)) for _ in range(3)
    ]
    await asyncio.sleep(0.01)
    cache.settle(leader)  # e.g. the upstream refused the create (a 429)
    await asyncio.sleep(0.01)
    # The first waiter back leads; the others wait on it rather than all going upstream,
    # where each would be a paid job.
    done = [task for task in waiting if task.done()]
    assert len(done) == 1
    again = done[0].result()
    assert again.kind == "miss" and again.leading
    job = cache.remember_miss(again, {"id": "video_up3", "status": "queued"}, CacheControls())
    rest = [await asyncio.wait_for(task, 1.0) for task in waiting if task is not done[0]]
    assert [(r.kind, r.job.id if r.job else None) for r in rest] == [("joined", job.id)] * 2
    # no-store requests neither lead nor wait: their video is shared with no one
    loner = await cache.lookup(request(), CacheControls(no_store=True), lead=True)
    assert loner.kind == "miss" and not loner.leading
    cache.close()


async def test_a_job_completed_at_once_is_still_joined(tmp_path: Path) -> None:
    # A synchronous upstream answers the create with a finished video: identical requests
    # that waited join it rather than each creating their own, one after another.
    cache = service(tmp_path)
    leader = await cache.lookup(request(), CacheControls(), lead=True)
    waiting = asyncio.ensure_future(cache.lookup(request(), CacheControls(), lead=True))
    await asyncio.sleep(0.01)
    job = cache.remember_miss(leader, {"id": "video_up2", "status": "completed"}, CacheControls())
    joined = await asyncio.wait_for(waiting, 1.0)
    assert joined.kind == "joined" and joined.job is not None and joined.job.id == job.id
    cache.close()


async def test_expired_entries_are_swept_without_new_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cache.service
    import proxy.app

    monkeypatch.setattr(cache.service, "SWEEP_INTERVAL", 0.0)
    monkeypatch.setattr(proxy.app, "SWEEP_INTERVAL", 0.05)
    store = service(tmp_path)
    lookup = await store.lookup(request(), CacheControls(ttl=1))
    job = store.remember_miss(lookup, {"id": "video_up1", "status": "queued"}, CacheControls(ttl=1))
    sha = store.blobs.put_bytes(b"a short-lived video")
    entry = store.publish(job, {"id": "video_up1"}, {"video": sha}, {}, 19)
    entry.expires_at = time.time() - 1  # as if its TTL had run out since
    store.entries.put(entry)
    sweeper = asyncio.create_task(proxy.app._sweep_expired(store))
    for _ in range(100):
        if store.entries.count() == 0:
            break
        await asyncio.sleep(0.02)
    sweeper.cancel()
    assert store.entries.count() == 0 and store.blobs.total_bytes == 0
    store.close()


async def test_job_records_go_after_the_retention_but_not_before_their_entry(
    tmp_path: Path,
) -> None:
    config = CacheConfig(threshold=0.8, ttl=3600, max_bytes=2**30, job_retention=0.2)
    cache = CacheService(tmp_path, config, None)
    lookup = await cache.lookup(request(), CacheControls())
    cached = cache.remember_miss(lookup, {"id": "video_up1", "status": "queued"}, CacheControls())
    sha = cache.blobs.put_bytes(b"an hour-long entry")
    entry = cache.publish(cached, {"id": "video_up1"}, {"video": sha}, {}, 18)
    cached.entry_id, cached.status = entry.id, "completed"
    cache.put_job(cached)  # as the watcher records a published job
    failed_lookup = await cache.lookup(request("a blue kite"), CacheControls())
    failed = cache.remember_miss(
        failed_lookup, {"id": "video_up2", "status": "queued"}, CacheControls()
    )
    failed.status = "failed"
    cache.put_job(failed)
    time.sleep(0.35)
    cache.evict(sweep=True)
    assert cache.get_job("video_up2") is None
    assert cache.jobs.expire() == 0  # the sweep dropped it from disk, not only from view
    # Its entry lives another hour: a DELETE of its upstream video must still find its
    # creator until then.
    kept = cache.get_job("video_up1")
    assert kept is not None and kept.entry_id == entry.id
    cache.close()


async def test_a_replaced_entry_keeps_its_files_until_purged(tmp_path: Path) -> None:
    # A no-cache refresh publishes a new entry under the same exact key. Hits handed out
    # moments before still serve the old video, so its file stays (least recently used,
    # first to be evicted); a purge of everything takes it, so no bytes are left behind.
    cache = service(tmp_path)
    published = []
    for content in (b"the first take", b"the second take"):
        lookup = await cache.lookup(request(), CacheControls(no_cache=True))
        job = cache.remember_miss(lookup, {"id": "video_up1", "status": "queued"}, CacheControls())
        sha = cache.blobs.put_bytes(content)
        published.append(cache.publish(job, {"id": "video_up1"}, {"video": sha}, {}, len(content)))
    first, second = published
    assert cache.entries.count() == 1 and cache.entries.get(second.id) is not None
    assert cache.blobs.path(first.blobs["video"]) is not None  # still served to old hits
    assert cache.purge() == 1
    assert cache.blobs.total_bytes == 0 and len(cache.blobs) == 0
    cache.close()


async def test_a_delete_purges_only_the_deleters_scope(tmp_path: Path) -> None:
    # An upstream whose ids are unique per key only gave two scopes' videos one id. Each
    # scope refreshed its entry once, so each also keeps a replaced file for earlier hits.
    cache = service(tmp_path)
    kept: dict[str, list[str]] = {}
    for scope in ("scope-a", "scope-b"):
        fp = fingerprint(scope=scope, namespace="", fields={"prompt": "a kite"}, input_reference="")
        for take in ("first", "second"):
            lookup = await cache.lookup(fp, CacheControls(no_cache=True))
            job = cache.remember_miss(
                # Recorded under an id of the scope's own: one record per upstream id.
                lookup,
                {"id": "video_1", "status": "queued"},
                CacheControls(),
                client_id=scope,
            )
            assert job is not None
            sha = cache.blobs.put_bytes(f"{scope}'s {take} take".encode())
            cache.publish(job, {"id": "video_1"}, {"video": sha}, {}, 20)
            kept.setdefault(scope, []).append(sha)
    assert cache.entries.count() == 2
    assert cache.purge_upstream("video_1", "scope-a") == 1
    # Scope a's entry and its replaced file are gone; scope b's entry and file stay.
    left = [cache.entries.get(i) for i in cache.entries.entries_from_upstream("video_1")]
    assert [e.scope for e in left if e is not None] == ["scope-b"]
    assert [cache.blobs.path(sha) is None for sha in kept["scope-a"]] == [True, True]
    assert [cache.blobs.path(sha) is None for sha in kept["scope-b"]] == [False, False]
    # Then b's delete takes b's, replaced file included.
    assert cache.purge_upstream("video_1", "scope-b") == 1
    assert cache.blobs.total_bytes == 0
    cache.close()


async def test_a_remix_keeps_its_sources_record(tmp_path: Path) -> None:
    # A DELETE of a remix's source (answered 404 upstream) purges the remix only for the
    # source's creator: the source's record must live as long as the remix's entry.
    config = CacheConfig(threshold=0.8, ttl=3600, max_bytes=2**30, job_retention=0.2)
    cache = CacheService(tmp_path, config, None)
    lookup = await cache.lookup(request("a kite"), CacheControls())
    source = cache.remember_miss(lookup, {"id": "video_src", "status": "queued"}, CacheControls())
    source.status = "failed"  # finished, no entry of its own: kept for the retention only
    cache.put_job(source)
    lookup = await cache.lookup(request("a kite, remixed"), CacheControls())
    remix = cache.remember_miss(lookup, {"id": "video_rmx", "status": "queued"}, CacheControls())
    sha = cache.blobs.put_bytes(b"a remixed kite")
    cache.publish(remix, {"id": "video_rmx"}, {"video": sha}, {}, 14, ["video_src"])
    time.sleep(0.35)
    assert cache.get_job("video_src") is not None
    cache.close()


async def test_a_data_dir_has_one_owner_until_it_closes(tmp_path: Path) -> None:
    first = service(tmp_path)
    with pytest.raises(DataDirInUse, match=f"data dir {tmp_path} is in use"):
        service(tmp_path)
    # The refused one read nothing and tidied nothing: the owner's store still works.
    assert first.stats().entries == 0
    first.close()
    second = service(tmp_path)  # released on close
    assert second.secret == first.secret
    second.close()
