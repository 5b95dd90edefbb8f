"""Minted ids against an upstream that keeps each key's videos apart, and what a hit's
Video says about itself: joins followed as their creator, purged entries, times, the list,
the content URL's host, requested provider and model, and headers on relayed errors."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp.test_utils import TestServer

from simulator.state import SIM_STATE
from tests.conftest import ServerFactory, sim_requests
from tests.e2e.test_cache import client, create_raw, settle, upstream_creates


async def test_a_join_is_answered_from_the_watched_job(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # The upstream shows a video only to the key and project that created it, as OpenAI
    # does; the operator shares one scope between two keys.
    sim = await start_simulator(per_key=True, speed=20.0)
    proxy = await start_proxy(sim, cache_scope="shared")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    first, headers = await create_raw(alice, prompt="a tram crossing a bridge")
    assert headers["x-cache"] == "MISS"
    joined, headers = await create_raw(bob, prompt="a tram crossing a bridge")
    assert headers["x-cache"] == "JOINED"
    # Bob's polls are answered from what the watcher saw: nothing of alice's (her key,
    # her upstream id, her rate limits) is used for him or reaches him.
    before = len(sim_requests(sim))
    polled = await bob.videos.retrieve(joined.id)
    assert polled.id == joined.id and polled.status in ("queued", "in_progress", "completed")
    done = await bob.videos.poll(joined.id, poll_interval_ms=50)
    assert done.status == "completed" and done.id == joined.id
    assert first.id not in done.model_dump_json()
    assert not [
        r for r in sim_requests(sim)[before:] if r.headers.get("authorization") == "Bearer sk-bob"
    ]
    assert upstream_creates(sim) == 1
    content = (await bob.videos.download_content(joined.id)).read()
    assert content == (await alice.videos.download_content(first.id)).read()
    # The upstream itself still refuses bob alice's job: the proxy did not widen that.
    with pytest.raises(openai.NotFoundError):
        await client(sim, "sk-bob").videos.retrieve(first.id)
    await alice.close()
    await bob.close()


async def test_a_join_whose_job_is_gone_names_only_its_own_id(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(per_key=True, speed=2.0)  # a job takes 10 s
    proxy = await start_proxy(sim, cache_scope="shared")
    alice, bob = client(proxy, "sk-alice"), client(proxy, "sk-bob")
    first = await alice.videos.create(prompt="a kite over dunes")
    joined, headers = await create_raw(bob, prompt="a kite over dunes")
    assert headers["x-cache"] == "JOINED"
    await client(sim, "sk-alice").videos.delete(first.id)  # behind the proxy's back
    await settle(proxy)  # the watcher finds it gone
    failed = await bob.videos.retrieve(joined.id)
    assert failed.status == "failed" and failed.id == joined.id
    # An error object as OpenAI gives one (SDK code reads error.message), in the proxy's
    # own words: nothing of the creator's job.
    assert failed.error is not None and joined.id in failed.error.message
    assert first.id not in failed.model_dump_json()
    with pytest.raises(openai.NotFoundError) as err:
        await bob.videos.download_content(joined.id)
    message = str(err.value)
    assert joined.id in message and first.id not in message
    await alice.close()
    await bob.close()


async def test_a_purged_hit_reads_as_expired(start_proxy: ServerFactory, sim: TestServer) -> None:
    proxy = await start_proxy(sim, admin_token="adm")
    alice = client(proxy)
    await alice.videos.create(prompt="a glass of water on a table")
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a glass of water on a table")
    assert headers["x-cache"] == "HIT"
    # A hit completes when it is minted: never before it was created.
    assert hit.completed_at is not None and hit.completed_at >= hit.created_at
    assert hit.model_extra["videos"][0]["url"].endswith(f"/v1/videos/{hit.id}/content")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.make_url("/admin/cache/purge"),
            headers={"Authorization": "Bearer adm"},
            json={"all": True},
        ) as resp:
            assert resp.status == 200
    again = await alice.videos.retrieve(hit.id)
    assert again.status == "completed" and again.id == hit.id
    assert "videos" not in (again.model_extra or {})  # no URL to content that is gone
    assert again.expires_at is not None and again.expires_at <= time.time()
    with pytest.raises(openai.NotFoundError):
        await alice.videos.download_content(hit.id)
    await alice.close()


async def test_the_list_names_the_minted_source_of_a_remix(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a paper boat on a puddle")
    await settle(proxy)
    hit = await alice.videos.create(prompt="a paper boat on a puddle")
    remix = await alice.videos.remix(hit.id, prompt="the boat sails into a storm drain")
    listed = {video.id: video async for video in alice.videos.list(limit=100)}
    assert listed[remix.id].remixed_from_video_id == hit.id
    assert (await alice.videos.retrieve(remix.id)).remixed_from_video_id == hit.id
    # The minted id is listed too, as retrieve describes it (tests/e2e/test_listing.py).
    assert listed[hit.id].status == "completed" and listed[hit.id].remixed_from_video_id is None
    await alice.close()


async def raw_exchange(proxy: TestServer, request: bytes) -> tuple[int, bytes]:
    """One request written byte for byte (request lines and Host headers no client
    library would send), its status and body."""
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    "host",
    [b"evil.example/phish?x=", b"a@evil.example", b'x"><script>', b"", None],
)
async def test_a_hits_url_never_carries_a_malformed_host(
    proxy: TestServer, sim: TestServer, host: bytes | None
) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a bicycle leaning on a wall")
    await settle(proxy)
    body = b'{"prompt": "a bicycle leaning on a wall"}'
    lines = [
        b"POST /v1/videos HTTP/1.1" if host is not None else b"POST /v1/videos HTTP/1.0",
        b"Authorization: Bearer sk-alice",
        b"Content-Type: application/json",
        b"Content-Length: " + str(len(body)).encode(),
        b"Connection: close",
    ]
    if host is not None:
        lines.append(b"Host: " + host)
    status, answer = await raw_exchange(proxy, b"\r\n".join(lines) + b"\r\n\r\n" + body)
    video = orjson.loads(answer)
    assert status == 200, answer
    url = video["videos"][0]["url"]
    # The address the request came in on instead: the link still works.
    assert url == f"http://{proxy.host}:{proxy.port}/v1/videos/{video['id']}/content"
    await alice.close()


async def test_a_well_formed_host_is_kept(proxy: TestServer, sim: TestServer) -> None:
    alice = client(proxy)
    await alice.videos.create(prompt="a kettle boiling")
    await settle(proxy)
    for host in ("videos.example.com", "videos.example.com:8443", "[::1]:8080", "10.0.0.7"):
        raw = await alice.videos.with_raw_response.create(
            prompt="a kettle boiling", extra_headers={"Host": host}
        )
        assert raw.headers["x-cache"] == "HIT"
        url = raw.parse().model_extra["videos"][0]["url"]
        assert url.startswith(f"http://{host}/v1/videos/video_"), url
    await alice.close()


async def test_an_absolute_form_request_target_is_served(
    proxy: TestServer, sim: TestServer
) -> None:
    alice = client(proxy)
    created = await alice.videos.create(prompt="a clock tower at noon")
    request = (
        f"GET http://{proxy.host}:{proxy.port}/v1/videos/{created.id} HTTP/1.1\r\n"
        f"Host: {proxy.host}:{proxy.port}\r\nAuthorization: Bearer sk-alice\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    status, body = await raw_exchange(proxy, request)
    assert status == 200 and created.id.encode() in body
    # Relayed upstream in origin-form.
    assert sim_requests(sim)[-1].raw_path == f"/v1/videos/{created.id}"
    await alice.close()


async def test_a_relayed_error_still_says_how_the_lookup_went(
    proxy: TestServer, sim: TestServer
) -> None:
    sim.app[SIM_STATE].settings.rate_limit_every = 1
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.make_url("/v1/videos"),
            headers={"Authorization": "Bearer sk-alice"},
            json={"prompt": "a windmill in fog"},
        ) as resp:
            assert resp.status == 429
            assert resp.headers["x-cache"] == "MISS"


async def test_bifrost_provider_and_model_as_the_client_asked(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(flavor="bifrost")
    proxy = await start_proxy(sim, upstream_flavor="bifrost")
    alice = client(proxy)
    miss, headers = await create_raw(alice, prompt="a snail on glass", model="gemini/veo-3")
    assert headers["x-cache"] == "MISS"
    debug = miss.model_extra["extra_fields"]["cache_debug"]
    assert (debug["requested_provider"], debug["requested_model"]) == ("gemini", "veo-3")
    await settle(proxy)
    hit, headers = await create_raw(alice, prompt="a snail on glass", model="gemini/veo-3")
    assert headers["x-cache"] == "HIT"
    for key in ("provider", "model_requested"):
        assert hit.model_extra["extra_fields"][key] == miss.model_extra["extra_fields"][key]
    debug = hit.model_extra["extra_fields"]["cache_debug"]
    assert (debug["requested_provider"], debug["requested_model"]) == ("gemini", "veo-3")
    # The proxy sends a bare model as openai/sora-2: the two spellings are one request.
    await alice.videos.create(prompt="a heron in reeds", model="sora-2")
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="a heron in reeds", model="openai/sora-2")
    assert headers["x-cache"] == "HIT"
    assert upstream_creates(sim) == 2
    await alice.close()


async def test_model_requested_is_the_same_on_a_join_as_on_its_miss(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(speed=2.0)
    proxy = await start_proxy(sim)
    alice = client(proxy)
    miss = await alice.videos.create(prompt="a lantern festival")
    joined, headers = await create_raw(alice, prompt="a lantern festival")
    assert headers["x-cache"] == "JOINED"
    extra: dict[str, Any] = joined.model_extra["extra_fields"]
    assert extra["model_requested"] == miss.model_extra["extra_fields"]["model_requested"]
    assert extra["model_requested"] == "sora-2"
    await alice.close()


async def test_a_video_finished_at_create_is_cached(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    # An upstream may answer the create with the finished video (a synchronous gateway).
    sim = await start_simulator(job_seconds=0.0)
    proxy = await start_proxy(sim)
    alice = client(proxy)
    first, headers = await create_raw(alice, prompt="an hourglass running out")
    assert headers["x-cache"] == "MISS" and first.status == "completed"
    await settle(proxy)
    _, headers = await create_raw(alice, prompt="an hourglass running out")
    assert headers["x-cache"] == "HIT"
    assert upstream_creates(sim) == 1
    await alice.close()


async def test_a_joins_errors_name_the_joined_id_only(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(speed=2.0)  # a job takes 10 s: the join stays queued
    proxy = await start_proxy(sim)
    alice = client(proxy)
    miss = await alice.videos.create(prompt="a glass harp")
    joined, headers = await create_raw(alice, prompt="a glass harp")
    assert headers["x-cache"] == "JOINED"
    # The upstream refuses both (not completed yet) in its own words, with its status; the
    # id in them is the one this client holds, never the creator's upstream id.
    for call in (
        alice.videos.download_content(joined.id),
        alice.videos.remix(joined.id, prompt="the harp in the rain"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            await call
        text = refused.value.response.text
        assert joined.id in text and miss.id not in text, text
        assert refused.value.body["param"] == "video_id"  # the upstream's envelope, kept
    await alice.close()


async def test_a_purged_joins_content_is_a_404_as_a_hits_is(
    start_proxy: ServerFactory, start_simulator: ServerFactory
) -> None:
    sim = await start_simulator(speed=100.0)
    proxy = await start_proxy(sim, admin_token="admin-secret")
    alice = client(proxy)
    await alice.videos.create(prompt="a spinning top")
    joined, headers = await create_raw(alice, prompt="a spinning top")
    assert headers["x-cache"] == "JOINED"
    await settle(proxy)
    hit, _ = await create_raw(alice, prompt="a spinning top")
    assert len((await alice.videos.download_content(joined.id)).read()) > 1000
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.make_url("/admin/cache/purge"),
            json={"all": True},
            headers={"Authorization": "Bearer admin-secret"},
        ) as r:
            assert r.status == 200
    # The operator's purge stops both: neither is fetched from the upstream instead.
    for video_id in (joined.id, hit.id):
        with pytest.raises(openai.NotFoundError):
            await alice.videos.download_content(video_id)
        assert not (await alice.videos.retrieve(video_id)).model_extra.get("videos")
    await alice.close()
