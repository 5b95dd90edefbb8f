"""GET /v1/videos through the proxy: the caller's minted ids (hits, joins) merged into the
upstream's list by created_at, page by page, with the official SDK paginating."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from simulator.state import SIM_STATE
from tests.conftest import ServerFactory, sim_requests
from tests.e2e.test_cache import client, create_raw, settle


def shifted_clock(sim: TestServer) -> dict[str, float]:
    """The simulator's clock runs `shift` seconds off the real one (the proxy's), so upstream
    videos can be made older and newer than the proxy's minted ids."""
    shift = {"s": 0.0}
    sim.app[SIM_STATE].clock = lambda: time.time() + shift["s"]
    return shift


async def get_list(proxy: TestServer, query: str, key: str = "sk-alice") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            proxy.make_url(f"/v1/videos?{query}"), headers={"Authorization": f"Bearer {key}"}
        ) as resp,
    ):
        return resp.status, await resp.json()


def list_paths(sim: TestServer) -> list[str]:
    return [r.raw_path for r in sim_requests(sim) if r.raw_path.startswith("/v1/videos?")]


async def old_then_hits(
    proxy: TestServer, sim: TestServer, prompts: tuple[str, ...]
) -> tuple[list[str], list[str], dict[str, float]]:
    """Alice's upstream videos made 300, 200... s ago, one a prompt, then two hits now on
    the first two prompts. Returns (upstream ids, hit ids, both oldest first; the clock)."""
    shift = shifted_clock(sim)
    alice = client(proxy)
    old = []
    for k, prompt in enumerate(prompts):
        shift["s"] = -300.0 + 100 * k
        old.append((await alice.videos.create(prompt=prompt)).id)
    await settle(proxy)
    made = []
    for prompt in prompts[:2]:
        hit, headers = await create_raw(alice, prompt=prompt)
        assert headers["x-cache"] == "HIT"
        made.append(hit)
    await alice.close()
    # Oldest first: by created_at, then by id within a second (as the proxy lists them).
    return old, [hit.id for hit in sorted(made, key=lambda v: (v.created_at, v.id))], shift


async def mixed_history(proxy: TestServer, sim: TestServer) -> tuple[list[str], list[str]]:
    """Alice's videos, oldest first: three upstream ones made 300, 200 and 100 s ago, two
    hits now, one upstream video 100 s ahead. Returns (all ids in desc order, hit ids)."""
    prompts = ("a heron in reeds", "a kite over dunes", "a tram at dusk")
    old, hits, shift = await old_then_hits(proxy, sim, prompts)
    shift["s"] = 100.0
    alice = client(proxy)
    newest = (await alice.videos.create(prompt="a fox in snow")).id
    await settle(proxy)
    await alice.close()
    return [newest, *reversed(hits), *reversed(old)], hits


