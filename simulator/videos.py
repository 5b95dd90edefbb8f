"""Handlers of the /v1/videos routes (the OpenAI contract, with the Bifrost quirks)."""

from __future__ import annotations

import asyncio
import gzip
import mimetypes
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from simulator.forms import BodyError, extra_fields, parse_body, validate_create, validate_prompt
from simulator.jobs import Job
from simulator.media import CHUNK_SIZE, VARIANTS, PaddedBody
from simulator.settings import SimulatorSettings
from simulator.state import SimulatorState
from simulator.wire import error_response, json_response, set_context


def owner_of(request: web.Request) -> str:
    """Who a request is, for per_key: its key and project."""
    headers = request.headers
    return f"{headers.get('Authorization', '')}\n{headers.get('OpenAI-Project', '')}"


def missing_key(request: web.Request, state: SimulatorState) -> web.Response | None:
    """per_key: no Authorization at all is a 401, as OpenAI answers it."""
    if state.settings.per_key and not request.headers.get("Authorization"):
        return error_response(
            request,
            state.settings,
            401,
            "You didn't provide an API key.",
            code="invalid_api_key",
        )
    return None


def _visible(request: web.Request, state: SimulatorState, job: Job | None) -> Job | None:
    if job is None or (state.settings.per_key and job.owner != owner_of(request)):
        return None
    return job


def find_job(state: SimulatorState, segment: str, request: web.Request) -> Job | None:
    """Ids are opaque: decode the raw path segment once, and fall back to it verbatim (a
    client may send an escaped id unescaped-once, e.g. Bifrost's `%2F` ids from curl).
    With per_key, another key's (or project's) video is not found."""
    owner = owner_of(request)
    return _visible(
        request,
        state,
        state.jobs.get(unquote(segment), owner) or state.jobs.get(segment, owner),
    )


def _not_found(request: web.Request, state: SimulatorState, segment: str) -> web.Response:
    return error_response(
        request,
        state.settings,
        404,
        f"Video with id '{unquote(segment)}' not found.",
        param="id",
        code="not_found",
    )


def video_response(
    request: web.Request, state: SimulatorState, job: Job, status: int = 200
) -> web.Response:
    set_context(request, provider=job.provider, model_requested=job.model)
    return json_response(
        request,
        state.settings,
        job.to_dict(state.clock(), state.settings),
        status=status,
        headers={"openai-poll-after-ms": str(state.settings.poll_after_ms)},
    )


def _split_model(state: SimulatorState, model: str) -> tuple[str, str]:
    """(provider, model). Bifrost routes on a `provider/model` string."""
    if state.settings.flavor != "bifrost":
        return state.settings.provider, model
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        raise BodyError(f"model must be in the form 'provider/model', got '{model}'.", "model")
    return provider, name


async def _read_body(request: web.Request, state: SimulatorState) -> Any:
    content_type = request.headers.get("Content-Type", "")
    if state.settings.flavor == "bifrost" and content_type.lower().startswith("multipart/"):
        raise BodyError(
            "multipart/form-data is not supported on this route: send application/json."
        )
    return parse_body(content_type, await request.read())


async def create(request: web.Request, state: SimulatorState, request_type: str) -> web.Response:
    set_context(request, request_type=request_type)
    try:
        fields = validate_create(await _read_body(request, state))
        set_context(request, model_requested=fields["model"])
        provider, model = _split_model(state, fields["model"])
    except BodyError as exc:
        return error_response(request, state.settings, 400, exc.message, param=exc.param)
    job = state.jobs.create(
        now=state.clock(),
        model=model,
        prompt=fields["prompt"],
        size=fields["size"],
        seconds=fields["seconds"],
        provider=provider,
        extra=fields["extra"],
        owner=owner_of(request),
    )
    return video_response(request, state, job)


async def retrieve(request: web.Request, state: SimulatorState, segment: str) -> web.Response:
    set_context(request, request_type="video_retrieve")
    job = find_job(state, segment, request)
    if job is None:
        return _not_found(request, state, segment)
    return video_response(request, state, job)


async def delete(request: web.Request, state: SimulatorState, segment: str) -> web.Response:
    set_context(request, request_type="video_delete")
    job = find_job(state, segment, request)
    if job is None:
        return _not_found(request, state, segment)
    state.jobs.delete(job)
    set_context(request, provider=job.provider, model_requested=job.model)
    return json_response(
        request, state.settings, {"id": job.id, "object": "video.deleted", "deleted": True}
    )


