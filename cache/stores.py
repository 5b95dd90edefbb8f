"""Durable stores under one data directory: cache entries, jobs and content blobs.

Layout (every store takes the data directory and owns one sub-directory):

    <data>/entries/   diskcache: published cache entries and their indexes
    <data>/jobs/      diskcache: job records (what every client-visible video id means)
    <data>/minted.sqlite3   minted ids by credential in creation order (cache/minted.py)
    <data>/blobs/     content-addressed files: blobs/ab/cdef... named by sha256

Concurrency: EntryStore and JobStore are diskcache (SQLite in WAL mode), safe across threads
and processes; each multi-key update runs in one diskcache transaction, so readers in any
process see all of it or none of it. Their calls block on disk I/O (typically well under a
millisecond); call them from a thread if the event loop must never block. BlobStore files are
safe across processes (atomic renames); its size/LRU accounting is per process (rebuilt
from the directory at start-up), so with several worker processes its totals are
approximate and only one process should run eviction.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO, Literal

import diskcache

from cache.minted import Key, MintedIndex, Order

# diskcache's default policy silently evicts the least recently stored items once 1 GB is
# reached; an entry store must never lose an index key on its own, so eviction is off.
_DISKCACHE_SETTINGS: dict[str, Any] = {"eviction_policy": "none", "size_limit": 2**62}

PENDING_STATUSES = frozenset({"queued", "in_progress"})
DEFAULT_JOB_RETENTION = 30 * 24 * 3600.0
# How long the proxy remembers where a page of a merged list ended (JobStore.cursor): the
# SDK asks for the next page at once; a later or foreign cursor is found the slow way.
CURSOR_RETENTION = 24 * 3600.0


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    # Tolerate fields added or removed between versions of a record already on disk.
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


# -- entries -------------------------------------------------------------------------------


@dataclass
class CacheEntry:
    """A finished, downloaded video that may answer future requests.

    `blobs` maps a content variant ("video", "thumbnail", "spritesheet") to its sha256 in
    the BlobStore; `expires_at` is the cache TTL (epoch seconds) or None for no expiry;
    `embedding` is the prompt vector as float32 bytes (None when never embedded).
    """

    id: str
    scope: str
    namespace: str
    exact_key: str
    bucket_key: str
    prompt: str
    model: str
    seconds: str
    size: str
    upstream_video_id: str
    video: dict[str, Any]
    blobs: dict[str, str] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    created_at: float = field(default_factory=time.time)
    expires_at: float | None = None
    embedding: bytes | None = None
    source_video_ids: list[str] = field(default_factory=list)
    # The upstream's Content-Disposition per variant, as sent (LiteLLM sends one).
    dispositions: dict[str, str] = field(default_factory=dict)

    def is_expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at

    def age(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.created_at)

    @property
    def upstream_ids(self) -> set[str]:
        """The upstream videos it was made from: its own and, for a remix, the source's."""
        return {self.upstream_video_id, *self.source_video_ids}


