"""The admin API: cache statistics, entries and purges, behind a bearer token.

Disabled (404) when no ``admin_token`` is configured, so it is never open by accident.

Everything under ``/admin`` is answered here and NEVER relayed upstream: a request carrying
the admin token must not reach the upstream through the catch-all relay because of a
trailing slash, a wrong method or an odd spelling of the path. aiohttp tries resources in
order and, when a path matches with another method, moves on to the next resource, so the
catch-all ``/{tail:.*}`` registered after these routes would win for ``POST
/admin/cache/stats``, ``GET /admin/cache/stats/``, ``/admin//cache/stats``,
``/admin%2Fcache/stats`` and so on. :func:`admin_guard` (a middleware added by
:func:`add_routes`) therefore looks at every request the admin handlers did not get: if its
path is in the admin namespace (see :func:`in_admin_namespace`) it runs the same auth check
as the real routes, then answers 405 with ``Allow`` for a known path with another method and
404 otherwise, in the seed's error envelope.
"""

from __future__ import annotations

import hmac
import posixpath
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource

from proxy.errors import ProxyError, error_response
from proxy.state import STATE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN_RESOURCES = web.AppKey("admin_resources", list[AbstractResource])
_REQUEST_TYPE = "admin"
# "/admin" itself, or followed by "/" or ";" (path parameters, which some servers strip).
# Case-insensitive: the proxy reserves /ADMIN too rather than relay it with a token.
_ADMIN_PREFIX = re.compile(r"/admin(?:[/;]|$)", re.IGNORECASE)
_SLASHES = re.compile(r"/{2,}")


def in_admin_namespace(path: str) -> bool:
    """Whether a path (raw or decoded, no query) is one the proxy reserves for itself.

    The path is percent-decoded until stable (a few rounds, so ``%2561dmin`` counts),
    backslashes are read as slashes, runs of slashes collapsed, and it is checked both as
    written and with dot segments resolved (``/v1/../admin/x`` counts, as an upstream that
    normalises would see it). Non-admin paths without ``%`` take a fast exit.
    """
    lowered = path.lower()
    if "admin" not in lowered and "%" not in path:
        return False
    for _ in range(4):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    path = _SLASHES.sub("/", path.replace("\\", "/"))
    if _ADMIN_PREFIX.match(path):
        return True
    return path.startswith("/") and bool(_ADMIN_PREFIX.match(posixpath.normpath(path)))


def _request_in_admin_namespace(request: web.Request) -> bool:
    # raw_path is the request-target as sent (absolute-form included), rel_url.raw_path its
    # path part, request.path what aiohttp decoded: any of them under /admin is enough.
    raw = request.raw_path.split("?", 1)[0]
    return any(in_admin_namespace(p) for p in (raw, request.rel_url.raw_path, request.path))


