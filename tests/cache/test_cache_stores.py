import hashlib
import os
import time
from pathlib import Path

import pytest

from cache.ids import new_entry_id, new_video_id
from cache.stores import BlobStore, CacheEntry, EntryStore, JobStore
from tests.conftest import job_record


def entry(scope: str = "s1", namespace: str = "", key: str | None = None, **kw) -> CacheEntry:
    defaults = dict(
        id=new_entry_id(),
        scope=scope,
        namespace=namespace,
        exact_key=key or os.urandom(8).hex(),
        bucket_key="bucket",
        prompt="a cat",
        model="sora-2",
        seconds="4",
        size="720x1280",
        upstream_video_id="video_up1",
        video={"id": "video_up1", "status": "completed"},
        blobs={"video": "ab" * 32},
        content_types={"video": "video/mp4"},
        size_bytes=10,
        embedding=b"\x00" * 16,
    )
    defaults.update(kw)
    return CacheEntry(**defaults)


# -- blobs ---------------------------------------------------------------------------------


def test_blob_writer_commits_under_its_hash(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=1000)
    with blobs.writer() as w:
        w.write(b"hello ")
        w.write(b"world")
    sha = hashlib.sha256(b"hello world").hexdigest()
    assert w.sha256 == sha and w.size == 11
    assert blobs.path(sha) == tmp_path / "blobs" / sha[:2] / sha[2:]
    assert blobs.path(sha).read_bytes() == b"hello world"
    assert blobs.total_bytes == 11
    assert blobs.put_bytes(b"hello world") == sha  # dedup: no double counting
    assert blobs.total_bytes == 11


def test_failed_writer_leaves_no_file(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=1000)
    with pytest.raises(RuntimeError), blobs.writer() as w:
        w.write(b"partial")
        raise RuntimeError("download broke")
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
    assert blobs.total_bytes == 0
    assert blobs.path(hashlib.sha256(b"partial").hexdigest()) is None


def test_startup_removes_stale_temps_and_rescans(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=1000)
    sha = blobs.put_bytes(b"x" * 10)
    stale = tmp_path / "blobs" / ".tmp-123-abc"
    stale.write_bytes(b"junk")
    reopened = BlobStore(tmp_path, max_bytes=1000, stale_temp_seconds=0)
    assert not stale.exists()
    assert sha in reopened and reopened.total_bytes == 10


def test_temps_of_a_dead_writer_go_at_once(tmp_path: Path) -> None:
    BlobStore(tmp_path, max_bytes=1000)
    dead = tmp_path / "blobs" / ".tmp-4194303-abc"  # above any pid_max: never a live pid
    # Named after this very pid: a previous incarnation's (in a container the proxy is
    # pid 1 every time); at start-up this process has not written anything yet.
    ours = tmp_path / "blobs" / f".tmp-{os.getpid()}-def"
    alive = tmp_path / "blobs" / f".tmp-{os.getppid()}-0123"  # a live process: kept
    for temp in (dead, ours, alive):
        temp.write_bytes(b"junk")
    BlobStore(tmp_path, max_bytes=1000)  # a restart right after a kill -9: no waiting
    assert not dead.exists() and not ours.exists() and alive.exists()


def test_pinned_blobs_are_not_evicted(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=20)
    downloading = blobs.put_bytes(b"a" * 10)
    blobs.pin(downloading)
    other = blobs.put_bytes(b"b" * 10)
    assert blobs.evict_lru(10) == [other]  # the older blob is pinned
    blobs.unpin([downloading])
    assert blobs.evict_lru(20) == [downloading]


def test_bytes_being_written_count_against_the_limit(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=30)
    old = blobs.put_bytes(b"o" * 10)
    with blobs.writer(pin=True) as first:
        assert blobs.claim(first, 15)  # 10 stored + 15 claimed
        first.write(b"f" * 15)  # already counted: not again
        assert blobs.writing_bytes == 15
        with pytest.raises(RuntimeError), blobs.writer() as second:
            assert not blobs.claim(second, 10)  # 35 > 30: no room, nothing counted
            assert blobs.writing_bytes == 15
            # Eviction makes room beside the download: the old blob goes, not the new bytes.
            assert blobs.evict_lru(10) == [old]
            assert blobs.claim(second, 10)
            second.write(b"s" * 12)  # past its claim: the rest is counted as written
            assert blobs.writing_bytes == 27
            raise RuntimeError("cut off")  # abandoned: its bytes leave the count
        assert blobs.writing_bytes == 15
    # Committed: counted once, as stored bytes.
    assert (blobs.writing_bytes, blobs.total_bytes) == (0, 15)
    assert blobs.pinned(first.sha256 or "")


