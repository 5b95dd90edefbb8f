"""Raw request/response capture for extra_fields, from what the proxy already holds.

Off by default; on with the ``capture_raw`` setting or per request with the header
``x-videocache-capture: true``. Create bodies are described from their parsed form, so a
50 MB input_reference is summarised (name, size, sha256), never read back into memory.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from metrics.capture import capture_request, capture_response, redact_path
from metrics.redact import (
    is_secret_key,
    redact_headers,
    redact_value,
    summarize_json,
    summarize_multipart_part,
)
from proxy.bodies import RequestBody
from proxy.context import RequestContext

CAPTURE_HEADER = "x-videocache-capture"


def wants_capture(ctx: RequestContext) -> bool:
    if ctx.state.settings.capture_raw:
        return True
    return ctx.request.headers.get(CAPTURE_HEADER, "").strip().lower() in ("1", "true", "yes")


def request_capture(ctx: RequestContext, body: RequestBody | None) -> dict[str, Any]:
    request = ctx.request
    limit = ctx.state.settings.capture_max_bytes
    if body is None or body.kind == "json":
        raw = body.raw_json if body is not None else None
        return capture_request(
            request.method,
            request.raw_path,
            request.headers,
            raw,
            request.headers.get("Content-Type"),
            limit,
            _credential_headers(ctx),
        )
    parts: list[dict[str, Any]] = [
        {
            "name": name,
            "value": redact_value(name, value)
            if is_secret_key(name)
            else summarize_json(value, max_string=max(limit, 1)),
        }
        for name, value in body.fields.items()
    ]
    parts += [
        summarize_multipart_part(p.name, p.filename, p.content_type, p.size, p.sha256)
        for p in body.files
    ]
    summary: Any = {"parts": parts}
    encoded = orjson.dumps(summary)
    truncated = len(encoded) > limit
    if truncated:
        # Same rule as metrics.capture for other bodies: past the limit, a preview only.
        summary = {"bytes": body.length, "preview": encoded[:limit].decode("utf-8", "ignore")}
    return {
        "method": request.method,
        "path": redact_path(request.raw_path),
        "headers": redact_headers(request.headers, _credential_headers(ctx)),
        "content_type": body.content_type,
        "body_bytes": body.length,
        "body": summary,
        "truncated": truncated,
    }


def response_capture(
    ctx: RequestContext, upstream: aiohttp.ClientResponse, body: bytes
) -> dict[str, Any]:
    return capture_response(
        upstream.status,
        upstream.headers,
        body,
        upstream.headers.get("Content-Type"),
        ctx.state.settings.capture_max_bytes,
        _credential_headers(ctx),
    )


def _credential_headers(ctx: RequestContext) -> frozenset[str]:
    """The headers the operator made credentials: redacted whatever they are called (the
    settings store them lower-cased)."""
    return frozenset(ctx.state.settings.cache_credential_headers)
