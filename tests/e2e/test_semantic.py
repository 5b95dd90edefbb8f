"""Semantic hits with the real embedding model, through the official SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
from aiohttp.test_utils import TestServer

from tests.conftest import ServerFactory, base_url, sim_requests
from tests.e2e.test_cache import create_raw, settle, upstream_creates


async def semantic_proxy(start_proxy: ServerFactory, sim: TestServer, embedder: Any) -> TestServer:
    return await start_proxy(sim, embedder=embedder)


async def test_paraphrase_is_a_semantic_hit_and_near_miss_is_not(
    start_proxy: ServerFactory, sim: TestServer, embedder: Any
) -> None:
    proxy = await semantic_proxy(start_proxy, sim, embedder)
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    first, headers = await create_raw(
        alice, prompt="A red sports car driving along a coastal road at sunset"
    )
    assert headers["x-cache"] == "MISS"
    debug = first.model_extra["extra_fields"]["cache_debug"]
    assert debug["provider_used"] == "sentence-transformers"
    assert debug["model_used"] == "all-MiniLM-L6-v2"
    assert debug["input_tokens"] > 5
    assert debug["similarity"] is None  # nothing to compare with yet
    await settle(proxy)

    hit, headers = await create_raw(
        alice, prompt="At sunset, a red sports car drives along a coastal road"
    )
    assert headers["x-cache"] == "SEMANTIC-HIT"
    debug = hit.model_extra["extra_fields"]["cache_debug"]
    assert debug["cache_hit"] is True and debug["hit_type"] == "semantic"
    assert debug["threshold"] == 0.8
    assert 0.8 <= debug["similarity"] < 1.0
    assert float(headers["x-cache-similarity"]) == round(debug["similarity"], 4)
    assert hit.prompt == "At sunset, a red sports car drives along a coastal road"
    assert "embed;dur=" in headers["server-timing"]
    assert len((await alice.videos.download_content(hit.id)).read()) > 1000

    # Close in embedding space, but a different video: never a hit.
    for near_miss in (
        "A blue sports car driving along a coastal road at sunset",
        "A red sports car driving along a coastal road at night",
        "Two red sports cars driving along a coastal road at sunset",
    ):
        miss, headers = await create_raw(alice, prompt=near_miss)
        assert headers["x-cache"] == "MISS", near_miss
        debug = miss.model_extra["extra_fields"]["cache_debug"]
        assert debug["cache_hit"] is False
        assert debug["similarity"] > 0.8  # the cosine alone would have hit
    assert upstream_creates(sim) == 4
    await alice.close()


async def test_semantic_controls(
    start_proxy: ServerFactory, sim: TestServer, embedder: Any
) -> None:
    proxy = await semantic_proxy(start_proxy, sim, embedder)
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    await alice.videos.create(prompt="a golden retriever playing in autumn leaves")
    await settle(proxy)
    paraphrase = "a golden retriever plays in the autumn leaves"
    _, headers = await create_raw(
        alice, prompt=paraphrase, extra_headers={"x-cache-type": "direct"}
    )
    assert headers["x-cache"] == "MISS"  # direct only: no semantic search
    assert "x-cache-similarity" not in headers
    hit, headers = await create_raw(alice, prompt="a golden retriever playing among autumn leaves")
    assert headers["x-cache"] == "SEMANTIC-HIT"
    assert hit.model_extra["extra_fields"]["cache_debug"]["similarity"] < 0.999
    _, headers = await create_raw(
        alice,
        prompt="a golden retriever playing among autumn leaves",
        extra_headers={"x-bf-cache-threshold": "0.999", "x-bf-cache-type": "semantic"},
    )
    assert headers["x-cache"] == "MISS"  # Bifrost spelling, stricter threshold
    await settle(proxy)
    _, headers = await create_raw(
        alice,
        prompt="A golden retriever playing in autumn leaves!",
        extra_headers={"x-cache-type": "semantic"},
    )
    assert headers["x-cache"] == "SEMANTIC-HIT"  # semantic only, exact skipped
    # Another tenant never gets it, however similar.
    bob = openai.AsyncOpenAI(api_key="sk-bob", base_url=base_url(proxy), max_retries=0)
    _, headers = await create_raw(bob, prompt="a golden retriever playing in autumn leaves")
    assert headers["x-cache"] == "MISS"
    assert len([r for r in sim_requests(sim) if r.method == "POST"]) == 4
    await alice.close()
    await bob.close()


async def test_semantic_only_creates_still_join_an_identical_job_in_flight(
    start_proxy: ServerFactory, sim: TestServer, embedder: Any
) -> None:
    proxy = await semantic_proxy(start_proxy, sim, embedder)
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    spellings = [{"x-cache-type": "semantic"}, {"x-bf-cache-type": "semantic"}, {}]
    results = await asyncio.gather(
        *(
            create_raw(alice, prompt="a lighthouse in a storm", extra_headers=spellings[i % 3])
            for i in range(6)
        )
    )
    assert sorted(h["x-cache"] for _, h in results) == ["JOINED"] * 5 + ["MISS"]
    assert upstream_creates(sim) == 1
    await alice.close()


async def test_start_up_logs_how_the_embedder_encodes(
    start_proxy: ServerFactory, sim: TestServer, embedder: Any
) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        await semantic_proxy(start_proxy, sim, embedder)
    ready = [event for event in logs if event["event"] == "embedder_ready"]
    assert len(ready) == 1
    assert ready[0]["encoding"] == "packed"  # the shipped model runs padding-free batches
    assert ready[0]["model"] == "all-MiniLM-L6-v2" and ready[0]["max_batch"] == 16


async def test_entries_stored_without_a_semantic_lookup_still_hit_by_meaning(
    start_proxy: ServerFactory, sim: TestServer, embedder: Any
) -> None:
    proxy = await semantic_proxy(start_proxy, sim, embedder)
    alice = openai.AsyncOpenAI(api_key="sk-alice", base_url=base_url(proxy), max_retries=0)
    # A refresh (no-cache) and a direct-only request embed nothing when they look up; their
    # entries must still be found by meaning later.
    for prompt, control in (
        ("A red sports car driving along a coastal road at sunset", {"Cache-Control": "no-cache"}),
        ("An old fisherman mending a net on a wooden pier", {"x-cache-type": "direct"}),
    ):
        _, headers = await create_raw(alice, prompt=prompt, extra_headers=control)
        assert headers["x-cache"] in ("BYPASS", "MISS")
    await settle(proxy)
    for paraphrase in (
        "At sunset, a red sports car drives along a coastal road",
        "On a wooden pier, an old fisherman mending a net",
    ):
        _, headers = await create_raw(alice, prompt=paraphrase)
        assert headers["x-cache"] == "SEMANTIC-HIT", paraphrase
    assert upstream_creates(sim) == 2
    await alice.close()
