"""The /_sim/* control routes: recorded requests, runtime faults, health."""

from __future__ import annotations

import dataclasses

import orjson
from aiohttp import web

from simulator.settings import apply_faults
from simulator.state import SimulatorState
from simulator.wire import error_response, json_response


async def handle(request: web.Request, state: SimulatorState, name: str) -> web.Response:
    settings = state.settings
    method = request.method
    if name == "requests" and method == "GET":
        return json_response(request, settings, [r.to_dict() for r in state.requests], faults=False)
    if name == "requests" and method == "DELETE":
        state.requests.clear()
        return json_response(request, settings, {"cleared": True}, faults=False)
    if name == "faults" and method == "POST":
        try:
            changes = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            changes = None
        if not isinstance(changes, dict):
            return error_response(request, settings, 400, "faults must be a JSON object")
        problem = apply_faults(settings, changes)
        if problem is not None:
            return error_response(request, settings, 400, problem)
        return json_response(request, settings, dataclasses.asdict(settings), faults=False)
    if name == "faults" and method == "GET":
        return json_response(request, settings, dataclasses.asdict(settings), faults=False)
    if name == "health" and method == "GET":
        return json_response(
            request, settings, {"status": "ok", "jobs": len(state.jobs)}, faults=False
        )
    return error_response(request, settings, 404, f"No control route {method} /_sim/{name}")
