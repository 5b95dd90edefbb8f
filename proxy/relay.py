"""Moving upstream responses to the client: streamed untouched, or as JSON we enrich."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from proxy.bifrost import normalise_video
from proxy.capture import request_capture, response_capture
from proxy.context import RequestContext
from proxy.errors import ProxyError
from proxy.headers import client_response_headers, retry_headers
from proxy.upstream import UpstreamTooLarge, quote_id, read_bounded

STREAM_CHUNK = 256 * 1024


async def stream_response(
    ctx: RequestContext, upstream: aiohttp.ClientResponse
) -> web.StreamResponse:
    """Relay status, headers and the raw (possibly compressed) body chunk by chunk, so a
    500 MB download never sits in the proxy's memory."""
    headers = client_response_headers(upstream.headers, keep_encoding=True)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    if upstream.content_length is not None:
        response.content_length = upstream.content_length
    await response.prepare(ctx.request)
    sent = 0
    chunks = upstream.content.iter_chunked(STREAM_CHUNK).__aiter__()
    try:
        while True:
            # Headers are gone: an upstream failure from here on can no longer be an error
            # response (its bytes would land inside this body). The only honest signal left
            # is to cut the connection, so the client sees a short body, not a clean end.
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except aiohttp.ClientPayloadError:
                return _cut(ctx, response, "malformed")
            except (TimeoutError, aiohttp.ServerTimeoutError):
                return _cut(ctx, response, "timeout")
            except aiohttp.ClientConnectionError:
                return _cut(ctx, response, "refused")
            try:
                await response.write(chunk)
            except ConnectionResetError:
                # The client went away (a player seeking, a cancelled download): nothing
                # the upstream did, so no upstream error; the upstream body is released.
                ctx.client_gone = True
                return response
            sent += len(chunk)
    finally:
        # Content only: an error's JSON envelope on the content route is not video served.
        if ctx.route.request_type == "video_download" and upstream.status < 400:
            ctx.state.observe_content_bytes("upstream", sent)
    await response.write_eof()
    return response


def _cut(ctx: RequestContext, response: web.StreamResponse, kind: str) -> web.StreamResponse:
    ctx.state.record_upstream_error(kind)
    if ctx.request.transport is not None:
        ctx.request.transport.abort()
    return response


async def read_json(ctx: RequestContext, upstream: aiohttp.ClientResponse) -> tuple[Any, bytes]:
    """The upstream's JSON body (parsed, and its bytes), or a 502 saying it is not JSON
    or is larger than `max_upstream_json_bytes`. Error statuses are not parsed here:
    callers relay them as they are."""
    body = await read_bounded(upstream, ctx.state.settings.max_upstream_json_bytes)
    try:
        return orjson.loads(body), body
    except orjson.JSONDecodeError:
        ctx.state.record_upstream_error("malformed")
        raise ProxyError(
            502,
            f"The upstream answered {ctx.route.request_type} with malformed JSON.",
            code="upstream_malformed_json",
        ) from None


async def relay_error(ctx: RequestContext, upstream: aiohttp.ClientResponse) -> web.Response:
    """Upstream 4xx/5xx: status, body and retry headers as they are (decoded, since the
    JSON routes ask for decompression). An error body larger than
    `max_upstream_json_bytes` is not read to be relayed: the client gets the upstream's
    status and retry headers with the proxy's own envelope saying so (a client retrying a
    429 or a 503 still can). Counted as the upstream's status, once; a body cut off
    mid-way is counted by `Upstream.request` as what the client gets instead, a 502."""
    kind = "4xx" if upstream.status < 500 else "5xx"
    limit = ctx.state.settings.max_upstream_json_bytes
    try:
        body: bytes | None = await read_bounded(upstream, limit)
    except UpstreamTooLarge:
        body = None
    ctx.state.record_upstream_error(kind)
    if body is None:
        raise upstream_status_error(
            upstream,
            f"The upstream answered {upstream.status} with an error body larger than the "
            f"limit of {limit} bytes (max_upstream_json_bytes); the body is not relayed.",
            code="upstream_too_large",
        )
    return _as_is(upstream, body)


def upstream_status_error(
    upstream: aiohttp.ClientResponse, message: str, *, code: str, param: str | None = None
) -> ProxyError:
    """An upstream error the proxy answers in its own words: the upstream's status, and
    the headers a client retries by."""
    return ProxyError(
        upstream.status, message, code=code, param=param, headers=retry_headers(upstream.headers)
    )


# An error body larger than this is not read into memory to be rewritten.
MAX_RENAMED_ERROR = 64 * 1024


def renamed(body: bytes, old_id: str, new_id: str) -> bytes:
    """`body` with the id `old_id` (as written, and as a URL path would carry it) replaced
    by `new_id`: an upstream's message about the video a minted id stands for, naming the
    id the client holds instead of one it never saw."""
    for form in dict.fromkeys((old_id, quote_id(old_id))):
        body = body.replace(form.encode(), new_id.encode())
    return body