async def list_videos(request: web.Request, state: SimulatorState) -> web.Response:
    settings = state.settings
    set_context(request, request_type="video_list")
    query = request.query
    provider = query.get("provider")
    if settings.flavor == "bifrost":
        if not provider:
            return error_response(
                request,
                settings,
                400,
                "provider query parameter is required",
                param="provider",
            )
        set_context(request, provider=provider)
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return error_response(
            request,
            settings,
            400,
            "Invalid 'limit': must be an integer between 1 and 100.",
            param="limit",
        )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        return error_response(
            request, settings, 400, "Invalid 'order': must be 'asc' or 'desc'.", param="order"
        )
    jobs = [job for job in state.jobs.all() if _visible(request, state, job)]
    if settings.flavor == "bifrost":
        jobs = [job for job in jobs if job.provider == provider]
    if order == "desc":
        jobs.reverse()
    after = query.get("after")
    if after is not None:
        ids = [job.id for job in jobs]
        if after not in ids and settings.unknown_cursor_404:
            return error_response(
                request, settings, 404, f"No video found with id '{after}'.", param="after"
            )
        # An unknown cursor (e.g. a deleted video) yields an empty page rather than an error.
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    page = jobs[:limit]
    now = state.clock()
    return json_response(
        request,
        settings,
        {
            "object": "list",
            "data": [job.to_dict(now, settings) for job in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(jobs) > limit,
        },
    )


async def remix(request: web.Request, state: SimulatorState, segment: str) -> web.Response:
    set_context(request, request_type="video_remix")
    source = find_job(state, segment, request)
    if source is None:
        return _not_found(request, state, segment)
    set_context(request, provider=source.provider, model_requested=source.model)
    try:
        body = parse_body(request.headers.get("Content-Type", ""), await request.read())
        prompt = validate_prompt(body.fields)
    except BodyError as exc:
        return error_response(request, state.settings, 400, exc.message, param=exc.param)
    status, _ = source.phase(state.clock())
    if status != "completed":
        return error_response(
            request,
            state.settings,
            400,
            f"Video '{source.id}' is {status}; only completed videos can be remixed.",
            param="video_id",
            code="invalid_video_state",
        )
    job = state.jobs.create(
        now=state.clock(),
        model=source.model,
        prompt=prompt,
        size=source.size,
        seconds=source.seconds,
        provider=source.provider,
        remixed_from=source.id,
        extra=extra_fields(body, known={"prompt"}),
        owner=owner_of(request),
    )
    return video_response(request, state, job)


SIGNED = "_sim_signed"  # the query flag of content_redirect's target


def _odd_content(request: web.Request, settings: SimulatorSettings) -> web.Response | None:
    """The content faults that answer instead of the video (see SimulatorSettings)."""
    if settings.content_redirect and SIGNED not in request.query:
        target = request.rel_url.update_query({SIGNED: "1"})
        return web.Response(status=302, headers={"Location": str(target)})
    if settings.html_content:
        page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
        return web.Response(body=page, content_type="text/html")
    if settings.json_content:
        envelope = b'{"error": {"message": "video not ready", "type": "server_error"}}'
        return web.Response(body=envelope, headers={"Content-Type": "video/mp4"})
    if settings.empty_content:
        return web.Response(body=b"", headers={"Content-Type": "video/mp4"})
    return None


async def content(request: web.Request, state: SimulatorState, segment: str) -> web.StreamResponse:
    settings = state.settings
    set_context(request, request_type="video_download")
    job = find_job(state, segment, request)
    if job is None:
        return _not_found(request, state, segment)
    variant = request.query.get("variant", "video")
    if variant not in VARIANTS:
        return error_response(
            request,
            settings,
            400,
            f"Invalid 'variant': must be one of {', '.join(VARIANTS)}.",
            param="variant",
        )
    now = state.clock()
    status, _ = job.phase(now)
    if status != "completed":
        return error_response(
            request,
            settings,
            400,
            f"Video '{job.id}' is {status}; content is only available once completed.",
            param="video_id",
            code="invalid_video_state",
        )
    if job.is_expired(now, settings.asset_ttl):
        return error_response(
            request,
            settings,
            404,
            f"The content of video '{job.id}' has expired.",
            code="not_found",
        )
    odd = _odd_content(request, settings)
    if odd is not None:
        return odd
    # Rendering takes milliseconds of CPU; off the loop it never stalls other requests.
    base = (await asyncio.to_thread(state.renders.get, job.media_seed))[variant]
    body = PaddedBody(base, settings.content_bytes if variant == "video" else 0, job.media_seed)
    if settings.gzip_content and "gzip" in request.headers.get("Accept-Encoding", ""):
        whole = b"".join(body.chunks())
        return web.Response(
            body=gzip.compress(whole),
            headers={"Content-Type": VARIANTS[variant], "Content-Encoding": "gzip"},
        )
    response = web.StreamResponse(status=200)
    response.content_type = VARIANTS[variant]
    response.content_length = body.length
    if settings.content_disposition:
        extension = mimetypes.guess_extension(VARIANTS[variant]) or ""
        name = quote(job.id, safe="")  # a gateway's ids may hold "/", "+" and "="
        response.headers["Content-Disposition"] = f'attachment; filename="{name}{extension}"'
    await response.prepare(request)
    # truncate_content: announce everything, deliver half, then drop the connection.
    budget = body.length // 2 if settings.truncate_content else body.length
    for chunk in body.chunks():
        for start in range(0, len(chunk), CHUNK_SIZE):
            piece = chunk[start : start + CHUNK_SIZE][:budget]
            if piece:
                await response.write(piece)
                budget -= len(piece)
                if settings.content_rate > 0:
                    await asyncio.sleep(len(piece) / settings.content_rate)
            if budget <= 0:
                break
        if budget <= 0:
            break
    if settings.truncate_content:
        abort_connection(request)
        return response
    await response.write_eof()
    return response


def abort_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()
