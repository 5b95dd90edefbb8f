"""The official openai SDK, sync and async, through the proxy to the simulator."""

from __future__ import annotations

import asyncio
import hashlib
import io

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from tests.conftest import base_url, sim_requests

VARIANTS = ("video", "thumbnail", "spritesheet")


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def sync_client(server: TestServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test-e2e", base_url=base_url(server), max_retries=0)


def async_client(server: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test-e2e", base_url=base_url(server), max_retries=0)


async def test_sync_sdk_every_operation(proxy: TestServer, sim: TestServer) -> None:
    client = sync_client(proxy)
    direct = sync_client(sim)

    def scenario() -> None:
        video = client.videos.create_and_poll(
            prompt="a red fox running through snow at dawn",
            seconds="4",
            size="720x1280",
            poll_interval_ms=20,
        )
        assert video.status == "completed"
        assert video.prompt == "a red fox running through snow at dawn"
        extra = video.model_extra["extra_fields"]
        assert extra["request_type"] == "video_retrieve"
        assert extra["provider"] == "openai"
        assert extra["latency"] >= 0

        got = client.videos.retrieve(video.id)
        assert got.id == video.id and got.status == "completed"

        for variant in VARIANTS:
            through = client.videos.download_content(video.id, variant=variant).read()
            upstream = direct.videos.download_content(video.id, variant=variant).read()
            assert len(through) > 100
            assert hashlib.sha256(through).digest() == hashlib.sha256(upstream).digest()

        remixed = client.videos.remix(video.id, prompt="the same fox, now at night")
        assert remixed.remixed_from_video_id == video.id
        assert remixed.model_extra["extra_fields"]["request_type"] == "video_remix"

        deleted = client.videos.delete(remixed.id)
        assert deleted.deleted is True and deleted.id == remixed.id
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(remixed.id)

    await asyncio.to_thread(scenario)


async def test_sync_sdk_create_with_input_reference(proxy: TestServer, sim: TestServer) -> None:
    client = sync_client(proxy)
    image = png_bytes()
    video = await asyncio.to_thread(
        client.videos.create,
        prompt="animate this red card",
        input_reference=("card.png", image, "image/png"),
    )
    assert video.status in ("queued", "in_progress")
    creates = [r for r in sim_requests(sim) if r.method == "POST"]
    assert len(creates) == 1
    assert creates[0].content_type.startswith("multipart/form-data; boundary=")
    assert creates[0].body_len > len(image)


async def test_async_sdk_create_poll_list_paginate_download(
    proxy: TestServer, sim: TestServer
) -> None:
    client = async_client(proxy)
    created = [
        await client.videos.create(prompt=f"a paper boat number {i} on a pond") for i in range(5)
    ]
    done = await client.videos.poll(created[0].id, poll_interval_ms=20)
    assert done.status == "completed"

    seen = [v.id async for v in client.videos.list(limit=2)]
    assert set(seen) == {v.id for v in created}
    assert len(seen) == 5
    # Auto-pagination went through the proxy with the cursor untouched.
    pages = [r.raw_path for r in sim_requests(sim) if r.raw_path.startswith("/v1/videos?")]
    assert len(pages) == 3 and any("after=" in p for p in pages)

    content = await client.videos.download_content(done.id)
    direct = await async_client(sim).videos.download_content(done.id)
    assert content.read() == direct.read()
    await client.close()


async def test_curl_style_json_create(proxy: TestServer, sim: TestServer) -> None:
    body = b'{"model": "sora-2", "prompt": "a lighthouse in a storm", "seed": 7}'
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            proxy.make_url("/v1/videos"),
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"},
        ) as resp,
    ):
        assert resp.status == 200
        video = await resp.json()
    assert video["object"] == "video" and video["prompt"] == "a lighthouse in a storm"
    assert video["extra_fields"]["request_type"] == "video_generation"
    assert video["extra_fields"]["model_requested"] == "sora-2"
    # The exact bytes reached the upstream, unknown fields (seed) included.
    (recorded,) = [r for r in sim_requests(sim) if r.method == "POST"]
    assert recorded.body_sha256 == hashlib.sha256(body).hexdigest()
    assert recorded.headers["authorization"] == "Bearer sk-x"