def _error(
    request: web.Request,
    status: int,
    message: str,
    *,
    code: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error in the seed's envelope (a superset of OpenAI's ``{"error": {...}}``)."""
    return error_response(
        ProxyError(status, message, code=code, param=param, headers=headers),
        request_type=_REQUEST_TYPE,
        provider=request.app[STATE].settings.upstream_provider,
    )


def _bearer_token(header: str) -> str | None:
    """The token of ``Authorization: Bearer <token>``; the scheme is case-insensitive
    (RFC 9110 section 11.1) and separated from the token by whitespace."""
    parts = header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1].strip()


def _check(request: web.Request) -> web.Response | None:
    """None when the request may use the admin API, else the response to give."""
    state = request.app[STATE]
    token = state.settings.admin_token
    if not token or state.cache is None:
        return _error(request, 404, "admin API disabled", code="not_found")
    sent = _bearer_token(request.headers.get("Authorization", ""))
    # surrogateescape: header bytes that are not UTF-8 must give 401, not a 500.
    if sent is None or not hmac.compare_digest(
        sent.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape")
    ):
        return _error(
            request,
            401,
            "admin token required",
            code="invalid_admin_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _summary(entry: Any) -> dict[str, Any]:
    data = asdict(entry)
    data.pop("embedding", None)
    data.pop("video", None)
    return data


async def stats(request: web.Request) -> web.Response:
    if (denied := _check(request)) is not None:
        return denied
    state = request.app[STATE]
    assert state.cache is not None
    s = state.cache.stats()
    body = asdict(s)
    body["watching"] = state.watcher.active if state.watcher else 0
    return _json(body)


async def entries(request: web.Request) -> web.Response:
    if (denied := _check(request)) is not None:
        return denied
    cache = request.app[STATE].cache
    assert cache is not None
    text = request.query.get("limit", "100")
    # ASCII digits only: int() would also read "２" or "1_0".
    limit = int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else -1
    if not 1 <= limit <= 1000:
        return _error(request, 400, "limit must be 1..1000", code="invalid_value", param="limit")
    scope = request.query.get("scope")
    namespace = request.query.get("namespace")
    found = []
    for entry in cache.entries.iter_entries():
        if scope is not None and entry.scope != scope:
            continue
        if namespace is not None and entry.namespace != namespace:
            continue
        found.append(_summary(entry))
        if len(found) >= limit:
            break
    return _json({"object": "list", "data": found})


async def delete_entry(request: web.Request) -> web.Response:
    if (denied := _check(request)) is not None:
        return denied
    cache = request.app[STATE].cache
    assert cache is not None
    entry_id = request.match_info["entry_id"]
    if cache.delete_entry(entry_id) is None:
        return _error(request, 404, f"no entry {entry_id!r}", code="not_found", param="id")
    return _json({"id": entry_id, "deleted": True})


async def purge(request: web.Request) -> web.Response:
    if (denied := _check(request)) is not None:
        return denied
    cache = request.app[STATE].cache
    assert cache is not None
    try:
        # orjson reads the bytes: a body that is not UTF-8 is bad JSON, not a 500.
        body = orjson.loads(await request.read()) if request.body_exists else {}
    except orjson.JSONDecodeError:
        return _error(request, 400, "body must be JSON", code="invalid_json", param="body")
    if isinstance(body, dict):
        # A purge takes exactly what it names: a misspelt key or "all" beside a scope would
        # otherwise widen it (to the whole scope, or to every tenant).
        unknown = sorted(set(body) - {"all", "scope", "namespace"})
        if unknown:
            return _error(
                request,
                400,
                f"unknown purge field {unknown[0]!r}: say all, scope or namespace",
                code="unknown_parameter",
                param=unknown[0],
            )
        if body.get("all") is True and ("scope" in body or "namespace" in body):
            return _error(
                request,
                400,
                'all purges every scope: send {"all": true} alone, or scope/namespace without it',
                code="invalid_value",
                param="all",
            )
        for name in ("scope", "namespace"):
            if name in body and not (isinstance(body[name], str) and body[name]):
                return _error(
                    request,
                    400,
                    f"{name} must be a non-empty string",
                    code="invalid_type",
                    param=name,
                )
        if "all" in body and not isinstance(body["all"], bool):
            return _error(request, 400, "all must be true", code="invalid_type", param="all")
    if not isinstance(body, dict) or not (
        body.get("all") is True or body.get("scope") or body.get("namespace")
    ):
        return _error(
            request,
            400,
            'say {"all": true}, {"scope": ...} or {"namespace": ...}',
            code="invalid_value",
            param="body",
        )
    if body.get("all") is True:
        count = cache.purge()
    else:
        count = cache.purge(scope=body.get("scope"), namespace=body.get("namespace"))
    return _json({"purged": count})


_HANDLERS = frozenset({stats, entries, delete_entry, purge})


async def _unmatched(request: web.Request) -> web.Response:
    """The answer for an admin-namespace request none of the admin routes took."""
    if (denied := _check(request)) is not None:
        return denied
    allowed: set[str] = set()
    for resource in request.app[ADMIN_RESOURCES]:
        # (None, methods) when the path matches with another method; (None, set()) else.
        _, methods = await resource.resolve(request)
        allowed |= methods
    shown = request.raw_path.split("?", 1)[0][:200]
    if allowed:
        return _error(
            request,
            405,
            f"Method {request.method} not allowed on {shown}",
            code="method_not_allowed",
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    return _error(request, 404, f"Unknown admin route {request.method} {shown}", code="not_found")


@web.middleware
async def admin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keep every /admin request inside the proxy; see the module docstring."""
    if request.match_info.handler in _HANDLERS:
        return await handler(request)
    if _request_in_admin_namespace(request):
        return await _unmatched(request)
    return await handler(request)


def add_routes(app: web.Application) -> None:
    """The admin routes, plus :func:`admin_guard` so nothing under /admin is relayed.

    Call before the catch-all relay route is registered (route order is match order).
    """
    routes = [
        app.router.add_get("/admin/cache/stats", stats),
        app.router.add_get("/admin/cache/entries", entries),
        app.router.add_delete("/admin/cache/entries/{entry_id}", delete_entry),
        app.router.add_post("/admin/cache/purge", purge),
    ]
    app[ADMIN_RESOURCES] = [r.resource for r in routes if r.resource is not None]
    # Middlewares run after routing, inside the ones given to web.Application (so the
    # observe middleware still times and logs these answers).
    app.middlewares.append(admin_guard)
