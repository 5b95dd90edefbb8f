"""Errors the proxy raises itself, and upstream errors it relays as they are."""

from __future__ import annotations

import gzip
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import ServerFactory, base_url, free_port, sim_requests

PROMPT = b'{"prompt": "a red kite over dunes"}'
GZIP_JSON = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}
FORM = b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na red kite\r\n--b--\r\n'
EMPTY_SIZE_PART = b'--b\r\nContent-Disposition: form-data; name="size"\r\n\r\n\r\n--b--\r\n'
SECONDS_PART = b'--b\r\nContent-Disposition: form-data; name="seconds"\r\n\r\n12'


def assert_envelope(body: dict[str, Any], status: int, param: str | None) -> None:
    assert body["status_code"] == status
    assert body["error"]["param"] == param
    assert body["error"]["message"]
    assert body["error"]["event_id"] == body["event_id"]
    assert set(body["extra_fields"]) == {"provider", "model_requested", "request_type"}


async def post(server: TestServer, path: str, **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(server.make_url(path), **kwargs) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"data": b'{"prompt": ', "headers": {"Content-Type": "application/json"}}, None),
        ({"json": {"model": "sora-2"}}, "prompt"),
        ({"json": {"prompt": "   "}}, "prompt"),
        ({"json": {"prompt": 42}}, "prompt"),
        ({"json": {"prompt": "x" * 32001}}, "prompt"),
        ({"json": ["not", "an", "object"]}, None),
        ({"data": b"prompt=x", "headers": {"Content-Type": "text/plain"}}, "Content-Type"),
        # Keyed fields must be non-empty strings, or they would be keyed as the default
        # and answered from the cache where the upstream answers 400.
        ({"json": {"prompt": "a kite", "seconds": 4}}, "seconds"),
        ({"json": {"prompt": "a kite", "seconds": ""}}, "seconds"),
        ({"json": {"prompt": "a kite", "seconds": False}}, "seconds"),
        ({"json": {"prompt": "a kite", "model": None}}, "model"),
        ({"json": {"prompt": "a kite", "model": " "}}, "model"),
        ({"json": {"prompt": "a kite", "size": 0}}, "size"),
        ({"data": FORM[: FORM.index(b"--b--")] + EMPTY_SIZE_PART, "headers": MULTIPART}, "size"),
        # Multipart cut off before its closing boundary: the parser would drop the last
        # part, which the upstream may read (a `seconds` the cache key never saw).
        ({"data": FORM[: FORM.index(b"--b--")] + SECONDS_PART, "headers": MULTIPART}, None),
        ({"data": FORM[: FORM.index(b"\r\n--b--")], "headers": MULTIPART}, None),
        # A compressed body cut short, or followed by other bytes.
        ({"data": gzip.compress(PROMPT)[:-6], "headers": GZIP_JSON}, None),
        ({"data": gzip.compress(PROMPT) + b"{}", "headers": GZIP_JSON}, None),
        ({"data": b"not gzip at all", "headers": GZIP_JSON}, None),
    ],
)
async def test_bad_create_is_400_and_never_reaches_upstream(
    proxy: TestServer, sim: TestServer, kwargs: dict[str, Any], param: str | None
) -> None:
    status, body, headers = await post(proxy, "/v1/videos", **kwargs)
    assert status == 400
    assert_envelope(body, 400, param)
    assert body["extra_fields"]["request_type"] == "video_generation"
    assert headers["x-request-id"]
    assert sim_requests(sim) == []


async def test_an_encoding_the_proxy_cannot_read_is_415(proxy: TestServer, sim: TestServer) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "br"}
    status, body, _ = await post(proxy, "/v1/videos", data=b"\x8b\x03\x80{}\x03", headers=headers)
    assert status == 415
    assert_envelope(body, 415, "Content-Encoding")
    assert sim_requests(sim) == []


async def test_missing_prompt_in_multipart_is_400(proxy: TestServer, sim: TestServer) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "sora-2")
    form.add_field("input_reference", b"\x89PNG....", filename="a.png", content_type="image/png")
    status, body, _ = await post(proxy, "/v1/videos", data=form)
    assert status == 400 and body["error"]["param"] == "prompt"
    assert sim_requests(sim) == []


