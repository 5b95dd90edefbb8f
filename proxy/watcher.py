"""Follows every job created through the proxy until it ends, whether or not the client
polls, then downloads the finished video and publishes it to the cache.

Each job is one asyncio task. Job records live on disk, so after a restart the pending
ones are picked up again. Credentials are kept in memory only (raw keys are never
stored): after a restart a job resumes polling as soon as a request with the credential
that created it arrives, or right away when the upstream needs no credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from multidict import CIMultiDict
from yarl import URL

from cache.stores import BlobWriter, JobRecord
from proxy.errors import ProxyError
from proxy.upstream import quote_id, read_bounded

if TYPE_CHECKING:
    from cache.service import CacheService
    from proxy.state import AppState

MAX_BACKOFF = 60.0
# Tries for a thumbnail or spritesheet the upstream refused for now (429, 5xx, a timeout).
VARIANT_ATTEMPTS = 4
# A job still not finished after a day (or never reachable again) stops being watched.
GIVE_UP_AFTER = 24 * 3600.0
MAX_POLL_AFTER = 3600.0
# How long an upstream keeps a finished video's content when it does not say (OpenAI: 1 h).
ASSETS_KEPT = 3600.0
CONTENT_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
_TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# Room made at a time for a download without a Content-Length.
ROOM_AHEAD = 16 * 1024 * 1024
TOO_LARGE = "larger than cache_max_bytes"
NO_ROOM = "cache_max_bytes is held by other downloads in progress"


def backoff(interval: float, failures: int) -> float:
    """Seconds before the next poll after `failures` in a row: doubling, capped. The
    exponent is capped too: 2.0**1024 overflows, and a day-long outage is over a thousand
    failures."""
    return min(MAX_BACKOFF, interval * 2 ** min(failures, 32))


@dataclass
class Fetched:
    """One variant in the blob store, and how the upstream described it."""

    sha: str
    content_type: str
    size: int
    disposition: str | None  # the upstream's Content-Disposition, as sent (LiteLLM's)


@dataclass
class Downloaded:
    """A job's variants in the blob store, by variant name."""

    blobs: dict[str, str] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    dispositions: dict[str, str] = field(default_factory=dict)
    size: int = 0


class DownloadFailed(Exception):
    """A download that did not end in a whole file. `retryable`: the upstream may answer
    differently soon (a 429, a 5xx, a short body), unlike a 404 for a variant it lacks;
    `retry_after`: the seconds it asked for (Retry-After, retry-after-ms)."""

    def __init__(
        self, message: str, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name, "")
        if value.replace(".", "", 1).isdigit():
            return float(value) * scale
    return None


def _poll_after(value: str | None) -> float | None:
    """Seconds from an `openai-poll-after-ms` header: whole milliseconds, at least 10 ms and
    at most an hour (watch_interval's own ceiling); None for anything else (the watcher's
    interval then applies). ASCII digits only: str.isdigit() also takes "²", which int()
    refuses, and thousands of digits overflow a float."""
    if value is None or not (0 < len(value) <= 10 and value.isascii() and value.isdigit()):
        return None
    return min(MAX_POLL_AFTER, max(0.01, int(value) / 1000.0))


def _retry_delay(exc: Exception, attempt: int, interval: float) -> float:
    """How long to wait before download try `attempt` + 1: the watcher's backoff, or longer
    when the upstream said so (Retry-After), within MAX_BACKOFF."""
    delay = backoff(interval, attempt)
    if isinstance(exc, DownloadFailed) and exc.retry_after is not None:
        delay = max(delay, min(MAX_BACKOFF, exc.retry_after))
    return delay


def _assets_expire(video: dict[str, Any]) -> float:
    """Until when the upstream keeps a finished video's content: its `expires_at`, else
    an hour (OpenAI's), never more than a day."""
    now = time.time()
    expires = video.get("expires_at")
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > now:
        return min(float(expires), now + GIVE_UP_AFTER)
    return now + ASSETS_KEPT


class TooLarge(Exception):
    """The video cannot be kept within cache_max_bytes: it would evict everything else and
    still not fit, or (`NO_ROOM`) the rest of the limit is held by other downloads in
    progress. The blobs already written are in `blobs`."""

    def __init__(self, size: int, blobs: list[str], reason: str = TOO_LARGE) -> None:
        super().__init__(f"{size} bytes: {reason}")
        self.size, self.blobs, self.reason = size, blobs, reason


