"""In-memory nearest-neighbour index over prompt embeddings, partitioned by bucket.

Semantic lookup only ever compares prompts within one bucket (same scope and parameters),
so each bucket owns a contiguous float32 matrix and a search is one matrix-vector product
over that bucket alone. Vectors are L2-normalised, so the dot product is the cosine.

Exact search for buckets of up to ``exact_below`` rows (20,000 by default): with 384-dim
vectors a 100,000-row bucket is ~150 MB, and a brute-force search reads it all (~7-8 ms on
2 cores, memory-bound). Bigger buckets (one tenant, one model, one size: a realistic shape)
first pick ``candidates`` rows by the Hamming distance between sign bits of the vectors
(48 bytes a row, ~2 ms for 100,000), then score those rows exactly. Scores returned are
always exact cosines, so the threshold and the guard judge the same numbers either way; the
approximation can only miss a nearest entry that 1,024 others outrank on the bits, which a
test checks does not happen for entries above the threshold.

Thread-safe: every operation holds one lock, because publishes, evictions and sweeps change
it from worker threads while the event loop searches. It is rebuilt from the entry store at
start-up, so it holds no state of its own worth persisting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

_INITIAL_CAPACITY = 16
DEFAULT_EXACT_BELOW = 20_000
DEFAULT_CANDIDATES = 1024


@dataclass
class _Bucket:
    dim: int
    matrix: np.ndarray = field(init=False)
    codes: np.ndarray = field(init=False)
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.matrix = np.empty((_INITIAL_CAPACITY, self.dim), dtype=np.float32)
        # Word-major (words x rows): a search walks each word's column contiguously.
        self.codes = np.empty((_words(self.dim), _INITIAL_CAPACITY), dtype=np.uint64)

    def resize(self, capacity: int) -> None:
        n = len(self.ids)
        grown = np.empty((capacity, self.dim), dtype=np.float32)
        grown[:n] = self.matrix[:n]
        self.matrix = grown
        codes = np.empty((self.codes.shape[0], capacity), dtype=np.uint64)
        codes[:, :n] = self.codes[:, :n]
        self.codes = codes


def _words(dim: int) -> int:
    return (dim + 63) // 64


def sign_code(vec: np.ndarray) -> np.ndarray:
    """The vector's sign bits packed into 64-bit words (zero-padded to a whole word)."""
    bits = np.packbits(vec > 0)
    padded = np.zeros(_words(vec.shape[0]) * 8, dtype=np.uint8)
    padded[: bits.shape[0]] = bits
    return padded.view(np.uint64)


class VectorIndex:
    """Per-bucket cosine search. add/remove are amortised O(dim); search is O(rows x dim)."""

    def __init__(
        self, exact_below: int = DEFAULT_EXACT_BELOW, candidates: int = DEFAULT_CANDIDATES
    ) -> None:
        self.exact_below = exact_below
        self.candidates = candidates
        self._buckets: dict[str, _Bucket] = {}
        # entry id -> (bucket, row), so remove() needs only the id.
        self._where: dict[str, tuple[str, int]] = {}
        # Publishes, evictions and sweeps change the index from worker threads while the
        # event loop searches it (numpy releases the GIL mid-product), so each operation
        # holds the lock; re-entrant because add() removes an id it re-adds.
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._where

    def bucket_size(self, bucket: str) -> int:
        found = self._buckets.get(bucket)
        return len(found.ids) if found else 0

    def add(self, bucket: str, entry_id: str, vector: np.ndarray | bytes) -> None:
        """Index a vector (float32 array or its tobytes()); re-adding an id replaces it."""
        vec = _as_vector(vector)
        with self._lock:
            self._add(bucket, entry_id, vec)

    def _add(self, bucket: str, entry_id: str, vec: np.ndarray) -> None:
        if entry_id in self._where:
            self._remove(entry_id)
        found = self._buckets.get(bucket)
        if found is None:
            found = self._buckets[bucket] = _Bucket(dim=vec.shape[0])
        elif vec.shape[0] != found.dim:
            raise ValueError(f"vector has {vec.shape[0]} dimensions, bucket has {found.dim}")
        row = len(found.ids)
        if row == found.matrix.shape[0]:
            # Doubling keeps appends amortised O(1) copies instead of O(n) per np.vstack.
            found.resize(row * 2)
        found.matrix[row] = vec
        found.codes[:, row] = sign_code(vec)
        found.ids.append(entry_id)
        self._where[entry_id] = (bucket, row)

    def remove(self, entry_id: str) -> bool:
        """Drop an id; returns whether it was indexed. Moves the last row into the hole."""
        with self._lock:
            return self._remove(entry_id)

    def _remove(self, entry_id: str) -> bool:
        located = self._where.pop(entry_id, None)
        if located is None:
            return False
        bucket_name, row = located
        found = self._buckets[bucket_name]
        last = len(found.ids) - 1
        if row != last:
            moved = found.ids[last]
            found.matrix[row] = found.matrix[last]
            found.codes[:, row] = found.codes[:, last]
            found.ids[row] = moved
            self._where[moved] = (bucket_name, row)
        found.ids.pop()
        if not found.ids:
            del self._buckets[bucket_name]
        elif len(found.ids) * 4 < found.matrix.shape[0] > _INITIAL_CAPACITY:
            found.resize(max(_INITIAL_CAPACITY, found.matrix.shape[0] // 2))
        return True

    def search(
        self, bucket: str, vector: np.ndarray | bytes, k: int = 5
    ) -> list[tuple[str, float]]:
        """Up to k (entry id, cosine) pairs from one bucket, best first."""
        vec = _as_vector(vector)
        with self._lock:
            return self._search(bucket, vec, k)

    def _search(self, bucket: str, vec: np.ndarray, k: int) -> list[tuple[str, float]]:
        found = self._buckets.get(bucket)
        if found is None or k <= 0:
            return []
        n = len(found.ids)
        if n <= self.exact_below or n <= self.candidates:
            rows = None
            scores = found.matrix[:n] @ vec
        else:
            code = sign_code(vec)
            distance = np.zeros(n, dtype=np.uint16)
            for word in range(code.shape[0]):
                distance += np.bitwise_count(found.codes[word, :n] ^ code[word])
            rows = np.argpartition(distance, self.candidates)[: self.candidates]
            scores = found.matrix[rows] @ vec
        m = scores.shape[0]
        if m > k:
            top = np.argpartition(scores, m - k)[m - k :]
            top = top[np.argsort(-scores[top], kind="stable")]
        else:
            top = np.argsort(-scores, kind="stable")
        if rows is not None:
            return [(found.ids[rows[i]], float(scores[i])) for i in top]
        return [(found.ids[i], float(scores[i])) for i in top]


def _as_vector(vector: np.ndarray | bytes) -> np.ndarray:
    if isinstance(vector, bytes | bytearray | memoryview):
        vec = np.frombuffer(vector, dtype=np.float32)
    else:
        vec = np.asarray(vector, dtype=np.float32)
    if vec.ndim != 1:
        raise ValueError("expected a 1-D vector")
    return vec
