"""The cache as one object: stores, vector index, embedder and policy put together.

It still knows nothing about HTTP: the proxy turns requests into a RequestFingerprint and
CacheControls, asks :meth:`CacheService.lookup`, and tells it about jobs and finished
videos. Every decision (exact, in flight, semantic, freshness, scope) is made here.

Thread/process safety: one CacheService per process and data dir. The diskcache stores
are process-safe, but the vector index and blob accounting live in this process's memory,
so two proxy processes must not share a data dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from cache.controls import CacheControls
from cache.embedder import Embedder
from cache.ids import new_entry_id, new_video_id
from cache.index import VectorIndex
from cache.keys import RequestFingerprint, bucket_key, canonical_params, exact_key
from cache.ownership import claim
from cache.policy import decide_semantic
from cache.scope import credential_scope, load_or_create_secret, resolve_scope
from cache.stores import (
    DEFAULT_JOB_RETENTION,
    BlobStore,
    CacheEntry,
    EntryStore,
    JobRecord,
    JobStore,
)

SWEEP_INTERVAL = 600.0
LookupKind = Literal["hit", "semantic_hit", "miss", "bypass", "joined"]
# Parameters that are fingerprint fields of their own, not "other parameters".
_OWN_FIELDS = frozenset({"prompt", "model", "seconds", "size", "input_reference"})


@dataclass
class CacheConfig:
    threshold: float
    ttl: int
    max_bytes: int
    job_retention: float = DEFAULT_JOB_RETENTION
    scope_mode: str = "credential"
    shared_name: str = "default"
    semantic: bool = True


@dataclass
class Lookup:
    """The outcome of a lookup, with what cache_debug and the metrics report."""

    kind: LookupKind
    fingerprint: RequestFingerprint
    exact_key: str
    bucket_key: str
    entry: CacheEntry | None = None
    job: JobRecord | None = None
    similarity: float | None = None
    threshold: float | None = None
    embedding: np.ndarray | None = None
    tokens: int | None = None
    embed_seconds: float = 0.0
    lookup_seconds: float = 0.0
    reason: str | None = None
    # This request is the one that will create the job identical requests wait for
    # (CacheService.settle must be called with the outcome).
    leading: bool = False


@dataclass
class CacheStats:
    entries: int
    bytes: int
    max_bytes: int
    pending_jobs: int
    index_size: int
    evictions: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _keyed(fields: dict[str, Any], name: str, default: str) -> str:
    """A field as keyed: the default only when omitted, never for a present "" or 0. The
    proxy refuses anything but a string before this (proxy.bodies.require_keyed_strings);
    keying 4 as "4" would answer a request the upstream refuses from the cache."""
    if name not in fields:
        return default
    value = fields[name]
    if not isinstance(value, str):
        raise TypeError(f"the create field {name!r} must be a string to be keyed")
    return value


def fingerprint(
    *,
    scope: str,
    namespace: str,
    fields: dict[str, Any],
    input_reference: str,
    defaults: tuple[str, str, str] = ("sora-2", "4", "720x1280"),
) -> RequestFingerprint:
    """A create (or remix) request as a fingerprint; OpenAI's defaults applied so that a
    request spelling them out and one omitting them are the same request."""
    model, seconds, size = defaults
    others = {k: v for k, v in fields.items() if k not in _OWN_FIELDS}
    return RequestFingerprint(
        scope=scope,
        namespace=namespace,
        model=_keyed(fields, "model", model),
        seconds=_keyed(fields, "seconds", seconds),
        size=_keyed(fields, "size", size),
        input_reference=input_reference,
        params=canonical_params(others),
        prompt=str(fields.get("prompt", "")),
    )


def digest_reference(value: Any) -> str:
    """The JSON form of input_reference ({"image_url"} or {"file_id"}) as a digest."""
    if value is None or value == "":
        return ""
    return "json:" + hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


class CacheService:
    def __init__(
        self,
        data_dir: Path,
        config: CacheConfig,
        embedder: Embedder | None,
        on_evict: Callable[[str, int], None] | None = None,
    ) -> None:
        self.config = config
        self.embedder = embedder
        root = Path(data_dir) / "cache"
        root.mkdir(parents=True, exist_ok=True)
        # Before anything is read: the stores count bytes and tidy temporary files at start,
        # which only the directory's one owner may do.
        self._lock = claim(Path(data_dir))
        try:
            self.secret = load_or_create_secret(Path(data_dir))
            self.entries = EntryStore(root)
            self.jobs = JobStore(root, config.job_retention)
            self.blobs = BlobStore(root, config.max_bytes)  # files under root/blobs/
        except BaseException:
            self._lock.release()
            raise
        self.index = VectorIndex()
        self._on_evict = on_evict or (lambda reason, n: None)
        self.evictions = 0
        self._last_sweep = float("-inf")
        for entry in self.entries.iter_entries():
            if entry.embedding is not None:
                self.index.add(entry.bucket_key, entry.id, entry.embedding)
        # A limit lowered since the last run holds from start-up, not from the next publish
        # (the expiry sweep, O(entries), keeps its own schedule: with that publish).
        self._evict_to_limit(set())
        # exact key -> the outcome of the miss now on its way upstream. A job record exists
        # only once the upstream has answered the create; until then identical requests
        # wait here instead of creating a second upstream job.
        self._leading: dict[str, asyncio.Future[JobRecord | None]] = {}

    def close(self) -> None:
        self.entries.close()
        self.jobs.close()
        self._lock.release()

    # -- scope -----------------------------------------------------------------------------

    def scope_for(self, credential: str | None) -> str:
        return resolve_scope(
            self.secret, credential, self.config.scope_mode, self.config.shared_name
        )

    def owner_for(self, credential: str | None) -> str:
        """Who a credential is, whatever the scope mode: jobs remember it so the watcher
        only ever polls a job with the credential that created it."""
        return credential_scope(self.secret, credential)

    # -- lookup ----------------------------------------------------------------------------

    def _fresh(self, entry: CacheEntry | None, controls: CacheControls, now: float) -> bool:
        if entry is None or entry.is_expired(now):
            return False
        if controls.max_age is not None and entry.age(now) > controls.max_age:
            return False
        return all(self.blobs.path(sha) is not None for sha in entry.blobs.values())

    async def lookup(
        self, fp: RequestFingerprint, controls: CacheControls, *, lead: bool = False
    ) -> Lookup:
        """Exact hit, in-flight job to join, semantic hit, or miss (or bypass).

        With `lead`, an exact-stage miss makes this request the leader of identical ones:
        until `settle` is called with its job (remember_miss does) or without one, identical
        leading lookups wait and then join it. A caller passing `lead` must settle in every
        outcome (the proxy does so in a finally), or those waiters wait forever.
        """
        t0 = time.perf_counter()
        now = time.time()
        result = Lookup("miss", fp, exact_key(fp), bucket_key(fp))
        threshold = controls.threshold if controls.threshold is not None else self.config.threshold
        result.threshold = threshold
        if controls.no_cache:
            result.kind = "bypass"
            result.lookup_seconds = time.perf_counter() - t0
            return result
        while True:
            # Semantic-only lookups skip the exact answer (the search finds a finished twin
            # anyway, at similarity 1), but not the join: an identical job in flight is the
            # same paid video, whichever lookup asked.
            if controls.cache_type != "semantic":
                entry = self.entries.get_by_exact_key(result.exact_key)
                # time.time(): a pass after waiting for a leader must not use a stale clock
                fresh = entry is not None and self._fresh(entry, controls, time.time())
                if entry is not None and fresh and entry.scope == fp.scope:
                    result.kind, result.entry, result.similarity = "hit", entry, 1.0
                    result.lookup_seconds = time.perf_counter() - t0
                    return result
            if controls.no_store:  # its video is shared with no one: it joins no one
                break
            inflight = self.jobs.find_inflight(fp.scope, result.exact_key)
            leader = self._leading.get(result.exact_key) if lead else None
            if inflight is None and leader is not None:
                # shield: a client that hangs up must not cancel the leader's outcome.
                # Its job is joined even if already completed (a synchronous upstream).
                inflight = await asyncio.shield(leader)
                if inflight is None:
                    # No job came of it (an upstream error, a hit after all): look again.
                    # The first waiter back leads, the rest wait on it: going side by side
                    # instead sent them all upstream at once, each a paid job when the
                    # leader's error was a passing one (a 429 among them).
                    continue
            if inflight is not None:
                result.kind, result.job = "joined", inflight
                result.lookup_seconds = time.perf_counter() - t0
                return result
            if lead:
                future = asyncio.get_running_loop().create_future()
                self._leading[result.exact_key] = future
                result.leading = True
            break
        try:
            await self._semantic(result, fp, controls, threshold, now)
        except BaseException:
            self.settle(result)
            raise
        if result.kind != "miss":
            self.settle(result)
        result.lookup_seconds = time.perf_counter() - t0
        return result

    def settle(self, lookup: Lookup, job: JobRecord | None = None) -> None:
        """End a leading lookup: `job` is the miss identical requests may now join, None
        when there is none (a hit after all, an upstream error, a client gone)."""
        if not lookup.leading:
            return
        lookup.leading = False
        waiting = self._leading.pop(lookup.exact_key, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(job)

    async def _semantic(
        self,
        result: Lookup,
        fp: RequestFingerprint,
        controls: CacheControls,
        threshold: float,
        now: float,
    ) -> None:
        if self.embedder is not None and self.config.semantic and controls.cache_type != "direct":
            te = time.perf_counter()
            embedding = await self.embedder.embed(fp.prompt)
            result.embed_seconds = time.perf_counter() - te
            result.embedding, result.tokens = embedding.vector, embedding.tokens
            if self.index.bucket_size(result.bucket_key):
                candidates = self.index.search(result.bucket_key, embedding.vector, k=5)
                # In a thread: the guard is pure Python and a long prompt costs milliseconds
                # per candidate, which must not stall every other request on the loop.
                decision = await asyncio.to_thread(
                    decide_semantic,
                    candidates,
                    fp.prompt,
                    self._live_prompt(fp.scope, controls, now),
                    threshold,
                )
                result.similarity = decision.similarity
                result.reason = decision.reason
                if decision.hit and decision.entry_id is not None:
                    result.kind = "semantic_hit"
                    result.entry = self.entries.get(decision.entry_id)

    def _live_prompt(
        self, scope: str, controls: CacheControls, now: float
    ) -> Callable[[str], str | None]:
        # Candidates that are stale or of another scope simply have no prompt to compare.
        def prompt_of(entry_id: str) -> str | None:
            entry = self.entries.get(entry_id)
            if entry is None or entry.scope != scope or not self._fresh(entry, controls, now):
                return None
            return entry.prompt

        return prompt_of

    # -- jobs ------------------------------------------------------------------------------

    def remember_miss(
        self,
        lookup: Lookup,
        upstream_video: dict[str, Any],
        controls: CacheControls,
        *,
        client_id: str | None = None,
        owner: str = "",
    ) -> JobRecord | None:
        """Record a forwarded create's upstream job (to watch, join and cache it), or None
        when its id already stands for another job: an upstream whose ids are unique only
        per key (a gateway over several accounts) can hand two tenants the same one.
        Replacing the record would give the first job's joins and watcher the second's
        owner, credential and video; the second job is relayed, never cached instead."""
        fp = lookup.fingerprint
        job_id = client_id or str(upstream_video["id"])
        known = self.jobs.get(job_id)
        if known is not None and not (
            known.kind == "miss" and known.owner == owner and known.exact_key == lookup.exact_key
        ):
            return None
        status = str(upstream_video.get("status") or "queued")
        if status == "completed" and not controls.no_store:
            # Finished at create (a synchronous upstream): the watcher still has to fetch
            # and cache it, and that is pending work, after a restart too.
            status = "in_progress"
        job = JobRecord(
            id=job_id,
            scope=fp.scope,
            upstream_id=str(upstream_video["id"]),
            kind="miss",
            exact_key=lookup.exact_key,
            bucket_key=lookup.bucket_key,
            prompt=fp.prompt,
            model=fp.model,
            seconds=fp.seconds,
            size=fp.size,
            namespace=fp.namespace,
            status=status,
            store=not controls.no_store,
            ttl=controls.ttl,
            embedding=None if lookup.embedding is None else lookup.embedding.tobytes(),
            owner=owner,
        )
        self.put_job(job)
        self.settle(lookup, job)
        return job

    def mint_hit(
        self, lookup: Lookup, prompt: str, kind: Literal["hit", "joined"], owner: str = ""
    ) -> JobRecord:
        """A proxy-minted id bound to the requester's scope, answering from an entry (hit)
        or following an in-flight job (joined); `owner` (the requester's credential) is
        whose list of videos shows it."""
        fp = lookup.fingerprint
        source = lookup.entry
        job = JobRecord(
            id=new_video_id(),
            scope=fp.scope,
            upstream_id=(
                source.upstream_video_id
                if source
                else (lookup.job.upstream_id if lookup.job else "")
            ),
            kind=kind,
            exact_key=lookup.exact_key,
            bucket_key=lookup.bucket_key,
            prompt=prompt,
            model=fp.model,
            seconds=fp.seconds,
            size=fp.size,
            namespace=fp.namespace,
            status="completed" if source else "queued",
            entry_id=source.id if source else None,
            owner=owner,
        )
        self.put_job(job)
        return job

    def put_job(self, job: JobRecord) -> None:
        """Write a job record. One with a cache entry is kept at least as long as the entry:
        a DELETE of its upstream video must still find who created it."""
        entry = self.entries.get(job.entry_id) if job.entry_id else None
        self.jobs.put(job, keep_until=entry.expires_at if entry is not None else None)

    def get_job(self, job_id: str) -> JobRecord | None:
        return self.jobs.get(job_id)

    def delete_job(self, job_id: str) -> None:
        self.jobs.delete(job_id)

    async def embed_job(self, job: JobRecord) -> None:
        """Give `job` its prompt's vector if its lookup did not compute one (a no-cache
        refresh, an `x-cache-type: direct` request): how a request looked up must not decide
        whether its video can later be found by meaning. Call before publish."""
        if job.embedding is None and self.embedder is not None and self.config.semantic:
            job.embedding = (await self.embedder.embed(job.prompt)).vector.tobytes()

    def publish(
        self,
        job: JobRecord,
        video: dict[str, Any],
        blobs: dict[str, str],
        content_types: dict[str, str],
        size_bytes: int,
        source_video_ids: list[str] | None = None,
        dispositions: dict[str, str] | None = None,
    ) -> CacheEntry:
        """Publish a finished, fully downloaded video. Only now can it be a hit."""
        now = time.time()
        ttl = job.ttl or self.config.ttl
        entry = CacheEntry(
            id=new_entry_id(),
            scope=job.scope,
            namespace=job.namespace,
            exact_key=job.exact_key,
            bucket_key=job.bucket_key,
            prompt=job.prompt,
            model=job.model,
            seconds=job.seconds,
            size=job.size,
            upstream_video_id=job.upstream_id,
            video=video,
            blobs=blobs,
            content_types=content_types,
            size_bytes=size_bytes,
            created_at=now,
            expires_at=now + ttl,
            embedding=job.embedding,
            source_video_ids=source_video_ids or [],
            dispositions=dispositions or {},
        )
        replaced = self.entries.put(entry)
        if replaced is not None:
            # A refresh (no-cache, a max-age miss) of the same request. The old video's files
            # stay: hits and joins handed out moments ago still serve them. Unused, they are
            # the least recently used and go first when space is needed, or in a purge.
            self.index.remove(replaced.id)
            if replaced.is_expired(now):
                # Past its TTL, no hit may serve it any more (each keeps its entry's expiry):
                # its files go now, not when space runs out.
                self.discard_blobs(list(replaced.blobs.values()))
        for source_id in source_video_ids or []:
            # A DELETE of a remix's source must find who created it while the remix lives.
            source = self.jobs.get(source_id)
            if source is not None and not source.pending:
                self.jobs.put(source, keep_until=entry.expires_at)
        if entry.embedding is not None:
            self.index.add(entry.bucket_key, entry.id, entry.embedding)
        self.evict(keep=set(blobs.values()))
        return entry

    def touch(self, blobs: dict[str, str]) -> None:
        """An entry was used (a hit, a download): all its blobs count as read, so eviction,
        which goes blob by blob, takes whole entries in least-recently-used order (a client
        reading only the video must not leave the thumbnail looking oldest)."""
        for sha in set(blobs.values()):
            self.blobs.touch(sha)

    # -- removal ---------------------------------------------------------------------------

    def discard_blobs(self, shas: list[str]) -> None:
        """Delete blobs that no entry uses: a job deleted during its download, a video too
        big for the cache, what a purge of everything leaves."""
        for sha in set(shas):
            # Identical bytes another download is about to publish stay.
            if not self.entries.entries_using_blob(sha) and not self.blobs.pinned(sha):
                self.blobs.delete(sha)

    def delete_entry(self, entry_id: str) -> CacheEntry | None:
        """Remove one entry on request (the admin API), counted as an eviction "deleted"."""
        entry = self._drop_entry(entry_id)
        if entry is not None:
            self.evictions += 1
            self._on_evict("deleted", 1)
        return entry

    def _drop_entry(self, entry_id: str) -> CacheEntry | None:
        entry = self.entries.delete(entry_id)
        if entry is None:
            return None
        self.index.remove(entry_id)
        for sha in set(entry.blobs.values()):
            if not self.entries.entries_using_blob(sha):
                self.blobs.delete(sha)
        return entry

    def purge(self, scope: str | None = None, namespace: str | None = None) -> int:
        ids = [
            e.id
            for e in self.entries.iter_entries()
            if (scope is None or e.scope == scope)
            and (namespace is None or e.namespace == namespace)
        ]
        purged = self._delete_entries(ids)
        if scope is not None:
            # And what refreshes in the scope replaced but kept for the hits handed out on
            # it (of every namespace: they are kept by scope): a purged hit reads as expired.
            self.discard_blobs(self.entries.take_retired(scope))
        else:
            # Everything, or a namespace across scopes: also the files no entry uses any more
            # (refreshed entries' old videos kept for earlier hits, which then read expired).
            self.discard_blobs(self.blobs.shas())
        return purged

    def purge_upstream(self, upstream_id: str, scope: str) -> int:
        """Remove the entries of `scope` made from an upstream video its client deleted.
        Only that scope's: the video was the deleter's, and an upstream whose ids are unique
        only per key may have given another tenant's video the same id."""
        ids = [
            entry_id
            for entry_id in self.entries.entries_from_upstream(upstream_id)
            if (entry := self.entries.get(entry_id)) is not None and entry.scope == scope
        ]
        purged = self._delete_entries(ids)
        # And what a refresh replaced but kept for the hits already handed out: a hit on
        # the deleted video must not keep serving it.
        self.discard_blobs(self.entries.take_retired_from(upstream_id, scope))
        return purged

    def _delete_entries(self, ids: list[str]) -> int:
        """Remove entries on request (a purge, a delete), counted as evictions "deleted"."""
        deleted = sum(1 for entry_id in ids if self._drop_entry(entry_id) is not None)
        if deleted:
            self.evictions += deleted  # as the metric counts them (reason "deleted")
            self._on_evict("deleted", deleted)
        return deleted

    def evict(self, keep: set[str] | None = None, *, sweep: bool = False) -> int:
        """LRU eviction down to max_bytes; entries that lose a blob go with it. Then, at
        most every SWEEP_INTERVAL (or with `sweep`), expired entries and job records."""
        dropped = self._evict_to_limit(keep or set())
        # Expired entries never answer (lookups check freshness); sweeping them is O(entries)
        # so it runs at most every SWEEP_INTERVAL, not on every publish.
        now = time.monotonic()
        if not sweep and now - self._last_sweep < SWEEP_INTERVAL:
            return dropped
        self._last_sweep = now
        self.jobs.expire()
        expired = self.entries.expired_ids()
        for entry_id in expired:
            self._drop_entry(entry_id)
        if expired:
            self.evictions += len(expired)
            self._on_evict("ttl", len(expired))
        # What refreshes kept for hits handed out earlier, now past those hits' expiry.
        self.discard_blobs(self.entries.take_lapsed_retired())
        return dropped + len(expired)

    def make_room(self, needed_bytes: int) -> None:
        """Evict least recently used entries until `needed_bytes` more fit beside the
        stored blobs and the downloads in progress, as far as eviction can: what is pinned
        (downloaded, not yet published) or being written stays (`BlobStore.claim` tells)."""
        self._evict_to_limit(set(), needed_bytes)

    def _evict_to_limit(self, keep: set[str], needed_bytes: int = 0) -> int:
        evicted = self.blobs.evict_lru(needed_bytes, keep=keep)
        dropped = 0
        for sha in evicted:
            for entry_id in self.entries.entries_using_blob(sha):
                if self._drop_entry(entry_id) is not None:
                    dropped += 1
        if dropped:
            self.evictions += dropped
            self._on_evict("size", dropped)
        return dropped

    def stats(self) -> CacheStats:
        return CacheStats(
            entries=self.entries.count(),
            bytes=self.blobs.total_bytes,
            max_bytes=self.blobs.max_bytes,
            # Upstream jobs still generating; a join's own record says nothing about that.
            pending_jobs=sum(1 for job in self.jobs.pending() if job.kind == "miss"),
            index_size=len(self.index),
            evictions=self.evictions,
        )


__all__ = [
    "CacheConfig",
    "CacheService",
    "Lookup",
    "digest_reference",
    "fingerprint",
    "new_video_id",
]
