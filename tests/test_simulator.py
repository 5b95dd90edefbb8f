"""Tests of the OpenAI-faithful upstream simulator."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import re
from typing import Any

import aiohttp
import av
import orjson
import pytest
from PIL import Image

from simulator.app import SIM_STATE, build_app
from simulator.settings import SimulatorSettings

ID_RE = re.compile(r"^video_[0-9a-f]{32}$")
VIDEO_KEYS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
}


def fast(**overrides: Any) -> SimulatorSettings:
    # 20 s jobs at speed 200: 0.1 s of real time each.
    return SimulatorSettings(speed=200, job_seconds=20, **overrides)


@pytest.fixture
async def client(aiohttp_client):
    return await aiohttp_client(build_app(fast()))


@pytest.fixture
async def bifrost(aiohttp_client):
    return await aiohttp_client(build_app(fast(flavor="bifrost")))


async def create(client, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/videos", json={"prompt": "a red fox", **fields})
    assert response.status == 200, await response.text()
    return await response.json()


async def wait_done(client, video_id: str, path: str | None = None) -> dict[str, Any]:
    path = path or f"/v1/videos/{video_id}"
    for _ in range(200):
        body = await (await client.get(path)).json()
        if body["status"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"{video_id} never finished")


async def test_multipart_create_like_the_sdk(client):
    form = aiohttp.FormData()
    form.add_field("prompt", "a red fox at dawn")
    form.add_field("model", "sora-2-pro")
    form.add_field("seconds", "8")
    form.add_field("size", "1280x720")
    form.add_field("input_reference", b"\x89PNG fake", filename="ref.png", content_type="image/png")
    response = await client.post("/v1/videos", data=form)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == VIDEO_KEYS
    assert ID_RE.match(body["id"])
    assert (body["model"], body["seconds"], body["size"]) == ("sora-2-pro", "8", "1280x720")
    assert body["status"] == "queued" and body["progress"] == 0
    assert body["completed_at"] is None and body["error"] is None
    assert int(response.headers["openai-poll-after-ms"]) >= 10
    assert response.headers["x-request-id"].startswith("req_")
    assert "openai-processing-ms" in response.headers
    recorded = client.app[SIM_STATE].requests[-1]
    assert recorded.content_type.startswith("multipart/form-data; boundary=")
    assert recorded.body_len > 0


async def test_json_create_defaults_and_extra_fields(client):
    body = await create(
        client, negative_prompt="blur", input_reference={"image_url": "https://example.com/a.png"}
    )
    assert (body["model"], body["seconds"], body["size"]) == ("sora-2", "4", "720x1280")
    job = client.app[SIM_STATE].jobs.get(body["id"])
    assert job is not None and job.extra["negative_prompt"] == "blur"


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({"prompt": "p", "seconds": 4}, "seconds"),
        ({"prompt": "p", "seconds": "5"}, "seconds"),
        ({"prompt": "p", "size": "640x480"}, "size"),
        ({"prompt": "p", "model": ""}, "model"),
        ({"prompt": "p", "input_reference": "nope"}, "input_reference"),
    ],
)
async def test_create_validation(client, payload, param):
    response = await client.post("/v1/videos", json=payload)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


async def test_invalid_json_is_400(client):
    response = await client.post(
        "/v1/videos", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "error" in await response.json()


async def test_lifecycle_to_completed(client):
    video = await create(client)
    seen = set()
    for _ in range(200):
        body = await (await client.get(f"/v1/videos/{video['id']}")).json()
        seen.add(body["status"])
        if body["status"] == "completed":
            break
        await asyncio.sleep(0.005)
    assert body["status"] == "completed" and body["progress"] == 100
    assert "in_progress" in seen or "queued" in seen
    assert body["expires_at"] == body["completed_at"] + 3600


async def test_unknown_id_is_404(client):
    response = await client.get("/v1/videos/video_missing")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_fail_next_and_filter_next(client):
    settings = client.app[SIM_STATE].settings
    response = await client.post("/_sim/faults", json={"fail_next": 1, "filter_next": 1})
    assert response.status == 200
    failed = await wait_done(client, (await create(client))["id"])
    filtered = await wait_done(client, (await create(client))["id"])
    ok = await wait_done(client, (await create(client))["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "video_generation_failed"
    assert filtered["status"] == "failed"
    assert filtered["error"]["code"] == "moderation_blocked"
    assert filtered["content_filter"]["filtered_count"] == 1
    assert filtered["content_filter"]["reasons"]
    assert ok["status"] == "completed"
    assert settings.fail_next == 0 and settings.filter_next == 0


async def test_faults_rejects_bad_values(client):
    response = await client.post("/_sim/faults", json={"fail_next": "two"})
    assert response.status == 400
    response = await client.post("/_sim/faults", json={"bogus": 1})
    assert response.status == 400


async def test_list_pagination(client):
    ids = [(await create(client, prompt=f"p{i}"))["id"] for i in range(5)]
    page = await (await client.get("/v1/videos?limit=2")).json()
    assert page["object"] == "list"
    assert [v["id"] for v in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True and page["last_id"] == ids[3]
    rest = await (await client.get(f"/v1/videos?limit=10&after={page['last_id']}")).json()
    assert [v["id"] for v in rest["data"]] == ids[::-1][2:]
    assert rest["has_more"] is False
    asc = await (await client.get("/v1/videos?order=asc&limit=3")).json()
    assert [v["id"] for v in asc["data"]] == ids[:3]
    assert asc["first_id"] == ids[0]
    for query, param in (("limit=0", "limit"), ("limit=abc", "limit"), ("order=up", "order")):
        response = await client.get(f"/v1/videos?{query}")
        assert response.status == 400
        assert (await response.json())["error"]["param"] == param


async def test_delete(client):
    video = await create(client)
    response = await client.delete(f"/v1/videos/{video['id']}")
    assert await response.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert (await client.get(f"/v1/videos/{video['id']}")).status == 404
    assert (await client.delete(f"/v1/videos/{video['id']}")).status == 404


async def test_remix(client):
    source = await create(client, model="sora-2-pro", size="1792x1024", seconds="12")
    early = await client.post(f"/v1/videos/{source['id']}/remix", json={"prompt": "again"})
    assert early.status == 400
    await wait_done(client, source["id"])
    response = await client.post(f"/v1/videos/{source['id']}/remix", json={"prompt": "again"})
    assert response.status == 200
    remix = await response.json()
    assert remix["remixed_from_video_id"] == source["id"]
    assert remix["id"] != source["id"] and remix["prompt"] == "again"
    assert (remix["model"], remix["size"], remix["seconds"]) == ("sora-2-pro", "1792x1024", "12")
    missing = await client.post(f"/v1/videos/{source['id']}/remix", json={})
    assert missing.status == 400


async def test_content_variants_are_real_and_deterministic(client):
    video = await create(client)
    early = await client.get(f"/v1/videos/{video['id']}/content")
    assert early.status == 400
    await wait_done(client, video["id"])
    base = f"/v1/videos/{video['id']}/content"
    response = await client.get(base)
    assert response.headers["Content-Type"] == "video/mp4"
    mp4 = await response.read()
    assert int(response.headers["Content-Length"]) == len(mp4)
    with av.open(io.BytesIO(mp4)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 8 and frames[0].width == 160
    thumb = await client.get(base + "?variant=thumbnail")
    assert thumb.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(await thumb.read())).format == "WEBP"
    sheet = await client.get(base + "?variant=spritesheet")
    assert sheet.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(await sheet.read())).size == (640, 180)
    bad = await client.get(base + "?variant=gif")
    assert bad.status == 400 and (await bad.json())["error"]["param"] == "variant"
    # Same id, fresh render (cache bypassed) -> identical bytes; another id differs.
    from simulator.media import render

    assert hashlib.sha256(render(video["id"])["video"]).digest() == hashlib.sha256(mp4).digest()
    assert render("video_other")["video"] != mp4


async def test_content_disposition_knob(client):
    video = await create(client)
    await wait_done(client, video["id"])
    base = f"/v1/videos/{video['id']}/content"
    assert "Content-Disposition" not in (await client.get(base)).headers  # as OpenAI
    await client.post("/_sim/faults", json={"content_disposition": True})
    for variant, extension in (("video", "mp4"), ("thumbnail", "webp"), ("spritesheet", "jpg")):
        response = await client.get(f"{base}?variant={variant}")
        want = f'attachment; filename="{video["id"]}.{extension}"'
        assert response.headers["Content-Disposition"] == want


async def test_content_padding_still_opens(aiohttp_client):
    client = await aiohttp_client(build_app(fast(content_bytes=3_000_000)))
    video = await create(client)
    await wait_done(client, video["id"])
    response = await client.get(f"/v1/videos/{video['id']}/content")
    data = await response.read()
    assert len(data) == int(response.headers["Content-Length"]) >= 3_000_000
    with av.open(io.BytesIO(data)) as container:
        assert len(list(container.decode(video=0))) == 8
    again = await (await client.get(f"/v1/videos/{video['id']}/content")).read()
    assert again == data


async def test_asset_expiry(client):
    video = await create(client)
    await wait_done(client, video["id"])
    await client.post("/_sim/faults", json={"asset_ttl": 0})
    response = await client.get(f"/v1/videos/{video['id']}/content")
    assert response.status == 404


async def test_rate_limit_knob(client):
    await client.post("/_sim/faults", json={"rate_limit_every": 2})
    statuses = []
    for _ in range(4):
        response = await client.get("/v1/videos")
        statuses.append(response.status)
        if response.status == 429:
            assert response.headers["retry-after"] == "1"
            assert response.headers["retry-after-ms"] == "1000"
            assert (await response.json())["error"]["code"] == "rate_limit_exceeded"
    assert statuses == [200, 429, 200, 429]


async def test_malformed_json_knob(client):
    await client.post("/_sim/faults", json={"malformed_json": True})
    response = await client.post("/v1/videos", json={"prompt": "p"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(await response.read())
    # The control routes stay usable so the knob can be switched off again.
    assert (await client.post("/_sim/faults", json={"malformed_json": False})).status == 200
    assert (await (await client.get("/v1/videos")).json())["object"] == "list"


async def test_truncate_knob(client):
    video = await create(client)
    await wait_done(client, video["id"])
    await client.post("/_sim/faults", json={"truncate_content": True})
    response = await client.get(f"/v1/videos/{video['id']}/content")
    assert int(response.headers["Content-Length"]) > 0
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()


async def test_gzip_knob(client):
    await client.post("/_sim/faults", json={"gzip_json": True})
    response = await client.get(
        "/v1/videos", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert orjson.loads(gzip.decompress(await response.read()))["object"] == "list"
    plain = await client.get("/v1/videos", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


async def test_slow_knob(client):
    await client.post("/_sim/faults", json={"slow_ms": 150})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.get("/v1/videos")
    assert loop.time() - started >= 0.14


async def test_echo_streams_and_hashes(client):
    payload = bytes(range(256)) * 40_000  # ~10 MB

    async def chunks():
        for start in range(0, len(payload), 1 << 20):
            yield payload[start : start + (1 << 20)]

    response = await client.put(
        "/v1/echo/a%2Fb/c?x=1&y=%20", data=chunks(), headers={"X-Custom": "v"}
    )
    body = await response.json()
    assert body["method"] == "PUT"
    assert body["raw_path"] == "/v1/echo/a%2Fb/c?x=1&y=%20"
    assert body["body_len"] == len(payload)
    assert body["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert body["headers"]["x-custom"] == "v"
    recorded = await (await client.get("/_sim/requests")).json()
    assert recorded[-1]["body_sha256"] == body["body_sha256"]
    assert recorded[-1]["raw_path"] == "/v1/echo/a%2Fb/c?x=1&y=%20"


async def test_recording_and_clear(client):
    await client.get("/v1/videos?limit=3", headers={"Authorization": "Bearer sk-1"})
    recorded = await (await client.get("/_sim/requests")).json()
    assert len(recorded) == 1  # /_sim calls are not recorded
    assert recorded[0]["raw_path"] == "/v1/videos?limit=3"
    assert recorded[0]["headers"]["authorization"] == "Bearer sk-1"
    await client.delete("/_sim/requests")
    assert await (await client.get("/_sim/requests")).json() == []
    assert (await (await client.get("/_sim/health")).json())["status"] == "ok"


async def test_blob_and_passthrough_routes(client):
    response = await client.get("/v1/blob?bytes=600000")
    data = await response.read()
    assert len(data) == int(response.headers["Content-Length"]) == 600_000
    assert data == await (await client.get("/v1/blob?bytes=600000")).read()
    character = await (await client.post("/v1/videos/characters", json={"name": "Ada"})).json()
    fetched = await client.get(f"/v1/videos/characters/{character['id']}")
    assert (await fetched.json())["name"] == "Ada"
    for route in ("edits", "extensions"):
        edit = await client.post(f"/v1/videos/{route}", json={"prompt": "edit it"})
        assert edit.status == 200 and ID_RE.match((await edit.json())["id"])


async def test_bifrost_flavor(bifrost):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("prompt", "p")
    rejected = await bifrost.post("/v1/videos", data=form)
    assert rejected.status == 400
    assert "multipart" in (await rejected.json())["error"]["message"]
    bad_model = await bifrost.post("/v1/videos", json={"prompt": "p", "model": "sora-2"})
    assert (await bad_model.json())["error"]["param"] == "model"

    created = await bifrost.post("/v1/videos", json={"prompt": "p", "model": "openai/sora-2"})
    video = await created.json()
    assert re.match(r"^operations%2Fvideo_[0-9a-f]{32}:openai$", video["id"])
    assert isinstance(video["progress"], float)
    for omitted in ("completed_at", "expires_at", "remixed_from_video_id", "error"):
        assert omitted not in video
    assert video["extra_fields"]["request_type"] == "video_generation"
    assert video["extra_fields"]["provider"] == "openai"
    assert "latency" in video["extra_fields"]

    # The SDK percent-encodes the id: the server sees %252F and decodes once.
    sdk_path = "/v1/videos/" + video["id"].replace("%", "%25")
    done = await wait_done(bifrost, video["id"], path=sdk_path)
    assert done["status"] == "completed" and isinstance(done["progress"], float)
    assert done["id"] == video["id"]
    # Sent verbatim (as curl would) it is found too.
    assert (await bifrost.get(f"/v1/videos/{video['id']}")).status == 200
    content = await bifrost.get(sdk_path + "/content")
    assert content.status == 200 and content.headers["Content-Type"] == "video/mp4"

    no_provider = await bifrost.get("/v1/videos")
    assert no_provider.status == 400
    assert (await no_provider.json())["error"]["param"] == "provider"
    listed = await (await bifrost.get("/v1/videos?provider=openai")).json()
    assert [v["id"] for v in listed["data"]] == [video["id"]]
    assert listed["extra_fields"]["request_type"] == "video_list"
