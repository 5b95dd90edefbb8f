"""Semantic hit policy: which nearest neighbour, if any, may answer a request.

The index returns candidates from the request's bucket (same scope and parameters). A
candidate answers only if its cosine similarity reaches the threshold AND the near-miss
guard finds no difference that changes the video. Candidates are tried best first, so a
close neighbour rejected by the guard does not hide a slightly less close true paraphrase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cache.guard import check_near_miss

# Chosen with bench/eval_cache.py on bench/data/eval_pairs.jsonl (all-MiniLM-L6-v2). With
# the guard, the false-hit rate on hard negatives is <= 1% at every threshold from 0.70 up,
# and recall is flat from 0.70 to 0.80 (within two pairs) before it falls. 0.80 keeps
# that recall while leaving the cosine as a second line of defence for differences the
# guard's word lists miss (cosine alone at 0.80 still admits most hard negatives, so the
# guard is what keeps precision; the threshold only screens out unrelated prompts).
DEFAULT_THRESHOLD = 0.80


@dataclass
class SemanticDecision:
    """Outcome of a semantic lookup. `similarity` is the best cosine seen (for cache_debug)."""

    hit: bool
    entry_id: str | None
    similarity: float | None
    threshold: float
    reason: str | None


def decide_semantic(
    candidates: list[tuple[str, float]],
    requested_prompt: str,
    prompt_of: Callable[[str], str | None],
    threshold: float,
    *,
    use_guard: bool = True,
) -> SemanticDecision:
    """Pick the first candidate (best first) at or above `threshold` that passes the guard.

    `prompt_of(entry_id)` returns the cached prompt, or None when the entry has gone (it is
    then skipped). On a miss, `reason` says why: no candidates, below threshold, or the
    guard's reason for the best rejected candidate.
    """
    ordered = sorted(candidates, key=lambda c: c[1], reverse=True)
    best = ordered[0][1] if ordered else None
    if best is None:
        return SemanticDecision(False, None, None, threshold, "no candidates")
    first_rejection: str | None = None
    for entry_id, similarity in ordered:
        if similarity < threshold:
            break
        cached_prompt = prompt_of(entry_id)
        if cached_prompt is None:
            continue
        if use_guard:
            verdict = check_near_miss(requested_prompt, cached_prompt)
            if not verdict.ok:
                first_rejection = first_rejection or f"guard: {verdict.reason}"
                continue
        return SemanticDecision(True, entry_id, best, threshold, None)
    reason = first_rejection or ("below threshold" if best < threshold else "entries gone")
    return SemanticDecision(False, None, best, threshold, reason)
