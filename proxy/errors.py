"""The error envelope the proxy uses for errors it raises itself.

It is the seed's shape, a superset of OpenAI's ``{"error": {message, type, param, code}}``,
so every OpenAI-compatible client finds ``body["error"]`` where it expects it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

# OpenAI's error "type" per status, so SDK users see familiar values.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}


class ProxyError(Exception):
    """An error the proxy answers itself, with a precise status and the offending param."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def envelope(
    err: ProxyError, *, request_type: str, provider: str, model: str | None
) -> dict[str, Any]:
    event_id = "evt_" + uuid.uuid4().hex
    error_type = _TYPE_BY_STATUS.get(err.status, "api_error")
    return {
        "event_id": event_id,
        "type": error_type,
        "is_bifrost_error": False,
        "status_code": err.status,
        "error": {
            "type": error_type,
            "code": err.code,
            "message": err.message,
            "param": err.param,
            "event_id": event_id,
        },
        "extra_fields": {
            "provider": provider,
            "model_requested": model,
            "request_type": request_type,
        },
    }


def error_response(
    err: ProxyError, *, request_type: str, provider: str, model: str | None = None
) -> web.Response:
    body = envelope(err, request_type=request_type, provider=provider, model=model)
    return web.Response(
        status=err.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=err.headers,
    )
