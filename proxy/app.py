"""Building the aiohttp application: routes, the request-id hook, lifecycle."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from proxy import health, videos
from proxy.context import RequestContext
from proxy.errors import ProxyError, error_response
from proxy.routes import classify
from proxy.state import STATE, AppState
from proxy.upstream import Upstream

Handler = Callable[[RequestContext], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {
    "video_generation": videos.create,
    "video_list": videos.list_videos,
    "video_retrieve": videos.retrieve,
    "video_delete": videos.delete,
    "video_download": videos.content,
    "video_remix": videos.remix,
    "passthrough": videos.passthrough,
}
REQUEST_ID_KEY = web.RequestKey("request_id", str)
# A client's x-request-id is reused only when it is a sane token: it goes into logs and
# upstream headers, so nothing that could inject lines or grow without bound.
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def request_id_for(request: web.Request) -> str:
    sent = request.headers.get("x-request-id", "")
    return sent if _REQUEST_ID_OK.match(sent) else "req_" + uuid.uuid4().hex


async def dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    route = classify(request.method, request.raw_path)
    ctx = RequestContext(request, state, route, request[REQUEST_ID_KEY])
    try:
        return await HANDLERS[route.request_type](ctx)
    except ProxyError as err:
        return error_response(
            err,
            request_type=route.request_type,
            provider=state.settings.upstream_provider,
            model=ctx.model_requested,
        )


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    request[REQUEST_ID_KEY] = request_id_for(request)
    return await handler(request)


async def _set_request_id(request: web.Request, response: web.StreamResponse) -> None:
    # on_response_prepare runs before headers leave, for streamed responses too.
    request_id = request.get(REQUEST_ID_KEY)
    if request_id:
        response.headers["x-request-id"] = request_id


def build_app(settings: Settings) -> web.Application:
    # client_max_size: the create/remix readers and the passthrough enforce our own limit
    # while streaming; aiohttp's own limit only applies to request.read(), which we avoid.
    app = web.Application(
        middlewares=[request_id_middleware], client_max_size=settings.max_body_bytes
    )
    state = AppState(settings=settings, upstream=Upstream(settings))
    state.upstream.on_error = state.record_upstream_error
    app[STATE] = state
    app.on_response_prepare.append(_set_request_id)

    async def lifecycle(app: web.Application) -> object:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        await state.upstream.start()
        yield
        await state.upstream.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
