"""Response building shared by all routes: JSON with the fault knobs applied, the error
envelopes of both flavors, and request-scoped bookkeeping keys."""

from __future__ import annotations

import gzip
import secrets
import time
from typing import Any

import orjson
from aiohttp import web

from simulator.recording import RecordedRequest
from simulator.settings import SimulatorSettings

# Request-scoped values (request[...]).
STARTED: web.RequestKey[float] = web.RequestKey("sim_started", float)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("sim_request_id", str)
RECORD: web.RequestKey[RecordedRequest] = web.RequestKey("sim_record", RecordedRequest)
# extra_fields values a handler fills in for Bifrost.
CONTEXT: web.RequestKey[dict[str, Any]] = web.RequestKey("sim_context", dict)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(16)


def elapsed_ms(request: web.Request) -> int:
    return int((time.monotonic() - request.get(STARTED, time.monotonic())) * 1000)


def set_context(request: web.Request, **values: Any) -> None:
    request.setdefault(CONTEXT, {}).update(values)


def _extra_fields(request: web.Request, settings: SimulatorSettings) -> dict[str, Any]:
    context = request.get(CONTEXT, {})
    return {
        "request_type": context.get("request_type", "unknown"),
        "provider": context.get("provider", settings.provider),
        "model_requested": context.get("model_requested", ""),
        "latency": elapsed_ms(request),
    }


def json_response(
    request: web.Request,
    settings: SimulatorSettings,
    payload: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    faults: bool = True,
) -> web.Response:
    """A JSON response. `faults=False` is for the control routes, which must keep working
    while the knobs are on (otherwise a malformed_json could never be switched off)."""
    if faults and settings.flavor == "bifrost" and isinstance(payload, dict):
        payload = {**payload, "extra_fields": _extra_fields(request, settings)}
    body = orjson.dumps(payload)
    out_headers = dict(headers or {})
    if faults and settings.malformed_json:
        # Valid start, cut mid-token: what a proxy sees when an upstream dies mid-write.
        return web.Response(
            status=200,
            body=body[: max(1, len(body) // 2)] + b'"\x00,}',
            content_type="application/json",
            headers=out_headers,
        )
    if faults and settings.gzip_json and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, mtime=0)
        out_headers["Content-Encoding"] = "gzip"
    return web.Response(
        status=status, body=body, content_type="application/json", headers=out_headers
    )


def error_response(
    request: web.Request,
    settings: SimulatorSettings,
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> web.Response:
    error = {"message": message, "type": error_type, "param": param, "code": code}
    if settings.flavor == "bifrost":
        # Bifrost's envelope is a superset of OpenAI's: clients reading body["error"] work.
        event_id = request.get(REQUEST_ID, new_request_id())
        context = request.get(CONTEXT, {})
        payload: dict[str, Any] = {
            "event_id": event_id,
            "type": error_type,
            "is_bifrost_error": False,
            "status_code": status,
            "error": {**error, "event_id": event_id},
            "extra_fields": {
                "provider": context.get("provider", settings.provider),
                "model_requested": context.get("model_requested", ""),
                "request_type": context.get("request_type", "unknown"),
            },
        }
        body = orjson.dumps(payload)
    else:
        body = orjson.dumps({"error": error})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)
