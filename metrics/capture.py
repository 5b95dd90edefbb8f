"""Raw request/response capture for ``extra_fields.raw_request`` / ``raw_response``.

Captures are plain JSON-serialisable dicts, built from bytes the proxy already holds (no I/O).
Secrets are redacted (headers, JSON keys, form fields and query parameters named like a
credential: metrics.redact.is_secret_key); file parts and data: URLs are described by size
and SHA-256, never copied.

Shape::

    {"method", "path", "headers", "content_type", "body_bytes", "body", "truncated"}   # request
    {"status", "headers", "content_type", "body_bytes", "body", "truncated"}           # response

``body`` is None (no body), a summarised JSON value, ``{"parts": [...]}`` for multipart,
truncated text, or ``{"bytes", "sha256"}`` for anything else (invalid JSON adds
``"invalid_json": true``). When a summarised body still serialises to more than
``max_bytes``, ``body`` becomes ``{"bytes", "sha256", "preview"}`` (preview cut at
``max_bytes`` characters) and ``truncated`` is True.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from metrics.redact import (
    REDACTED,
    is_secret_key,
    redact_headers,
    summarize_json,
    summarize_multipart_part,
    truncate_text,
)

Headers = Mapping[str, Any] | Iterable[tuple[str, Any]] | None

_PARAM = re.compile(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def capture_request(
    method: str,
    path: str,
    headers: Headers,
    body: bytes | None,
    content_type: str | None,
    max_bytes: int,
    secret_headers: Collection[str] = (),
) -> dict[str, Any]:
    """The raw_request capture of one request (``path`` may include the query string).
    ``secret_headers``: lower-case header names redacted besides those named like a
    credential (metrics.redact.redact_headers)."""
    summary, truncated = _capture_body(body, content_type, max_bytes)
    return {
        "method": method,
        "path": redact_path(path),
        "headers": redact_headers(headers, secret_headers),
        "content_type": content_type,
        "body_bytes": None if body is None else len(body),
        "body": summary,
        "truncated": truncated,
    }


def capture_response(
    status: int,
    headers: Headers,
    body: bytes | None,
    content_type: str | None,
    max_bytes: int,
    secret_headers: Collection[str] = (),
) -> dict[str, Any]:
    """The raw_response capture of one response. ``body`` None: not captured (streamed)."""
    summary, truncated = _capture_body(body, content_type, max_bytes)
    return {
        "status": status,
        "headers": redact_headers(headers, secret_headers),
        "content_type": content_type,
        "body_bytes": None if body is None else len(body),
        "body": summary,
        "truncated": truncated,
    }


def _capture_body(body: bytes | None, content_type: str | None, max_bytes: int) -> tuple[Any, bool]:
    if not body:
        return None, False
    mime, params = _parse_content_type(content_type)
    summary: Any
    if mime == "application/json" or mime.endswith("+json"):
        try:
            summary = summarize_json(orjson.loads(body), max_string=max(max_bytes, 1))
        except orjson.JSONDecodeError:
            return {**_opaque(body), "invalid_json": True}, False
    elif mime == "multipart/form-data" and params.get("boundary"):
        summary = {"parts": _multipart_parts(body, params["boundary"], max(max_bytes, 1))}
    elif mime.startswith("text/") or mime in ("application/x-www-form-urlencoded",):
        text = body.decode("utf-8", "replace")
        if mime == "application/x-www-form-urlencoded":
            text = _redact_query(text)
        summary = truncate_text(text, max(max_bytes, 1))
    else:
        return _opaque(body), False  # fixed size: nothing to truncate
    encoded = orjson.dumps(summary)
    if len(encoded) <= max_bytes:
        return summary, False
    preview = encoded[:max_bytes].decode("utf-8", "ignore")
    return {**_opaque(body), "preview": preview}, True


def _opaque(body: bytes) -> dict[str, Any]:
    return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    if not value:
        return "", {}
    mime, _, rest = value.partition(";")
    params = {
        k.lower(): v[1:-1].replace('\\"', '"') if v.startswith('"') else v.strip()
        for k, v in _PARAM.findall(";" + rest)
    }
    return mime.strip().lower(), params


def _multipart_parts(body: bytes, boundary: str, max_string: int) -> list[dict[str, Any]]:
    """Split a multipart/form-data body. A delimiter is CRLF "--" boundary; the CRLF before
    it belongs to the delimiter, not to the part (RFC 2046 section 5.1.1)."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    parts: list[dict[str, Any]] = []
    for chunk in chunks[1:]:  # chunks[0] is the preamble
        if chunk.startswith(b"--"):
            break  # close delimiter; the rest is the epilogue
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = _part_headers(head)
        _, disposition = _parse_content_type(headers.get("content-disposition"))
        name = disposition.get("name")
        filename = disposition.get("filename")
        part_type = headers.get("content-type")
        if filename is not None or (part_type and not part_type.startswith("text/")):
            parts.append(
                summarize_multipart_part(
                    name, filename, part_type, len(content), hashlib.sha256(content).hexdigest()
                )
            )
            continue
        value = content.decode("utf-8", "replace")
        parts.append(
            {
                "name": name,
                "value": REDACTED if is_secret_key(name) else truncate_text(value, max_string),
            }
        )
    return parts


def _part_headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.lstrip(b"\r\n").split(b"\r\n"):
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    # Query parameters that carry credentials (?key= on Gemini, ?api-key=, ?sig= in an Azure
    # SAS, ?subscription-key= on API Management) are named like any other credential.
    if not any(is_secret_key(k) for k, _ in pairs):
        return query
    return urlencode([(k, REDACTED if is_secret_key(k) else v) for k, v in pairs])


def redact_path(path: str) -> str:
    """A request target with credential-named query parameters (`key`, `api-key`, `sig`,
    `access_key`, ...: metrics.redact.is_secret_key) redacted."""
    base, sep, query = path.partition("?")
    return f"{base}?{_redact_query(query)}" if sep else path
