"""Building the aiohttp application: routes, middlewares, lifecycle of the parts."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from cache.embedder import Embedder, SentenceTransformerEmbedder
from cache.service import SWEEP_INTERVAL, CacheService
from config.settings import Settings
from metrics.accesslog import AccessLog
from metrics.logging import access_emitter, flush_logs
from metrics.registry import CacheStats, Metrics
from proxy import admin, caching, health, listing, videos
from proxy.capture import wants_capture
from proxy.context import RequestContext, target_of
from proxy.errors import ProxyError, error_response
from proxy.routes import Route, classify
from proxy.state import STATE, AppState
from proxy.upstream import Upstream

VERSION = "0.1.0"
Handler = Callable[[RequestContext], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {
    "video_generation": caching.create_route,
    "video_list": listing.list_route,
    "video_retrieve": caching.retrieve,
    "video_delete": caching.delete,
    "video_download": caching.content,
    "video_remix": caching.remix_route,
    "passthrough": videos.passthrough,
}
REQUEST_ID_KEY = web.RequestKey("request_id", str)
CONTEXT_KEY = web.RequestKey("videocache_context", RequestContext)
ROUTE_KEY = web.RequestKey("videocache_route", Route)
# A client's x-request-id is reused only when it is a sane token: it goes into logs and
# upstream headers, so nothing that could inject lines or grow without bound.
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_OWN_ROUTES = {"/healthz": "/healthz", "/readyz": "/readyz", "/metrics": "/metrics"}


def request_id_for(request: web.Request) -> str:
    sent = request.headers.get("x-request-id", "")
    return sent if _REQUEST_ID_OK.match(sent) else "req_" + uuid.uuid4().hex


async def dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    route = request.get(ROUTE_KEY) or classify(request.method, target_of(request))
    ctx = RequestContext(request, state, route, request[REQUEST_ID_KEY])
    ctx.capture = wants_capture(ctx)
    request[CONTEXT_KEY] = ctx
    try:
        return await HANDLERS[route.request_type](ctx)
    except ProxyError as err:
        return error_response(
            err,
            request_type=route.request_type,
            provider=state.settings.upstream_provider,
            model=ctx.model_requested,
        )


def _route_label(request: web.Request) -> str:
    """The bounded route label, known before the handler runs (for the in-flight gauge)."""
    path = request.path
    if path.startswith("/admin/"):
        return "/admin"
    if path in _OWN_ROUTES and request.match_info.handler is not dispatch:
        # Answered here. The same path relayed (a POST /healthz; /metrics when it is served
        # on metrics_port) is the upstream's answer, labelled as any other relayed path.
        return _OWN_ROUTES[path]
    route = classify(request.method, target_of(request))
    request[ROUTE_KEY] = route
    return route.template


# nginx's status for "client closed request": the answer was cut short by the client, not
# by us or the upstream (so it is neither a 2xx nor an error of either).
CLIENT_GONE = 499


@web.middleware
async def observe_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Request id, metrics and the access log for every request, whatever answers it."""
    started = time.perf_counter()
    request[REQUEST_ID_KEY] = request_id_for(request)
    state = request.app[STATE]
    settings = state.settings
    route = _route_label(request)
    status = 500
    http = state.metrics.http if settings.metrics_enabled else None
    if http is not None:
        http.enter(route)
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            # Sent here rather than after the chain returns, so that what the sending
            # decides belongs to this request's record: the status a cached file picks in
            # prepare() (206, 304, 416), the time its body takes, a client gone meanwhile.
            # (aiohttp's own prepare and write_eof afterwards do nothing.)
            try:
                await response.prepare(request)
                await response.write_eof()
                status = response.status
            except ConnectionError:
                status = CLIENT_GONE
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        # The client hung up and the server cancelled its handler (handler_cancellation).
        status = CLIENT_GONE
        raise
    except ConnectionError:
        # Reading the client's body failed because the client went away (an upload cut
        # short): nobody to answer, and not the proxy's error. Anything else stays a 500.
        if not _client_gone(request):
            raise
        status = CLIENT_GONE
        return web.Response(status=CLIENT_GONE)  # aiohttp finds no one to send it to
    finally:
        total = time.perf_counter() - started
        ctx = request.get(CONTEXT_KEY)
        if ctx is not None and ctx.client_gone:
            status = CLIENT_GONE
        upstream_seconds = ctx.upstream_seconds if ctx is not None else 0.0
        if http is not None:
            http.leave(route)
            http.observe(route, request.method, status, total, upstream_seconds)
        if settings.access_log:
            _access_log(state, request, ctx, route, status, total, upstream_seconds)


