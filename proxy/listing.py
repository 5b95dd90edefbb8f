"""GET /v1/videos: the upstream's list with the caller's minted ids merged in.

A hit or a join answers with an id the proxy minted, which the upstream never saw; its list
holds only the jobs it ran. Clients list their videos (the SDK's ``videos.list()`` pages
through them all), so the proxy merges the ids a credential got into that credential's
list, by ``created_at`` in the order asked for, a page at a time.

Two sources are paged side by side: the upstream's list (its own cursor) and the caller's
minted ids (cache/minted.py, keyed by (created_at, id)). A page ends at one item, whose id
the client sends back as ``after``; the proxy remembers where that page left each source
(JobStore.remember_cursor). A cursor it does not remember (older than a day, or an id taken
from elsewhere) is placed by asking the upstream: the video's created_at for an upstream id,
a scan of the upstream's list for a minted one. On equal created_at upstream items come
first, which both sources' cursors rely on.

A credential that never got a minted id is relayed untouched, query and all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import web

from cache.minted import Key, Order
from cache.service import CacheService
from cache.stores import JobRecord
from proxy import bifrost, videos
from proxy.caching import Caller, caller_of, minted_video
from proxy.context import RequestContext
from proxy.errors import ProxyError
from proxy.headers import upstream_request_headers
from proxy.upstream import quote_id

DEFAULT_LIMIT = 20  # OpenAI's, for a list request without `limit`
MAX_LIMIT = 100
# Placing a minted cursor the proxy no longer remembers reads the upstream's list up to it,
# at most this many pages of MAX_LIMIT; further back, the client is told to start again.
MAX_SCAN_PAGES = 20
# Sorts after every minted id ("video_" + hex): a key that passes all ids of one second.
_PAST_ALL_IDS = "\U0010ffff"


@dataclass(frozen=True)
class ListParams:
    limit: int | None  # None: not sent (the upstream's default)
    order: Order
    after: str | None
    pairs: list[tuple[str, str]]  # the whole query, to pass on what the proxy does not read


@dataclass(frozen=True)
class Position:
    """Where a page left each source: the upstream's cursor (None: its start) and the last
    minted key served (None: none yet)."""

    upstream_after: str | None
    minted_after: Key | None


def _invalid(param: str, message: str) -> ProxyError:
    return ProxyError(400, message, code="invalid_value", param=param)


def list_params(query_string: str) -> ListParams:
    """The list query, checked as the contract defines it (limit 1..100, order asc/desc,
    after an id): a malformed one is answered here, not sent upstream."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in ("limit", "order", "after"):
            if name in seen:
                raise _invalid(name, f"'{name}' is given more than once.")
            seen[name] = value
    limit = None
    if "limit" in seen:
        raw = seen["limit"]
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
            raise _invalid("limit", f"Invalid 'limit': must be an integer from 1 to {MAX_LIMIT}.")
        limit = int(raw)
    order = seen.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _invalid("order", "Invalid 'order': must be 'asc' or 'desc'.")
    after = seen.get("after")
    if after == "":
        raise _invalid("after", "Invalid 'after': must be the id of a video.")
    return ListParams(limit, "asc" if order == "asc" else "desc", after, pairs)


def _upstream_query(params: ListParams, after: str | None, limit: int | None = None) -> str:
    """The client's query with the upstream's own cursor (and, for scans, page size)."""
    pairs = [(k, v) for k, v in params.pairs if k != "after" and (limit is None or k != "limit")]
    if limit is not None:
        pairs.append(("limit", str(limit)))
    if after is not None:
        pairs.append(("after", after))
    return urlencode(pairs)


def _comes_first(order: Order, created: int, than: int) -> bool:
    """Whether an item created at `created` is listed before one created at `than`."""
    return created > than if order == "desc" else created < than


def _key(item: dict[str, Any]) -> int:
    created = _created(item)
    assert created is not None  # checked before merging
    return created


def _created(item: Any) -> int | None:
    value = item.get("created_at") if isinstance(item, dict) else None
    ok = isinstance(value, int) and not isinstance(value, bool) and isinstance(item.get("id"), str)
    return value if ok else None


async def list_route(ctx: RequestContext) -> web.StreamResponse:
    params = list_params(ctx.query_string)
    cache = ctx.state.cache
    if cache is None:
        return await videos.list_videos(ctx)
    caller = caller_of(ctx, cache)
    remixes = _remixes_named(cache, caller)
    if caller is None or not cache.jobs.minted.has_any(caller.owner):
        return await videos.list_videos(ctx, remixes)
    position = await _position(ctx, cache, caller, params)
    if position is None:  # a cursor the proxy cannot place: the upstream answers for it
        return await videos.list_videos(ctx, remixes)
    limit = params.limit or DEFAULT_LIMIT

    def merge(obj: dict[str, Any]) -> None:
        remixes(obj)
        items = obj.get("data")
        if not isinstance(items, list) or any(_created(item) is None for item in items):
            return  # not a list the proxy can order: the upstream's page as it is
        minted = cache.jobs.minted_after(
            caller.owner, params.order, position.minted_after, limit + 1
        )
        page, after = _merge(items, minted, params, limit, obj.get("has_more") is True, position)
        obj["data"] = [
            job if isinstance(job, dict) else minted_video(ctx, job) for job in page.items
        ]
        obj["first_id"] = obj["data"][0]["id"] if page.items else None
        obj["last_id"] = obj["data"][-1]["id"] if page.items else None
        obj["has_more"] = page.has_more
        if page.items:
            cache.jobs.remember_cursor(
                caller.owner,
                params.order,
                obj["last_id"],
                {"upstream_after": after.upstream_after, "minted_after": after.minted_after},
            )

    query = _upstream_query(params, position.upstream_after)
    return await videos.list_videos(ctx, merge, query=query)