class EntryStore:
    """Published cache entries, with indexes by exact key, upstream video id and blob."""

    def __init__(self, directory: Path | str) -> None:
        self._cache = diskcache.Cache(str(Path(directory) / "entries"), **_DISKCACHE_SETTINGS)

    def close(self) -> None:
        self._cache.close()

    def put(self, entry: CacheEntry) -> CacheEntry | None:
        """Publish an entry atomically (entry + all its index keys in one transaction).

        An entry already holding the same exact key is replaced and returned, so the caller
        can drop it from the vector index; otherwise returns None.
        """
        replaced: CacheEntry | None = None
        with self._cache.transact():
            holder = self._cache.get(f"exact:{entry.exact_key}")
            if holder is not None and holder != entry.id:
                replaced = self._delete_locked(holder)
                if replaced is not None:
                    # Its files stay for the hits handed out on it; a DELETE of its video,
                    # and a purge of its scope, must still find them (take_retired).
                    for key in (
                        *(f"retired:{upstream}" for upstream in replaced.upstream_ids),
                        f"retired-scope:{replaced.scope}",
                    ):
                        self._add_to_set(
                            key, *replaced.blobs.values(), expire=DEFAULT_JOB_RETENTION
                        )
                    if replaced.expires_at is not None:
                        # And when those hits' promise lapses (they keep the entry's
                        # expiry), the sweep takes the files (take_lapsed_retired).
                        lasts = max(0.0, replaced.expires_at - time.time())
                        record = {
                            "until": replaced.expires_at,
                            "blobs": list(replaced.blobs.values()),
                        }
                        self._cache.set(
                            f"retired-until:{replaced.id}",
                            record,
                            expire=lasts + DEFAULT_JOB_RETENTION,
                        )
            elif holder == entry.id:
                self._delete_locked(entry.id)
            self._cache.set(f"entry:{entry.id}", asdict(entry))
            self._cache.set(f"exact:{entry.exact_key}", entry.id)
            for upstream in entry.upstream_ids:
                self._add_to_set(f"upstream:{upstream}", entry.id)
            for sha in set(entry.blobs.values()):
                self._add_to_set(f"blob:{sha}", entry.id)
            self._cache.incr("meta:count", 1)
        return replaced

    def get(self, entry_id: str) -> CacheEntry | None:
        data = self._cache.get(f"entry:{entry_id}")
        return None if data is None else _from_dict(CacheEntry, data)

    def get_by_exact_key(self, key: str) -> CacheEntry | None:
        """The entry for an exact key (expired or not: freshness is the caller's policy)."""
        entry_id = self._cache.get(f"exact:{key}")
        return None if entry_id is None else self.get(entry_id)

    def delete(self, entry_id: str) -> CacheEntry | None:
        """Remove an entry and its index keys; returns it (to free blobs) or None."""
        with self._cache.transact():
            return self._delete_locked(entry_id)

    def iter_entries(self) -> Iterator[CacheEntry]:
        """Every entry, in insertion order. O(all keys); for start-up and maintenance."""
        # Iterating the Cache pages by rowid ranges; iterkeys() re-sorts all keys per page,
        # which is quadratic (44 s at 100,000 entries).
        for key in self._cache:
            if isinstance(key, str) and key.startswith("entry:"):
                entry = self.get(key[len("entry:") :])
                if entry is not None:  # deleted while iterating
                    yield entry

    def purge(self, scope: str | None = None, namespace: str | None = None) -> int:
        """Delete entries matching scope and/or namespace (both None: everything)."""
        doomed = [
            e.id
            for e in self.iter_entries()
            if (scope is None or e.scope == scope)
            and (namespace is None or e.namespace == namespace)
        ]
        return sum(self.delete(entry_id) is not None for entry_id in doomed)

    def expired_ids(self, now: float | None = None) -> list[str]:
        now = now or time.time()
        return [e.id for e in self.iter_entries() if e.is_expired(now)]

    def entries_from_upstream(self, upstream_id: str) -> list[str]:
        """Ids of entries made from an upstream video (e.g. to purge when it is deleted)."""
        return sorted(self._cache.get(f"upstream:{upstream_id}", ()))

    def take_retired(self, scope: str) -> list[str]:
        """The files of replaced entries in a scope, forgotten here: what refreshes left
        behind for earlier hits, to go when the scope is purged."""
        key = f"retired-scope:{scope}"
        with self._cache.transact():
            retired = self._cache.get(key, ())
            self._cache.delete(key)
        return sorted(retired)

    def take_retired_from(self, upstream_id: str, scope: str) -> list[str]:
        """The files of replaced entries made from an upstream video that are also kept
        for `scope`, forgotten under both keys: a delete by someone who holds no record of
        that video takes only its own scope's."""
        with self._cache.transact():
            by_upstream = set(self._cache.get(f"retired:{upstream_id}", ()))
            by_scope = set(self._cache.get(f"retired-scope:{scope}", ()))
            taken = by_upstream & by_scope
            for key, members in (
                (f"retired:{upstream_id}", by_upstream),
                (f"retired-scope:{scope}", by_scope),
            ):
                if members - taken:
                    self._cache.set(key, members - taken, expire=DEFAULT_JOB_RETENTION)
                else:
                    self._cache.delete(key)
        return sorted(taken)

    def take_lapsed_retired(self, now: float | None = None) -> list[str]:
        """The files of replaced entries whose expiry has passed, forgotten here: no hit
        handed out on them may serve them any more. O(all keys); for the sweep."""
        now = now or time.time()
        lapsed: list[str] = []
        for key in self._cache:
            if isinstance(key, str) and key.startswith("retired-until:"):
                with self._cache.transact():
                    record = self._cache.get(key)
                    if record is None or record["until"] > now:
                        continue
                    self._cache.delete(key)
                lapsed.extend(record["blobs"])
        return sorted(set(lapsed))

    def entries_using_blob(self, sha256: str) -> list[str]:
        """Ids of entries that reference a blob (blobs are shared by identical content)."""
        return sorted(self._cache.get(f"blob:{sha256}", ()))

    def count(self) -> int:
        return int(self._cache.get("meta:count", 0))

    def _add_to_set(self, key: str, *members: str, expire: float | None = None) -> None:
        self._cache.set(key, set(self._cache.get(key, ())) | set(members), expire=expire)

    def _discard_from_set(self, key: str, member: str) -> None:
        members = set(self._cache.get(key, ()))
        members.discard(member)
        if members:
            self._cache.set(key, members)
        else:
            self._cache.delete(key)

    def _delete_locked(self, entry_id: str) -> CacheEntry | None:
        entry = self.get(entry_id)
        if entry is None:
            return None
        self._cache.delete(f"entry:{entry_id}")
        if self._cache.get(f"exact:{entry.exact_key}") == entry_id:
            self._cache.delete(f"exact:{entry.exact_key}")
        for upstream in entry.upstream_ids:
            self._discard_from_set(f"upstream:{upstream}", entry_id)
        for sha in set(entry.blobs.values()):
            self._discard_from_set(f"blob:{sha}", entry_id)
        self._cache.incr("meta:count", -1)
        return entry


