"""Upstream answers the proxy reads into memory (JSON, error bodies it relays) are bounded
by max_upstream_json_bytes: past it the client gets a 502 in the seed's envelope (for an
error body, the upstream's status and retry headers in the proxy's envelope), the answer
is counted, and the upstream connection is closed rather than read to the end. A gateway
of our own in front of the simulator sends the oversized answers; the official SDK is the
client."""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import ServerFactory
from tests.e2e.test_cache import client, create_raw, settle
from tests.e2e.test_observability import samples, scrape, value

LIMIT = 64 * 1024
WRITE = 64 * 1024
HUGE = 64 * 1024 * 1024  # what an oversized answer would send if it were read to the end
# Past what loopback socket buffers hold (about 4 MiB here), so a cut shows.
ERROR_BODY = 32 * 1024 * 1024

VIDEO = (
    b'{"id":"%s","object":"video","model":"sora-2","status":"completed","progress":100,'
    b'"created_at":1700000000,"size":"720x1280","seconds":"4","prompt":"',
    b'"}',
)
PAGE = (
    b'{"object":"list","data":[{"id":"video_listed","object":"video","model":"sora-2",'
    b'"status":"completed","progress":100,"created_at":1700000000,"prompt":"',
    b'"}],"first_id":"video_listed","last_id":"video_listed","has_more":false}',
)
ERROR = (
    b'{"error":{"type":"invalid_request_error","code":"too_chatty","param":null,"message":"',
    b'"}}',
)


@dataclass(frozen=True)
class Answer:
    shape: tuple[bytes, bytes]  # the JSON before and after the padding
    size: int  # the whole body's bytes
    chunked: bool
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


# What a client retries by, and one header that has nothing to do with retrying.
RATE_LIMITED = (
    ("Retry-After", "7"),
    ("retry-after-ms", "7000"),
    ("x-should-retry", "true"),
    ("x-ratelimit-remaining-requests", "0"),
    ("x-unrelated", "1"),
)


# Retrieve ids, and list queries (?oversize=<name>), the gateway answers itself.
ANSWERS = {
    "video_huge_length": Answer(VIDEO, HUGE, chunked=False),
    "video_huge_chunked": Answer(VIDEO, HUGE, chunked=True),
    "video_past_limit_chunked": Answer(VIDEO, LIMIT + 1, chunked=True),
    "video_at_limit_length": Answer(VIDEO, LIMIT, chunked=False),
    "video_at_limit_chunked": Answer(VIDEO, LIMIT, chunked=True),
    "video_huge_error_length": Answer(ERROR, ERROR_BODY, False, 429, RATE_LIMITED),
    "video_huge_error_chunked": Answer(ERROR, ERROR_BODY, True, 429, RATE_LIMITED),
    "video_small_error": Answer(ERROR, 10_000, chunked=False, status=400),
    "list_huge_length": Answer(PAGE, HUGE, chunked=False),
    "list_huge_chunked": Answer(PAGE, HUGE, chunked=True),
    "list_at_limit": Answer(PAGE, LIMIT, chunked=True),
}
GZIP_BOMB = "video_gzip_bomb"  # 4 MiB of JSON in a few KB of gzip


def body_of(name: str, answer: Answer) -> tuple[bytes, int, bytes]:
    """The answer's JSON as (head, padding bytes, tail)."""
    head = answer.shape[0].replace(b"%s", name.encode())
    tail = answer.shape[1]
    return head, answer.size - len(head) - len(tail), tail


@dataclass
class Sent:
    """What the gateway managed to send of one answer before the proxy hung up."""

    nbytes: int = 0
    finished: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Gateway:
    """In front of the simulator: the answers named in ANSWERS (and GZIP_BOMB) come from
    here, streamed; every other request is forwarded."""

    def __init__(self, sim: TestServer, content_error: Answer | None = None) -> None:
        self.sim = sim
        self.content_error = content_error  # what every content route answers, if set
        self.sent: dict[str, Sent] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.query.get("oversize") or request.path.removeprefix("/v1/videos/")
        if name == GZIP_BOMB:
            head, _, tail = body_of(name, ANSWERS["video_huge_length"])
            raw = head + b"x" * (4 * 1024 * 1024) + tail
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            return web.Response(body=gzip.compress(raw), headers=headers)
        if name in ANSWERS:
            return await self.stream(request, name, ANSWERS[name])
        if self.content_error is not None and request.path.endswith("/content"):
            return await self.stream(request, "content", self.content_error)
        return await self.forward(request)

    async def stream(self, request: web.Request, name: str, answer: Answer) -> web.StreamResponse:
        sent = self.sent[name] = Sent()
        head, padding, tail = body_of(name, answer)
        response = web.StreamResponse(
            status=answer.status,
            headers={"Content-Type": "application/json", **dict(answer.headers)},
        )
        if answer.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = answer.size
        try:
            await response.prepare(request)
            await response.write(head)
            sent.nbytes += len(head)
            while padding:
                piece = min(WRITE, padding)
                await response.write(b"x" * piece)
                sent.nbytes += piece
                padding -= piece
            await response.write(tail)
            await response.write_eof()
            sent.finished = True
        except ConnectionError:
            pass  # the proxy closed the connection: what an oversized answer should get
        finally:
            sent.done.set()
        return response

    async def forward(self, request: web.Request) -> web.Response:
        target = str(self.sim.make_url("")).rstrip("/") + request.raw_path
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as http,
            http.request(request.method, target, headers=headers, data=await request.read()) as r,
        ):
            return web.Response(
                status=r.status,
                body=await r.read(),
                headers={k: v for k, v in r.headers.items() if k.lower() == "content-type"},
            )

    async def cut_short(self, name: str, total: int) -> None:
        """The answer `name` was not sent whole: the proxy closed its connection early."""
        sent = self.sent[name]
        await asyncio.wait_for(sent.done.wait(), 10.0)
        assert not sent.finished
        assert sent.nbytes < total // 2, sent.nbytes


