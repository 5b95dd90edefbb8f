"""The HTTP side of the cache: turn requests into lookups and lookups into responses.

Decisions live in :mod:`cache.service`; this module only translates. Minted ids (hits and
joins) are answered here; upstream ids pass through the ordinary relay, except that their
content is served from disk once cached.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiohttp import web

from cache.controls import CacheControls, InvalidControl, parse_controls
from cache.scope import IDENTITY_QUALIFIERS, credential_identity
from cache.service import CacheService, Lookup, digest_reference, fingerprint
from cache.stores import CacheEntry, JobRecord
from proxy import videos
from proxy.bodies import RequestBody, read_body, require_keyed_strings, require_prompt
from proxy.cached_file import CachedFile, served_disposition
from proxy.capture import request_capture
from proxy.context import RequestContext
from proxy.errors import ProxyError
from proxy.relay import json_reply, renamed
from proxy.upstream import quote_id

X_CACHE = {
    "hit": "HIT",
    "semantic_hit": "SEMANTIC-HIT",
    "miss": "MISS",
    "bypass": "BYPASS",
    "joined": "JOINED",
}


def credential_of(ctx: RequestContext, qualifiers: tuple[str, ...] = ()) -> str | None:
    """The caller's credential identity (cache.scope.credential_identity), or None."""
    names = ctx.state.settings.cache_credential_headers
    return credential_identity(ctx.request.headers, names, qualifiers)


def _not_found(video_id: str) -> ProxyError:
    return ProxyError(404, f"No video found with id '{video_id}'.", code="not_found", param="id")


def controls_of(request: web.Request) -> CacheControls:
    try:
        return parse_controls(request.headers)
    except InvalidControl as exc:
        raise ProxyError(400, str(exc), code="invalid_header", param=exc.header) from None


@dataclass(frozen=True)
class Caller:
    scope: str  # whose entries the request may see
    owner: str  # whose credential it carries (the watcher polls its jobs with it)


def caller_of(ctx: RequestContext, cache: CacheService) -> Caller | None:
    """Scope and owner of the request; None when it carries no credential and anonymous
    caching is off: such callers are told apart by nothing the proxy can see (a gateway
    key in an unlisted header, mTLS, an IP allow-list), so they get no cache at all."""
    settings = ctx.state.settings
    credential = credential_of(ctx)
    if credential is None and not settings.cache_anonymous:
        ctx.log_fields["scope"] = None
        return None
    # The owner adds the organisation/project: a job is polled with exactly the headers
    # that created it, while the scope stays the key's (existing entries keep theirs).
    caller = Caller(
        cache.scope_for(credential), cache.owner_for(credential_of(ctx, IDENTITY_QUALIFIERS))
    )
    # Logged as a prefix of its HMAC: enough to correlate requests, never the key.
    ctx.log_fields["scope"] = caller.scope[:16]
    if credential is not None:
        names = (*settings.cache_credential_headers, *IDENTITY_QUALIFIERS)
        headers = {k: v for k in names if (v := ctx.request.headers.get(k)) is not None}
        ctx.state.credentials.remember(caller.owner, headers)
        waking = [caller.owner]
        if cache.config.scope_mode == "credential":
            # Jobs recorded before owners existed are found by scope, which in this mode
            # is one credential's (in shared mode such jobs wait for no one's).
            ctx.state.credentials.remember(caller.scope, headers)
            waking.append(caller.scope)
        if ctx.state.watcher is not None:
            for key in waking:
                ctx.state.watcher.credential_arrived(key)
    return caller


# RFC 9110 section 7.2: a host (a name, an IPv4 address or a bracketed IPv6 literal) and
# an optional port. Anything else in Host would be written into the URLs a hit hands out.
_HOST = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?)(?::\d{1,5})?$"
)


def public_base(ctx: RequestContext) -> str:
    """Base of the content URLs a hit hands out: `public_url`, else the request's Host when
    it is a well-formed host[:port], else the address the request came in on."""
    configured = ctx.state.settings.public_url
    if configured:
        return configured
    request = ctx.request
    host = request.headers.get("Host", "")
    if not _HOST.match(host):
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if not sockname:
            return f"{request.scheme}://{ctx.state.settings.host}:{ctx.state.settings.port}"
        address, port = sockname[0], sockname[1]
        host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return f"{request.scheme}://{host}"


def requested(ctx: RequestContext, model: str) -> tuple[str, str]:
    """(provider, model) the client asked for: a gateway's "provider/model" split as
    Bifrost routes it, a bare model with the configured provider."""
    provider, sep, name = model.partition("/")
    if sep and provider and name:
        return provider, name
    return ctx.state.settings.upstream_provider, model


