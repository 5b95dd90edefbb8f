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
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import web

from cache.minted import Key, Order
from cache.service import CacheService
from cache.stores import JobRecord
from proxy import bifrost, videos
from proxy.caching import Caller, caller_of, minted_video, requested
from proxy.context import RequestContext
from proxy.errors import ProxyError
from proxy.headers import retry_headers, upstream_request_headers
from proxy.upstream import quote_id, read_bounded

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
    """Where a page left each source: the upstream's cursor (None: its start) with that
    video's created_at, and the last minted key served (None: none yet). `upstream_seen`:
    the upstream videos the page listed, (id, created_at) in order, to fall back on when
    the cursor video is deleted. `upstream_more`: the upstream had videos past its cursor
    then, so an empty page after it now means the cursor video was deleted behind the
    proxy's back. `upstream_checked`: the cursor video was found still there after an
    empty page (oldest first, where new videos land after it, an empty page is checked
    once even when nothing was past it)."""

    upstream_after: str | None
    minted_after: Key | None
    upstream_created: int | None = None
    upstream_seen: tuple[tuple[str, int | None], ...] = ()
    upstream_more: bool = False
    upstream_checked: bool = False

    def saved(self) -> dict[str, Any]:
        return {
            "upstream_after": self.upstream_after,
            "upstream_created": self.upstream_created,
            "minted_after": self.minted_after,
            "upstream_seen": self.upstream_seen,
            "upstream_more": self.upstream_more,
            "upstream_checked": self.upstream_checked,
        }

    @classmethod
    def restored(cls, data: Any) -> Position | None:
        if not isinstance(data, dict):
            return None
        minted = data.get("minted_after")
        return cls(
            data.get("upstream_after"),
            (int(minted[0]), str(minted[1])) if minted else None,
            data.get("upstream_created"),
            tuple((str(i), c) for i, c in data.get("upstream_seen") or ()),
            data.get("upstream_more") is True,
            data.get("upstream_checked") is True,
        )


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


def _upstream_query(params: ListParams, after: str | None, **replaced: str) -> str:
    """The client's query with the upstream's own cursor, and `replaced` values (a scan
    reads its own order and page size)."""
    pairs = [(k, v) for k, v in params.pairs if k != "after" and k not in replaced]
    pairs.extend(replaced.items())
    if after is not None:
        pairs.append(("after", after))
    return urlencode(pairs)


def _comes_first(order: Order, created: int, than: int) -> bool:
    """Whether an item created at `created` is listed before one created at `than`."""
    return created > than if order == "desc" else created < than


