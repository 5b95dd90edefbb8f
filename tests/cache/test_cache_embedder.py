import asyncio
import gc
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
import pytest_asyncio

from cache.embedder import SentenceTransformerEmbedder, mean_pooling_forward, token_counts
from cache.packing import ATTENTION_NAME, packed_forward

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

    texts = [
        f"a long cinematic prompt about a dragon over a castle, take {i}" * 2 for i in range(96)
    ]
    # As `videocache serve` does once started (proxy/cli.py): the heap holding the loaded
    # model is frozen, so a full collection walks only new objects. Unfrozen, a collection
    # over this test session's ~550k objects stops every thread for ~0.3 s, which would
    # measure the test process, not the embedder.
    gc.collect()
    gc.freeze()
    task = asyncio.create_task(ticker())
    try:
        started = time.perf_counter()
        await embedder.embed_many(texts)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        gc.unfreeze()
    gaps = np.diff(ticks)
    assert elapsed > 0.1  # enough encoding happened to matter
    assert len(ticks) >= elapsed / 0.05
    assert float(gaps.max()) < 0.1


TEXTS = [
    "A red car driving down a highway at night",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines in a prompt",
    "émoji 🎬 ünïcödé 漢字",
    "x",
    "",
    " ".join(["word"] * 400),  # longer than max_seq_length: truncated the same way
]


async def test_direct_forward_matches_sentence_transformers_encode(
    embedder: SentenceTransformerEmbedder,
) -> None:
    model = embedder.model
    assert mean_pooling_forward(model) is not None  # the shipped model takes the fast path
    want = model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    got = await embedder.embed_many(TEXTS)  # batched, padded
    assert np.abs(np.stack([g.vector for g in got]) - want).max() < 1e-5
    for text, row in zip(TEXTS, want, strict=True):  # one at a time, unpadded
        one = await embedder.embed(text)
        assert np.abs(one.vector - row).max() < 1e-5
        assert one.tokens == len(model.tokenizer(text, add_special_tokens=False)["input_ids"])


async def test_other_module_stacks_fall_back_to_encode(
    embedder: SentenceTransformerEmbedder,
) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling

    base = embedder.model
    cls_model = SentenceTransformer(
        modules=[base[0], Pooling(384, pooling_mode="cls"), base[2]], device="cpu"
    )
    assert mean_pooling_forward(cls_model) is None
    other = SentenceTransformerEmbedder(model=cls_model)
    await other.start()
    try:
        got = await other.embed(TEXTS[0])
    finally:
        await other.close()
    assert other.encoding == "encode"
    want = cls_model.encode([TEXTS[0]], normalize_embeddings=True, show_progress_bar=False)[0]
    assert np.abs(got.vector - want).max() < 1e-5
    mean = (await embedder.embed(TEXTS[0])).vector
    assert np.abs(got.vector - mean).max() > 1e-3  # really the other pooling


async def test_batches_are_packed_without_padding(embedder: SentenceTransformerEmbedder) -> None:
    network = embedder.model[0].auto_model
    assert network.config._attn_implementation == ATTENTION_NAME  # the packed path is on
    assert embedder.encoding == "packed"
    # A prompt's vector does not depend on the batch it was packed with.
    alone = (await embedder.embed(TEXTS[0])).vector
    neighbours = [TEXTS[6], "x", TEXTS[3], "a much longer prompt about a dragon " * 8]
    batch = [*neighbours[:2], TEXTS[0], *neighbours[2:]]
    packed = await embedder.embed_many(batch)
    assert embedder.last_batch_size == len(batch)  # one packed forward
    assert np.abs(packed[2].vector - alone).max() < 1e-5
    for text, got in zip(batch, packed, strict=True):  # and so is every other prompt's
        assert np.abs(got.vector - (await embedder.embed(text)).vector).max() < 1e-5
    # Counted before truncation, without [CLS]/[SEP]: 400 words, and 9 for the car.
    assert [e.tokens for e in packed[:3]] == [400, 1, 9]


async def test_packed_attention_leaves_other_callers_unchanged(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """The shared model keeps answering encode() (padded, with a mask) exactly as plain SDPA."""
    model = embedder.model
    network = model[0].auto_model
    network.set_attn_implementation("sdpa")
    try:
        want = model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    finally:
        network.set_attn_implementation(ATTENTION_NAME)
    got = model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    assert np.array_equal(got, want)


async def test_packing_is_refused_when_it_disagrees(embedder: SentenceTransformerEmbedder) -> None:
    model = embedder.model
    network = model[0].auto_model
    tokenizer = model.tokenizer

    def skewed(texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """A reference forward that differs from packing: packing must not be used."""
        vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        vectors[:, 0] += 0.01
        return vectors, token_counts(tokenizer, texts)

    from structlog.testing import capture_logs

    with capture_logs() as logs:
        assert packed_forward(tokenizer, network, lambda: 256, skewed) is None
    assert [e["event"] for e in logs] == ["packing_refused"]
    assert logs[0]["max_difference"] >= 0.01
    # Left as it was: the module's embedder, sharing this model, keeps packing correctly.
    assert network.config._attn_implementation == ATTENTION_NAME
    got = await embedder.embed_many(TEXTS)
    want = model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    assert np.abs(np.stack([g.vector for g in got]) - want).max() < 1e-5


async def test_a_model_switched_back_to_sdpa_is_encoded_padded_not_wrongly(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """Anyone holding the model can reset its attention; packed batches must notice."""
    model = embedder.model
    network = model[0].auto_model
    want = model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    network.set_attn_implementation("sdpa")
    try:
        got = await embedder.embed_many(TEXTS)
    finally:
        network.set_attn_implementation(ATTENTION_NAME)
    assert embedder.last_batch_size == len(TEXTS)
    assert np.abs(np.stack([g.vector for g in got]) - want).max() < 1e-5


async def test_encode_batch_wants_texts(embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ValueError, match="at least one text"):
        await embedder.run_in_model_thread(lambda: embedder.encode_batch([]))


async def test_numpy_blas_is_kept_off_the_model_cores(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """OpenBLAS's idle workers busy-wait: with the model loaded they are limited to one."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy's BLAS should be visible to threadpoolctl"
    assert all(pool["num_threads"] == 1 for pool in blas)


async def test_model_calls_can_run_in_the_embedder_thread(
    embedder: SentenceTransformerEmbedder,
) -> None:
    import threading

    names = await asyncio.gather(
        embedder.run_in_model_thread(lambda: threading.current_thread().name),
        embedder.embed("a cat"),
        embedder.run_in_model_thread(lambda: threading.current_thread().name),
    )
    assert names[0] == names[2] and names[0].startswith("embedder")


async def test_a_backlog_does_not_wait_for_the_batch_window(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """Requests that queued during an encode start as soon as it ends, window or not."""
    patient = SentenceTransformerEmbedder(model=embedder.model, max_wait_ms=5000)
    await patient.start()
    try:
        # A full batch starts at once; the three after it queue while it encodes.
        first = asyncio.gather(*(patient.embed(f"a cat number {i}") for i in range(16)))
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        later = await asyncio.gather(*(patient.embed(f"a dog number {i}") for i in range(3)))
        waited = time.perf_counter() - started
        assert len(await first) == 16 and len(later) == 3
        assert patient.last_batch_size == 3
        assert waited < 2.5  # the 5 s window would have held them
    finally:
        await patient.close()