@pytest.fixture
async def gateway(serve: Any, sim: TestServer) -> tuple[Gateway, TestServer]:
    gw = Gateway(sim)
    return gw, await serve(gw.app)


@pytest.fixture
async def limited(gateway: tuple[Gateway, TestServer], start_proxy: ServerFactory) -> TestServer:
    return await start_proxy(gateway[1], max_upstream_json_bytes=LIMIT)


async def upstream_errors(proxy: TestServer) -> dict[str, float]:
    parsed = samples(await scrape(proxy))
    kinds = ("refused", "timeout", "4xx", "5xx", "malformed")
    return {k: value(parsed, "videocache_upstream_errors_total", kind=k) for k in kinds}


def assert_too_large(
    caught: pytest.ExceptionInfo[openai.APIStatusError], request_type: str
) -> None:
    assert caught.value.status_code == 502
    body = caught.value.response.json()
    assert body["status_code"] == 502
    assert body["type"] == body["error"]["type"] == "upstream_error"
    assert body["error"]["code"] == "upstream_too_large"
    assert body["error"]["event_id"] == body["event_id"]
    message = body["error"]["message"]
    assert "larger than the limit" in message and str(LIMIT) in message, message
    assert "max_upstream_json_bytes" in message
    assert body["extra_fields"]["request_type"] == request_type
    assert caught.value.response.headers["x-request-id"]


@pytest.mark.parametrize(
    "name",
    ["video_huge_length", "video_huge_chunked", "video_past_limit_chunked", GZIP_BOMB],
)
async def test_an_oversized_retrieve_answer_is_502(
    gateway: tuple[Gateway, TestServer], limited: TestServer, name: str
) -> None:
    alice = client(limited)
    with pytest.raises(openai.InternalServerError) as caught:
        await alice.videos.retrieve(name)
    await alice.close()
    assert_too_large(caught, "video_retrieve")
    assert await upstream_errors(limited) == {
        "refused": 0,
        "timeout": 0,
        "4xx": 0,
        "5xx": 0,
        "malformed": 1,
    }
    if name.startswith("video_huge"):
        await gateway[0].cut_short(name, HUGE)


@pytest.mark.parametrize("name", ["video_at_limit_length", "video_at_limit_chunked"])
async def test_an_answer_at_the_limit_is_relayed_unchanged(
    gateway: tuple[Gateway, TestServer], limited: TestServer, name: str
) -> None:
    alice = client(limited)
    video = await alice.videos.retrieve(name)
    await alice.close()
    head, padding, tail = body_of(name, ANSWERS[name])
    sent = orjson.loads(head + b"x" * padding + tail)
    relayed = video.model_dump(exclude_unset=True)
    relayed.pop("extra_fields")
    assert relayed == sent
    assert gateway[0].sent[name].finished
    assert (await upstream_errors(limited))["malformed"] == 0


async def test_ordinary_answers_relay_as_before(
    sim: TestServer, gateway: tuple[Gateway, TestServer], limited: TestServer
) -> None:
    alice = client(limited)
    made = await alice.videos.create_and_poll(prompt="a lantern on a pier", poll_interval_ms=20)
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": "Bearer sk-alice"}
        async with http.get(sim.make_url(f"/v1/videos/{made.id}"), headers=headers) as r:
            direct = await r.json()
        async with http.get(limited.make_url(f"/v1/videos/{made.id}"), headers=headers) as r:
            assert r.status == 200
            relayed = await r.json()
    relayed.pop("extra_fields")
    assert relayed == direct
    page = await alice.videos.list()
    assert [v.id for v in page.data] == [made.id]
    with pytest.raises(openai.NotFoundError) as missing:
        await alice.videos.retrieve("video_" + "0" * 32)
    assert missing.value.body["code"] == "not_found"
    await alice.close()
    assert (await upstream_errors(limited))["malformed"] == 0


