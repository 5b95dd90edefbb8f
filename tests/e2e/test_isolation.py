"""Who may see what, and what makes two requests the same: callers without a credential,
gateway keys, projects, shared scope, concurrent identical creates, every uploaded part,
repeated fields, and deletes racing the watcher."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp.test_utils import TestServer

from proxy.state import STATE
from simulator.state import SIM_STATE
from tests.conftest import ServerFactory, sim_requests
from tests.e2e.test_cache import client, create_raw, settle, upstream_creates

Reply = tuple[int, str, dict[str, Any]]


async def post(
    http: aiohttp.ClientSession,
    proxy: TestServer,
    headers: dict[str, str],
    *,
    prompt: str = "a lighthouse in a storm",
    data: aiohttp.FormData | None = None,
) -> Reply:
    """One create over plain HTTP (the SDK always sends an Authorization header)."""
    kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": {"prompt": prompt}}
    async with http.post(proxy.make_url("/v1/videos"), headers=headers, **kwargs) as resp:
        return resp.status, resp.headers.get("x-cache", ""), await resp.json()


def watcher_requests(sim: TestServer) -> list[Any]:
    """What the proxy's watcher (not a client) sent the simulator."""
    return [r for r in sim_requests(sim) if r.headers.get("x-request-id", "").startswith("watch_")]