# -- jobs ----------------------------------------------------------------------------------

JobKind = Literal["miss", "hit", "joined"]


@dataclass
class JobRecord:
    """What a client-visible video id means.

    `id` is the id the client sees: minted ("video_" + 32 hex) for hits, the upstream id
    for misses; `upstream_id` is the upstream job actually generating (or that generated)
    the video. `kind`: "miss" (forwarded), "hit" (answered from `entry_id`) or "joined" (an
    identical request attached to an in-flight miss).
    """

    id: str
    scope: str
    upstream_id: str
    kind: JobKind
    exact_key: str
    bucket_key: str
    prompt: str
    model: str
    seconds: str
    size: str
    namespace: str = ""
    status: str = "queued"
    entry_id: str | None = None
    created_at: float = field(default_factory=time.time)
    store: bool = True
    ttl: int | None = None
    embedding: bytes | None = None
    request_params: dict[str, Any] = field(default_factory=dict)
    # HMAC of the credential (with its organisation/project) that created the job, whatever
    # the scope mode: whose credential the watcher may use for it. "" on records written
    # before it existed: the watcher then uses the scope's credential, in credential mode
    # only (proxy/caching.py caller_of).
    owner: str = ""

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATUSES


class JobStore:
    """Job records by client-visible id, plus the set being watched and in-flight index.

    A job is "pending" while its status is queued/in_progress; the watcher follows pending
    "miss" jobs only (hits and joins have no upstream job of their own). Only pending
    "miss" jobs with store=True are findable by find_inflight(): a no-store request's video
    is not shared with anyone, not even a concurrent identical request.

    Records no watcher follows expire `retention` seconds after their last write, or at
    `keep_until` if that is later, and never earlier than a previous write kept them
    (put()): diskcache drops them on later writes and in expire(), and get() stops
    returning them at once.
    """

    def __init__(self, directory: Path | str, retention: float = DEFAULT_JOB_RETENTION) -> None:
        self._cache = diskcache.Cache(str(Path(directory) / "jobs"), **_DISKCACHE_SETTINGS)
        self.retention = retention
        # Minted ids (hits, joins) by owner, for merging them into the upstream's list.
        self.minted = MintedIndex(Path(directory) / "minted.sqlite3")

    def close(self) -> None:
        self._cache.close()
        self.minted.close()

    def put(self, job: JobRecord, keep_until: float | None = None) -> None:
        """Insert or update a job and its pending/in-flight index keys atomically. A record
        the watcher does not follow gets its expiry (see the class), `keep_until` being a
        time it must outlive (its cache entry's expiry). A write never shortens a record's
        keep time: a remix's source record was given its remix's (publish()), which a later
        write of the source's own record must not take back."""
        inflight_key = f"inflight:{job.scope}:{job.exact_key}"
        watched = job.pending and job.kind == "miss"
        now = time.time()
        # The index row before the record: a crash in between leaves a row without a
        # record, which the next reader drops, rather than a record never listed. (Minted
        # records from before owners were kept have nobody to be listed for.)
        if job.kind != "miss" and job.owner:
            self.minted.add(job.id, job.owner, job.scope, int(job.created_at))
        with self._cache.transact():
            expire = None
            if not watched:
                expire = max(self.retention, (keep_until or 0.0) - now)
                _, kept_until = self._cache.get(f"job:{job.id}", expire_time=True)
                if kept_until is not None:
                    expire = max(expire, kept_until - now)
            self._cache.set(f"job:{job.id}", asdict(job), expire=expire)
            if watched:
                self._cache.set(f"pending:{job.id}", True)
            else:
                self._cache.delete(f"pending:{job.id}")
            if job.pending and job.kind == "miss" and job.store:
                self._cache.set(inflight_key, job.id)
            elif self._cache.get(inflight_key) == job.id:
                self._cache.delete(inflight_key)

    def get(self, job_id: str) -> JobRecord | None:
        data = self._cache.get(f"job:{job_id}")
        return None if data is None else _from_dict(JobRecord, data)

    def delete(self, job_id: str) -> JobRecord | None:
        with self._cache.transact():
            job = self.get(job_id)
            if job is None:
                return None
            self._cache.delete(f"job:{job_id}")
            self._cache.delete(f"pending:{job_id}")
            inflight_key = f"inflight:{job.scope}:{job.exact_key}"
            if self._cache.get(inflight_key) == job_id:
                self._cache.delete(inflight_key)
        if job.kind != "miss":
            self.minted.remove([job_id])
        return job

    def pending(self) -> list[JobRecord]:
        """Miss jobs still being watched (status queued/in_progress), e.g. to resume at
        start-up."""
        jobs = []
        stale = []
        # Iterating the Cache pages by rowid ranges; iterkeys() re-sorts all keys per page,
        # which is quadratic (44 s at 100,000 entries).
        for key in self._cache:
            if isinstance(key, str) and key.startswith("pending:"):
                job = self.get(key[len("pending:") :])
                if job is not None and job.pending and job.kind == "miss":
                    jobs.append(job)
                else:  # gone, or a join's key from before only misses had them
                    stale.append(key)
        for key in stale:
            self._cache.delete(key)
        return jobs

    def expire(self) -> int:
        """Drop the records whose time is up now rather than on later writes; how many."""
        return int(self._cache.expire())

    def find_inflight(self, scope: str, exact_key: str) -> JobRecord | None:
        """The pending miss job for this scope and exact key that a new request may join."""
        job_id = self._cache.get(f"inflight:{scope}:{exact_key}")
        job = None if job_id is None else self.get(job_id)
        return job if job is not None and job.pending and job.scope == scope else None

    def minted_after(
        self,
        owner: str,
        scope: str,
        order: Order,
        key: Key | None,
        limit: int,
        accept: Callable[[JobRecord], bool] | None = None,
    ) -> list[JobRecord]:
        """Up to `limit` of the minted ids `owner` got in `scope`, strictly after `key` in
        `order`, as their records; only those `accept` takes, if given (the others are
        skipped, not counted). Index rows whose record is gone (expired, deleted) are
        dropped."""
        found: list[JobRecord] = []
        while len(found) < limit:
            # Reads ahead a little: rows of expired records would otherwise cost a query each.
            asked = max(limit - len(found), 32)
            rows = self.minted.after(owner, scope, order, key, asked)
            gone = []
            for created, job_id in rows:
                job = self.get(job_id)
                if job is None or job.kind == "miss" or job.owner != owner:
                    gone.append(job_id)
                elif accept is not None and not accept(job):
                    pass
                elif len(found) == limit:
                    break
                else:
                    found.append(job)
                key = (created, job_id)
            if gone:
                self.minted.remove(gone)
            if len(rows) < asked:
                break
        return found

    def add_join(self, job_id: str) -> None:
        """A create joined the pending job `job_id`: a generation it saves once that job's
        video is done (take_joins). Kept on disk, so joins made before a restart count
        when the job completes after it."""
        self._cache.incr(f"joins:{job_id}")

    def take_joins(self, job_id: str) -> int:
        """How many creates joined `job_id` since the last call, forgetting them."""
        count = self._cache.pop(f"joins:{job_id}", default=0)
        return count if isinstance(count, int) else 0

    def remember_cursor(self, owner: str, order: Order, last_id: str, state: Any) -> None:
        """Where a merged list page that ended at `last_id` left each of its two sources."""
        self._cache.set(f"cursor:{owner}:{order}:{last_id}", state, expire=CURSOR_RETENTION)

    def cursor(self, owner: str, order: Order, last_id: str) -> Any:
        return self._cache.get(f"cursor:{owner}:{order}:{last_id}")

    def mark_deleted(self, upstream_id: str) -> None:
        """An upstream video deleted through the proxy: a remembered list cursor that
        stops at it has to be placed again (the upstream no longer knows it)."""
        self._cache.set(f"deleted:{upstream_id}", True, expire=CURSOR_RETENTION)

    def deleted(self, upstream_id: str) -> bool:
        return self._cache.get(f"deleted:{upstream_id}") is not None

    def iter_jobs(self) -> Iterator[JobRecord]:
        # Iterating the Cache pages by rowid ranges; iterkeys() re-sorts all keys per page,
        # which is quadratic (44 s at 100,000 entries).
        for key in self._cache:
            if isinstance(key, str) and key.startswith("job:"):
                job = self.get(key[len("job:") :])
                if job is not None:
                    yield job