@dataclass
class _Page:
    items: list[dict[str, Any] | JobRecord]
    has_more: bool


def _merge(
    upstream: list[dict[str, Any]],
    minted: list[JobRecord],
    params: ListParams,
    limit: int,
    upstream_more: bool,
    position: Position,
) -> tuple[_Page, Position]:
    """Up to `limit` items of both sources in order (upstream first on equal created_at),
    and where the page leaves each source."""
    page: list[dict[str, Any] | JobRecord] = []
    i = j = 0
    while len(page) < limit:
        item = upstream[i] if i < len(upstream) else None
        job = minted[j] if j < len(minted) else None
        if item is None and (job is None or upstream_more):
            # With more upstream items unseen, a minted id may come after any of them.
            break
        if job is None or (
            item is not None and not _comes_first(params.order, int(job.created_at), _key(item))
        ):
            assert item is not None
            page.append(item)
            i += 1
        else:
            page.append(job)
            j += 1
    more = upstream_more or i < len(upstream) or j < len(minted)
    after = Position(
        str(upstream[i - 1]["id"]) if i else position.upstream_after,
        (int(minted[j - 1].created_at), minted[j - 1].id) if j else position.minted_after,
    )
    return _Page(page, more), after


def _remixes_named(cache: CacheService, caller: Caller | None) -> Callable[[dict[str, Any]], None]:
    """A remix of a minted id names that id as its source, as retrieve does."""

    def decorate(obj: dict[str, Any]) -> None:
        items = obj.get("data")
        if caller is None or not isinstance(items, list):
            return
        for item in items:
            video_id = item.get("id") if isinstance(item, dict) else None
            job = cache.get_job(video_id) if isinstance(video_id, str) else None
            if job is None or job.kind != "miss" or job.scope != caller.scope:
                continue
            if remixed_from := job.request_params.get("remixed_from"):
                item["remixed_from_video_id"] = remixed_from

    return decorate


async def _position(
    ctx: RequestContext, cache: CacheService, caller: Caller, params: ListParams
) -> Position | None:
    """Where the page after `params.after` starts in each source; None when the proxy
    cannot tell (an id the upstream does not know, an upstream error)."""
    after = params.after
    if after is None:
        return Position(None, None)
    remembered = cache.jobs.cursor(caller.owner, params.order, after)
    if isinstance(remembered, dict):
        minted_after = remembered.get("minted_after")
        return Position(
            remembered.get("upstream_after"),
            (int(minted_after[0]), str(minted_after[1])) if minted_after else None,
        )
    job = cache.get_job(after)
    if job is not None and job.kind != "miss" and job.owner == caller.owner:
        key = (int(job.created_at), job.id)
        try:
            return Position(await _upstream_before(ctx, params, key[0]), key)
        except _Unplaceable:
            return None
    created = await _upstream_created_at(ctx, after)
    if created is None:
        return None
    # Minted ids of the same second as the upstream video come after it: none served yet.
    return Position(after, (created, _PAST_ALL_IDS) if params.order == "desc" else (created, ""))


async def _upstream_json(ctx: RequestContext, path_and_query: str) -> dict[str, Any] | None:
    """A GET of the upstream as the client (its headers), the JSON object or None."""
    headers = upstream_request_headers(ctx.request.headers, ctx.request_id)
    headers.popall("Content-Type", None)
    with ctx.upstream_timer():
        async with ctx.state.upstream.request(
            "GET", path_and_query, headers=headers, decompress=True
        ) as upstream:
            if upstream.status != 200:
                return None
            try:
                obj = orjson.loads(await upstream.read())
            except orjson.JSONDecodeError:
                return None
    return obj if isinstance(obj, dict) else None


def _videos_path(ctx: RequestContext) -> str:
    return ctx.raw_path.split("?", 1)[0]


async def _upstream_created_at(ctx: RequestContext, video_id: str) -> int | None:
    obj = await _upstream_json(ctx, f"{_videos_path(ctx)}/{quote_id(video_id)}")
    return _created(obj) if obj is not None else None


class _Unplaceable(Exception):
    """The upstream's list could not be read up to a cursor (an error, an odd answer)."""


async def _upstream_before(ctx: RequestContext, params: ListParams, created: int) -> str | None:
    """The upstream cursor just before a minted id created at `created`: the id of the last
    upstream video listed before it (None: none is)."""
    cursor: str | None = None
    for _ in range(MAX_SCAN_PAGES):
        query = _upstream_query(params, cursor, MAX_LIMIT)
        if ctx.state.settings.upstream_flavor == "bifrost":
            query = bifrost.list_query(query, ctx.state.settings.upstream_provider)
        obj = await _upstream_json(ctx, f"{_videos_path(ctx)}?{query}")
        items = obj.get("data") if obj is not None else None
        if not isinstance(items, list):
            raise _Unplaceable
        for item in items:
            item_created = _created(item)
            if item_created is None:
                raise _Unplaceable
            # Upstream items of the same second were listed before the minted id.
            if _comes_first(params.order, created, item_created):
                return cursor
            cursor = item["id"]
        if obj is None or obj.get("has_more") is not True or not items:
            return cursor
    raise ProxyError(
        400,
        f"The cursor 'after' ({params.after}) is too far back to resume from; list again "
        "from the start.",
        code="invalid_value",
        param="after",
    )