# Media types that are never a video or an image: what a gateway's sign-in page or error
# envelope comes as, with a 200.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml")


def _check_media_type(variant: str, content_type: str) -> None:
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml")):
        raise DownloadFailed(f"{variant}: the upstream sent {kind}, not media", retryable=False)


def _check_media_start(variant: str, chunk: bytes) -> None:
    """A body that opens as markup or JSON is a page or an error, whatever its type says: no
    container the upstreams send (MP4, WebM, WebP, JPEG, PNG) starts with "<", "{" or "["."""
    if chunk.lstrip()[:1] in (b"<", b"{", b"["):
        raise DownloadFailed(
            f"{variant}: the upstream sent text (starting {chunk.lstrip()[:16]!r}), not media",
            retryable=False,
        )


async def _write_blob(
    cache: CacheService, resp: aiohttp.ClientResponse, expected: int | None, variant: str
) -> BlobWriter:
    """Stream a response into the blob store with the file I/O (writes, the final fsync
    and rename) in a worker thread, so a 200 MB download never stalls the event loop.

    The writer publishes under the content hash only when its block ends cleanly; a cut
    connection or a short body leaves nothing visible (the temp file is removed), and so
    does a body that grows past the store's limit (without a Content-Length its size is
    known only as it arrives): committed, it would make room by evicting everything.

    The bytes being written count against cache_max_bytes as they arrive: least recently
    used entries make room for them, so several videos finishing at once stay within the
    limit on disk. One that finds the rest of the limit held by other downloads (nothing
    left to evict) is not cached."""
    blobs = cache.blobs
    if expected == 0:
        raise DownloadFailed(f"{variant}: the upstream sent an empty body", retryable=False)
    if expected is not None:  # room for the whole body at once, not chunk by chunk
        await asyncio.to_thread(cache.make_room, expected)
    manager = blobs.writer(pin=True)  # the caller unpins (published or discarded)
    writer = await asyncio.to_thread(manager.__enter__)
    try:
        async for chunk in resp.content.iter_chunked(1024 * 1024):
            if not writer.size:
                _check_media_start(variant, chunk)
            size = writer.size + len(chunk)
            if size > blobs.max_bytes:
                raise TooLarge(size, [])
            if not blobs.claim(writer, len(chunk)):
                # Evicting sorts the store: make room for the rest of the body (or the next
                # stretch of one of unknown length), not for each chunk.
                ahead = expected - writer.size if expected is not None else ROOM_AHEAD
                await asyncio.to_thread(cache.make_room, max(len(chunk), ahead))
                if not blobs.claim(writer, len(chunk)):
                    raise TooLarge(size, [], NO_ROOM)
            await asyncio.to_thread(writer.write, chunk)
        if expected is not None and writer.size != expected:
            raise DownloadFailed(f"{variant}: short body {writer.size} of {expected}")
        if not writer.size:
            raise DownloadFailed(f"{variant}: the upstream sent an empty body", retryable=False)
    except BaseException as exc:
        await asyncio.to_thread(manager.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await asyncio.to_thread(manager.__exit__, None, None, None)
    return writer


class Watcher:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._status: dict[str, str] = {}
        # Jobs waiting for their creator's credential (after a restart), by owner.
        self._credential_waits: dict[str, asyncio.Event] = {}
        # Set to cut a job's wait before its next poll short (its creator saw it finish).
        self._wakes: dict[str, asyncio.Event] = {}
        # Jobs whose video is done upstream and not yet published (or given up): set when
        # their watch ends, so an identical create can wait for the cached copy.
        self._finishing: dict[str, asyncio.Event] = {}
        self._closing = False

    @property
    def active(self) -> int:
        return len(self._tasks)

    def watch(self, job_id: str, finished: bool = False) -> None:
        """Follow `job_id`; `finished`: the upstream answered its create with the finished
        video (identical creates may wait for the download, see wait_finished)."""
        if self._closing or job_id in self._tasks:
            return
        if finished:
            self._finishing.setdefault(job_id, asyncio.Event())
        task = asyncio.get_running_loop().create_task(self._follow(job_id))
        self._tasks[job_id] = task
        self._status[job_id] = "queued"
        self.state.observe_watched()  # from the start, not at its first poll
        task.add_done_callback(lambda _t, j=job_id: self._forget(j))

    def _forget(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        self._status.pop(job_id, None)
        self.state.observe_watched()

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in self._status.values():
            counts[status] = counts.get(status, 0) + 1
        return counts

    async def start(self) -> None:
        cache = self.state.cache
        assert cache is not None
        for job in await asyncio.to_thread(cache.jobs.pending):
            if job.kind == "miss":
                self.watch(job.id)

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_idle(self, timeout: float) -> bool:
        """For tests and shutdown: wait until no job is being followed."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self._tasks

    def upstream_completed(self, job_id: str) -> None:
        """The job's creator, polling through the proxy, saw it completed: fetch it now
        rather than at the next poll, and let identical creates wait for it."""
        task = self._tasks.get(job_id)
        if task is None or task.done():  # a finished watch would never set the event
            return
        self._finishing.setdefault(job_id, asyncio.Event())
        wake = self._wakes.get(job_id)
        if wake is not None:
            wake.set()

    def seen_by_creator(self, job_id: str, video: dict[str, Any]) -> None:
        """The job as its creator's poll through the proxy just saw it upstream."""
        status = video.get("status")
        if not isinstance(status, str):  # outside the contract: the watcher's poll decides
            return
        if status == "completed":
            self.upstream_completed(job_id)
        elif status in _TERMINAL:
            self.upstream_failed(job_id, video)

    def upstream_failed(self, job_id: str, video: dict[str, Any]) -> None:
        """The job's creator saw it end without a video: record that at once (joins read it
        failed, identical creates no longer join it) and end its watch."""
        cache = self.state.cache
        assert cache is not None
        job = cache.jobs.get(job_id)
        if job is None or not job.pending:
            return
        job.request_params = {**job.request_params, "last_video": video}
        self._finish(job, str(video["status"]))
        self.state.log.info("watch_failed", job_id=job_id, status=job.status, seen_by="creator")
        wake = self._wakes.get(job_id)
        if wake is not None:
            wake.set()  # its loop finds the job no longer pending and stops

    def done_upstream(self, job_id: str) -> bool:
        """Whether the watched job `job_id` has its video upstream (it may be downloading)."""
        return job_id in self._finishing

    async def wait_finished(self, job_id: str, timeout: float) -> bool:
        """For a job whose video is done upstream: wait until it is published or given up
        (at most `timeout`). False at once for any other job, or on timeout."""
        event = self._finishing.get(job_id)
        if event is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return event.is_set()

    async def _nap(self, job_id: str, delay: float) -> None:
        wake = self._wakes.setdefault(job_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)
        wake.clear()

    def credential_arrived(self, owner: str) -> None:
        """A request brought `owner`'s credential: its jobs waiting for it poll now."""
        event = self._credential_waits.pop(owner, None)
        if event is not None:
            event.set()

    async def _wait_for_credential(self, job: JobRecord, timeout: float) -> None:
        event = self._credential_waits.setdefault(job.owner or job.scope, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _headers(self, job: JobRecord) -> CIMultiDict[str]:
        # The creator's own credential, never another of the scope's (a shared scope
        # spans tenants).
        headers = CIMultiDict(self.state.credentials.get(job.owner or job.scope) or {})
        headers["x-request-id"] = f"watch_{job.id[-24:]}"
        headers["Accept-Encoding"] = "gzip"
        return headers

    async def _follow(self, job_id: str) -> None:
        cache = self.state.cache
        job = cache.jobs.get(job_id) if cache is not None else None
        # Its creator's credential stays in memory while the job needs it, however many
        # other keys arrive meanwhile.
        owner = (job.owner or job.scope) if job is not None else ""
        if owner:
            self.state.credentials.hold(owner)
        try:
            await self._follow_until_done(job_id)
        except Exception as exc:
            # A surprise (a bug, a failing data dir) must not leave the job pending: it
            # would stay joinable, and identical creates would wait on it forever.
            self.state.log.error("watch_crashed", job_id=job_id, error=repr(exc))
            cache = self.state.cache
            job = cache.jobs.get(job_id) if cache is not None else None
            if job is not None and job.pending:
                with contextlib.suppress(Exception):
                    self._finish(job, "failed")
        finally:
            if owner:
                self.state.credentials.release(owner)
            self._wakes.pop(job_id, None)
            finishing = self._finishing.pop(job_id, None)
            if finishing is not None:
                finishing.set()
            self._forget_joins(job_id)

    def _forget_joins(self, job_id: str) -> None:
        """A job that ended without a video (completing took the count) saved its joins
        nothing. A watch stopped by a shutdown keeps them for the next process."""
        cache = self.state.cache
        if cache is None:
            return
        with contextlib.suppress(Exception):  # a failing data dir: the count is only metrics
            ended = cache.jobs.get(job_id)
            if ended is None or not ended.pending:
                cache.jobs.take_joins(job_id)

    async def _follow_until_done(self, job_id: str) -> None:
        cache = self.state.cache
        assert cache is not None
        interval = self.state.settings.watch_interval
        # A job just created is not done yet; one finished at create is fetched at once.
        first = cache.jobs.get(job_id)
        delay = interval if first is not None and first.status == "queued" else 0.0
        failures = 0
        log = self.state.log.bind(job_id=job_id)
        while True:
            if delay:
                await self._nap(job_id, delay)
            job = cache.jobs.get(job_id)
            if job is None or not job.pending:
                return
            if time.time() - job.created_at > GIVE_UP_AFTER:
                self._finish(job, "expired")
                log.warning("watch_gave_up", age_s=round(time.time() - job.created_at))
                return
            try:
                video, poll_after = await self._poll(job)
            except ProxyError as exc:
                failures += 1
                delay = backoff(interval, failures) * (0.5 + random.random() / 2)
                retry_after = _retry_after(exc.headers)
                if retry_after is not None:
                    delay = max(delay, min(MAX_BACKOFF, retry_after))
                if exc.status in (401, 403, 404):
                    if exc.status == 404:
                        self._finish(job, "failed")
                        log.info("watch_gone", upstream_status=404)
                        return
                    # No credential for this job yet (after a restart): wait for one; its
                    # arrival (credential_arrived) ends the wait at once.
                    await self._wait_for_credential(job, max(delay, interval))
                    delay = 0.0
                log.debug("watch_retry", error=exc.message, delay=round(delay, 3))
                continue
            failures = 0
            if cache.get_job(job_id) is None:  # deleted by its client during the poll
                return
            # What joins of this job are told when they poll: the proxy answers them from
            # here instead of asking the upstream with the creator's credential.
            job.request_params = {**job.request_params, "last_video": video}
            if poll_after is not None:  # the pace joins are told to poll at
                job.request_params["poll_after_ms"] = round(poll_after * 1000)
            status = str(video.get("status") or "")
            if status == "completed":
                # Joins read it finished (progress 100) while it downloads; the record stays
                # pending, and so joinable, until the video is published.
                self._finishing.setdefault(job_id, asyncio.Event())
                cache.put_job(replace(job, status="in_progress"))
                # Each create that joined it got its video without a generation of its own.
                self.state.observe_saving(job, cache.jobs.take_joins(job_id))
                job.status = "completed"
                self._status[job_id] = "completed"  # done upstream, downloading
                self.state.observe_watched()
                await self._complete(job, video)
                return
            job.status = (
                status if status in _TERMINAL or status in ("queued", "in_progress") else job.status
            )
            if status in _TERMINAL:
                self._finish(job, status)
                log.info("watch_failed", status=status, error=video.get("error"))
                return
            cache.put_job(job)
            self._status[job_id] = job.status
            self.state.observe_watched()
            delay = poll_after if poll_after is not None else interval

    async def _poll(self, job: JobRecord) -> tuple[dict[str, Any], float | None]:
        upstream = self.state.upstream
        async with upstream.request(
            "GET",
            f"/v1/videos/{quote_id(job.upstream_id)}",
            headers=self._headers(job),
            decompress=True,
        ) as resp:
            body = await read_bounded(resp, self.state.settings.max_upstream_json_bytes)
            if resp.status >= 400:
                if resp.status >= 500 or resp.status == 429:  # trouble, not a job's state
                    self.state.record_upstream_error("5xx" if resp.status >= 500 else "4xx")
                retry = resp.headers.get("retry-after")
                raise ProxyError(
                    resp.status,
                    f"upstream answered {resp.status}",
                    code="watch",
                    headers={"retry-after": retry} if retry else None,
                )
            poll_after = _poll_after(resp.headers.get("openai-poll-after-ms"))
        try:
            video = orjson.loads(body)
        except orjson.JSONDecodeError:
            video = None
        if not isinstance(video, dict):
            self.state.record_upstream_error("malformed")
            raise ProxyError(502, "malformed JSON while watching", code="watch")
        return video, poll_after

    def _finish(self, job: JobRecord, status: str) -> None:
        cache = self.state.cache
        assert cache is not None
        job.status = status
        cache.put_job(job)
        if job.id in self._status:  # until its watch ends (_forget)
            self._status[job.id] = status
        self.state.observe_watched()

    def _cacheable(self, job: JobRecord, video: dict[str, Any]) -> bool:
        content_filter = video.get("content_filter")
        if isinstance(content_filter, dict) and content_filter.get("filtered_count"):
            return False
        return job.store and not video.get("error")

    async def _complete(self, job: JobRecord, video: dict[str, Any]) -> None:
        cache = self.state.cache
        assert cache is not None
        if not self._cacheable(job, video):
            self._finish(job, "completed")
            return
        pinned: list[str] = []  # downloaded, not yet published: eviction keeps off them
        try:
            await self._fetch_and_publish(job, video, pinned)
        except OSError as exc:
            # The disk (full, read-only, failing): the video cannot be kept. The job ends as
            # a completed, uncached one, so joins read it finished and identical creates
            # stop joining it.
            written = list(pinned)
            self._release(pinned)
            with contextlib.suppress(OSError):
                cache.discard_blobs(written)
            self._finish(job, "completed")
            self.state.log.error("cache_write_failed", job_id=job.id, error=repr(exc))
        finally:
            self._release(pinned)

    async def _fetch_and_publish(
        self, job: JobRecord, video: dict[str, Any], pinned: list[str]
    ) -> None:
        cache = self.state.cache
        assert cache is not None
        log = self.state.log.bind(job_id=job.id)
        attempts = 0
        deadline = _assets_expire(video)
        while True:
            try:
                got = await self._download(job, pinned)
                break
            except TooLarge as exc:
                self._release(pinned)
                cache.discard_blobs(exc.blobs)
                self._finish(job, "completed")
                log.warning("cache_skipped", reason=exc.reason, bytes=exc.size)
                return
            except (DownloadFailed, ProxyError) as exc:
                attempts += 1
                # An upstream refusing for now (429, 5xx, a cut body, a timeout) is retried
                # for as long as it keeps the video: giving up after five tries (a minute)
                # meant paying for the next identical request. Anything else: five tries.
                passing = not isinstance(exc, DownloadFailed) or exc.retryable
                now = time.time()
                if (attempts >= 5 and not passing) or (passing and now >= deadline):
                    log.warning("download_failed", error=str(exc), attempts=attempts)
                    self._finish(job, "completed")
                    return
                delay = _retry_delay(exc, attempts, self.state.settings.watch_interval)
                await asyncio.sleep(max(0.0, min(delay, deadline - now)) if passing else delay)
        if cache.get_job(job.id) is None:  # deleted by its client while downloading
            self._release(pinned)
            cache.discard_blobs(list(got.blobs.values()))
            log.info("cache_discarded", reason="deleted")
            return
        try:
            await cache.embed_job(job)
        except Exception as exc:  # an exact-only entry beats none
            log.warning("embed_failed", error=repr(exc))
        remix_source = job.request_params.get("remix_source")
        entry = await asyncio.to_thread(
            cache.publish,
            job,
            video,
            got.blobs,
            got.content_types,
            got.size,
            [remix_source] if remix_source else None,
            got.dispositions,
        )
        if cache.get_job(job.id) is None:
            # Deleted while publishing (the delete ran on the loop meanwhile and found no
            # entry to purge yet): the entry must not outlive the delete.
            cache.purge_upstream(job.upstream_id, job.scope)
            log.info("cache_discarded", reason="deleted")
            return
        job.entry_id = entry.id
        job.status = "completed"
        cache.put_job(job)
        self.state.observe_watched()
        log.info("cache_published", entry_id=entry.id, bytes=got.size, variants=sorted(got.blobs))

    def _release(self, pinned: list[str]) -> None:
        """Unpin this job's downloads (they are about to be discarded, or published)."""
        cache = self.state.cache
        assert cache is not None
        cache.blobs.unpin(pinned)
        pinned.clear()

    async def _download(self, job: JobRecord, pinned: list[str]) -> Downloaded:
        cache = self.state.cache
        assert cache is not None
        got = Downloaded()
        for variant in self.state.settings.cache_variants:
            try:
                fetched = await self._download_retrying(job, variant)
            except TooLarge as exc:
                raise TooLarge(got.size + exc.size, list(got.blobs.values()), exc.reason) from None
            except DownloadFailed:
                if variant == "video":
                    raise
                continue  # thumbnails are a nicety; the video is what must be cached
            # Pinned as it was committed: another job's publish (or a purge) must not take it
            # while this one is still downloading.
            pinned.append(fetched.sha)
            got.blobs[variant] = fetched.sha
            got.content_types[variant] = fetched.content_type
            if fetched.disposition is not None:
                got.dispositions[variant] = fetched.disposition
            got.size += fetched.size
            if got.size > cache.blobs.max_bytes:
                # At once: pinned, it would make room by evicting the rest.
                raise TooLarge(got.size, list(got.blobs.values()))
        return got

    async def _download_retrying(self, job: JobRecord, variant: str) -> Fetched:
        """A variant, retried a few times when the upstream may answer better soon: the
        upstream's copy expires in about an hour, so a thumbnail lost to one 429 would be a
        404 for the entry's whole life. (The video is retried with the whole download.)"""
        attempts = 1 if variant == "video" else VARIANT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return await self._download_variant(job, variant)
            except (DownloadFailed, ProxyError) as exc:
                retryable = exc.retryable if isinstance(exc, DownloadFailed) else True
                if attempt == attempts or not retryable:
                    raise
                await asyncio.sleep(_retry_delay(exc, attempt, self.state.settings.watch_interval))
        raise AssertionError("unreachable")

    async def _download_variant(self, job: JobRecord, variant: str) -> Fetched:
        upstream = self.state.upstream
        path = f"/v1/videos/{quote_id(job.upstream_id)}/content?variant={variant}"
        headers = self._headers(job)
        headers.popall("Accept-Encoding", None)
        target: URL | None = None
        for hop in range(MAX_REDIRECTS + 1):
            async with upstream.request(
                "GET", path, headers=headers, content=True, decompress=True, url=target
            ) as resp:
                location = resp.headers.get("Location")
                if resp.status in _REDIRECTS and location and hop < MAX_REDIRECTS:
                    # Content kept elsewhere (storage, a CDN): followed, as clients do. Off
                    # the upstream's origin the credential stays behind: a signed URL
                    # needs none, and no other host gets a tenant's key.
                    target = resp.url.join(URL(location))
                    if target.scheme not in ("http", "https"):
                        raise DownloadFailed(f"{variant}: redirected to {target.scheme}:")
                    if target.origin() != URL(upstream.origin).origin():
                        headers = CIMultiDict({"x-request-id": headers["x-request-id"]})
                    continue
                return await self._save_variant(resp, variant)
        raise AssertionError("unreachable")

    async def _save_variant(self, resp: aiohttp.ClientResponse, variant: str) -> Fetched:
        """A variant's answer written to the blob store: a 200 that is media, else why not."""
        cache = self.state.cache
        assert cache is not None
        if resp.status != 200:
            self.state.record_upstream_error("4xx" if resp.status < 500 else "5xx")
            raise DownloadFailed(
                f"{variant}: upstream answered {resp.status}",
                retryable=resp.status == 429 or resp.status >= 500,
                retry_after=_retry_after(resp.headers),
            )
        # The length on the wire; a body sent encoded (which aiohttp decodes) is checked
        # by its transfer alone.
        expected = None if resp.headers.get("Content-Encoding") else resp.content_length
        if expected is not None and expected > cache.blobs.max_bytes:
            raise TooLarge(expected, [])  # not downloaded at all
        ctype = resp.headers.get("Content-Type", CONTENT_TYPES.get(variant, ""))
        disposition = resp.headers.get("Content-Disposition")
        try:
            _check_media_type(variant, ctype)
            writer = await _write_blob(cache, resp, expected, variant)
        except DownloadFailed:
            self.state.record_upstream_error("malformed")
            raise
        assert writer.sha256 is not None
        return Fetched(writer.sha256, ctype.split(";")[0].strip(), writer.size, disposition)