@pytest.mark.parametrize("name", ["list_huge_length", "list_huge_chunked"])
async def test_an_oversized_list_page_is_502(
    gateway: tuple[Gateway, TestServer], limited: TestServer, name: str
) -> None:
    alice = client(limited)
    with pytest.raises(openai.InternalServerError) as caught:
        await alice.videos.list(extra_query={"oversize": name})
    assert_too_large(caught, "video_list")
    assert (await upstream_errors(limited))["malformed"] == 1
    await gateway[0].cut_short(name, HUGE)
    # A page of exactly the limit is still a page.
    page = await alice.videos.list(extra_query={"oversize": "list_at_limit"})
    assert [v.id for v in page.data] == ["video_listed"]
    await alice.close()


def assert_retry_headers_kept(headers: Any) -> None:
    for name, sent in RATE_LIMITED:
        if name == "x-unrelated":
            assert name not in headers  # the proxy's own answer: only what clients retry by
        else:
            assert headers[name] == sent, name


@pytest.mark.parametrize("name", ["video_huge_error_length", "video_huge_error_chunked"])
async def test_an_oversized_error_body_keeps_its_status_and_retry_headers(
    gateway: tuple[Gateway, TestServer], limited: TestServer, name: str
) -> None:
    alice = client(limited)
    with pytest.raises(openai.RateLimitError) as caught:
        await alice.videos.retrieve(name)
    # The upstream's 429 and what the SDK retries by, with the proxy's envelope saying why
    # the body is not the upstream's.
    assert caught.value.status_code == 429
    assert_retry_headers_kept(caught.value.response.headers)
    body = caught.value.response.json()
    assert body["status_code"] == 429
    assert body["error"]["code"] == "upstream_too_large"
    message = body["error"]["message"]
    assert "429" in message and str(LIMIT) in message and "max_upstream_json_bytes" in message
    assert body["extra_fields"]["request_type"] == "video_retrieve"
    await gateway[0].cut_short(name, ERROR_BODY)
    # Counted once, as the upstream's 4xx the client got.
    errors = await upstream_errors(limited)
    assert (errors["malformed"], errors["4xx"]) == (0, 1)
    # An error body under the limit is relayed byte for byte, with its status.
    async with aiohttp.ClientSession() as http:
        url = limited.make_url("/v1/videos/video_small_error")
        async with http.get(url, headers={"Authorization": "Bearer sk-alice"}) as r:
            assert r.status == 400
            head, padding, tail = body_of("video_small_error", ANSWERS["video_small_error"])
            assert await r.read() == head + b"x" * padding + tail
    with pytest.raises(openai.BadRequestError) as small:
        await alice.videos.retrieve("video_small_error")
    assert small.value.body["code"] == "too_chatty"
    await alice.close()
    errors = await upstream_errors(limited)
    assert (errors["malformed"], errors["4xx"]) == (0, 3)


async def test_a_joined_videos_upstream_error_too_large_to_rename_keeps_retry_headers(
    serve: Any, start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    """The content of a joined video comes from the upstream under the creator's id, and
    its errors are rewritten to name the id the client holds; one too large to rewrite is
    answered in the proxy's words, with the upstream's status and retry headers."""
    sim = await start_simulator(speed=1.0, job_seconds=600.0)  # still generating throughout
    big = Answer(ERROR, 200 * 1024, chunked=False, status=429, headers=RATE_LIMITED)
    gateway = Gateway(sim, content_error=big)
    proxy = await start_proxy(await serve(gateway.app), max_upstream_json_bytes=LIMIT)
    alice = client(proxy)
    await alice.videos.create(prompt="a kite over dunes")
    joined, headers = await create_raw(alice, prompt="a kite over dunes")
    assert headers["x-cache"] == "JOINED"
    async with aiohttp.ClientSession() as http:
        url = proxy.make_url(f"/v1/videos/{joined.id}/content")
        async with http.get(url, headers={"Authorization": "Bearer sk-alice"}) as r:
            assert r.status == 429
            assert_retry_headers_kept(r.headers)
            body = await r.json()
    await alice.close()
    assert body["error"]["code"] == "upstream_error" and body["error"]["param"] == "id"
    assert joined.id in body["error"]["message"]


async def test_placing_a_list_cursor_on_an_oversized_answer_is_502(
    gateway: tuple[Gateway, TestServer], limited: TestServer
) -> None:
    # Alice holds a minted id (a hit), so her list is merged, and a cursor the proxy did
    # not hand out is placed by retrieving that video from the upstream.
    alice = client(limited)
    await alice.videos.create_and_poll(prompt="a heron in reeds", poll_interval_ms=20)
    await settle(limited)
    _, headers = await create_raw(alice, prompt="a heron in reeds")
    assert headers["x-cache"] == "HIT"
    with pytest.raises(openai.InternalServerError) as caught:
        await alice.videos.list(after="video_huge_chunked")
    await alice.close()
    assert_too_large(caught, "video_list")
    await gateway[0].cut_short("video_huge_chunked", HUGE)
    assert (await upstream_errors(limited))["malformed"] == 1
