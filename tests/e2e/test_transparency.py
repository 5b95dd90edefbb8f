"""What a transparent proxy owes: exact ids, headers, query strings, bodies, encodings."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from proxy.state import STATE
from tests.conftest import ServerFactory, base_url, sim_requests

WEIRD_IDS = [
    "video_abc:openai",
    "operations%2Fvideo_123:gemini",
    "video_dGhpcyBpcyBh+bG9uZw==",
    "video_" + "a1" * 200,
]


@pytest.mark.parametrize("raw_id", WEIRD_IDS)
async def test_ids_reach_upstream_byte_for_byte(
    proxy: TestServer, sim: TestServer, raw_id: str
) -> None:
    paths = [
        ("GET", f"/v1/videos/{raw_id}"),
        ("DELETE", f"/v1/videos/{raw_id}"),
        ("GET", f"/v1/videos/{raw_id}/content?variant=thumbnail"),
        ("POST", f"/v1/videos/{raw_id}/remix"),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path in paths:
            kwargs = {"json": {"prompt": "again"}} if method == "POST" else {}
            url = URL(str(proxy.make_url("")).rstrip("/") + path, encoded=True)
            async with http.request(method, url, **kwargs) as resp:
                assert resp.status == 404  # the simulator does not know it; it saw it exactly
    assert [r.raw_path for r in sim_requests(sim)] == [p for _, p in paths]


async def test_sdk_encoded_ids_round_trip(proxy: TestServer, sim: TestServer) -> None:
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    for video_id in ("operations%2Fx:gemini", "video_a+b/c="):
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(video_id)
    # The SDK percent-encodes "%" and "/"; the proxy relays its encoding untouched.
    assert [r.raw_path for r in sim_requests(sim)] == [
        "/v1/videos/operations%252Fx:gemini",
        "/v1/videos/video_a+b%2Fc=",
    ]
    await client.close()


async def test_request_id_kept_or_generated(proxy: TestServer, sim: TestServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/v1/videos"), headers={"x-request-id": "abc-123"}) as r:
            assert r.headers["x-request-id"] == "abc-123"
            assert r.headers["x-upstream-request-id"].startswith("req_")
        async with http.get(proxy.make_url("/v1/videos")) as r:
            generated = r.headers["x-request-id"]
            assert generated.startswith("req_") and len(generated) > 10
        async with http.get(proxy.make_url("/v1/videos"), headers={"x-request-id": "bad\tid"}) as r:
            assert r.headers["x-request-id"] != "bad\tid"
        async with http.get(proxy.make_url("/healthz"), headers={"x-request-id": "h-1"}) as r:
            assert r.headers["x-request-id"] == "h-1"
    upstream_ids = [r.headers.get("x-request-id") for r in sim_requests(sim)]
    assert upstream_ids[0] == "abc-123" and upstream_ids[1] == generated


async def test_headers_relayed_and_hop_by_hop_dropped(proxy: TestServer, sim: TestServer) -> None:
    sent = {
        "Authorization": "Bearer sk-live",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
        "X-Stainless-Lang": "python",
        "Accept": "application/json",
        "Keep-Alive": "timeout=5",
        "Connection": "keep-alive, x-private-hop",
        "X-Private-Hop": "secret",
        "Proxy-Authorization": "Basic abc",
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/v1/videos?limit=3&order=asc"), headers=sent) as r:
            assert r.status == 200
            assert "openai-processing-ms" in r.headers
    (rec,) = sim_requests(sim)
    assert rec.raw_path == "/v1/videos?limit=3&order=asc"
    for name in ("authorization", "openai-organization", "openai-project", "x-stainless-lang"):
        assert rec.headers[name] == sent[next(k for k in sent if k.lower() == name)]
    for name in ("keep-alive", "x-private-hop", "proxy-authorization"):
        assert name not in rec.headers


async def test_no_header_the_client_did_not_send(proxy: TestServer, sim: TestServer) -> None:
    # aiohttp's client adds Accept, User-Agent and Accept-Encoding unless told not to: the
    # proxy's upstream session must add none of them for the client.
    bare = ("Accept", "User-Agent", "Accept-Encoding")
    async with aiohttp.ClientSession(skip_auto_headers=bare) as http:
        for path in ("/v1/videos?limit=1", "/v1/echo/x"):
            async with http.get(
                proxy.make_url(path), headers={"Authorization": "Bearer sk-live"}
            ) as r:
                assert r.status == 200
    records = sim_requests(sim)
    assert [r.raw_path for r in records] == ["/v1/videos?limit=1", "/v1/echo/x"]
    for rec in records:
        assert "accept" not in rec.headers and "user-agent" not in rec.headers, rec.raw_path
    # Only the JSON route, which the proxy reads itself, asks for what it can decode.
    assert [r.headers.get("accept-encoding") for r in records] == ["gzip, deflate", None]


async def test_other_paths_stream_untouched(proxy: TestServer, sim: TestServer) -> None:
    payload = bytes(range(256)) * 40_000  # ~10 MB

    async def chunks() -> Any:
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    async with aiohttp.ClientSession() as http:
        async with http.put(
            URL(str(proxy.make_url("/")) + "v1/echo/some/where?x=1&y=%2F", encoded=True),
            data=chunks(),
            headers={"X-Custom": "kept"},
        ) as r:
            echo = await r.json()
        assert echo["method"] == "PUT"
        assert echo["raw_path"] == "/v1/echo/some/where?x=1&y=%2F"
        assert echo["body_len"] == len(payload)
        assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
        assert echo["headers"]["x-custom"] == "kept"
        async with http.get(proxy.make_url("/v1/blob?bytes=3000000")) as r:
            assert r.headers["Content-Length"] == "3000000"
            assert len(await r.read()) == 3_000_000
        async with http.patch(proxy.make_url("/v1/chat/completions")) as r:
            assert r.status == 404  # relayed from the simulator, not invented here


async def test_compressed_request_bodies_reach_upstream_as_sent(
    proxy: TestServer, sim: TestServer
) -> None:
    gzip_json = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    plain = b'{"x": "' + b"a" * 2000 + b'"}'
    sent = gzip.compress(plain)
    create = b'{"prompt": "a gzipped red kite", "seconds": "8"}'
    sent_create = gzip.compress(create)
    async with aiohttp.ClientSession() as http:
        # Relayed: the upstream gets the bytes as sent, with their encoding and length.
        async with http.post(proxy.make_url("/v1/echo/upload"), data=sent, headers=gzip_json) as r:
            echo = await r.json()
        assert echo["body_sha256"] == hashlib.sha256(plain).hexdigest()  # decoded upstream
        assert echo["headers"]["content-encoding"] == "gzip"
        assert echo["headers"]["content-length"] == str(len(sent))
        # A create is decoded to be read (and keyed), and forwarded as sent.
        headers = {**gzip_json, "Authorization": "Bearer sk-gz"}
        async with http.post(proxy.make_url("/v1/videos"), data=sent_create, headers=headers) as r:
            assert r.status == 200 and r.headers["x-cache"] == "MISS"
            video = await r.json()
    assert (video["prompt"], video["seconds"]) == ("a gzipped red kite", "8")
    [seen] = [r for r in sim_requests(sim) if r.raw_path == "/v1/videos"]
    assert seen.body_sha256 == hashlib.sha256(create).hexdigest()
    assert seen.headers["content-encoding"] == "gzip"
    assert seen.headers["content-length"] == str(len(sent_create))
    # The same request uncompressed is the same request: it is served from that job.
    client = openai.AsyncOpenAI(api_key="sk-gz", base_url=base_url(proxy), max_retries=0)
    again = await client.videos.with_raw_response.create(prompt="a gzipped red kite", seconds="8")
    assert again.headers["x-cache"] in ("JOINED", "HIT")
    await client.close()


def raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


async def test_deflate_create_bodies_are_read_in_both_forms(
    proxy: TestServer, sim: TestServer
) -> None:
    # RFC 9110's deflate is zlib-wrapped; some clients send the raw stream, which servers
    # (the simulator's aiohttp too) accept as well.
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "deflate",
        "Authorization": "Bearer sk-deflate",
    }

    async def byte_by_byte(data: bytes) -> Any:
        for i in range(len(data)):  # the form is told from the first two bytes
            yield data[i : i + 1]

    sent: dict[str, bytes] = {}
    async with aiohttp.ClientSession() as http:
        for form, pack in (("zlib", zlib.compress), ("raw", raw_deflate)):
            for chunked in (False, True):
                prompt = f"a {form} kite, {'chunked' if chunked else 'whole'}"
                create = orjson.dumps({"prompt": prompt, "seconds": "8"})
                body = pack(create)
                data = byte_by_byte(body) if chunked else body
                async with http.post(proxy.make_url("/v1/videos"), data=data, headers=headers) as r:
                    assert r.status == 200 and r.headers["x-cache"] == "MISS", await r.text()
                    video = await r.json()
                assert (video["prompt"], video["seconds"]) == (prompt, "8")
                sent[prompt] = create
    seen = {r.body_sha256 for r in sim_requests(sim) if r.raw_path == "/v1/videos"}
    assert seen == {hashlib.sha256(c).hexdigest() for c in sent.values()}


async def test_gzip_upstream_bodies_reach_client(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(gzip_json=True)
    proxy = await start_proxy(sim)
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    video = await client.videos.create(prompt="a compressed cat")
    got = await client.videos.retrieve(video.id)
    assert (
        got.id == video.id and got.model_extra["extra_fields"]["request_type"] == "video_retrieve"
    )
    await client.close()
    # A client that asks for gzip on a passthrough path gets the upstream's bytes untouched.
    async with (
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.get(
            proxy.make_url("/v1/videos/characters/char_1"), headers={"Accept-Encoding": "gzip"}
        ) as r,
    ):
        raw = await r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        assert raw.startswith(b"{")


async def test_json_routes_ask_the_upstream_only_for_encodings_the_proxy_decodes(
    proxy: TestServer, sim: TestServer
) -> None:
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    video = await client.videos.create(prompt="a brotli-loving client")
    await client.close()
    wants = {"Accept-Encoding": "br, zstd, gzip"}  # curl --compressed, browsers
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url(f"/v1/videos/{video.id}"), headers=wants) as r:
            assert r.status == 200 and (await r.json())["id"] == video.id
        async with http.get(proxy.make_url("/v1/echo/x"), headers=wants) as r:
            relayed = (await r.json())["headers"]["accept-encoding"]
    [seen] = [r for r in sim_requests(sim) if r.raw_path == f"/v1/videos/{video.id}"]
    assert seen.headers["accept-encoding"] == "gzip, deflate"  # read by the proxy
    assert relayed == "br, zstd, gzip"  # passthrough: the client's own


def quirky_gateway(sim: TestServer) -> web.Application:
    """A gateway in front of the simulator that redirects retrieves asked to with
    `x-quirk: redirect` (307 to the simulator) and answers a delete with 204 No Content."""

    async def forward(request: web.Request) -> web.StreamResponse:
        target = str(sim.make_url("")).rstrip("/") + request.raw_path
        if request.method == "GET" and request.headers.get("x-quirk") == "redirect":
            raise web.HTTPTemporaryRedirect(target)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as http,
            http.request(request.method, target, headers=headers, data=await request.read()) as r,
        ):
            body = await r.read()
            if request.method == "DELETE" and r.status == 200:
                return web.Response(status=204)
            return web.Response(status=r.status, body=body, content_type=r.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def test_redirects_and_no_content_on_json_routes_are_relayed(
    aiohttp_server: Any, start_proxy: ServerFactory, sim: TestServer
) -> None:
    gateway = await aiohttp_server(quirky_gateway(sim), host="127.0.0.1")
    proxy = await start_proxy(gateway)
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    video = await client.videos.create_and_poll(prompt="a quirky gateway", poll_interval_ms=20)
    watcher = proxy.app[STATE].watcher
    assert watcher is not None and await watcher.wait_idle(20.0)
    # A 307 reaches the client, which follows it as it would without the proxy.
    moved = await client.videos.retrieve(video.id, extra_headers={"x-quirk": "redirect"})
    assert moved.id == video.id and moved.status == "completed"
    # A 204 delete is relayed as 204 and purges what was cached from the video.
    raw = await client.videos.with_raw_response.delete(video.id)
    assert raw.http_response.status_code == 204
    again = await client.videos.with_raw_response.create(prompt="a quirky gateway")
    assert again.headers["x-cache"] == "MISS"
    await client.close()


async def test_truncated_upstream_content_is_not_a_clean_end(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator()
    proxy = await start_proxy(sim)
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    video = await client.videos.create_and_poll(prompt="short", poll_interval_ms=20)
    await client.close()
    async with aiohttp.ClientSession() as http:
        async with http.post(sim.make_url("/_sim/faults"), json={"truncate_content": True}) as r:
            assert r.status == 200
        async with http.get(proxy.make_url(f"/v1/videos/{video.id}/content")) as r:
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()


async def test_health_and_readiness(
    start_proxy: ServerFactory, sim: TestServer, tmp_path: Path
) -> None:
    proxy = await start_proxy(sim)
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/healthz")) as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with http.get(proxy.make_url("/readyz")) as r:
            body = await r.json()
            assert r.status == 200 and body["checks"] == {"upstream": "ok", "data_dir": "ok"}
    down = await start_proxy("http://127.0.0.1:9", data_dir=tmp_path / "down")
    async with aiohttp.ClientSession() as http, http.get(down.make_url("/readyz")) as r:
        assert r.status == 503
        assert "unreachable" in (await r.json())["checks"]["upstream"]
