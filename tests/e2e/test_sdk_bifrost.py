"""The official SDK against a Bifrost-flavoured upstream, through the proxy."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from urllib.parse import quote

import aiohttp
import openai
from aiohttp.test_utils import TestServer
from yarl import URL

from simulator.app import SIM_STATE
from tests.conftest import ServerFactory, base_url, sim_requests
from tests.e2e.test_cache import client, create_raw, settle
from tests.e2e.test_sdk_openai import VARIANTS, png_bytes


async def test_sdk_through_bifrost_flavor(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(flavor="bifrost", provider="openai")
    proxy = await start_proxy(sim, upstream_flavor="bifrost", upstream_provider="openai")
    client = openai.OpenAI(api_key="sk-bf", base_url=base_url(proxy), max_retries=0)
    direct = openai.OpenAI(api_key="sk-bf", base_url=base_url(sim), max_retries=0)

    def scenario() -> None:
        video = client.videos.create_and_poll(
            prompt="a hot air balloon over hills",
            input_reference=("r.png", png_bytes(), "image/png"),
            poll_interval_ms=20,
        )
        assert video.status == "completed"
        # Bifrost ids are "<escaped id>:<provider>" and keep working for every call.
        assert video.id.endswith(":openai") and "%2F" in video.id
        assert isinstance(video.progress, int)
        assert video.remixed_from_video_id is None  # omitted by Bifrost, filled by us
        assert client.videos.retrieve(video.id).id == video.id
        for variant in VARIANTS:
            a = client.videos.download_content(video.id, variant=variant).read()
            b = direct.videos.download_content(video.id, variant=variant).read()
            assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()
        listed = [v.id for v in client.videos.list(limit=1)]
        assert video.id in listed
        remixed = client.videos.remix(video.id, prompt="the balloon at sunset")
        assert remixed.remixed_from_video_id == video.id
        assert client.videos.delete(video.id).deleted is True

    await asyncio.to_thread(scenario)
    creates = [r for r in sim_requests(sim) if r.method == "POST" and r.raw_path == "/v1/videos"]
    assert creates and creates[0].content_type.startswith("application/json")
    lists = [r.raw_path for r in sim_requests(sim) if r.raw_path.startswith("/v1/videos?")]
    assert lists and all("provider=openai" in p for p in lists)


async def test_bifrost_create_converts_multipart_to_json(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(flavor="bifrost")
    proxy: TestServer = await start_proxy(sim, upstream_flavor="bifrost")
    client = openai.AsyncOpenAI(api_key="sk-bf", base_url=base_url(proxy), max_retries=0)
    video = await client.videos.create(prompt="waves", model="sora-2", seconds="8")
    # Bifrost rejects a bare model name: the create only succeeded because the proxy sent
    # "openai/sora-2"; the simulator, like Bifrost, answers with the provider split off.
    assert video.model == "sora-2"
    (job,) = sim.app[SIM_STATE].jobs.all()
    assert job.provider == "openai"
    assert video.seconds == "8"
    extra = video.model_extra["extra_fields"]
    assert extra["request_type"] == "video_generation"
    assert extra["model_requested"] == "sora-2"
    # A field the simulator's extra_fields carried is merged, not replaced.
    assert "provider" in extra
    await client.close()


async def test_bifrost_ids_pasted_verbatim_are_the_same_video(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    # A Bifrost id holds a literal "%2F". The SDK escapes it (%252F); a curl user pastes it
    # as the JSON shows it, and Bifrost takes that form too. Both name one video, here too.
    sim = await start_simulator(flavor="bifrost")
    proxy: TestServer = await start_proxy(sim, upstream_flavor="bifrost")
    alice = client(proxy)
    video = await alice.videos.create(prompt="a lantern festival")
    assert "%2F" in video.id
    await settle(proxy)
    auth = {"Authorization": "Bearer sk-alice"}

    def verbatim(path: str) -> URL:
        return URL(str(proxy.make_url("")).rstrip("/") + path, encoded=True)

    async with aiohttp.ClientSession() as http:
        async with http.post(
            verbatim(f"/v1/videos/{video.id}/remix"),
            json={"prompt": "the lanterns in the rain"},
            headers=auth,
        ) as r:
            assert r.status == 200
            remixed = await r.json()
        # Named as the upstream names it, not as the path decodes ("operations/...").
        assert remixed["remixed_from_video_id"] == video.id
        await settle(proxy)
        assert (await alice.videos.retrieve(remixed["id"])).remixed_from_video_id == video.id
        _, headers = await create_raw(alice, prompt="a lantern festival")
        assert headers["x-cache"] == "HIT"
        async with http.delete(verbatim(f"/v1/videos/{video.id}"), headers=auth) as r:
            assert r.status == 200 and (await r.json())["deleted"] is True
    # The deleted video is gone from the cache too: no hit serves it.
    _, headers = await create_raw(alice, prompt="a lantern festival")
    assert headers["x-cache"] == "MISS"
    await alice.close()


async def test_bifrost_lists_a_providers_hits_under_that_provider_only(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(flavor="bifrost")
    proxy: TestServer = await start_proxy(sim, upstream_flavor="bifrost")
    alice = client(proxy)
    for model in ("sora-2", "gemini/veo-3"):
        await alice.videos.create(prompt="a paper boat on a stream", model=model)
    await settle(proxy)
    hits = {}
    for model in ("sora-2", "gemini/veo-3"):
        hit, headers = await create_raw(alice, prompt="a paper boat on a stream", model=model)
        assert headers["x-cache"] == "HIT"
        hits[model] = hit.id

    async def listed(**query: str) -> set[str]:
        page = await alice.videos.list(limit=20, extra_query=query)
        return {v.id for v in page.data}

    # Bifrost lists one provider's videos (the configured one, openai, when none is named).
    for query, mine, other in (
        ({}, "sora-2", "gemini/veo-3"),
        ({"provider": "openai"}, "sora-2", "gemini/veo-3"),
        ({"provider": "gemini"}, "gemini/veo-3", "sora-2"),
    ):
        ids = await listed(**query)
        assert hits[mine] in ids and hits[other] not in ids, query
    await alice.close()


async def test_bifrost_json_carries_every_uploaded_part(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    # Bifrost takes JSON only: each file part goes as a data URL under its own name, none
    # dropped (an audio track changes the video, and the cache keys on it).
    sim = await start_simulator(flavor="bifrost")
    proxy: TestServer = await start_proxy(sim, upstream_flavor="bifrost")
    image, audio = png_bytes(), b"RIFF-fake-wav-" + bytes(range(256))
    form = aiohttp.FormData()
    form.add_field("prompt", "a drummer on a rooftop")
    form.add_field("seed", "42")
    form.add_field("input_reference", image, filename="r.png", content_type="image/png")
    form.add_field("audio", audio, filename="beat.wav", content_type="audio/wav")
    auth = {"Authorization": "Bearer sk-alice"}
    async with aiohttp.ClientSession() as http:
        async with http.post(proxy.make_url("/v1/videos"), data=form, headers=auth) as r:
            assert r.status == 200
            created = await r.json()
        await settle(proxy)
        remix = aiohttp.FormData()
        remix.add_field("prompt", "the drummer at night")
        remix.add_field("audio", audio, filename="beat.wav", content_type="audio/wav")
        path = f"/v1/videos/{quote(created['id'], safe='')}/remix"
        async with http.post(proxy.make_url(path), data=remix, headers=auth) as r:
            assert r.status == 200, await r.text()
    made, remixed = sim.app[SIM_STATE].jobs.all()
    wav = "data:audio/wav;base64," + base64.b64encode(audio).decode()
    assert made.extra["audio"] == remixed.extra["audio"] == wav
    assert made.extra["input_reference"] == {
        "image_url": "data:image/png;base64," + base64.b64encode(image).decode()
    }
    assert made.extra["seed"] == "42"