# -- blobs ---------------------------------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"


class BlobWriter:
    """Write side of one blob: hashes while writing; sha256/size/path are set on commit."""

    def __init__(
        self, file: BinaryIO, temp_path: Path, on_write: Callable[[int], None] | None = None
    ) -> None:
        self._file = file
        self._hash = hashlib.sha256()
        self._on_write = on_write
        self.temp_path = temp_path
        self.size = 0
        # Bytes counted against the store's limit for this writer: claimed ahead of a
        # write (BlobStore.claim), or counted as written, whichever is more.
        self.claimed = 0
        self.sha256: str | None = None
        self.path: Path | None = None

    def write(self, data: bytes) -> int:
        unclaimed = self.size + len(data) - self.claimed
        if unclaimed > 0 and self._on_write is not None:
            self._on_write(unclaimed)  # counted before the bytes reach the disk
        self.claimed = max(self.claimed, self.size + len(data))
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)


class BlobStore:
    """Content-addressed files under <data>/blobs, with a size limit and LRU eviction.

    Never exposes a partial file under a final name: content goes to a temporary file in
    the blob directory, is fsynced, and is renamed to its hash only when complete.
    Thread-safe within a process (one lock around the accounting).
    """

    def __init__(
        self, directory: Path | str, max_bytes: int, stale_temp_seconds: float = 600.0
    ) -> None:
        self.root = Path(directory) / "blobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._evicting = threading.Lock()  # one eviction at a time (see evict_lru)
        # sha -> [size, last access]. Last access persists as the file's atime, set
        # explicitly by touch() (an explicit utime works under relatime/noatime too). Not
        # mtime: mtime feeds the HTTP ETag of served content, which must stay stable.
        self._files: dict[str, list[float]] = {}
        self._total = 0
        # Bytes in this process's temporary files (downloads in progress): on disk too, so
        # they count against max_bytes beside the published blobs.
        self._writing = 0
        # Blobs of a download not yet published: eviction must not take them (count, since
        # two jobs may download identical content).
        self._pinned: dict[str, int] = {}
        self._remove_stale_temps(stale_temp_seconds)  # before any writer of this process
        self._scan()

    @property
    def total_bytes(self) -> int:
        """Bytes of the stored blobs."""
        return self._total

    @property
    def writing_bytes(self) -> int:
        """Bytes claimed or written by writers not yet committed (downloads in progress)."""
        return self._writing

    def claim(self, writer: BlobWriter, size: int) -> bool:
        """Count `size` more bytes of `writer` against max_bytes before it writes them, if
        they fit beside the stored blobs and the other downloads in progress. Check and
        count are one step, so concurrent downloads cannot all take the last room."""
        with self._lock:
            if self._total + self._writing + size > self.max_bytes:
                return False
            self._writing += size
            writer.claimed += size
            return True

    def _wrote(self, size: int) -> None:
        with self._lock:
            self._writing += size

    def shas(self) -> list[str]:
        """Every stored blob (a snapshot)."""
        with self._lock:
            return list(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._files

    def _final_path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def _remove_stale_temps(self, older_than: float) -> None:
        # A temp file is abandoned when the process named in it is gone (a kill -9, then an
        # immediate restart), or, should that pid have been reused, when it has not been
        # written to for a while (an active writer keeps its mtime fresh).
        cutoff = time.time() - older_than
        for temp in self.root.glob(_TEMP_PREFIX + "*"):
            with contextlib.suppress(FileNotFoundError):
                if not _writer_alive(temp.name) or temp.stat().st_mtime <= cutoff:
                    temp.unlink()

    def _scan(self) -> None:
        for sub in self.root.iterdir():
            if not (sub.is_dir() and len(sub.name) == 2):
                continue
            for path in sub.iterdir():
                sha = sub.name + path.name
                if _SHA256.fullmatch(sha):
                    st = path.stat()
                    self._files[sha] = [st.st_size, max(st.st_atime, st.st_mtime)]
                    self._total += st.st_size

    @contextlib.contextmanager
    def writer(self, pin: bool = False) -> Iterator[BlobWriter]:
        """`with store.writer() as w: w.write(...)`; afterwards w.sha256 / w.path are set.

        On an exception the temporary file is deleted and nothing becomes visible.
        Identical content already stored is deduplicated (the existing file is kept).
        """
        temp = self.root / f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        committed = False
        w: BlobWriter | None = None
        in_writing = True  # its bytes count in _writing until the commit moves them
        try:
            with os.fdopen(fd, "wb") as file:
                w = BlobWriter(file, temp, self._wrote)
                yield w
                file.flush()
                os.fsync(file.fileno())
            sha = w._hash.hexdigest()
            final = self._final_path(sha)
            final.parent.mkdir(exist_ok=True)
            os.replace(temp, final)  # atomic: same directory tree, same filesystem
            committed = True
            _fsync_dir(final.parent)
            w.sha256, w.path = sha, final
            now = time.time()
            with self._lock:
                self._writing -= w.claimed  # in the same step: counted once, never twice
                in_writing = False
                if sha not in self._files:
                    self._total += w.size
                self._files[sha] = [w.size, now]
                if pin:  # in the same step: no moment in which another thread may take it
                    self._pinned[sha] = self._pinned.get(sha, 0) + 1
        finally:
            if not committed:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            if w is not None and in_writing:  # failed: its bytes leave "writing" too
                with self._lock:
                    self._writing -= w.claimed

    def put_bytes(self, data: bytes) -> str:
        """Convenience: store bytes, return their sha256."""
        with self.writer() as w:
            w.write(data)
        assert w.sha256 is not None
        return w.sha256

    def path(self, sha256: str) -> Path | None:
        """The blob's file, or None if absent. Does not count as an access: see touch()."""
        final = self._final_path(sha256)
        return final if final.is_file() else None

    def touch(self, sha256: str) -> None:
        """Record a read for LRU ordering (persisted as the file's atime; mtime kept)."""
        now = time.time()
        with contextlib.suppress(FileNotFoundError):
            path = self._final_path(sha256)
            os.utime(path, (now, path.stat().st_mtime))
        with self._lock:
            if sha256 in self._files:
                self._files[sha256][1] = now

    def pin(self, sha256: str) -> None:
        """Keep `sha256` from eviction until unpin(): a download not yet published."""
        with self._lock:
            self._pinned[sha256] = self._pinned.get(sha256, 0) + 1

    def pinned(self, sha256: str) -> bool:
        with self._lock:
            return sha256 in self._pinned

    def unpin(self, shas: Collection[str]) -> None:
        with self._lock:
            for sha in shas:
                left = self._pinned.get(sha, 0) - 1
                if left > 0:
                    self._pinned[sha] = left
                else:
                    self._pinned.pop(sha, None)

    def delete(self, sha256: str) -> bool:
        final = self._final_path(sha256)
        try:
            final.unlink()
            existed = True
        except FileNotFoundError:
            existed = False
        with self._lock:
            record = self._files.pop(sha256, None)
            if record is not None:
                self._total -= int(record[0])
        return existed

    def evict_lru(self, needed_bytes: int = 0, keep: Collection[str] = ()) -> list[str]:
        """Delete least recently used blobs until `needed_bytes` more fit under max_bytes,
        beside the downloads in progress (`writing_bytes`).

        Returns the deleted hashes, oldest first, so the caller can drop entries that
        referenced them. Blobs in `keep` (e.g. the entry being published) are never evicted.
        Publishes evict from several threads: evictions take turns, and each step checks
        the live total, so two of them never both free the same excess (which evicted the
        newest entries too).
        """
        with self._evicting:
            with self._lock:
                if self._total + self._writing + needed_bytes <= self.max_bytes:
                    return []
                order = sorted(
                    (sha for sha in self._files if sha not in keep and sha not in self._pinned),
                    key=lambda s: self._files[s][1],
                )
            evicted: list[str] = []
            for sha in order:
                with self._lock:
                    if self._total + self._writing + needed_bytes <= self.max_bytes:
                        break
                    if sha not in self._files:  # deleted meanwhile (an entry's DELETE)
                        continue
                self.delete(sha)
                evicted.append(sha)
            return evicted


def _writer_alive(name: str) -> bool:
    """Whether the process that named a temp file ".tmp-<pid>-<hex>" still runs."""
    pid_text = name[len(_TEMP_PREFIX) :].split("-", 1)[0]
    if not pid_text.isdigit():
        return True  # not ours to judge: the age rule decides
    pid = int(pid_text)
    if pid == os.getpid():
        # At start-up nothing of this process writes yet: a temp named after its pid is a
        # previous incarnation's (a container's entrypoint is pid 1 every time).
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not supported on every platform/filesystem.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