async def test_the_sdk_lists_hits_among_upstream_videos(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, hits = await mixed_history(proxy, sim)
    alice = client(proxy)

    # Pages of two: every video once, in created_at order, both ways.
    before = len(list_paths(sim))
    seen = [video async for video in alice.videos.list(limit=2)]
    assert [v.id for v in seen] == expected
    assert [v.created_at for v in seen] == sorted((v.created_at for v in seen), reverse=True)
    assert len(list_paths(sim)) - before == 3  # one upstream request a page, no more
    ascending = [video.id async for video in alice.videos.list(limit=2, order="asc")]
    assert ascending == expected[::-1]

    # A hit is listed as retrieve describes it: the client's prompt, completed, with a
    # content URL on the proxy.
    listed = {v.id: v for v in seen}
    for hit_id in hits:
        retrieved = await alice.videos.retrieve(hit_id)
        fields = ("status", "prompt", "created_at", "completed_at", "expires_at", "size")
        assert [getattr(listed[hit_id], f) for f in fields] == [
            getattr(retrieved, f) for f in fields
        ]
        assert listed[hit_id].status == "completed"
        (url,) = listed[hit_id].model_extra["videos"]
        assert url["url"] == str(proxy.make_url(f"/v1/videos/{hit_id}/content"))

    # One page with all of it: ids and the list's own fields.
    status, page = await get_list(proxy, "limit=100")
    assert status == 200 and [v["id"] for v in page["data"]] == expected
    assert page["first_id"] == expected[0] and page["last_id"] == expected[-1]
    assert page["has_more"] is False and page["object"] == "list"
    status, page = await get_list(proxy, "limit=3")
    assert [v["id"] for v in page["data"]] == expected[:3] and page["has_more"] is True

    # A deleted hit leaves the list; the other stays.
    await alice.videos.delete(hits[0])
    after_delete = [video.id async for video in alice.videos.list(limit=4)]
    assert after_delete == [i for i in expected if i != hits[0]]
    await alice.close()


async def test_cursors_the_proxy_did_not_hand_out_are_placed_by_the_upstream(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, _ = await mixed_history(proxy, sim)
    # No list was served yet, so no cursor is remembered: after a hit's id, the proxy reads
    # the upstream's list to find where it falls; after an upstream id, asks its created_at.
    for k in range(len(expected) - 1):
        for order, ids in (("desc", expected), ("asc", expected[::-1])):
            status, page = await get_list(proxy, f"order={order}&limit=100&after={ids[k]}")
            assert status == 200
            assert [v["id"] for v in page["data"]] == ids[k + 1 :], (order, k)
            assert page["has_more"] is False
    # The upstream's own answer for a cursor nobody knows (the simulator: an empty page).
    status, page = await get_list(proxy, "after=video_unknown")
    assert status == 200 and page["data"] == []


async def test_other_credentials_never_see_the_hits_and_are_relayed_untouched(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim, cache_scope="shared")
    _, hits = await mixed_history(proxy, sim)
    bob = client(proxy, "sk-bob")
    bobs = (await bob.videos.create(prompt="a heron in reeds")).id  # a hit in the shared scope
    listed = [video.id async for video in bob.videos.list(limit=10)]
    assert listed == [bobs]  # his hit only: not alice's hits, not her upstream videos
    assert not set(hits) & set(listed)
    carol = client(proxy, "sk-carol")  # nothing minted: the upstream's list, query as sent
    assert [video.id async for video in carol.videos.list(limit=7, order="asc")] == []
    assert list_paths(sim)[-1] == "/v1/videos?limit=7&order=asc"
    await bob.close()
    await carol.close()


async def test_a_join_is_listed_while_it_generates(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(speed=2.0)  # a job takes 10 s
    proxy = await start_proxy(sim)
    alice = client(proxy)
    first = await alice.videos.create(prompt="a lantern on a jetty")
    joined, headers = await create_raw(alice, prompt="a lantern on a jetty")
    assert headers["x-cache"] == "JOINED"
    listed = {video.id: video async for video in alice.videos.list()}
    assert set(listed) == {first.id, joined.id}
    assert listed[joined.id].status in ("queued", "in_progress")
    assert listed[joined.id].prompt == "a lantern on a jetty"
    await alice.close()


async def test_a_malformed_list_query_is_400_and_not_sent(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator()
    proxy = await start_proxy(sim)
    for query, param in (
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=%EF%BC%93", "limit"),  # a full-width digit
        ("limit=2&limit=3", "limit"),
        ("order=up", "order"),
        ("after=", "after"),
    ):
        status, body = await get_list(proxy, query)
        assert status == 400, query
        assert body["error"]["param"] == param and param in body["error"]["message"]
    assert list_paths(sim) == [] and [r for r in sim_requests(sim) if r.method == "GET"] == []
    sdk = client(proxy)
    try:
        await sdk.videos.list(limit=0)
        raise AssertionError("limit=0 was accepted")
    except openai.BadRequestError as exc:
        assert exc.body["param"] == "limit"  # type: ignore[index]
    await sdk.close()
    assert [r for r in sim_requests(sim) if r.method == "GET"] == []


async def test_a_bifrost_upstream_lists_hits_too(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(flavor="bifrost", provider="openai")
    proxy = await start_proxy(sim, upstream_flavor="bifrost", upstream_provider="openai")
    shift = shifted_clock(sim)
    shift["s"] = -60.0
    alice = client(proxy)
    first = await alice.videos.create(prompt="a lighthouse in fog")
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a lighthouse in fog")
    assert headers["x-cache"] == "HIT"
    shift["s"] = 60.0
    newest = await alice.videos.create(prompt="a lighthouse at noon")
    # Bifrost's ids ("<escaped id>:<provider>", with a "%2F") work as cursors: placed by
    # retrieving the video, and a hit's by reading Bifrost's list up to it.
    assert "%2F" in newest.id and newest.id.endswith(":openai")
    for after, rest in ((newest.id, [hit.id, first.id]), (hit.id, [first.id])):
        status, page = await get_list(proxy, f"after={quote(after, safe='')}")
        assert status == 200 and [v["id"] for v in page["data"]] == rest
    listed = [video.id async for video in alice.videos.list(limit=1)]
    assert listed == [newest.id, hit.id, first.id]
    assert all("provider=openai" in path for path in list_paths(sim))
    await alice.close()


async def walk(proxy: TestServer, query: str, after: str | None = None) -> list[str]:
    """Every page of a list, by raw requests: ids in the order served."""
    ids: list[str] = []
    while True:
        status, page = await get_list(proxy, query + (f"&after={after}" if after else ""))
        assert status == 200, page
        ids += [v["id"] for v in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["last_id"]


async def test_deleting_a_listed_video_mid_listing_loses_nothing_else(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # The page below ends at a hit, so the proxy continues the upstream's list from the
    # newest video, on page 1: deleted through the proxy, the upstream no longer knows it.
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, _ = await mixed_history(proxy, sim)
    status, first = await get_list(proxy, "limit=2")
    assert status == 200 and [v["id"] for v in first["data"]] == expected[:2]
    alice = client(proxy)
    await alice.videos.delete(expected[0])
    await alice.close()
    assert await walk(proxy, "limit=2", first["last_id"]) == expected[2:]


async def test_a_join_whose_job_was_deleted_is_listed_as_failed(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(speed=2.0)  # a job takes 10 s
    proxy = await start_proxy(sim, cache_scope="shared")
    alice, bob = client(proxy), client(proxy, "sk-bob")
    first = await alice.videos.create(prompt="a lantern on a jetty")
    joined, headers = await create_raw(bob, prompt="a lantern on a jetty")
    assert headers["x-cache"] == "JOINED"
    await alice.videos.delete(first.id)  # alice's to delete; bob's list must still work
    (listed,) = [video async for video in bob.videos.list()]
    assert listed.id == joined.id and listed.status == "failed"
    assert listed.error is not None and first.id not in listed.model_dump_json()
    await alice.close()
    await bob.close()


async def test_an_upstream_error_while_placing_a_cursor_is_passed_on(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, _ = await mixed_history(proxy, sim)
    # No page ended at the newest video: placing it takes a retrieve, rate limited once.
    state = sim.app[SIM_STATE]
    state.settings.rate_limit_every = state.request_count + 1
    status, body = await get_list(proxy, f"limit=100&after={expected[0]}")
    state.settings.rate_limit_every = 0
    # Not a page with the hits missing: the 429, which clients retry.
    assert status == 429 and "'after'" in body["error"]["message"]
    status, page = await get_list(proxy, f"limit=100&after={expected[0]}")
    assert status == 200 and [v["id"] for v in page["data"]] == expected[1:]


async def test_videos_made_during_a_newest_first_listing_do_not_land_mid_list(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    shift = shifted_clock(sim)
    shift["s"] = -100.0
    alice = client(proxy)
    old = (await alice.videos.create(prompt="a heron in reeds")).id
    await settle(proxy)
    made = [await alice.videos.create(prompt="a heron in reeds") for _ in range(2)]
    hits = [hit.id for hit in sorted(made, key=lambda v: (v.created_at, v.id))]
    status, first = await get_list(proxy, "limit=1")
    assert status == 200 and [v["id"] for v in first["data"]] == [hits[1]]
    shift["s"] = 50.0
    await alice.videos.create(prompt="a fox in snow")  # newer than everything listed
    # Newest first, as the upstream pages: what was made since is not in this listing.
    assert await walk(proxy, "limit=1", first["last_id"]) == [hits[0], old]
    await alice.close()


async def test_a_recent_minted_cursor_is_placed_from_the_newest_end(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, hits = await mixed_history(proxy, sim)
    ascending = expected[::-1]
    before = len(list_paths(sim))
    at = ascending.index(hits[0])
    status, page = await get_list(proxy, f"order=asc&limit=100&after={hits[0]}")
    assert status == 200 and [v["id"] for v in page["data"]] == ascending[at + 1 :]
    scans = list_paths(sim)[before:-1]  # the last is the page itself
    assert len(scans) == 1 and "order=desc" in scans[0]


async def test_ids_of_a_scope_the_proxy_no_longer_uses_are_not_listed(
    start_proxy: ServerFactory, start_simulator: ServerFactory, tmp_path: Any
) -> None:
    # Retrieve answers them 404 after the switch; the list does not offer them either.
    sim = await start_simulator(per_key=True)
    data = tmp_path / "switch"
    before = await start_proxy(sim, data_dir=data)
    alice = client(before)
    made = await alice.videos.create(prompt="a heron in reeds")
    await settle(before)
    hit, headers = await create_raw(alice, prompt="a heron in reeds")
    assert headers["x-cache"] == "HIT"
    assert {v.id async for v in alice.videos.list()} == {hit.id, made.id}
    await alice.close()
    await before.close()
    after = await start_proxy(sim, data_dir=data, cache_scope="shared")
    alice = client(after)
    assert [v.id async for v in alice.videos.list()] == [made.id]
    await alice.close()


async def test_a_deleted_cursor_video_falls_back_on_its_page_without_upstream_reads(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, _ = await mixed_history(proxy, sim)
    ascending = expected[::-1]  # old1, old2, old3, hit, hit, newest
    status, first = await get_list(proxy, "order=asc&limit=4")
    assert status == 200 and [v["id"] for v in first["data"]] == ascending[:4]
    alice = client(proxy)
    await alice.videos.delete(ascending[2])  # old3: where the upstream's list was left
    await alice.close()
    before = len(list_paths(sim))
    assert await walk(proxy, "order=asc&limit=4", first["last_id"]) == ascending[4:]
    assert len(list_paths(sim)) - before == 1  # the page itself, continued after old2


async def test_a_hit_made_during_a_newest_first_listing_does_not_land_mid_list(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    shift = shifted_clock(sim)
    shift["s"] = -300.0
    alice = client(proxy)
    old = (await alice.videos.create(prompt="a heron in reeds")).id
    await settle(proxy)
    earlier = await alice.videos.create(prompt="a heron in reeds")  # a hit, now
    shift["s"] = 1.0
    newest = (await alice.videos.create(prompt="a fox in snow")).id  # a second after it
    status, first = await get_list(proxy, "limit=1")
    assert status == 200 and [v["id"] for v in first["data"]] == [newest]
    await asyncio.sleep(2.1)
    made = await alice.videos.create(prompt="a heron in reeds")  # newer than `newest`
    assert made.created_at > first["data"][0]["created_at"]
    # Newest first, the listing has passed the place of a hit made now.
    assert await walk(proxy, "limit=1", first["last_id"]) == [earlier.id, old]
    await alice.close()


async def delete_upstream(sim: TestServer, video_id: str, key: str = "sk-alice") -> None:
    """A delete the proxy never sees: straight at the upstream."""
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            sim.make_url(f"/v1/videos/{video_id}"), headers={"Authorization": f"Bearer {key}"}
        ) as resp,
    ):
        assert resp.status == 200


@pytest.mark.parametrize("answers_404", [False, True], ids=["empty-page", "404"])
async def test_a_cursor_video_deleted_behind_the_proxys_back_loses_nothing_else(
    start_proxy: ServerFactory, start_simulator: ServerFactory, answers_404: bool
) -> None:
    # Page 1 ends at a hit; the proxy continues the upstream's list after the newest video,
    # which is then deleted at the upstream directly. The upstream answers for that cursor
    # as for one it never knew: an empty page (OpenAI-style) or a 404 (a gateway).
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, _ = await mixed_history(proxy, sim)
    sim.app[SIM_STATE].settings.unknown_cursor_404 = answers_404
    status, first = await get_list(proxy, "limit=2")
    assert status == 200 and [v["id"] for v in first["data"]] == expected[:2]
    await delete_upstream(sim, expected[0])

    def lookups() -> int:
        return sum(r.raw_path == f"/v1/videos/{expected[0]}" for r in sim_requests(sim))

    before = lookups()
    assert await walk(proxy, "limit=2", first["last_id"]) == expected[2:]
    assert lookups() == before + 1  # the proxy checked the video is gone
    # Walked again, the cursor's new place is remembered: not looked up again.
    assert await walk(proxy, "limit=2", first["last_id"]) == expected[2:]
    assert lookups() == before + 1
    # The upstream's own answer still stands for a cursor the proxy never served.
    status, page = await get_list(proxy, "after=video_unknown")
    assert (status, page.get("data")) == ((404, None) if answers_404 else (200, []))


async def test_an_empty_upstream_page_that_is_its_real_end_is_served(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # The upstream videos after the cursor were deleted, not the cursor: nothing is placed
    # again, and the hits still to come are served.
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    expected, hits = await mixed_history(proxy, sim)
    ascending = expected[::-1]  # old1, old2, old3, hit, hit, newest
    status, first = await get_list(proxy, "order=asc&limit=3")
    assert status == 200 and [v["id"] for v in first["data"]] == ascending[:3]
    await delete_upstream(sim, ascending[-1])
    before = len(sim_requests(sim))
    assert await walk(proxy, "order=asc&limit=3", first["last_id"]) == hits
    # The empty page made the proxy check its cursor video (there), then serve the page.
    paths = [r.raw_path for r in sim_requests(sim)[before:]]
    assert paths.count(f"/v1/videos/{ascending[2]}") == 1
    assert not [p for p in paths if "limit=100" in p]  # nothing placed again by time


@pytest.mark.parametrize("answers_404", [False, True], ids=["empty-page", "404"])
async def test_polling_oldest_first_past_a_cursor_deleted_behind_the_back_finds_new_videos(
    start_proxy: ServerFactory, start_simulator: ServerFactory, answers_404: bool
) -> None:
    # The listing reached the upstream's end (nothing was past its cursor video) and ended
    # at a hit. The cursor video is deleted at the upstream, a new video is made, and the
    # client asks what came after its last id, as an incremental sync does.
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    old, hits, shift = await old_then_hits(proxy, sim, ("a heron in reeds", "a kite over dunes"))
    sim.app[SIM_STATE].settings.unknown_cursor_404 = answers_404
    status, first = await get_list(proxy, "order=asc&limit=3")
    assert status == 200 and [v["id"] for v in first["data"]] == [*old, hits[0]]
    await delete_upstream(sim, old[1])
    shift["s"] = 100.0
    alice = client(proxy)
    new = (await alice.videos.create(prompt="a fox in snow")).id
    await alice.close()
    for _ in range(2):
        assert await walk(proxy, "order=asc&limit=3", first["last_id"]) == [hits[1], new]


async def test_a_lost_cursor_continues_from_its_page_before_reading_by_time(
    start_proxy: ServerFactory, start_simulator: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Placing by time reads the upstream's list from the start (here cut to one page of
    # two, so it could not reach): the latest video of the lost cursor's page still there
    # places it with one retrieve instead.
    import proxy.listing as listing

    monkeypatch.setattr(listing, "MAX_SCAN_PAGES", 1)
    monkeypatch.setattr(listing, "MAX_LIMIT", 2)
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim)
    shift = shifted_clock(sim)
    alice = client(proxy)
    ups = []
    for k in range(6):
        shift["s"] = -600.0 + 100 * k
        ups.append((await alice.videos.create(prompt=f"boats at a pier, take {k}")).id)
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="boats at a pier, take 0")
    assert headers["x-cache"] == "HIT"
    await alice.close()
    status, first = await get_list(proxy, "order=asc&limit=2")
    status, second = await get_list(proxy, f"order=asc&limit=2&after={first['last_id']}")
    assert status == 200 and [v["id"] for v in second["data"]] == ups[2:4]
    await delete_upstream(sim, ups[3])  # the proxy's place in the upstream's list
    rest = await walk(proxy, "order=asc&limit=2", second["last_id"])
    assert rest == [*ups[4:], hit.id]
