"""The in-memory credential map: bounded, most recently seen kept, held ones never dropped."""

from __future__ import annotations

import openai
from aiohttp.test_utils import TestServer

from proxy.credentials import Credentials
from proxy.state import STATE
from tests.conftest import ServerFactory, base_url
from tests.e2e.test_cache import settle


def test_the_least_recently_seen_go_past_the_limit() -> None:
    creds = Credentials(limit=3)
    for owner in "abcd":
        creds.remember(owner, {"authorization": owner})
    assert len(creds) == 3 and creds.get("a") is None
    creds.remember("b", {"authorization": "b2"})  # seen again: now the most recent
    creds.remember("e", {"authorization": "e"})
    assert creds.get("c") is None and creds.get("b") == {"authorization": "b2"}


def test_held_owners_are_never_dropped() -> None:
    creds = Credentials(limit=2)
    creds.remember("watched", {"authorization": "w"})
    creds.hold("watched")
    creds.hold("watched")  # two jobs
    for i in range(50):
        creds.remember(f"k{i}", {"authorization": str(i)})
    assert creds.get("watched") == {"authorization": "w"} and len(creds) == 2
    creds.release("watched")
    creds.remember("k50", {})
    assert creds.get("watched") is not None  # one job still needs it
    creds.release("watched")
    creds.remember("k51", {})
    assert creds.get("watched") is None and len(creds) == 2


async def test_invented_keys_do_not_grow_memory_or_starve_a_watched_job(
    start_simulator: ServerFactory, start_proxy: ServerFactory
) -> None:
    """Every new key a client sends was kept for good (a reviewer grew the proxy by 121 MB
    with 20,000 random keys). Now the map is bounded, and the creator of a job being
    watched keeps its place: the watcher still polls with its credential (the upstream
    shows each key only its own videos)."""
    sim = await start_simulator(per_key=True, job_seconds=100.0)  # 0.5 s of real time
    proxy: TestServer = await start_proxy(sim)
    state = proxy.app[STATE]
    state.credentials.limit = 4  # the default is 4096; the rule is the same
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    first = await alice.videos.create(prompt="a paper boat on a pond")
    for i in range(40):
        stranger = openai.AsyncOpenAI(
            api_key=f"sk-random-{i}", base_url=base_url(proxy), max_retries=0
        )
        assert (await stranger.videos.list(limit=1)).data == []
        await stranger.close()
        assert len(state.credentials) <= 4 + 2  # alice's owner and scope are held
    await settle(proxy)
    hit = await alice.videos.create(prompt="a paper boat on a pond")
    assert hit.id != first.id and hit.status == "completed"  # cached with alice's key
    assert len(state.credentials) <= 4 + 2
    await alice.close()