def _client_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed (or closing): whatever was or would be
    answered did not reach it in full."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _access_log(
    state: AppState,
    request: web.Request,
    ctx: RequestContext | None,
    route: str,
    status: int,
    total: float,
    upstream_seconds: float,
) -> None:
    # The request only captures values (one tuple); building the event's dict is left to
    # the batch (access_fields), where that code runs hot.
    if ctx is None:
        extra: tuple[object, ...] = ()
    else:
        extra = (ctx.cache_result, ctx.similarity, ctx.model_requested, ctx.log_fields, ctx.route)
    state.access_log.record(
        (request[REQUEST_ID_KEY], request.method, route, status, total, upstream_seconds, extra)
    )


def access_fields(captured: tuple[Any, ...]) -> dict[str, Any]:
    """The access event's fields from what :func:`_access_log` captured."""
    request_id, method, route, status, total, upstream_seconds, extra = captured
    fields = {
        "request_id": request_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(total * 1000, 3),
        "upstream_ms": round(upstream_seconds * 1000, 3),
    }
    if extra:
        cache, similarity, model, log_fields, ctx_route = extra
        fields["cache"] = cache
        fields["similarity"] = similarity
        fields["model"] = model
        if log_fields:
            fields.update(log_fields)
        if ctx_route.raw_id is not None and "video_id" not in fields:
            fields["video_id"] = ctx_route.video_id
    return fields


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    # Runs before headers leave, for streamed responses too. (The metrics port has no
    # middleware to have given the request its id.)
    response.headers["x-request-id"] = request.get(REQUEST_ID_KEY) or request_id_for(request)
    ctx = request.get(CONTEXT_KEY)
    if ctx is not None:
        timings = [f"upstream;dur={ctx.upstream_elapsed() * 1000:.3f}"]
        timings += [f"{name};dur={secs * 1000:.3f}" for name, secs in ctx.timings.items()]
        timings.append(f"total;dur={ctx.elapsed_ms():.3f}")
        response.headers["Server-Timing"] = ", ".join(timings)