def _answer_extra(ctx: RequestContext, lookup: Lookup) -> dict[str, Any]:
    """extra_fields of a hit or a join: what the miss it replays reported (a Bifrost
    upstream's own provider and model; otherwise the configured provider and the model)."""
    model = ctx.answered_model(lookup.fingerprint.model) or lookup.fingerprint.model
    provider = ctx.state.settings.upstream_provider
    if ctx.state.settings.upstream_flavor == "bifrost":
        provider, model = requested(ctx, model)
    return {
        "request_type": ctx.route.request_type,
        "provider": provider,
        "model_requested": model,
        "latency": round(ctx.elapsed_ms(), 3),
        "cache_debug": cache_debug(ctx, lookup),
    }


def _key_fields(ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
    """The create's fields as keyed. Behind Bifrost the proxy prefixes a bare model with
    the configured provider, so "sora-2" and "openai/sora-2" are one upstream request and
    get one key (the bare form, which keys had before)."""
    settings = ctx.state.settings
    model = fields.get("model")
    prefix = f"{settings.upstream_provider}/"
    if (
        settings.upstream_flavor == "bifrost"
        and ctx.route.request_type == "video_generation"
        and isinstance(model, str)
        and model.startswith(prefix)
        and len(model) > len(prefix)
    ):
        return {**fields, "model": model[len(prefix) :]}
    return fields


def cache_debug(ctx: RequestContext, lookup: Lookup) -> dict[str, Any]:
    cache = ctx.state.cache
    assert cache is not None
    hit = lookup.kind in ("hit", "semantic_hit")
    embedded = lookup.embedding is not None
    provider, model = requested(ctx, lookup.fingerprint.model)
    return {
        "cache_hit": hit,
        "cache_id": lookup.entry.id if (hit and lookup.entry) else None,
        "hit_type": {"hit": "direct", "semantic_hit": "semantic"}.get(lookup.kind),
        "requested_provider": provider,
        "requested_model": model,
        "provider_used": "sentence-transformers" if embedded else None,
        "model_used": cache.embedder.model_name if (embedded and cache.embedder) else None,
        "input_tokens": lookup.tokens,
        "threshold": lookup.threshold,
        "similarity": None if lookup.similarity is None else round(lookup.similarity, 6),
    }


def _cache_headers(lookup: Lookup, entry: CacheEntry | None = None) -> dict[str, str]:
    headers = {"x-cache": X_CACHE[lookup.kind]}
    # Only a cosine the embedder was asked for: an exact hit's 1.0 is no measurement.
    if lookup.similarity is not None and lookup.embedding is not None:
        headers["x-cache-similarity"] = f"{lookup.similarity:.4f}"
    if entry is not None:
        headers["Age"] = str(int(entry.age()))
    return headers


def _note(ctx: RequestContext, lookup: Lookup) -> None:
    ctx.cache_result = lookup.kind
    ctx.similarity = lookup.similarity
    ctx.timings["lookup"] = lookup.lookup_seconds
    if lookup.embed_seconds:
        ctx.timings["embed"] = lookup.embed_seconds
    ctx.state.observe_lookup(lookup)


def _completed_at(finished: Any, created: int, otherwise: Any) -> Any:
    """A minted id's completion time: the upstream's, never before the id was created (a
    client computing generation time must not get a negative one); `otherwise` when the
    upstream gave none."""
    return max(finished, created) if isinstance(finished, int) else otherwise


def video_from_entry(
    ctx: RequestContext, job: JobRecord, entry: CacheEntry | None
) -> dict[str, Any]:
    """The Video a minted id stands for: the entry's video with the client's own id and
    prompt, completed when the id was minted (or when the joined job finished).

    Without the entry (purged, evicted, replaced by a refresh) the id still describes the
    video; it points at content only while the blobs it was answered with remain, and it
    then reads as expired, as an upstream's video does once its assets are gone."""
    cache = ctx.state.cache
    assert cache is not None
    base = dict(entry.video) if entry is not None else dict(job.request_params.get("video") or {})
    # Never the upstream's own URLs (signed, and another tenant's in a shared scope): a
    # minted id's content is served by this proxy.
    base.pop("videos", None)
    for key, value in (("model", job.model), ("size", job.size), ("seconds", job.seconds)):
        base.setdefault(key, value)
    created = int(job.created_at)
    finished = base.get("completed_at")
    base.update(
        {
            "id": job.id,
            "object": "video",
            "status": "completed",
            "progress": 100,
            "prompt": job.prompt,
            "created_at": created,
            # A hit is completed the moment it is minted: never before it was created.
            "completed_at": _completed_at(finished, created, created),
            "remixed_from_video_id": job.request_params.get("remixed_from"),
            "error": None,
        }
    )
    if entry is not None and entry.is_expired():
        # Past its TTL: it answers nothing any more (the sweep removes it later), so the
        # id reads as an upstream video whose assets expired.
        base["expires_at"] = int(entry.expires_at)
        types, available = entry.content_types, False
    elif entry is not None:
        base["expires_at"] = int(entry.expires_at) if entry.expires_at else None
        types = entry.content_types
        available = True
    else:
        types = job.request_params.get("content_types", {})
        sha = job.request_params.get("blobs", {}).get("video")
        promised = job.request_params.get("expires_at")
        available = (
            not _promise_lapsed(job) and sha is not None and cache.blobs.path(sha) is not None
        )
        if available and isinstance(promised, int | float):
            base["expires_at"] = int(promised)  # the replaced entry's, as the hit said
        if not available:
            now = int(time.time())
            expires = base.get("expires_at")
            base["expires_at"] = min(expires, now) if isinstance(expires, int) else now
    if available:
        base["videos"] = [
            {
                "type": "url",
                "url": f"{public_base(ctx)}/v1/videos/{quote_id(job.id)}/content",
                "base64": None,
                "content_type": types.get("video", "video/mp4"),
            }
        ]
    base.pop("extra_fields", None)
    return base


def _promise_lapsed(job: JobRecord) -> bool:
    """Whether a hit whose entry is gone (replaced by a refresh) is past the expiry its
    entry had when the id was minted. (Ids minted before hits recorded it: never.)"""
    promised = job.request_params.get("expires_at")
    return isinstance(promised, int | float) and promised <= time.time()


def hit_response(ctx: RequestContext, lookup: Lookup, prompt: str, owner: str) -> web.Response:
    cache = ctx.state.cache
    assert cache is not None and lookup.entry is not None
    job = cache.mint_hit(lookup, prompt, "hit", owner)
    job.request_params = {
        "video": lookup.entry.video,
        "remixed_from": ctx.remixed_from,
        "blobs": lookup.entry.blobs,
        "content_types": lookup.entry.content_types,
        "dispositions": lookup.entry.dispositions,
        # What the hit promised: it outlives the entry (a refresh replaces it) until then.
        "expires_at": lookup.entry.expires_at,
    }
    cache.put_job(job)
    cache.touch(lookup.entry.blobs)
    video = video_from_entry(ctx, job, lookup.entry)
    video["extra_fields"] = _answer_extra(ctx, lookup)
    if ctx.capture:
        video["extra_fields"]["raw_request"] = ctx.raw_request
    ctx.state.observe_saving(lookup.entry)
    ctx.log_fields["video_id"] = job.id
    return json_reply(ctx, video, headers=_cache_headers(lookup, lookup.entry))


def joined_response(ctx: RequestContext, lookup: Lookup, prompt: str, owner: str) -> web.Response:
    cache = ctx.state.cache
    assert cache is not None and lookup.job is not None
    job = cache.mint_hit(lookup, prompt, "joined", owner)
    source = lookup.job
    video = {
        "id": job.id,
        "object": "video",
        "model": source.model,
        "status": source.status,
        "progress": 0,
        "created_at": int(job.created_at),
        "completed_at": None,
        "expires_at": None,
        "prompt": prompt,
        "size": source.size,
        "seconds": source.seconds,
        "remixed_from_video_id": ctx.remixed_from,
        "error": None,
        "extra_fields": _answer_extra(ctx, lookup),
    }
    job.request_params = {"remixed_from": ctx.remixed_from}
    cache.put_job(job)
    _count_join(ctx, source)
    ctx.log_fields["video_id"] = job.id
    headers = {**_cache_headers(lookup), **_poll_after(ctx, source, video)}
    return json_reply(ctx, video, headers=headers)


def _count_join(ctx: RequestContext, source: JobRecord) -> None:
    """A join saves a generation once the job it joined has its video: now if the upstream
    is done with it already, else when the watcher sees it complete (it takes the count
    kept with the job). A job that ends without a video saved its joins nothing."""
    cache, watcher = ctx.state.cache, ctx.state.watcher
    assert cache is not None
    current = cache.jobs.get(source.id)
    done = watcher is not None and watcher.done_upstream(source.id)
    if done or (current is not None and current.status == "completed"):
        ctx.state.observe_saving(source)
    elif current is not None and current.pending:
        cache.jobs.add_join(source.id)


def _poll_after(
    ctx: RequestContext, source: JobRecord | None, video: dict[str, Any]
) -> dict[str, str]:
    """A join still generating: the pace the upstream last asked the watcher to poll at
    (else the watcher's own), so the joiner's SDK polls as the creator's does, not at its
    1 s default."""
    if video.get("status") not in ("queued", "in_progress"):
        return {}
    asked = source.request_params.get("poll_after_ms") if source is not None else None
    ms = asked if isinstance(asked, int) else round(ctx.state.settings.watch_interval * 1000)
    return {"openai-poll-after-ms": str(ms)}


async def cached_generation(
    ctx: RequestContext,
    body: RequestBody,
    fields: dict[str, Any],
    input_reference: str,
    raw_path: str | None = None,
) -> web.StreamResponse:
    """Create and remix share this: look up, answer a hit or join, or forward and watch."""
    cache = ctx.state.cache
    assert cache is not None
    controls = controls_of(ctx.request)
    if controls.cache_type == "semantic" and cache.embedder is None:
        # Looking up only by meaning cannot be done: silently missing would create a paid
        # upstream job on every such request.
        raise ProxyError(
            400,
            f"{controls.cache_type_header}: semantic needs semantic lookup, which is switched "
            "off on this proxy (cache_semantic); use direct or leave the header out.",
            code="invalid_header",
            param=controls.cache_type_header,
        )
    caller = caller_of(ctx, cache)
    if caller is None or body.duplicate_fields:
        # Nothing to look up or store: no credential to scope it by, or a body whose
        # repeated field an upstream may read either way (first or last wins).
        controls.no_cache = controls.no_store = True
    fp = fingerprint(
        scope=caller.scope if caller else "",
        namespace=controls.namespace,
        fields=_key_fields(ctx, fields),
        input_reference=input_reference,
    )
    lookup = await cache.lookup(fp, controls, lead=True)
    try:
        if lookup.kind == "joined":
            lookup = await _finished_join(ctx, lookup)
        _note(ctx, lookup)
        prompt = str(fields["prompt"])
        # A hit or a join needs a caller: without one nothing was looked up.
        owner = caller.owner if caller is not None else ""
        if lookup.kind in ("hit", "semantic_hit") and lookup.entry is not None:
            return hit_response(ctx, lookup, prompt, owner)
        if lookup.kind == "joined":
            return joined_response(ctx, lookup, prompt, owner)

        def decorate(obj: dict[str, Any]) -> dict[str, str]:
            obj["extra_fields"]["cache_debug"] = cache_debug(ctx, lookup)
            if ctx.remixed_from != ctx.remix_source:
                # A minted id was remixed: it, not its upstream twin. (An upstream id's
                # remix names it as the upstream does.)
                obj["remixed_from_video_id"] = ctx.remixed_from
            status = obj.get("status")
            if (
                caller is not None
                and isinstance(obj.get("id"), str)
                and status in ("queued", "in_progress", "completed")
            ):
                job = cache.remember_miss(lookup, obj, controls, owner=caller.owner)
                if job is None:  # its id stands for another job already: relayed only
                    ctx.state.log.warning("upstream_id_reused", video_id=obj["id"])
                    ctx.log_fields["video_id"] = obj["id"]
                    return _cache_headers(lookup)
                if ctx.remix_source:
                    job.request_params = {"remix_source": ctx.remix_source}
                    if ctx.remixed_from != ctx.remix_source:  # retrieves and lists say so
                        job.request_params["remixed_from"] = ctx.remixed_from
                    cache.put_job(job)
                ctx.state.watch(job.id, finished=status == "completed")
                ctx.log_fields["video_id"] = job.id
            return _cache_headers(lookup)

        response = await videos.forward_body(ctx, body, decorate, raw_path=raw_path)
        if "x-cache" not in response.headers:
            # An upstream error relayed as is: the lookup still ran, and clients counting
            # hits and misses read it here.
            response.headers.update(_cache_headers(lookup))
        return response
    finally:
        cache.settle(lookup)  # no job came of it (an error, a hit): waiters go alone


# How long a create joining a job whose video is done upstream waits for the download.
JOIN_WAIT = 10.0


async def _finished_join(ctx: RequestContext, lookup: Lookup) -> Lookup:
    """A join of a job whose video is already done upstream and downloading: wait for it
    to be published (at most JOIN_WAIT) and answer a hit, a completed video, rather than a
    join that reads in progress until the download ends. A client repeating a request the
    moment its first one finished (create_and_poll, then create) gets the cached copy."""
    cache, watcher = ctx.state.cache, ctx.state.watcher
    assert cache is not None and lookup.job is not None
    if watcher is None or not await watcher.wait_finished(lookup.job.id, JOIN_WAIT):
        return lookup
    job = cache.get_job(lookup.job.id)
    entry = cache.entries.get(job.entry_id) if job is not None and job.entry_id else None
    if entry is None or entry.is_expired() or entry.scope != lookup.fingerprint.scope:
        return lookup  # not cached after all (too large, a failed download): a join
    return replace(lookup, kind="hit", entry=entry, job=None, similarity=1.0)


Generation = Callable[[RequestContext, RequestBody], Awaitable[web.StreamResponse]]


async def _with_body(ctx: RequestContext, generate: Generation) -> web.StreamResponse:
    """Read and check a create/remix body before anything reaches the upstream."""
    body = await read_body(ctx.request, ctx.state.settings.max_body_bytes)
    try:
        require_prompt(body)
        require_keyed_strings(body)
        if ctx.capture:
            ctx.raw_request = request_capture(ctx, body)
        model = body.fields.get("model")
        ctx.model_requested = model if isinstance(model, str) else None
        return await generate(ctx, body)
    finally:
        body.close()


async def create_route(ctx: RequestContext) -> web.StreamResponse:
    return await _with_body(ctx, create)


async def remix_route(ctx: RequestContext) -> web.StreamResponse:
    return await _with_body(ctx, remix)


async def create(ctx: RequestContext, body: RequestBody) -> web.StreamResponse:
    if ctx.state.cache is None:
        return await videos.forward_body(ctx, body)
    return await cached_generation(ctx, body, body.fields, _reference_key(body))


def _reference_key(body: RequestBody, base: str = "") -> str:
    """What the body's uploads (or JSON input_reference) add to the key, after `base`.

    Every file part counts, by name and content hash, in the order sent: a second
    reference image or an audio track changes the video as much as the first image does.
    A body with one input_reference part keeps the form keys had before other parts counted.
    """
    files = body.files
    text = digest_reference(body.fields.get("input_reference"))
    if not files:
        return f"{base}{text}" if base else text
    if len(files) == 1 and files[0].name == "input_reference" and not base and not text:
        return f"sha256:{files[0].sha256}"
    parts = orjson.dumps([[part.name, part.sha256] for part in files])
    # A text input_reference beside the files counts too.
    return f"{base}files:sha256:{hashlib.sha256(parts).hexdigest()}" + (f"+{text}" if text else "")


def _local_job(ctx: RequestContext) -> JobRecord | None:
    """The job record for the id in the path, if the proxy knows it AND the caller's scope
    owns it. A minted id of another scope is reported as unknown (404)."""
    cache = ctx.state.cache
    video_id = ctx.route.video_id
    if cache is None or video_id is None:
        return None
    job = cache.get_job(video_id)
    raw_id = ctx.route.raw_id
    if job is None and raw_id is not None and raw_id != video_id:
        # The segment verbatim: an id holding a percent sign (Bifrost's
        # "operations%2Fvideo_x:openai") pasted into a URL as the JSON shows it, which
        # the upstream also takes. (The SDK escapes it; decoded once, that is the id.)
        job = cache.get_job(raw_id)
    if job is None:
        return None
    caller = caller_of(ctx, cache)
    if job.kind == "miss":
        # An upstream id is its creator's, whatever the scope: anyone else (another tenant
        # of a shared scope, another project of the key) gets the upstream's own answer, as
        # without the proxy, never the cached copy of a video the upstream may refuse them.
        return job if _is_creator(cache, caller, job) else None
    if caller is None or job.scope != caller.scope:
        raise _not_found(video_id)
    return job


def _joined_entry(
    ctx: RequestContext, job: JobRecord, source: JobRecord | None
) -> CacheEntry | None:
    """For a joined id: the entry its source job (`source`, read by the caller) produced,
    once published."""
    cache = ctx.state.cache
    assert cache is not None
    if job.entry_id:
        return cache.entries.get(job.entry_id)
    if source is not None and source.entry_id:
        job.entry_id, job.status = source.entry_id, "completed"
        cache.put_job(job)
        return cache.entries.get(source.entry_id)
    return None


async def remix(ctx: RequestContext, body: RequestBody) -> web.StreamResponse:
    cache = ctx.state.cache
    if cache is None:
        return await videos.forward_body(ctx, body)
    job = _local_job(ctx)
    # The id the client remixed as the proxy recorded it, else as the upstream reads it.
    source_id = job.id if job is not None else ctx.route.video_id or ""
    raw_path = None
    content_sha = None
    upstream_source = source_id
    if job is not None:
        entry = cache.entries.get(job.entry_id) if job.entry_id else None
        content_sha = entry.blobs.get("video") if entry else None
        if job.kind != "miss":
            upstream_source = job.upstream_id
            raw_path = f"/v1/videos/{quote_id(job.upstream_id)}/remix"
    ctx.remixed_from, ctx.remix_source = source_id, upstream_source
    ctx.log_fields["remixed_from"] = source_id
    source_key = (
        f"remix-of:sha256:{content_sha}" if content_sha else f"remix-of:id:{upstream_source}"
    )
    fields = {
        "prompt": body.fields["prompt"],
        **{k: v for k, v in body.fields.items() if k != "prompt"},
    }
    if job is not None:
        fields.setdefault("model", job.model)
        fields.setdefault("seconds", job.seconds)
        fields.setdefault("size", job.size)
    uploads = body.files or body.fields.get("input_reference") not in (None, "")
    reference = _reference_key(body, base=source_key + "+") if uploads else source_key
    response = await cached_generation(ctx, body, fields, reference, raw_path=raw_path)
    answer = response.body if isinstance(response, web.Response) else None
    if (
        raw_path is not None
        and response.status == 404
        and isinstance(answer, bytes)
        and upstream_source.encode() in answer
    ):
        # The upstream no longer has the source, and its 404 names an id this client never
        # saw. (A 404 about something else, such as an unknown model, is relayed as is.)
        raise ProxyError(
            404,
            f"Video '{source_id}' cannot be remixed: the upstream does not have it (any "
            "more, or not for this credential).",
            code="not_found",
            param="id",
        )
    if raw_path is not None and response.status >= 400 and isinstance(answer, bytes):
        # Any other refusal (the source not completed yet, say) names the source as the
        # client knows it, never its upstream twin.
        assert isinstance(response, web.Response)
        response.body = renamed(answer, upstream_source, source_id)
    return response


def _seen_finished(ctx: RequestContext, job_id: str) -> Callable[[dict[str, Any]], None]:
    """The creator polling a watched job sees it finish: completed, the watcher fetches it
    now; failed, the job stops being joinable now, so the client's retry (the usual answer
    to a failure) makes a new job instead of joining the dead one until the next poll."""

    def decorate(obj: dict[str, Any]) -> None:
        if ctx.state.watcher is not None:
            ctx.state.watcher.seen_by_creator(job_id, obj)

    return decorate


def _remixed_from(source_id: str) -> Callable[[dict[str, Any]], None]:
    def decorate(obj: dict[str, Any]) -> None:
        obj["remixed_from_video_id"] = source_id

    return decorate


def _creator_credentials(ctx: RequestContext, job: JobRecord) -> dict[str, str] | None:
    """For a minted id's content fetched from the upstream (a join not yet cached, a variant
    not cached): the headers of the credential that created its upstream job, when the
    scope is one key's (credential mode) and the proxy holds them.

    The upstream job is the creator's, and an upstream that keeps each project's videos
    apart answers the same key's other projects 404. Across keys (a shared scope) the
    caller's own credential goes: relaying as another tenant would hand it that tenant's
    headers and errors. None when the creator has not been seen since a restart.
    """
    cache = ctx.state.cache
    assert cache is not None
    if cache.config.scope_mode != "credential":
        return None
    source = cache.jobs.get(job.upstream_id)
    if source is None:
        return None
    return ctx.state.credentials.get(source.owner or source.scope)


def _joined_video(
    job: JobRecord, source: JobRecord | None, gone_as_failed: bool = False
) -> dict[str, Any]:
    """A join not yet cached, as the watcher last saw its upstream job (`source`): no
    upstream call, so nothing of the creator's (credential, headers, upstream id, URLs)
    reaches the caller, and it works before the creator's credential is back after a
    restart. Without `source` (the creator deleted it): a 404, or with `gone_as_failed`
    a failed video saying so."""
    if source is None:
        gone = _gone_upstream(job)
        if not gone_as_failed:
            raise gone
        status, error = "failed", {"code": gone.code, "message": str(gone)}
    else:
        status, error = source.status, None
    last = dict(source.request_params.get("last_video") or {}) if source else {}
    progress = last.get("progress")
    finished = source is not None and source.status == "completed"
    if status not in ("queued", "in_progress", "completed") and error is None:
        # OpenAI's statuses are queued, in_progress, completed and failed; a job that
        # failed, vanished upstream or was given up on reads as failed, with an error of
        # the proxy's own (the upstream's text was written for the job's creator).
        upstream_error = last.get("error")
        code = upstream_error.get("code") if isinstance(upstream_error, dict) else None
        status, error = (
            "failed",
            {
                "code": code if isinstance(code, str) else "video_generation_failed",
                "message": f"The generation video '{job.id}' joined did not complete.",
            },
        )
    video = {
        "id": job.id,
        "object": "video",
        "model": last.get("model") or (source or job).model,
        # "in_progress" until the entry is published, though the upstream may be done:
        # the content is served once it is cached.
        "status": status,
        "progress": round(progress) if isinstance(progress, int | float) else 0,
        "created_at": int(job.created_at),
        "completed_at": (
            _completed_at(last.get("completed_at"), int(job.created_at), last.get("completed_at"))
            if finished
            else None
        ),
        "expires_at": last.get("expires_at") if finished else None,
        "prompt": job.prompt,
        "size": last.get("size") or (source or job).size,
        "seconds": last.get("seconds") or (source or job).seconds,
        "remixed_from_video_id": job.request_params.get("remixed_from"),
        "error": error,
    }
    return video


def _gone_upstream(job: JobRecord) -> ProxyError:
    return ProxyError(
        404,
        f"Video '{job.id}' is no longer available: the upstream no longer has it.",
        code="not_found",
        param="id",
    )


def minted_video(
    ctx: RequestContext, job: JobRecord, gone_as_failed: bool = False
) -> dict[str, Any]:
    """The Video a minted id (a hit or a join) stands for now: what retrieve answers and
    the list shows (a join whose upstream job is gone: retrieve answers 404, the list
    with `gone_as_failed` shows it failed)."""
    cache = ctx.state.cache
    assert cache is not None
    if job.kind == "hit":
        entry = cache.entries.get(job.entry_id) if job.entry_id else None
        return video_from_entry(ctx, job, entry)
    # Read once: both what the join became and, if not cached yet, how it is doing.
    source = None if job.entry_id else cache.jobs.get(job.upstream_id)
    entry = _joined_entry(ctx, job, source)
    if entry is not None or job.entry_id:
        # Cached, or cached once and the entry is gone (purged, evicted): the latter
        # reads as expired, as a hit does.
        return video_from_entry(ctx, job, entry)
    return _joined_video(job, source, gone_as_failed)


async def retrieve(ctx: RequestContext) -> web.StreamResponse:
    job = _local_job(ctx)
    if job is None or job.kind == "miss":
        remixed_from = job.request_params.get("remixed_from") if job else None
        decorations = [_remixed_from(remixed_from)] if remixed_from else []
        if job is not None and job.pending:
            decorations.append(_seen_finished(ctx, job.id))
        if not decorations:
            return await videos.json_route(ctx)

        def decorate(obj: dict[str, Any]) -> None:
            for decoration in decorations:
                decoration(obj)

        return await videos.json_route(ctx, decorate=decorate)
    video = minted_video(ctx, job)
    video["extra_fields"] = {
        "request_type": ctx.route.request_type,
        "provider": ctx.state.settings.upstream_provider,
        "model_requested": ctx.answered_model(video.get("model")),
        "latency": round(ctx.elapsed_ms(), 3),
    }
    source = None
    if job.kind == "joined" and ctx.state.cache is not None:
        source = ctx.state.cache.jobs.get(job.upstream_id)
    return json_reply(ctx, video, headers=_poll_after(ctx, source, video))


async def delete(ctx: RequestContext) -> web.StreamResponse:
    cache = ctx.state.cache
    job = _local_job(ctx)
    if cache is not None and job is not None and job.kind != "miss":
        if not _created_by_caller(ctx, cache, job):
            # Someone else's minted id in a shared scope: readable there, but deleting it
            # would take it from its owner. As for any id this caller does not hold, the
            # upstream answers (404: it never knew the id).
            return await videos.json_route(ctx)
        # A minted id: forget the client's record; the cached video stays for others.
        cache.delete_job(job.id)
        return json_reply(
            ctx,
            {
                "id": job.id,
                "object": "video.deleted",
                "deleted": True,
                "extra_fields": {
                    "request_type": "video_delete",
                    "provider": ctx.state.settings.upstream_provider,
                },
            },
        )
    # The id as recorded when the proxy knows it (also when the client sent it verbatim).
    upstream_id = job.id if job is not None else ctx.route.video_id or ""
    caller = caller_of(ctx, cache) if cache is not None else None

    def purge(obj: dict[str, Any]) -> None:
        if cache is None or caller is None or not obj.get("deleted"):
            return
        # And the id the upstream says it deleted: the one its videos were recorded under,
        # however the client spelt it in the path.
        named = obj.get("id")
        gone_ids = {upstream_id, named} if isinstance(named, str) and named else {upstream_id}
        for gone_id in gone_ids:
            record = cache.get_job(gone_id)
            if record is not None and not _is_creator(cache, caller, record):
                # The same id for another's job: an upstream whose ids are unique only per
                # key deleted the caller's own video, not that one. Nothing of it goes.
                continue
            # What the caller's scope made from it (with no record, expired or never made
            # here, that is all the proxy can tell was the caller's).
            cache.purge_upstream(gone_id, caller.scope)
            cache.delete_job(gone_id)
            cache.jobs.mark_deleted(gone_id)  # for list cursors that stop at it

    response = await videos.json_route(ctx, decorate=purge)
    if response.status == 204:  # deleted, with no body to say so
        purge({"deleted": True})
    gone = response.status in (404, 410)
    if cache is not None and job is not None and gone:
        # The caller's own job (_local_job finds an upstream id for its creator only),
        # already gone upstream (its assets expire after about an hour): the cached copy
        # would outlive the delete, so it goes too.
        cache.purge_upstream(upstream_id, job.scope)
        cache.delete_job(upstream_id)
    return response


def _created_by_caller(ctx: RequestContext, cache: CacheService, job: JobRecord) -> bool:
    """Whether the request carries the credential that created `job`."""
    return _is_creator(cache, caller_of(ctx, cache), job)


def _is_creator(cache: CacheService, caller: Caller | None, job: JobRecord) -> bool:
    """Whether `caller` created `job`. A record from before jobs had owners: its scope's,
    which is one credential's only in credential mode."""
    if caller is None:
        return False
    if job.owner:
        return job.owner == caller.owner
    return cache.config.scope_mode == "credential" and job.scope == caller.scope


async def content(ctx: RequestContext) -> web.StreamResponse:
    cache = ctx.state.cache
    job = _local_job(ctx)
    if cache is None or job is None:
        return await videos.content(ctx)
    entry = cache.entries.get(job.entry_id) if job.entry_id else None
    if entry is None and job.kind == "joined" and not job.entry_id:
        entry = _joined_entry(ctx, job, cache.jobs.get(job.upstream_id))
    variant = ctx.request.query.get("variant", "video")
    if variant not in ("video", "thumbnail", "spritesheet"):
        raise ProxyError(
            400,
            f"Invalid variant {variant!r}: use video, thumbnail or spritesheet.",
            code="invalid_value",
            param="variant",
        )
    # A hit keeps the blob hashes it was answered with, so its id still serves content
    # when the entry is later replaced (a no-cache refresh) while the blobs remain.
    blobs = entry.blobs if entry else job.request_params.get("blobs", {})
    if entry.is_expired() if entry is not None else _promise_lapsed(job):
        # Past its TTL: served no more, though the sweep has not removed it yet (or, for a
        # hit on an entry a refresh replaced, though its files remain). A hit's id then
        # reads as a purged one (404); the original id goes to the upstream.
        if job.kind != "miss":
            raise _no_longer_cached(job, variant)
        blobs = {}
    if job.kind == "joined" and job.entry_id and entry is None:
        # Its video was cached and the entry is gone (purged, evicted): as for a hit, the
        # content is a 404, not the upstream's copy a purge meant to stop.
        raise _no_longer_cached(job, variant)
    types = entry.content_types if entry else job.request_params.get("content_types", {})
    sha = blobs.get(variant)
    path = cache.blobs.path(sha) if sha else None
    if sha is not None and path is not None:
        cache.touch(blobs)
        ctx.cache_result = "hit"
        ctype = types.get(variant, "application/octet-stream")
        headers = {
            "Content-Type": ctype,
            "Cache-Control": "private, max-age=3600",
            "x-cache": "HIT",
        }
        sent = (entry.dispositions if entry else job.request_params.get("dispositions", {})).get(
            variant
        )
        # The creator's own upstream id gets the upstream's header as it was sent.
        disposition = sent if job.kind == "miss" else served_disposition(sent, job.id, ctype)
        if disposition is not None:
            headers["Content-Disposition"] = disposition
        return CachedFile(
            path,
            headers=headers,
            on_sent=lambda sent: ctx.state.observe_content_bytes("cache", sent),
        )
    if job.kind == "miss":
        return await videos.content(ctx)
    if job.kind == "joined" or (job.kind == "hit" and variant not in blobs):
        # Not downloaded (still generating, or a variant the operator does not cache): the
        # upstream's copy, under the upstream id the minted one stands for.
        query = ctx.query_string
        path_q = f"/v1/videos/{quote_id(job.upstream_id)}/content" + (f"?{query}" if query else "")
        return await videos.passthrough(
            ctx,
            content=True,
            raw_path=path_q,
            credentials=_creator_credentials(ctx, job),
            rename=(job.upstream_id, job.id),
            missing=ProxyError(
                404,
                f"The {variant} of video '{job.id}' is not available: it is not cached here, "
                "and the upstream does not give it to this credential (or no longer has it).",
                code="not_found",
                param="id",
            ),
        )
    raise _no_longer_cached(job, variant)


def _no_longer_cached(job: JobRecord, variant: str) -> ProxyError:
    return ProxyError(
        404,
        f"The {variant} of video '{job.id}' is no longer cached.",
        code="not_found",
        param="variant",
    )
