"""The simulator's aiohttp application.

Routing parses request.raw_path itself: ids are opaque strings that may carry `%2F` or
`%252F`, and aiohttp's router decodes those differently from how clients meant them."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from simulator import control, extras, videos
from simulator.recording import RecordedRequest
from simulator.settings import SimulatorSettings
from simulator.state import SIM_STATE, SimulatorState
from simulator.wire import RECORD, REQUEST_ID, STARTED, error_response, new_request_id

__all__ = ["SIM_STATE", "SimulatorState", "build_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Bodies are read whole for every route but echo (which streams); allow big test uploads.
MAX_BODY = 1 << 30


def _path(request: web.Request) -> str:
    return request.raw_path.split("?", 1)[0]


def _is_echo(path: str) -> bool:
    return path == "/v1/echo" or path.startswith("/v1/echo/")


async def dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    path = _path(request)
    method = request.method
    parts = path.split("/")[1:]  # raw segments, still percent-encoded

    def allowed(*methods: str) -> web.Response | None:
        if method in methods:
            return None
        return error_response(
            request,
            state.settings,
            405,
            f"Method {method} not allowed on {path}",
            headers={"Allow": ", ".join(methods)},
        )

    if parts[:1] == ["_sim"] and len(parts) == 2:
        return await control.handle(request, state, parts[1])
    if _is_echo(path):
        return await extras.echo(request, state)
    if path == "/v1/blob":
        return allowed("GET") or await extras.blob(request, state)
    if parts[:2] == ["v1", "videos"]:
        unauthenticated = videos.missing_key(request, state)
        if unauthenticated is not None:
            return unauthenticated
        rest = parts[2:]
        if not rest:
            if method == "POST":
                return await videos.create(request, state, "video_generation")
            return allowed("GET", "POST") or await videos.list_videos(request, state)
        if rest == ["edits"]:
            return allowed("POST") or await videos.create(request, state, "video_edit")
        if rest == ["extensions"]:
            return allowed("POST") or await videos.create(request, state, "video_extension")
        if rest == ["characters"]:
            return allowed("POST") or await extras.create_character(request, state)
        if len(rest) == 2 and rest[0] == "characters":
            return allowed("GET") or await extras.get_character(request, state, rest[1])
        if len(rest) == 1:
            if method == "DELETE":
                return await videos.delete(request, state, rest[0])
            return allowed("GET", "DELETE") or await videos.retrieve(request, state, rest[0])
        if rest[1:] == ["content"]:
            return allowed("GET") or await videos.content(request, state, rest[0])
        if rest[1:] == ["remix"]:
            return allowed("POST") or await videos.remix(request, state, rest[0])
    return error_response(
        request, state.settings, 404, f"Unknown route {method} {path}", code="not_found"
    )


@web.middleware
async def wire_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Recording, then the request-level faults (slowness, rate limiting)."""
    request[STARTED] = time.monotonic()
    request[REQUEST_ID] = new_request_id()
    state = request.app[SIM_STATE]
    settings = state.settings
    path = _path(request)
    if path.startswith("/_sim/"):
        return await handler(request)
    record = RecordedRequest.start(request)
    request[RECORD] = record
    state.requests.append(record)
    state.request_count += 1
    if not _is_echo(path):
        body = await request.read()
        record.set_body(len(body), hashlib.sha256(body).hexdigest())
    if settings.slow_ms > 0:
        await asyncio.sleep(settings.slow_ms / 1000)
    every = settings.rate_limit_every
    if every > 0 and state.request_count % every == 0:
        return error_response(
            request,
            settings,
            429,
            "Rate limit reached (simulated).",
            code="rate_limit_exceeded",
            error_type="requests",
            headers={"retry-after": "1", "retry-after-ms": "1000"},
        )
    return await handler(request)


async def _stamp_headers(request: web.Request, response: web.StreamResponse) -> None:
    # on_response_prepare reaches streamed and error responses too, not only web.Response.
    response.headers.setdefault("x-request-id", request.get(REQUEST_ID) or new_request_id())
    started = request.get(STARTED, time.monotonic())
    response.headers["openai-processing-ms"] = str(int((time.monotonic() - started) * 1000))


def build_app(settings: SimulatorSettings) -> web.Application:
    app = web.Application(middlewares=[wire_middleware], client_max_size=MAX_BODY)
    app[SIM_STATE] = SimulatorState(settings)
    app.on_response_prepare.append(_stamp_headers)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