async def test_sdk_sees_400_as_bad_request(proxy: TestServer, sim: TestServer) -> None:
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.videos.create(prompt="")
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == "prompt"  # the SDK reads body["error"]
    assert caught.value.request_id
    assert sim_requests(sim) == []
    await client.close()


async def test_remix_without_prompt_is_400(proxy: TestServer, sim: TestServer) -> None:
    status, body, _ = await post(proxy, "/v1/videos/video_abc/remix", json={})
    assert status == 400 and body["error"]["param"] == "prompt"
    assert body["extra_fields"]["request_type"] == "video_remix"
    assert sim_requests(sim) == []


async def test_body_over_limit_is_413(start_proxy: ServerFactory, sim: TestServer) -> None:
    proxy = await start_proxy(sim, max_body_bytes=4096)
    status, body, _ = await post(proxy, "/v1/videos", json={"prompt": "x" * 5000})
    assert status == 413
    assert_envelope(body, 413, None)

    # Also when no Content-Length announces it (chunked), on create and on passthrough.
    async def chunks() -> Any:
        for _ in range(10):
            yield b"y" * 1000

    json_type = {"Content-Type": "application/json"}
    status, body, _ = await post(proxy, "/v1/videos", data=chunks(), headers=json_type)
    assert status == 413
    status, body, _ = await post(proxy, "/v1/echo/upload", data=chunks())
    assert status == 413
    # And when a small compressed body inflates past the limit.
    bomb = gzip.compress(b'{"prompt": "' + b"x" * 10**6 + b'"}')
    assert len(bomb) < 4096
    status, body, _ = await post(proxy, "/v1/videos", data=bomb, headers=GZIP_JSON)
    assert status == 413
    assert not [r for r in sim_requests(sim) if r.raw_path == "/v1/videos"]


async def test_upstream_refused_is_502(start_proxy: ServerFactory) -> None:
    proxy = await start_proxy(f"http://127.0.0.1:{free_port()}")
    async with aiohttp.ClientSession() as http:
        for path in ("/v1/videos/video_1", "/v1/videos/video_1/content", "/v1/other"):
            async with http.get(proxy.make_url(path)) as resp:
                assert resp.status == 502, path
                body = await resp.json()
                assert body["error"]["code"] == "upstream_unreachable"
    status, body, _ = await post(proxy, "/v1/videos", json={"prompt": "a cat"})
    assert status == 502 and body["extra_fields"]["model_requested"] is None


async def test_upstream_timeout_is_504(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(slow_ms=1500)
    proxy = await start_proxy(sim, read_timeout=0.3)
    status, body, _ = await post(proxy, "/v1/videos", json={"prompt": "a slow cat"})
    assert status == 504
    assert_envelope(body, 504, None)
    assert body["error"]["code"] == "upstream_timeout"


async def test_malformed_upstream_json_is_502(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(malformed_json=True)
    proxy = await start_proxy(sim)
    status, body, _ = await post(proxy, "/v1/videos", json={"prompt": "a cat"})
    assert status == 502
    assert "malformed" in body["error"]["message"]


async def test_upstream_errors_relayed_with_retry_headers(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    sim = await start_simulator(rate_limit_every=1)
    proxy = await start_proxy(sim)
    async with aiohttp.ClientSession() as http:
        async with http.get(proxy.make_url("/v1/videos/video_x")) as resp:
            assert resp.status == 429
            assert resp.headers["retry-after"] == "1"
            assert "retry-after-ms" in resp.headers
            direct_body = await resp.json()
    assert "error" in direct_body
    # The SDK retries on 429 honouring the headers it got through us.
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=1)
    with pytest.raises(openai.RateLimitError):
        await client.videos.retrieve("video_x")
    assert len([r for r in sim_requests(sim) if r.raw_path == "/v1/videos/video_x"]) == 3
    await client.close()


async def test_upstream_404_relayed_as_is(proxy: TestServer) -> None:
    client = openai.AsyncOpenAI(api_key="sk", base_url=base_url(proxy), max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        await client.videos.retrieve("video_" + "0" * 32)
    assert caught.value.body["code"] == "not_found"
    await client.close()