def form(prompt: str, *parts: tuple[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("prompt", prompt)
    for name, content in parts:
        data.add_field(name, content, filename=f"{name}.bin", content_type="image/png")
    return data


async def test_callers_without_a_credential_get_no_cache(
    proxy: TestServer, sim: TestServer
) -> None:
    async with aiohttp.ClientSession() as http:
        status, x_cache, first = await post(http, proxy, {})
        assert (status, x_cache) == (200, "BYPASS")
        assert first["extra_fields"]["cache_debug"]["cache_hit"] is False
        await settle(proxy)
        # Nothing was stored or joined: each anonymous create is its own upstream job.
        results = await asyncio.gather(*(post(http, proxy, {}) for _ in range(2)))
        assert [r[1] for r in results] == ["BYPASS", "BYPASS"]
        assert upstream_creates(sim) == 3
        assert proxy.app[STATE].cache.entries.count() == 0  # type: ignore[union-attr]

        # A gateway's virtual key (x-bf-vk) is a credential of its own: tenants stay apart.
        _, x_cache, _ = await post(http, proxy, {"x-bf-vk": "sk-bf-tenant-a"})
        assert x_cache == "MISS"
        await settle(proxy)
        _, x_cache, _ = await post(http, proxy, {"x-bf-vk": "sk-bf-tenant-b"})
        assert x_cache == "MISS"
        _, x_cache, hit = await post(http, proxy, {"x-bf-vk": "sk-bf-tenant-a"})
        assert x_cache == "HIT"
        for headers in ({}, {"x-bf-vk": "sk-bf-tenant-b"}, {"x-litellm-api-key": "sk-c"}):
            async with http.get(
                proxy.make_url(f"/v1/videos/{hit['id']}/content"), headers=headers
            ) as resp:
                assert resp.status == 404, headers
            _, x_cache, _ = await post(http, proxy, headers)
            assert x_cache != "HIT", headers


async def test_anonymous_caching_is_the_operators_choice(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    proxy = await start_proxy(sim, cache_anonymous=True)
    async with aiohttp.ClientSession() as http:
        _, x_cache, _ = await post(http, proxy, {})
        assert x_cache == "MISS"
        await settle(proxy)
        _, x_cache, _ = await post(http, proxy, {})
        assert x_cache == "HIT"
        # Callers with a credential still have their own scope.
        _, x_cache, _ = await post(http, proxy, {"Authorization": "Bearer sk-alice"})
        assert x_cache == "MISS"


async def test_a_job_is_watched_with_the_project_that_created_it(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(slow_ms=50)
    proxy = await start_proxy(sim)
    base = str(proxy.make_url("/v1"))
    one = openai.AsyncOpenAI(api_key="sk-alice", project="proj_one", base_url=base, max_retries=0)
    two = openai.AsyncOpenAI(api_key="sk-alice", project="proj_two", base_url=base, max_retries=0)
    first = await one.videos.create(prompt="a quarterly results teaser")
    await two.videos.create(prompt="a product roadmap teaser")  # the key's latest project
    await settle(proxy)
    polls = [r for r in watcher_requests(sim) if r.raw_path.startswith(f"/v1/videos/{first.id}")]
    assert polls and {r.headers.get("openai-project") for r in polls} == {"proj_one"}
    # The scope is the key's: one key, one cache, whichever project asks.
    _, headers = await create_raw(two, prompt="a quarterly results teaser")
    assert headers["x-cache"] == "HIT"
    await one.close()
    await two.close()


async def test_shared_scope_watches_a_job_with_its_creators_credential(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(slow_ms=50)
    proxy = await start_proxy(sim, cache_scope="shared")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    first, headers = await create_raw(alice, prompt="a shared launch video")
    assert headers["x-cache"] == "MISS"
    _, headers = await create_raw(bob, prompt="a shared launch video")
    assert headers["x-cache"] == "JOINED"  # the operator chose to share
    await settle(proxy)
    watched = watcher_requests(sim)
    assert any(r.raw_path.startswith(f"/v1/videos/{first.id}/content") for r in watched)
    assert {r.headers.get("authorization") for r in watched} == {"Bearer sk-alice"}
    # Sharing covers credentials, not callers without one.
    async with aiohttp.ClientSession() as http:
        _, x_cache, _ = await post(http, proxy, {}, prompt="a shared launch video")
    assert x_cache == "BYPASS"
    await alice.close()
    await bob.close()


async def test_an_upstream_id_is_served_from_the_cache_to_its_creator_only(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # An upstream that keeps each key's and project's videos apart: without the proxy, no
    # one but the creator could fetch, or remix, the video by its id.
    sim = await start_simulator(per_key=True)
    proxy = await start_proxy(sim, cache_scope="shared")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    base = str(proxy.make_url("/v1"))
    other_project = openai.AsyncOpenAI(
        api_key="sk-alice", project="proj_two", base_url=base, max_retries=0
    )
    first = await alice.videos.create(prompt="an unreleased product reveal")
    await settle(proxy)
    remixed = await alice.videos.remix(first.id, prompt="the reveal at night")
    await settle(proxy)
    own = await alice.videos.with_raw_response.download_content(first.id)
    assert own.headers["x-cache"] == "HIT" and len(own.content) > 1000
    # Everyone else gets the upstream's answer, though the cache holds the video and the
    # shared scope holds its entries: the id is a capability of its creator's.
    for stranger in (bob, other_project):
        with pytest.raises(openai.NotFoundError):
            await stranger.videos.download_content(first.id)
        with pytest.raises(openai.NotFoundError):
            await stranger.videos.remix(first.id, prompt="the reveal at night")
        with pytest.raises(openai.NotFoundError):
            await stranger.videos.retrieve(first.id)
    # The same prompt is still shared, as the operator chose.
    hit, headers = await create_raw(bob, prompt="an unreleased product reveal")
    assert headers["x-cache"] == "HIT" and hit.id != first.id
    assert len((await bob.videos.download_content(hit.id)).read()) > 1000
    assert (await alice.videos.retrieve(remixed.id)).status == "completed"
    for c in (alice, bob, other_project):
        await c.close()


async def assert_one_upstream_job(proxy: TestServer, sim: TestServer, prompt: str) -> None:
    """8 identical creates at once: one MISS goes upstream, the other 7 join it."""
    alice = client(proxy)
    results = await asyncio.gather(*(create_raw(alice, prompt=prompt) for _ in range(8)))
    assert sorted(h["x-cache"] for _, h in results) == ["JOINED"] * 7 + ["MISS"]
    assert upstream_creates(sim) == 1
    await settle(proxy)
    await alice.close()


Tenants = tuple[TestServer, TestServer, openai.AsyncOpenAI, openai.AsyncOpenAI]


async def per_key_tenants(
    start_simulator: ServerFactory, start_proxy: ServerFactory, scope_mode: str
) -> Tenants:
    """An upstream whose ids are unique per key only (a gateway over several accounts),
    the proxy in front of it, and two tenants' clients: alice and bob."""
    sim = await start_simulator(ids_per_key=True, speed=10.0)
    proxy = await start_proxy(sim, cache_scope=scope_mode)
    return sim, proxy, client(proxy, "sk-alice"), client(proxy, "sk-bob")


@pytest.mark.parametrize("scope_mode", ["credential", "shared"])
async def test_an_upstream_id_handed_to_two_keys_stays_the_first_ones(
    start_proxy: ServerFactory, start_simulator: ServerFactory, scope_mode: str
) -> None:
    # An upstream whose ids are unique per key only (a gateway over several accounts):
    # bob's first video and alice's first video have one id. Alice's job must not take
    # over bob's record: his join would then be watched with her key and served her video.
    sim, proxy, alice, bob = await per_key_tenants(start_simulator, start_proxy, scope_mode)
    his, headers = await create_raw(bob, prompt="a red kite over a beach")
    assert headers["x-cache"] == "MISS"
    joined, headers = await create_raw(bob, prompt="a red kite over a beach")
    assert headers["x-cache"] == "JOINED"
    hers, headers = await create_raw(alice, prompt="a paper boat in a gutter")
    assert headers["x-cache"] == "MISS" and hers.id == his.id  # the upstream's doing
    # Alice's job is relayed and hers to follow, from the upstream, with her key.
    assert (await alice.videos.poll(hers.id, poll_interval_ms=50)).status == "completed"
    assert (await bob.videos.poll(joined.id, poll_interval_ms=50)).status == "completed"
    await settle(proxy)
    her_video = (await alice.videos.download_content(hers.id)).read()
    his_video = (await bob.videos.download_content(his.id)).read()
    assert her_video != his_video
    assert (await bob.videos.download_content(joined.id)).read() == his_video
    # Bob's prompt is cached as his video; alice's job was never recorded, so never cached
    # (a repeat of it pays again) rather than cached under bob's record.
    hit, headers = await create_raw(bob, prompt="a red kite over a beach")
    assert headers["x-cache"] == "HIT"
    assert (await bob.videos.download_content(hit.id)).read() == his_video
    _, headers = await create_raw(alice, prompt="a paper boat in a gutter")
    assert headers["x-cache"] == "MISS"
    # The watcher never used alice's key for bob's job.
    alices = [r for r in watcher_requests(sim) if r.headers["authorization"] == "Bearer sk-alice"]
    assert [r.raw_path for r in alices if his.id in r.raw_path] == []
    await alice.close()
    await bob.close()


@pytest.mark.parametrize("scope_mode", ["credential", "shared"])
async def test_deleting_ones_own_video_under_a_reused_id_leaves_the_others_cache(
    start_proxy: ServerFactory, start_simulator: ServerFactory, scope_mode: str
) -> None:
    # Ids unique per key only: alice's first video has bob's first video's id. Her delete
    # of her own video must not purge his cached video, nor the job his join follows.
    sim, proxy, alice, bob = await per_key_tenants(start_simulator, start_proxy, scope_mode)
    # Bob: one video cached, a hit on it, and a second job still generating with a join.
    done = await bob.videos.create_and_poll(prompt="a red kite over a beach", poll_interval_ms=20)
    await settle(proxy)
    hit, headers = await create_raw(bob, prompt="a red kite over a beach")
    assert headers["x-cache"] == "HIT"
    his_video = (await bob.videos.download_content(hit.id)).read()
    sim.app[SIM_STATE].settings.speed = 0.01  # his next job outlasts the test's deletes
    pending, _ = await create_raw(bob, prompt="a lantern on a pier")
    joined, headers = await create_raw(bob, prompt="a lantern on a pier")
    assert headers["x-cache"] == "JOINED"
    # Alice makes two videos that the upstream calls by bob's ids, and deletes them.
    sim.app[SIM_STATE].settings.speed = 10.0
    first, _ = await create_raw(alice, prompt="a paper boat in a gutter")
    second, _ = await create_raw(alice, prompt="a snail on a leaf")
    assert (first.id, second.id) == (done.id, pending.id)  # the upstream's doing
    for video in (first, second):
        await alice.videos.poll(video.id, poll_interval_ms=20)
        assert (await alice.videos.delete(video.id)).deleted
    # Bob's cache is untouched: his hit still serves his video, the prompt still hits, and
    # his join still follows his job.
    assert (await bob.videos.download_content(hit.id)).read() == his_video
    again, headers = await create_raw(bob, prompt="a red kite over a beach")
    assert headers["x-cache"] == "HIT"
    assert (await bob.videos.download_content(again.id)).read() == his_video
    assert (await bob.videos.retrieve(joined.id)).status in ("queued", "in_progress")
    # His own delete still purges what his video made.
    assert (await bob.videos.delete(done.id)).deleted
    _, headers = await create_raw(bob, prompt="a red kite over a beach")
    assert headers["x-cache"] == "MISS"
    await alice.close()
    await bob.close()


async def raw_create(proxy: TestServer, credential: bytes, prompt: str) -> tuple[int, bytes]:
    """A create whose credential header holds bytes no HTTP client library would send."""
    body = orjson.dumps({"prompt": prompt})
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    writer.write(
        b"POST /v1/videos HTTP/1.1\r\nHost: x\r\n" + credential + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n" % len(body) + body
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head + b"\r\n\r\n" + rest


@pytest.mark.parametrize(
    "credential",
    [b"Authorization: Bearer sk-caf\xe9", b"api-key: k\xff1", b"x-api-key: cl\xe9"],
)
async def test_a_credential_that_is_not_utf8_has_a_scope_of_its_own(
    proxy: TestServer, sim: TestServer, credential: bytes
) -> None:
    # HTTP allows any byte from 0x80 up in a header value: such a key is a key like any
    # other (it was a bare 500 here), and its scope is its own, not its neighbour's.
    status, answer = await raw_create(proxy, credential, "a dog on a beach")
    assert status == 200, answer
    assert b"x-cache: miss" in answer.lower()
    await settle(proxy)
    status, answer = await raw_create(proxy, credential, "a dog on a beach")
    assert status == 200 and b"x-cache: hit" in answer.lower(), answer
    other = credential[:-1] + bytes([credential[-1] ^ 1])  # one byte apart
    status, answer = await raw_create(proxy, other, "a dog on a beach")
    assert status == 200 and b"x-cache: miss" in answer.lower(), answer


async def test_truly_concurrent_identical_creates_cost_one_upstream_job(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # A slow upstream: every create is still waiting for its answer when the others come.
    sim = await start_simulator(slow_ms=300)
    await assert_one_upstream_job(await start_proxy(sim), sim, "fireworks over a harbour")


async def test_concurrent_creates_are_merged_while_the_first_one_embeds(
    start_proxy: ServerFactory, start_simulator: ServerFactory, embedder: Any
) -> None:
    sim = await start_simulator(slow_ms=100)
    proxy = await start_proxy(sim, embedder=embedder)
    await assert_one_upstream_job(proxy, sim, "a hot air balloon over vineyards")


async def test_when_the_first_create_fails_one_waiting_create_leads(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # The simulator answers every second request with a 429 after a 0.4 s delay; one
    # request first, so the first create is the one refused. It is refused at 0.4 s, the
    # waiting creates then reach the simulator and are answered at about 0.8 s: the limit
    # is lifted in between.
    sim = await start_simulator(slow_ms=400, rate_limit_every=2)
    async with aiohttp.ClientSession() as http:
        await http.get(sim.make_url("/v1/videos"))
    proxy = await start_proxy(sim)
    alice = client(proxy)
    creates = asyncio.gather(
        *(create_raw(alice, prompt="a glacier calving") for _ in range(5)),
        return_exceptions=True,
    )
    await asyncio.sleep(0.6)
    sim.app[SIM_STATE].settings.rate_limit_every = 0
    results = await creates
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], openai.RateLimitError)
    # The waiters learn that no job came of the first create: one of them leads the next
    # create and the rest join its job. Before, they all went upstream side by side, a
    # paid job each once the limit lifted (a 429 storm turned 20 requests into 80 jobs).
    kinds = sorted(r[1]["x-cache"] for r in results if not isinstance(r, BaseException))
    assert kinds == ["JOINED"] * 3 + ["MISS"]
    assert upstream_creates(sim) == 2
    await settle(proxy)
    await alice.close()


async def test_every_uploaded_part_is_part_of_the_key(proxy: TestServer, sim: TestServer) -> None:
    auth = {"Authorization": "Bearer sk-alice"}
    image, other_image = b"\x89PNG-one", b"\x89PNG-two"
    async with aiohttp.ClientSession() as http:
        base = ("input_reference", image), ("audio", b"track one")
        _, x_cache, _ = await post(http, proxy, auth, data=form("a band on stage", *base))
        assert x_cache == "MISS"
        await settle(proxy)
        _, x_cache, _ = await post(http, proxy, auth, data=form("a band on stage", *base))
        assert x_cache == "HIT"
        for parts in (
            (("input_reference", image), ("audio", b"track two")),
            (("input_reference", image), ("input_reference", other_image)),
            (("audio", b"track one"), ("input_reference", image)),
            (("input_reference", image),),
        ):
            _, x_cache, _ = await post(http, proxy, auth, data=form("a band on stage", *parts))
            assert x_cache == "MISS", [name for name, _ in parts]
        # A text input_reference (a URL) beside the files is part of the key too.
        for url in ("https://example.com/a.png", "https://example.com/b.png"):
            data = form("a band on stage", *base)
            data.add_field("input_reference", url)
            _, x_cache, _ = await post(http, proxy, auth, data=data)
            assert x_cache == "MISS", url


async def test_a_repeated_field_is_never_cached(proxy: TestServer, sim: TestServer) -> None:
    auth = {"Authorization": "Bearer sk-alice"}
    async with aiohttp.ClientSession() as http:
        data = aiohttp.FormData(default_to_multipart=True)
        data.add_field("prompt", "a red car")
        data.add_field("prompt", "a blue car")  # upstreams differ on which one wins
        status, x_cache, _ = await post(http, proxy, auth, data=data)
        assert (status, x_cache) == (200, "BYPASS")
        await settle(proxy)
        _, x_cache, _ = await post(http, proxy, auth, prompt="a blue car")
        assert x_cache == "MISS"


async def test_deleting_a_video_the_upstream_already_lost_purges_it(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    first = await alice.videos.create(prompt="a paper boat in the rain")
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="a paper boat in the rain")
    assert headers["x-cache"] == "HIT"
    async with aiohttp.ClientSession() as http:  # the upstream's copy expires
        await http.delete(sim.make_url(f"/v1/videos/{first.id}"))
    with pytest.raises(openai.NotFoundError):  # the upstream no longer has it: 404 relayed
        await alice.videos.delete(first.id)
    second, headers = await create_raw(alice, prompt="a paper boat in the rain")
    assert headers["x-cache"] == "MISS"
    await settle(proxy)
    # Another credential's delete of it, once the upstream has lost it, purges nothing:
    # the job is not theirs.
    async with aiohttp.ClientSession() as http:
        await http.delete(sim.make_url(f"/v1/videos/{second.id}"))
    bob = client(proxy, "sk-bob")
    with pytest.raises(openai.NotFoundError):
        await bob.videos.delete(second.id)
    _, headers = await create_raw(alice, prompt="a paper boat in the rain")
    assert headers["x-cache"] == "HIT"
    await alice.close()
    await bob.close()


async def test_a_delete_during_the_download_wins(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(content_bytes=400_000, content_rate=400_000)
    proxy = await start_proxy(sim, cache_variants=["video"])
    alice = client(proxy)
    first = await alice.videos.create(prompt="a kite festival")
    for _ in range(500):  # until the watcher is downloading the (one second long) video
        if any(r.raw_path.startswith(f"/v1/videos/{first.id}/content") for r in sim_requests(sim)):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the watcher never started downloading")
    assert (await alice.videos.delete(first.id)).deleted is True
    await settle(proxy)
    cache = proxy.app[STATE].cache
    assert cache is not None and cache.entries.count() == 0
    assert cache.get_job(first.id) is None
    assert cache.blobs.total_bytes == 0  # the downloaded bytes went with it
    _, headers = await create_raw(alice, prompt="a kite festival")
    assert headers["x-cache"] == "MISS"
    await alice.close()


async def test_a_variant_not_cached_comes_from_the_upstream(
    start_proxy: ServerFactory, sim: TestServer
) -> None:
    proxy = await start_proxy(sim, cache_variants=["video"])
    alice = client(proxy)
    first = await alice.videos.create(prompt="a snail on a leaf")
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a snail on a leaf")
    assert headers["x-cache"] == "HIT"
    thumbnail = (await alice.videos.download_content(hit.id, variant="thumbnail")).read()
    upstream = (await client(sim).videos.download_content(first.id, variant="thumbnail")).read()
    assert thumbnail == upstream and thumbnail
    await alice.close()
