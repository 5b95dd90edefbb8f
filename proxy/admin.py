"""The admin API: cache statistics, entries and purges, behind a bearer token.

Disabled (404) when no ``admin_token`` is configured, so it is never open by accident.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web

from proxy.state import STATE


def _check(request: web.Request) -> None:
    state = request.app[STATE]
    token = state.settings.admin_token
    if not token or state.cache is None:
        raise web.HTTPNotFound(text="admin API disabled", content_type="text/plain")
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise web.HTTPUnauthorized(
            text='{"error": {"message": "admin token required", "type": "authentication_error"}}',
            content_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _summary(entry: Any) -> dict[str, Any]:
    data = asdict(entry)
    data.pop("embedding", None)
    data.pop("video", None)
    return data


async def stats(request: web.Request) -> web.Response:
    _check(request)
    state = request.app[STATE]
    assert state.cache is not None
    s = state.cache.stats()
    body = asdict(s)
    body["watching"] = state.watcher.active if state.watcher else 0
    return _json(body)


async def entries(request: web.Request) -> web.Response:
    _check(request)
    cache = request.app[STATE].cache
    assert cache is not None
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= 1000:
        return _json({"error": {"message": "limit must be 1..1000", "param": "limit"}}, 400)
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
    _check(request)
    cache = request.app[STATE].cache
    assert cache is not None
    entry_id = request.match_info["entry_id"]
    if cache.delete_entry(entry_id) is None:
        return _json({"error": {"message": f"no entry {entry_id!r}", "param": "id"}}, 404)
    return _json({"id": entry_id, "deleted": True})


async def purge(request: web.Request) -> web.Response:
    _check(request)
    cache = request.app[STATE].cache
    assert cache is not None
    try:
        body = await request.json(loads=orjson.loads) if request.body_exists else {}
    except orjson.JSONDecodeError:
        return _json({"error": {"message": "body must be JSON", "param": None}}, 400)
    if not isinstance(body, dict) or not (
        body.get("all") is True or body.get("scope") or body.get("namespace")
    ):
        return _json(
            {
                "error": {
                    "message": 'say {"all": true}, {"scope": ...} or {"namespace": ...}',
                    "param": "body",
                }
            },
            400,
        )
    if body.get("all") is True:
        count = cache.purge()
    else:
        count = cache.purge(scope=body.get("scope"), namespace=body.get("namespace"))
    return _json({"purged": count})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/cache/stats", stats)
    app.router.add_get("/admin/cache/entries", entries)
    app.router.add_delete("/admin/cache/entries/{entry_id}", delete_entry)
    app.router.add_post("/admin/cache/purge", purge)
