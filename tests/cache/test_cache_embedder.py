import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
import pytest_asyncio

from cache.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.asyncio(loop_scope="module")


# One model load for the whole module: the fixture and tests share a module-scoped loop.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedder() -> AsyncIterator[SentenceTransformerEmbedder]:
    batches: list[tuple[int, float]] = []
    e = SentenceTransformerEmbedder(on_batch=lambda n, s: batches.append((n, s)))
    e.batches = batches  # type: ignore[attr-defined]
    await e.start()
    yield e
    await e.close()


async def test_vectors_are_normalised_with_tokens(embedder: SentenceTransformerEmbedder) -> None:
    result = await embedder.embed("A red car driving down a highway at night")
    assert result.vector.dtype == np.float32 and result.vector.shape == (384,)
    assert abs(float(np.linalg.norm(result.vector)) - 1.0) < 1e-4
    assert 5 <= result.tokens <= 20
    assert embedder.model_name


async def test_concurrent_calls_are_batched(embedder: SentenceTransformerEmbedder) -> None:
    before = embedder.encode_calls
    results = await asyncio.gather(*(embedder.embed(f"a cat number {i}") for i in range(16)))
    assert len(results) == 16
    assert embedder.encode_calls - before < 16
    assert embedder.last_batch_size > 1
    assert embedder.batches[-1][0] == embedder.last_batch_size  # type: ignore[attr-defined]
    # Each caller got its own text's vector, not a neighbour's.
    again = await embedder.embed("a cat number 7")
    assert float(results[7].vector @ again.vector) > 0.999


async def test_paraphrase_closer_than_unrelated(embedder: SentenceTransformerEmbedder) -> None:
    a, para, other = await embedder.embed_many(
        [
            "A red car driving down a highway at night",
            "At night, a red automobile drives along a highway",
            "A bowl of fruit on a kitchen table, watercolor painting",
        ]
    )
    assert float(a.vector @ para.vector) > float(a.vector @ other.vector) + 0.3


async def test_event_loop_stays_responsive(embedder: SentenceTransformerEmbedder) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    texts = [
        f"a long cinematic prompt about a dragon over a castle, take {i}" * 2 for i in range(96)
    ]
    started = time.perf_counter()
    await embedder.embed_many(texts)
    elapsed = time.perf_counter() - started
    task.cancel()
    gaps = np.diff(ticks)
    assert elapsed > 0.1  # enough encoding happened to matter
    assert len(ticks) >= elapsed / 0.05
    assert float(gaps.max()) < 0.1
