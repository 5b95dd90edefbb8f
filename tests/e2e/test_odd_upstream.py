"""An upstream that sends what the contract does not foresee: the watcher reads past it and
the creator still gets the upstream's answer. (The simulator keeps to the contract; this
small upstream does not.)"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import ServerFactory, base_url
from tests.e2e.test_cache import settle

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(4096)


class OddUpstream:
    """One job at a time: `polls` retrieves before it completes, each answered with `status`
    (the contract's "in_progress" unless given) and `poll_after` as openai-poll-after-ms."""

    def __init__(
        self,
        status: Any = "in_progress",
        poll_after: str = "10",
        polls: int = 3,
        content_at: str | None = None,
    ):
        self.status, self.poll_after, self.polls = status, poll_after, polls
        self.content_at = content_at  # content answered with a 302 to here
        self.seen = 0
        self.app = web.Application()
        self.app.router.add_post("/v1/videos", self.create)
        self.app.router.add_get("/v1/videos/{id}", self.retrieve)
        self.app.router.add_get("/v1/videos/{id}/content", self.content)

    def video(self, video_id: str, status: Any) -> dict[str, Any]:
        return {
            "id": video_id,
            "object": "video",
            "model": "sora-2",
            "status": status,
            "progress": 100 if status == "completed" else 50,
            "created_at": int(time.time()),
            "completed_at": int(time.time()) if status == "completed" else None,
            "expires_at": int(time.time()) + 3600 if status == "completed" else None,
            "prompt": "p",
            "size": "720x1280",
            "seconds": "4",
            "remixed_from_video_id": None,
            "error": None,
        }

    async def create(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen = 0
        return web.json_response(self.video("video_odd1", "queued"))

    async def retrieve(self, request: web.Request) -> web.Response:
        self.seen += 1
        done = self.seen > self.polls
        return web.json_response(
            self.video(request.match_info["id"], "completed" if done else self.status),
            headers={"openai-poll-after-ms": self.poll_after},
        )

    async def content(self, request: web.Request) -> web.Response:
        if self.content_at is not None:
            return web.Response(status=302, headers={"Location": self.content_at})
        return web.Response(body=MP4, content_type="video/mp4")


async def start(serve: Any, start_proxy: ServerFactory, odd: OddUpstream) -> TestServer:
    upstream = await serve(odd.app)
    return await start_proxy(upstream)


@pytest.mark.parametrize(
    "poll_after",
    ["²", "9" * 5000, "9" * 400, "-5", "1e3", "Infinity", " 20"],
    ids=["superscript", "5000-digits", "400-digits", "negative", "exponent", "inf", "space"],
)
async def test_a_poll_hint_that_cannot_be_read_is_ignored(
    serve: Any, start_proxy: ServerFactory, poll_after: str
) -> None:
    # Before, "²" (str.isdigit() takes it, int() does not) and long numbers crashed the
    # watch: the job read failed to its joins and was never cached.
    proxy = await start(serve, start_proxy, OddUpstream(poll_after=poll_after))
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    first = await alice.videos.with_raw_response.create(prompt="a moth at a lamp")
    assert first.headers["x-cache"] == "MISS"
    await settle(proxy)
    hit = await alice.videos.with_raw_response.create(prompt="a moth at a lamp")
    assert hit.headers["x-cache"] == "HIT"
    assert (await alice.videos.download_content(hit.parse().id)).read() == MP4
    await alice.close()


async def test_a_status_outside_the_contract_is_relayed_to_its_creator(
    serve: Any, start_proxy: ServerFactory
) -> None:
    # A nested job state: the creator's retrieve was a bare 500 (the proxy compared the
    # object with its set of final states).
    nested = {"phase": "running", "step": 2}
    proxy = await start(serve, start_proxy, OddUpstream(status=nested, polls=1000))
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    created = await alice.videos.create(prompt="a moth at a lamp")
    raw = await alice.videos.with_raw_response.retrieve(created.id)
    assert raw.status_code == 200
    assert raw.http_response.json()["status"] == nested
    await alice.close()


async def test_content_kept_on_another_host_is_fetched_without_the_credential(
    serve: Any, start_proxy: ServerFactory
) -> None:
    # The upstream's content route redirects to storage (a signed URL): the watcher follows
    # it, as clients do, but no tenant's key goes to another host.
    seen: list[dict[str, str]] = []

    async def storage(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=MP4, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/bucket/{name}", storage)
    store = await serve(app)
    odd = OddUpstream(content_at=str(store.make_url("/bucket/v1.mp4?sig=abc")))
    proxy = await start(serve, start_proxy, odd)
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    await alice.videos.create(prompt="a moth at a lamp", extra_headers={"api-key": "k-alice"})
    await settle(proxy)
    hit = await alice.videos.with_raw_response.create(
        prompt="a moth at a lamp", extra_headers={"api-key": "k-alice"}
    )
    assert hit.headers["x-cache"] == "HIT"
    got = await alice.videos.download_content(hit.parse().id, extra_headers={"api-key": "k-alice"})
    assert got.read() == MP4
    assert seen  # the watcher fetched it there
    for headers in seen:
        names = {name.lower() for name in headers}
        assert not names & {"authorization", "api-key", "cookie"}, headers
    await alice.close()