def _created(item: Any) -> int | None:
    value = item.get("created_at") if isinstance(item, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _has_id(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str)


async def list_route(ctx: RequestContext) -> web.StreamResponse:
    params = list_params(ctx.query_string)
    cache = ctx.state.cache
    if cache is None:
        return await videos.list_videos(ctx)
    caller = caller_of(ctx, cache)
    remixes = _remixes_named(cache, caller)
    if caller is None or not cache.jobs.minted.has_any(caller.owner, caller.scope):
        return await videos.list_videos(ctx, remixes)
    position = await _position(ctx, cache, caller, params)
    if position is None:  # an upstream id the upstream does not know: its answer
        return await videos.list_videos(ctx, remixes)
    try:
        return await _merged_page(ctx, cache, caller, params, position, remixes, check=True)
    except _CursorLost:
        position = await _placed_again(ctx, params, position)
        if params.after is not None:
            cache.jobs.remember_cursor(caller.owner, params.order, params.after, position.saved())
        return await _merged_page(ctx, cache, caller, params, position, remixes, check=False)


def _listed_provider(ctx: RequestContext, params: ListParams) -> Callable[[JobRecord], bool] | None:
    """Behind Bifrost, which lists one provider's videos (`?provider=`, the configured one
    when the client names none): the minted ids of that provider's models only."""
    settings = ctx.state.settings
    if settings.upstream_flavor != "bifrost":
        return None
    named = [value for name, value in params.pairs if name == "provider"]
    listed = named[0] if named else settings.upstream_provider
    return lambda job: requested(ctx, job.model)[0] == listed


class _CursorLost(Exception):
    """The upstream does not know the cursor video the proxy continues its list from."""


async def _merged_page(
    ctx: RequestContext,
    cache: CacheService,
    caller: Caller,
    params: ListParams,
    position: Position,
    remixes: Callable[[dict[str, Any]], None],
    *,
    check: bool,
) -> web.StreamResponse:
    """One page of both sources from `position`. With `check`, an upstream answer that
    looks like a cursor the upstream does not know (404, or an empty page where the page
    before said more were coming, or oldest first one not yet checked) raises _CursorLost
    instead of being served."""
    limit = params.limit or DEFAULT_LIMIT
    lost_possible = check and position.upstream_after is not None

    def refused(status: int) -> None:
        if lost_possible and status == 404:
            raise _CursorLost

    def merge(obj: dict[str, Any]) -> None:
        remixes(obj)
        items = obj.get("data")
        if not isinstance(items, list) or not all(_has_id(item) for item in items):
            return  # not a list of videos: the upstream's answer as it is
        if lost_possible and not items:
            # Oldest first, new videos land after the cursor: an empty page may hide them
            # even when nothing was past it before.
            unchecked = params.order == "asc" and not position.upstream_checked
            if position.upstream_more or unchecked:
                raise _CursorLost
        upstream_more = obj.get("has_more") is True
        minted = cache.jobs.minted_after(
            caller.owner,
            caller.scope,
            params.order,
            position.minted_after,
            limit + 1,
            accept=_listed_provider(ctx, params),
        )
        if all(_created(item) is not None for item in items):
            page, after = _merge(items, minted, params.order, limit, upstream_more, position)
        else:
            # Videos the proxy cannot place in time: the upstream's page whole, and the
            # minted ids after it, out of order rather than lost.
            page = _Page(list(items), upstream_more or bool(minted))
            last = items[-1] if items else None
            after = replace(
                position,
                upstream_after=last["id"] if last else position.upstream_after,
                upstream_created=_created(last) if last else position.upstream_created,
                upstream_seen=tuple((item["id"], _created(item)) for item in items),
                upstream_more=upstream_more if items else position.upstream_more,
            )
        obj["data"] = [
            # A join whose upstream job is gone must not break the caller's whole list.
            item if isinstance(item, dict) else minted_video(ctx, item, gone_as_failed=True)
            for item in page.items
        ]
        obj["first_id"] = obj["data"][0]["id"] if page.items else None
        obj["last_id"] = obj["data"][-1]["id"] if page.items else None
        obj["has_more"] = page.has_more
        if page.items:
            cache.jobs.remember_cursor(caller.owner, params.order, obj["last_id"], after.saved())

    query = _upstream_query(params, position.upstream_after)
    return await videos.list_videos(ctx, merge, query=query, on_error=refused)


# Videos of the lost cursor's page tried, newest first, before its place is found by time.
SEEN_TRIES = 3


async def _placed_again(ctx: RequestContext, params: ListParams, position: Position) -> Position:
    """`position` after the upstream answered for its cursor as for an unknown one. The
    video was deleted other than through the proxy (or the ones after it were, when it is
    still there: the answer stands). It continues from the latest video of its page still
    there (a few tries), else from its place found again by time, from the start of the
    client's order, as for a deleted video the proxy saw go (the videos of its second may
    be listed twice, never skipped)."""
    gone = position.upstream_after
    assert gone is not None
    created = await _upstream_created_at(ctx, params, gone)
    if created is not None or position.upstream_created is None:
        return replace(position, upstream_more=False, upstream_checked=True)
    earlier = [seen for seen in position.upstream_seen if seen[0] != gone]
    for seen in reversed(earlier[-SEEN_TRIES:]):
        if await _upstream_created_at(ctx, params, seen[0]) is not None:
            return _moved_to(position, seen, more=True)
    cursor = await _upstream_cursor_at(
        ctx, params, position.upstream_created, False, newest_first=False
    )
    return _moved_to(position, cursor, more=False)


def _moved_to(
    position: Position,
    cursor: tuple[str, int | None] | None,
    *,
    more: bool,
    checked: bool = True,
) -> Position:
    """`position` continuing the upstream's list after `cursor` (None: from its start)."""
    return replace(
        position,
        upstream_after=cursor[0] if cursor else None,
        upstream_created=cursor[1] if cursor else None,
        upstream_seen=(),
        upstream_more=more,
        upstream_checked=checked,
    )


@dataclass
class _Page:
    items: list[dict[str, Any] | JobRecord]
    has_more: bool


def _merge(
    upstream: list[dict[str, Any]],
    minted: list[JobRecord],
    order: Order,
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
            item is not None and not _comes_first(order, int(job.created_at), _created(item) or 0)
        ):
            assert item is not None
            page.append(item)
            i += 1
        else:
            page.append(job)
            j += 1
    more = upstream_more or i < len(upstream) or j < len(minted)
    if not i:  # the upstream's place, and the videos listed before it, stay as they were
        # (videos on this page lie past the cursor: an empty page after it would be news)
        upstream_at = replace(position, upstream_more=position.upstream_more or bool(upstream))
    else:
        last = upstream[i - 1]
        upstream_at = Position(
            str(last["id"]),
            position.minted_after,
            _created(last),
            tuple((str(item["id"]), _created(item)) for item in upstream[:i]),
            upstream_more or i < len(upstream),
        )
    minted_after = (int(minted[j - 1].created_at), minted[j - 1].id) if j else position.minted_after
    if order == "desc" and upstream_at.upstream_created is not None and i:
        # Newest first, a minted id newer than the last upstream video listed would have
        # come before it: one still unserved was made since, and the upstream's own
        # paging never shows a listing what is made behind it. Minted ids of that second
        # come after it, so none of them is passed over.
        bound = (upstream_at.upstream_created, _PAST_ALL_IDS)
        minted_after = bound if minted_after is None else min(minted_after, bound)
    return _Page(page, more), replace(upstream_at, minted_after=minted_after)


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
    """Where the page after `params.after` starts in each source; None for an upstream id
    the upstream does not know (its list answers for it). A cursor placed by asking the
    upstream is remembered like one the proxy handed out."""
    after = params.after
    if after is None:
        return Position(None, None)
    remembered = Position.restored(cache.jobs.cursor(caller.owner, params.order, after))
    if remembered is not None:
        upstream_after, minted_after = remembered.upstream_after, remembered.minted_after
        if upstream_after is not None and cache.jobs.deleted(upstream_after):
            # The upstream video the page stopped at was deleted since (the client's cursor
            # is another, later one): the latest video of that page still there, else the
            # place found again by time, from the start of the client's order (a loop that
            # deletes as it pages has emptied it). Videos of that second are then read
            # again: listed twice rather than skipped.
            alive = [seen for seen in remembered.upstream_seen if not cache.jobs.deleted(seen[0])]
            if alive:
                cursor: tuple[str, int | None] | None = alive[-1]
            elif remembered.upstream_created is None:
                return remembered
            else:
                cursor = await _upstream_cursor_at(
                    ctx, params, remembered.upstream_created, False, newest_first=False
                )
        elif upstream_after is None and minted_after is not None and params.order == "desc":
            # Only minted ids listed so far, newest first. Upstream videos newer than the
            # last of them were made since the listing passed that point; the upstream's
            # own paging would never show them to this listing, so they are passed over.
            cursor = await _upstream_cursor_at(
                ctx, params, minted_after[0], True, newest_first=True
            )
            if cursor is None:
                return remembered
        else:
            return remembered
        position = _moved_to(
            remembered, cursor, more=remembered.upstream_more, checked=remembered.upstream_checked
        )
    else:
        job = cache.get_job(after)
        if (
            job is not None
            and job.kind != "miss"
            and job.owner == caller.owner
            and job.scope == caller.scope
        ):
            key = (int(job.created_at), job.id)
            # Upstream videos of the minted id's second were listed before it. Read newest
            # first: such cursors are usually recent.
            cursor = await _upstream_cursor_at(ctx, params, key[0], True, newest_first=True)
            position = Position(cursor[0] if cursor else None, key, cursor[1] if cursor else None)
        else:
            created = await _upstream_created_at(ctx, params, after)
            if created is None:
                return None
            # Minted ids of the video's second come after it: none of them served yet.
            mark = _PAST_ALL_IDS if params.order == "desc" else ""
            position = Position(after, (created, mark), created)
    cache.jobs.remember_cursor(caller.owner, params.order, after, position.saved())
    return position


class _UpstreamStatus(Exception):
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers


async def _upstream_json(ctx: RequestContext, path_and_query: str) -> Any:
    """A GET of the upstream as the client (its headers): the JSON, or _UpstreamStatus."""
    headers = upstream_request_headers(ctx.request.headers, ctx.request_id)
    headers.popall("Content-Type", None)
    with ctx.upstream_timer():
        async with ctx.state.upstream.request(
            "GET", path_and_query, headers=headers, decompress=True
        ) as upstream:
            if upstream.status != 200:
                # Passed on with the error: clients retry by them.
                raise _UpstreamStatus(upstream.status, retry_headers(upstream.headers))
            body = await read_bounded(upstream, ctx.state.settings.max_upstream_json_bytes)
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                return None


def _placing_failed(params: ListParams, status: int, headers: dict[str, str]) -> ProxyError:
    """An upstream error met while placing a cursor, passed on with its status (a client
    retries a 429 or a 5xx), never as a page with videos missing."""
    retry = status in (408, 409, 429) or status >= 500
    return ProxyError(
        status if status >= 400 else 502,
        f"The upstream answered {status} to the request the proxy made to place the list "
        f"cursor 'after' ({params.after})" + ("; try again." if retry else "."),
        code="upstream_error",
        headers=headers,
    )


def _videos_path(ctx: RequestContext) -> str:
    return ctx.raw_path.split("?", 1)[0]


async def _upstream_created_at(
    ctx: RequestContext, params: ListParams, video_id: str
) -> int | None:
    """An upstream video's created_at; None when the upstream has no such video."""
    try:
        obj = await _upstream_json(ctx, f"{_videos_path(ctx)}/{quote_id(video_id)}")
    except _UpstreamStatus as exc:
        if exc.status in (404, 410):
            return None
        raise _placing_failed(params, exc.status, exc.headers) from None
    created = _created(obj)
    if created is None:
        raise _placing_failed(params, 502, {})
    return created


async def _upstream_cursor_at(
    ctx: RequestContext,
    params: ListParams,
    created: int,
    same_second_listed: bool,
    *,
    newest_first: bool,
) -> tuple[str, int | None] | None:
    """The upstream cursor from which `params.order` resumes at time `created`: the last
    upstream video listed before that point, with its created_at (None: none is). Videos
    of that very second count as listed when `same_second_listed`.

    Read newest first, or from the start of the client's order. Ascending read newest
    first, the cursor is the newest video listed before the point (this takes the
    upstream's order within a second to be reversed between asc and desc)."""

    def listed_before(item_created: int) -> bool:
        if item_created == created:
            return same_second_listed
        return _comes_first(params.order, item_created, created)

    scan_order: Order = "desc" if newest_first else params.order
    previous: tuple[str, int | None] | None = None
    cursor: str | None = None
    for _ in range(MAX_SCAN_PAGES):
        query = _upstream_query(params, cursor, order=scan_order, limit=str(MAX_LIMIT))
        if ctx.state.settings.upstream_flavor == "bifrost":
            query = bifrost.list_query(query, ctx.state.settings.upstream_provider)
        try:
            obj = await _upstream_json(ctx, f"{_videos_path(ctx)}?{query}")
        except _UpstreamStatus as exc:
            raise _placing_failed(params, exc.status, exc.headers) from None
        items = obj.get("data") if isinstance(obj, dict) else None
        if not isinstance(items, list):
            raise _placing_failed(params, 502, {})
        for item in items:
            item_created = _created(item)
            if item_created is None or not _has_id(item):
                raise _placing_failed(params, 502, {})
            if scan_order != params.order:  # asc, read from the newest end
                if listed_before(item_created):
                    return item["id"], item_created
            elif not listed_before(item_created):
                return previous
            previous = item["id"], item_created
            cursor = item["id"]
        if obj.get("has_more") is not True or not items:
            return previous if scan_order == params.order else None
    raise ProxyError(
        400,
        f"The cursor 'after' ({params.after}) lies more than {MAX_SCAN_PAGES * MAX_LIMIT:,} "
        "videos into the upstream's list, more than the proxy reads to place it; list again "
        "from the start.",
        code="invalid_value",
        param="after",
    )