async def _sweep_expired(cache: CacheService) -> None:
    """Expired entries never answer, but their files take space until swept. Publishing
    sweeps too (at most every SWEEP_INTERVAL); this covers a cache nothing is added to."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL)
        try:
            await asyncio.to_thread(partial(cache.evict, sweep=True))
        except Exception as exc:  # a failed sweep must not end the sweeping
            structlog.get_logger("videocache").warning("sweep_failed", error=repr(exc))


async def metrics_endpoint(request: web.Request) -> web.Response:
    body, content_type = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def _start_metrics_port(settings: Settings, state: AppState) -> web.AppRunner | None:
    """/metrics on its own port, so operators can keep it off the public listener."""
    if settings.metrics_port is None:
        return None
    metrics_app = web.Application()
    metrics_app[STATE] = state
    metrics_app.router.add_get("/metrics", metrics_endpoint)
    metrics_app.on_response_prepare.append(_on_prepare)
    runner = web.AppRunner(metrics_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    return runner


def own_embedder(
    settings: Settings, on_batch: Callable[[int, float], None]
) -> SentenceTransformerEmbedder:
    """The embedder a proxy builds for itself (tests share one loaded model instead).
    Nothing is loaded until its start()."""
    return SentenceTransformerEmbedder(
        settings.embedding_model,
        max_batch=settings.embedding_max_batch,
        max_wait_ms=settings.embedding_batch_wait_ms,
        on_batch=on_batch,
    )


def _build_cache(settings: Settings, state: AppState, embedder: Embedder | None) -> None:
    from cache.service import CacheConfig, CacheService
    from proxy.watcher import Watcher

    def on_batch(size: int, seconds: float) -> None:
        state.metrics.embedding_batch(seconds, size)

    if embedder is not None and getattr(embedder, "on_batch", False) is None:
        embedder.on_batch = on_batch  # type: ignore[attr-defined]
    if embedder is None and settings.cache_semantic:
        embedder = own_embedder(settings, on_batch)
    config = CacheConfig(
        threshold=settings.cache_threshold,
        ttl=settings.cache_ttl,
        job_retention=settings.cache_job_retention,
        max_bytes=settings.cache_max_bytes,
        scope_mode=settings.cache_scope,
        shared_name=settings.cache_shared_name,
        semantic=settings.cache_semantic,
    )
    state.cache = CacheService(
        Path(settings.data_dir),
        config,
        embedder if settings.cache_semantic else None,
        on_evict=state.metrics.cache_evicted,
    )
    cache = state.cache
    state.metrics.bind_cache_stats(
        lambda: CacheStats(cache.entries.count(), cache.blobs.total_bytes, cache.blobs.max_bytes)
    )
    state.watcher = Watcher(state)


def build_app(settings: Settings, *, embedder: Embedder | None = None) -> web.Application:
    """The proxy as an aiohttp app. ``embedder`` lets tests share one loaded model."""
    app = web.Application(
        middlewares=[observe_middleware],
        # The create/remix readers and the passthrough enforce max_body_bytes themselves
        # while streaming; this only bounds aiohttp's own request.read(), which we avoid.
        client_max_size=settings.max_body_bytes,
        # Request bodies arrive as sent: a relayed body keeps its Content-Encoding and
        # Content-Length, so it must keep its bytes (proxy.bodies decodes create/remix
        # bodies itself, to read them, and still forwards what was sent).
        handler_args={"auto_decompress": False},
    )
    upstream = Upstream(settings)
    state = AppState(
        settings=settings,
        upstream=upstream,
        metrics=Metrics(version=VERSION, prices=settings.prices),
        access_log=AccessLog(access_emitter, build=access_fields),
    )
    upstream.on_error = state.record_upstream_error
    app[STATE] = state
    app.on_response_prepare.append(_on_prepare)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        metrics_runner: web.AppRunner | None = None
        sweeper: asyncio.Task[None] | None = None

        async def stop() -> None:
            try:
                if sweeper is not None:
                    sweeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeper
                if state.watcher is not None:
                    await state.watcher.close()
                if state.cache is not None:
                    if state.cache.embedder is not None and embedder is None:
                        close = getattr(state.cache.embedder, "close", None)
                        if close is not None:
                            await close()
                    state.cache.close()
                if metrics_runner is not None:
                    await metrics_runner.cleanup()
                await upstream.close()
            finally:
                # Whatever failed above, the requests served until now are logged.
                state.access_log.flush()
                flush_logs()

        try:
            Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
            await upstream.start()
            metrics_runner = await _start_metrics_port(settings, state)
            if settings.cache_enabled:
                _build_cache(settings, state, embedder)
                assert state.cache is not None and state.watcher is not None
                if state.cache.embedder is not None:
                    start = getattr(state.cache.embedder, "start", None)
                    if start is not None:
                        started = time.perf_counter()
                        await start()
                        found = state.cache.embedder
                        state.log.info(
                            "embedder_ready",
                            model=found.model_name,
                            encoding=getattr(found, "encoding", ""),
                            max_batch=getattr(found, "max_batch", None),
                            seconds=round(time.perf_counter() - started, 2),
                        )
                await state.watcher.start()
                sweeper = asyncio.create_task(_sweep_expired(state.cache), name="cache-sweeper")
        except BaseException:
            # A failed start (a model that will not load, a port taken) must not leave the
            # upstream session, the metrics port or the embedder's thread behind.
            await stop()
            raise
        yield
        await stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    if settings.metrics_port is None and settings.metrics_enabled:
        # Switched off, /metrics is relayed like any path the proxy does not serve.
        app.router.add_get("/metrics", metrics_endpoint)
    admin.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
