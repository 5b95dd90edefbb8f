"""Routes beyond the core contract, there so a proxy's passthrough can be tested."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from aiohttp import web

from simulator.forms import BodyError, parse_body
from simulator.state import SimulatorState
from simulator.wire import RECORD, error_response, json_response, set_context


async def create_character(request: web.Request, state: SimulatorState) -> web.Response:
    set_context(request, request_type="video_character")
    try:
        body = parse_body(request.headers.get("Content-Type", ""), await request.read())
    except BodyError as exc:
        return error_response(request, state.settings, 400, exc.message, param=exc.param)
    fields = {key: value for key, value in body.fields.items() if isinstance(value, str)}
    return json_response(request, state.settings, state.new_character(fields))


async def get_character(request: web.Request, state: SimulatorState, segment: str) -> web.Response:
    set_context(request, request_type="video_character")
    character = state.characters.get(unquote(segment)) or state.characters.get(segment)
    if character is None:
        return error_response(
            request,
            state.settings,
            404,
            f"Character '{unquote(segment)}' not found.",
            param="id",
            code="not_found",
        )
    return json_response(request, state.settings, character)


async def echo(request: web.Request, state: SimulatorState) -> web.Response:
    """Describe the request, hashing the body as it streams in: a 50 MB upload is never
    held in memory, so a proxy's streaming can be checked end to end."""
    set_context(request, request_type="echo")
    digest = hashlib.sha256()
    length = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        digest.update(chunk)
        length += len(chunk)
    record = request.get(RECORD)
    if record is not None:
        record.set_body(length, digest.hexdigest())
    return json_response(
        request,
        state.settings,
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "body_len": length,
            "body_sha256": digest.hexdigest(),
        },
    )


async def blob(request: web.Request, state: SimulatorState) -> web.StreamResponse:
    """N deterministic bytes, streamed: for testing large passthrough downloads."""
    try:
        size = int(request.query.get("bytes", "0"))
    except ValueError:
        size = -1
    if size < 0:
        return error_response(
            request, state.settings, 400, "bytes must be a non-negative integer", param="bytes"
        )
    response = web.StreamResponse()
    response.content_type = "application/octet-stream"
    response.content_length = size
    await response.prepare(request)
    block = state.blob_block
    remaining = size
    while remaining > 0:
        piece = block[: min(remaining, len(block))]
        await response.write(piece)
        remaining -= len(piece)
    await response.write_eof()
    return response