def test_lru_eviction_order(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=30)
    shas = []
    for i in range(3):
        shas.append(blobs.put_bytes(bytes([i]) * 10))
        time.sleep(0.01)
    blobs.touch(shas[0])  # now the most recently used
    assert blobs.evict_lru(0) == []  # 30 bytes fit in 30
    assert blobs.evict_lru(5) == [shas[1]]
    assert blobs.evict_lru(15, keep={shas[2]}) == [shas[0]]
    assert blobs.path(shas[0]) is None and blobs.path(shas[2]) is not None
    assert blobs.total_bytes == 10
    # Access order survives a restart (kept as atime, set explicitly by touch).
    reopened = BlobStore(tmp_path, max_bytes=10)
    assert reopened.evict_lru(1) == [shas[2]]


def evict_at_once(blobs: BlobStore, keeps: list[str]) -> list[list[str]]:
    """evict_lru from one thread per `keeps` item, all released together."""
    import threading

    start = threading.Barrier(len(keeps))
    evicted: list[list[str]] = [[] for _ in keeps]

    def evict(slot: int) -> None:
        start.wait()
        evicted[slot] = blobs.evict_lru(0, keep={keeps[slot]})

    threads = [threading.Thread(target=evict, args=(slot,)) for slot in range(len(keeps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return evicted


def test_concurrent_evictions_free_only_what_is_needed(tmp_path: Path) -> None:
    """Publishes run in worker threads and each evicts. Two at once must together free
    just enough, oldest first: each counting the same excess once evicted the newest
    entry of a wave (seen as a MISS for a just-published video under load)."""
    for round_ in range(30):
        blobs = BlobStore(tmp_path / str(round_), max_bytes=500)
        old = [blobs.put_bytes(bytes([round_, i]) * 50) for i in range(5)]  # 100 bytes each
        new = [blobs.put_bytes(bytes([round_, 9, i, 0]) * 25) for i in range(2)]  # 700 > 500
        first, second = evict_at_once(blobs, new)
        assert sorted(first + second) == sorted(old[:2]), round_  # the two oldest, once each
        assert blobs.total_bytes == 500 and all(blobs.path(sha) for sha in new)


def test_blob_paths_reject_non_hashes(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, max_bytes=10)
    with pytest.raises(ValueError):
        blobs.path("../../etc/passwd")


# -- entries -------------------------------------------------------------------------------


def test_entry_publish_lookup_delete(tmp_path: Path) -> None:
    store = EntryStore(tmp_path)
    e = entry(key="k1", source_video_ids=["video_src"])
    assert store.put(e) is None
    assert store.get(e.id) == e
    assert store.get_by_exact_key("k1") == e
    assert store.entries_from_upstream("video_up1") == [e.id]
    assert store.entries_from_upstream("video_src") == [e.id]
    assert store.entries_using_blob("ab" * 32) == [e.id]
    assert store.count() == 1
    assert store.delete(e.id) == e
    assert store.get(e.id) is None and store.get_by_exact_key("k1") is None
    assert store.entries_from_upstream("video_up1") == []
    assert store.count() == 0


def test_same_exact_key_replaces(tmp_path: Path) -> None:
    store = EntryStore(tmp_path)
    old, new = entry(key="k"), entry(key="k")
    store.put(old)
    replaced = store.put(new)
    assert replaced is not None and replaced.id == old.id
    assert store.get(old.id) is None
    assert store.get_by_exact_key("k") == new
    assert store.count() == 1


def test_entries_survive_restart(tmp_path: Path) -> None:
    store = EntryStore(tmp_path)
    entries = [entry() for _ in range(5)]
    for e in entries:
        store.put(e)
    store.close()
    reopened = EntryStore(tmp_path)
    assert sorted(e.id for e in reopened.iter_entries()) == sorted(e.id for e in entries)
    assert reopened.get_by_exact_key(entries[2].exact_key) == entries[2]
    assert reopened.count() == 5


def test_purge_by_scope_and_namespace(tmp_path: Path) -> None:
    store = EntryStore(tmp_path)
    for scope, ns in [("s1", ""), ("s1", "n1"), ("s1", "n1"), ("s2", "n1"), ("s2", "")]:
        store.put(entry(scope=scope, namespace=ns))
    assert store.purge(scope="s1", namespace="n1") == 2
    assert store.purge(namespace="n1") == 1
    assert store.purge(scope="s2") == 1
    assert [e.scope for e in store.iter_entries()] == ["s1"]
    assert store.purge() == 1
    assert store.count() == 0


def test_expiry_helpers(tmp_path: Path) -> None:
    store = EntryStore(tmp_path)
    old = entry(expires_at=time.time() - 1)
    fresh = entry(expires_at=time.time() + 100)
    store.put(old)
    store.put(fresh)
    assert old.is_expired() and not fresh.is_expired()
    assert store.expired_ids() == [old.id]


# -- jobs ----------------------------------------------------------------------------------


job = job_record


def test_jobs_inflight_and_pending(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path)
    miss = job()
    jobs.put(miss)
    assert jobs.get(miss.id) == miss
    assert jobs.find_inflight("s1", "k1") == miss
    assert jobs.find_inflight("s2", "k1") is None  # another tenant never joins
    hit = job(id=new_video_id(), kind="hit", status="completed", entry_id="ce_1")
    jobs.put(hit)
    assert [j.id for j in jobs.pending()] == [miss.id]

    miss.status = "in_progress"
    jobs.put(miss)
    assert jobs.find_inflight("s1", "k1") == miss
    miss.status = "completed"
    jobs.put(miss)
    assert jobs.find_inflight("s1", "k1") is None
    assert jobs.pending() == []
    jobs.close()
    assert JobStore(tmp_path).get(hit.id) == hit


def test_no_store_jobs_are_not_joinable(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path)
    jobs.put(job(store=False))
    assert jobs.find_inflight("s1", "k1") is None
    assert len(jobs.pending()) == 1
    assert jobs.delete("video_up1") is not None
    assert jobs.pending() == [] and jobs.get("video_up1") is None


def test_joins_of_a_job_are_counted_on_disk_until_taken(tmp_path: Path) -> None:
    # A restart between the joins and the job's completion must not lose them.
    jobs = JobStore(tmp_path)
    jobs.put(job())
    jobs.add_join("video_up1")
    jobs.add_join("video_up1")
    jobs.close()
    jobs = JobStore(tmp_path)
    assert jobs.take_joins("video_up2") == 0
    assert jobs.take_joins("video_up1") == 2
    assert jobs.take_joins("video_up1") == 0  # taken once


def test_a_writer_can_pin_what_it_commits(tmp_path: Path) -> None:
    # Pinned in the same step as it becomes visible: no moment in which another job's
    # eviction or a purge could take a download that is about to be published.
    blobs = BlobStore(tmp_path, 2**20)
    with blobs.writer(pin=True) as w:
        w.write(b"a fresh download")
    assert w.sha256 is not None and blobs.pinned(w.sha256)
    blobs.unpin([w.sha256])
    assert not blobs.pinned(w.sha256)


def test_finished_job_records_expire_after_the_retention(tmp_path: Path) -> None:
    # Every request leaves a record; without an expiry the job store grows for ever.
    jobs = JobStore(tmp_path, retention=0.2)
    miss = job()
    jobs.put(miss)  # followed by the watcher: never expires while pending
    hit = job(id=new_video_id(), kind="hit", status="completed", entry_id="ce_1")
    jobs.put(hit)
    lasting = job(id=new_video_id(), kind="hit", status="completed", entry_id="ce_2")
    jobs.put(lasting, keep_until=time.time() + 60)  # its cache entry lives a minute
    time.sleep(0.35)
    assert jobs.get(hit.id) is None
    assert jobs.get(miss.id) == miss and [j.id for j in jobs.pending()] == [miss.id]
    assert jobs.get(lasting.id) == lasting
    assert jobs.expire() == 1  # the hit's record, now gone from disk as well

    miss.status = "completed"
    jobs.put(miss)  # finished: its retention starts now
    assert jobs.get(miss.id) == miss
    time.sleep(0.35)
    assert jobs.get(miss.id) is None and jobs.pending() == []
    assert [j.id for j in jobs.iter_jobs()] == [lasting.id]


def test_a_later_write_never_shortens_a_job_records_keep_time(tmp_path: Path) -> None:
    # A remix's source record is kept as long as the remix (publish() extends it); the
    # source's own later writes, with its own shorter keep time, must not take that back.
    jobs = JobStore(tmp_path, retention=0.2)
    source = job(id=new_video_id(), kind="miss", status="completed", entry_id="ce_1")
    jobs.put(source, keep_until=time.time() + 60)  # extended to its remix's expiry
    jobs.put(source)  # rewritten later with only the retention
    time.sleep(0.35)
    assert jobs.get(source.id) == source
    # A record watched (no expiry) and then finished starts from the retention, not "for ever".
    miss = job()
    jobs.put(miss)
    miss.status = "completed"
    jobs.put(miss)
    time.sleep(0.35)
    assert jobs.get(miss.id) is None


def test_only_watched_jobs_are_pending(tmp_path: Path) -> None:
    # A join has no upstream job of its own: a "queued" join nobody polls again must not
    # sit in the pending set (nor outlive the retention) for ever.
    jobs = JobStore(tmp_path, retention=0.2)
    joined = job(id=new_video_id(), kind="joined", status="queued")
    jobs.put(joined)
    assert jobs.get(joined.id) == joined and jobs.pending() == []
    # A join's pending key written before only misses had them is dropped when seen.
    jobs._cache.set(f"pending:{joined.id}", True)
    assert jobs.pending() == [] and f"pending:{joined.id}" not in jobs._cache
    time.sleep(0.35)
    assert jobs.get(joined.id) is None


# -- minted ids by owner (the list) --------------------------------------------------------


def test_minted_ids_are_listed_by_owner_in_order_and_survive_restart(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path)
    made = []
    for created, owner in ((100, "alice"), (300, "alice"), (200, "bob"), (300, "alice")):
        minted = job(id=new_video_id(), kind="hit", status="completed", owner=owner)
        minted.created_at = created + 0.7  # listed by the whole second the Video shows
        jobs.put(minted)
        made.append(minted)
    jobs.put(job(owner="alice"))  # a miss: the upstream lists it, not this index
    jobs.put(job(id=new_video_id(), kind="hit", status="completed"))  # no owner: nobody's
    jobs.close()

    jobs = JobStore(tmp_path)
    alices = sorted(((int(j.created_at), j.id) for j in made if j.owner == "alice"), reverse=True)
    assert [
        (int(j.created_at), j.id) for j in jobs.minted_after("alice", "s1", "desc", None, 10)
    ] == (alices)
    assert [j.id for j in jobs.minted_after("alice", "s1", "asc", None, 10)] == [
        i for _, i in reversed(alices)
    ]
    # Strictly after a key, in either order, a page at a time.
    assert [j.id for j in jobs.minted_after("alice", "s1", "desc", alices[0], 1)] == [alices[1][1]]
    assert [j.id for j in jobs.minted_after("alice", "s1", "asc", alices[1], 5)] == [alices[0][1]]
    assert jobs.minted.has_any("bob", "s1") and not jobs.minted.has_any("carol", "s1")
    assert not jobs.minted.has_any("bob", "s2")
    assert jobs.minted_after("carol", "s1", "desc", None, 10) == []


def test_listing_drops_index_rows_whose_record_is_gone(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path, retention=0.2)
    lasting = job(id=new_video_id(), kind="hit", status="completed", owner="alice")
    jobs.put(lasting, keep_until=time.time() + 60)
    fleeting = [job(id=new_video_id(), kind="joined", owner="alice") for _ in range(3)]
    for record in fleeting:
        jobs.put(record)
    deleted = job(id=new_video_id(), kind="hit", status="completed", owner="alice")
    jobs.put(deleted, keep_until=time.time() + 60)
    jobs.delete(deleted.id)
    time.sleep(0.35)  # the joins' records expire; their rows are still in the index
    assert len(jobs.minted.after("alice", "s1", "desc", None, 10)) == 4
    # Asked for two, the reader reads past (and drops) the dead rows looking for a second.
    assert [j.id for j in jobs.minted_after("alice", "s1", "desc", None, 2)] == [lasting.id]
    assert jobs.minted.after("alice", "s1", "desc", None, 10) == [
        (int(lasting.created_at), lasting.id)
    ]


def test_list_cursors_are_remembered_per_owner_and_order(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path)
    state = {"upstream_after": "video_up1", "minted_after": (5, "video_x")}
    jobs.remember_cursor("alice", "desc", "video_x", state)
    assert jobs.cursor("alice", "desc", "video_x") == state
    assert jobs.cursor("alice", "asc", "video_x") is None
    assert jobs.cursor("bob", "desc", "video_x") is None