async def relay_renamed(upstream: aiohttp.ClientResponse, old_id: str, new_id: str) -> web.Response:
    """An upstream error about `old_id` relayed as about `new_id` (status, retry headers
    and body as they came, but for the id). A body that cannot be rewritten (compressed,
    or larger than MAX_RENAMED_ERROR) gives way to the proxy's own error with the status."""
    fallback = upstream_status_error(
        upstream,
        f"The upstream answered {upstream.status} for video '{new_id}'.",
        code="upstream_error",
        param="id",
    )
    encoding = upstream.headers.get("Content-Encoding", "identity").strip().lower()
    length = upstream.content_length
    if encoding != "identity" or (length is not None and length > MAX_RENAMED_ERROR):
        raise fallback
    body = await upstream.content.read(MAX_RENAMED_ERROR + 1)
    if len(body) > MAX_RENAMED_ERROR:
        raise fallback
    headers = client_response_headers(upstream.headers, keep_encoding=False)
    return web.Response(
        status=upstream.status,
        reason=upstream.reason,
        body=renamed(body, old_id, new_id) or None,
        headers=headers,
    )


async def relay_as_is(ctx: RequestContext, upstream: aiohttp.ClientResponse) -> web.Response:
    """An answer with nothing to enrich, relayed as it came: a redirect (the client
    follows it, as it would without the proxy), a 204 or a 304. Its body is held in
    memory, so one over `max_upstream_json_bytes` is a 502 instead."""
    body = await read_bounded(upstream, ctx.state.settings.max_upstream_json_bytes)
    return _as_is(upstream, body)


def _as_is(upstream: aiohttp.ClientResponse, body: bytes) -> web.Response:
    headers = client_response_headers(upstream.headers, keep_encoding=False)
    return web.Response(
        status=upstream.status, reason=upstream.reason, body=body or None, headers=headers
    )


def extra_fields(ctx: RequestContext, obj: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """Merge the seed's extra_fields into ``obj``; what the upstream already sent wins,
    except latency, which we measured from here."""
    ours: dict[str, Any] = {
        "request_type": ctx.route.request_type,
        "provider": ctx.state.settings.upstream_provider,
        "model_requested": ctx.answered_model(obj.get("model")),
        "latency": round(latency_ms, 3),
    }
    theirs = obj.get("extra_fields")
    if isinstance(theirs, dict):
        ours.update({k: v for k, v in theirs.items() if k != "latency"})
    obj["extra_fields"] = ours
    return ours


def json_reply(
    ctx: RequestContext,
    obj: Any,
    *,
    status: int = 200,
    upstream: aiohttp.ClientResponse | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    out = (
        client_response_headers(upstream.headers, keep_encoding=False)
        if upstream is not None
        else CIMultiDict[str]()
    )
    out.popall("content-type", None)
    if headers:
        out.update(headers)
    return web.Response(
        status=status, body=orjson.dumps(obj), content_type="application/json", headers=out
    )


Decorate = Callable[[dict[str, Any]], dict[str, str] | None]
# Sees an upstream error status before it is relayed; raises to answer it otherwise.
OnError = Callable[[int], None]


# Success statuses that carry no JSON to enrich: redirects, No Content, Not Modified.
NO_JSON = frozenset({204, 205, 304, 300, 301, 302, 303, 307, 308})


async def enriched_json(
    ctx: RequestContext,
    upstream: aiohttp.ClientResponse,
    decorate: Decorate | None = None,
    on_error: OnError | None = None,
) -> web.Response:
    """A JSON route's upstream answer: errors relayed, success enriched with extra_fields."""
    if upstream.status >= 400:
        if on_error is not None:
            on_error(upstream.status)
        return await relay_error(ctx, upstream)
    if upstream.status in NO_JSON:
        return await relay_as_is(ctx, upstream)
    obj, raw = await read_json(ctx, upstream)
    if not isinstance(obj, dict):
        ctx.state.record_upstream_error("malformed")
        raise ProxyError(
            502,
            "The upstream answered with JSON that is not an object.",
            code="upstream_malformed_json",
        )
    if ctx.state.settings.upstream_flavor == "bifrost":
        normalise_video(obj)
        for item in obj.get("data") or ():
            if isinstance(item, dict):
                normalise_video(item)
    extra = extra_fields(ctx, obj, ctx.upstream_elapsed() * 1000.0)
    if ctx.capture:
        extra["raw_request"] = ctx.raw_request or request_capture(ctx, None)
        extra["raw_response"] = response_capture(ctx, upstream, raw)
    headers = decorate(obj) if decorate is not None else None
    return json_reply(ctx, obj, status=upstream.status, upstream=upstream, headers=headers)
