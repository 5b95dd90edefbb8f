"""Handlers for the /v1/videos operations and the untouched relay of everything else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from cache.scope import IDENTITY_QUALIFIERS
from proxy import bifrost
from proxy.bodies import CHUNK, RequestBody
from proxy.context import RequestContext
from proxy.errors import ProxyError
from proxy.headers import upstream_request_headers, with_credentials
from proxy.relay import Decorate, OnError, enriched_json, relay_renamed, stream_response


async def forward_body(
    ctx: RequestContext,
    body: RequestBody,
    decorate: Decorate | None = None,
    raw_path: str | None = None,
) -> web.StreamResponse:
    """Send a parsed create/remix body upstream (as sent, or as JSON for Bifrost) and relay
    the JSON answer enriched."""
    state = ctx.state
    request = ctx.request
    if state.settings.upstream_flavor == "bifrost":
        if ctx.route.request_type == "video_generation":
            payload: dict[str, Any] = bifrost.create_json(body, state.settings.upstream_provider)
        else:
            payload = bifrost.body_json(body)
        headers = upstream_request_headers(request.headers, ctx.request_id, drop_body_headers=True)
        headers["Content-Type"] = "application/json"
        data: Any = orjson.dumps(payload)
    else:
        headers = upstream_request_headers(request.headers, ctx.request_id)
        headers["Content-Length"] = str(body.length)
        data = body.chunks()
    with ctx.upstream_timer():
        async with state.upstream.request(
            "POST", raw_path or ctx.raw_path, headers=headers, data=data, decompress=True
        ) as upstream:
            return await enriched_json(ctx, upstream, decorate)


def _upstream_headers(
    ctx: RequestContext, credentials: Mapping[str, str] | None
) -> CIMultiDict[str]:
    """The client's headers for the upstream; with `credentials`, those instead of the
    client's own credential headers (a minted id relayed as the job's creator)."""
    headers = upstream_request_headers(ctx.request.headers, ctx.request_id)
    if credentials is not None:
        names = (*ctx.state.settings.cache_credential_headers, *IDENTITY_QUALIFIERS)
        with_credentials(headers, names, credentials)
    return headers


async def json_route(
    ctx: RequestContext,
    raw_path_and_query: str | None = None,
    decorate: Decorate | None = None,
    method: str | None = None,
    on_error: OnError | None = None,
) -> web.StreamResponse:
    """retrieve, delete and list: no body of interest, JSON back."""
    request = ctx.request
    headers = upstream_request_headers(request.headers, ctx.request_id)
    data = request.content if request.body_exists else None
    if data is None:
        headers.popall("Content-Type", None)
    with ctx.upstream_timer():
        async with ctx.state.upstream.request(
            method or request.method,
            raw_path_and_query or ctx.raw_path,
            headers=headers,
            data=data,
            decompress=True,
        ) as upstream:
            return await enriched_json(ctx, upstream, decorate, on_error)


async def list_videos(
    ctx: RequestContext,
    decorate: Decorate | None = None,
    query: str | None = None,
    on_error: OnError | None = None,
) -> web.StreamResponse:
    """The upstream's list for the client's query, or for `query` in its place."""
    if ctx.state.settings.upstream_flavor == "bifrost":
        provider = ctx.state.settings.upstream_provider
        query = bifrost.list_query(ctx.query_string if query is None else query, provider)
    if query is None:
        return await json_route(ctx, decorate=decorate, on_error=on_error)  # exactly as sent
    path = ctx.raw_path.split("?", 1)[0]
    return await json_route(ctx, f"{path}?{query}" if query else path, decorate, on_error=on_error)


class _LimitedStream:
    """The client's body as an async iterator, cut off past the configured limit."""

    def __init__(self, request: web.Request, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.exceeded = False
        self.client_gone = False

    @property
    def failed(self) -> bool:
        """Whether the body, not the upstream, ended the upstream request."""
        return self.exceeded or self.client_gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        try:
            async for chunk in self.request.content.iter_chunked(CHUNK):
                total += len(chunk)
                if total > self.limit:
                    self.exceeded = True
                    raise ProxyError(413, "The request body is too large.", code="body_too_large")
                yield chunk
        except ConnectionError:  # the client hung up in the middle of its upload
            self.client_gone = True
            raise


async def passthrough(
    ctx: RequestContext,
    *,
    content: bool = False,
    raw_path: str | None = None,
    credentials: Mapping[str, str] | None = None,
    missing: ProxyError | None = None,
    rename: tuple[str, str] | None = None,
) -> web.StreamResponse:
    """Any other path and method, and content downloads: both bodies streamed untouched.
    With `missing`, an upstream 404 is answered with it instead (its body would name an id
    the client never saw); with `rename` (that id, the client's), any other upstream error
    names the client's id instead."""
    request = ctx.request
    limit = ctx.state.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ProxyError(
            413, f"The request body exceeds the limit of {limit} bytes.", code="body_too_large"
        )
    headers = _upstream_headers(ctx, credentials)
    limited: _LimitedStream | None = None
    if request.body_exists:
        limited = _LimitedStream(request, limit)
        if request.content_length is not None:
            headers["Content-Length"] = str(request.content_length)
    try:
        with ctx.upstream_timer():
            async with ctx.state.upstream.request(
                request.method,
                raw_path or ctx.raw_path,
                headers=headers,
                data=limited.__aiter__() if limited else None,
                content=content,
                body_failed=(lambda: limited.failed) if limited else None,
            ) as upstream:
                if upstream.status >= 400:
                    ctx.state.record_upstream_error("4xx" if upstream.status < 500 else "5xx")
                if missing is not None and upstream.status == 404:
                    raise missing
                if rename is not None and upstream.status >= 400:
                    return await relay_renamed(upstream, *rename)
                return await stream_response(ctx, upstream)
    except ProxyError:
        if limited is not None and limited.exceeded:
            raise ProxyError(
                413, f"The request body exceeds the limit of {limit} bytes.", code="body_too_large"
            ) from None
        if limited is not None and limited.client_gone:
            ctx.client_gone = True  # counted 499; the answer below reaches no one
        raise


async def content(ctx: RequestContext) -> web.StreamResponse:
    return await passthrough(ctx, content=True)
