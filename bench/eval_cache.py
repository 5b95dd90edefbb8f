"""Cache-quality evaluation: semantic threshold and near-miss guard on labelled pairs.

Run: .venv/bin/python bench/eval_cache.py [--pairs bench/data/eval_pairs.jsonl]

Embeds every prompt with the real model (all-MiniLM-L6-v2 via SentenceTransformerEmbedder)
and, for each pair, treats `a` as the cached prompt and `b` as the request. A pair is
predicted a hit when cosine >= threshold (and, for "cosine + guard", the guard passes).
Prints and saves (bench/results/eval_cache.md) a markdown table per threshold:

- precision: correct hits / predicted hits
- recall: predicted hits among "hit" pairs
- false-hit rate: predicted hits among "miss" pairs (the hard negatives)

plus a per-kind breakdown at the default threshold and the lowest threshold whose
false-hit rate with the guard is <= 1% (how cache.policy.DEFAULT_THRESHOLD was chosen).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cache.embedder import SentenceTransformerEmbedder  # noqa: E402
from cache.guard import check_near_miss  # noqa: E402
from cache.policy import DEFAULT_THRESHOLD  # noqa: E402

TARGET_FALSE_HIT_RATE = 0.01


@dataclass
class Scored:
    label: str
    kind: str
    cosine: float
    guard_ok: bool
    guard_reason: str | None
    a: str
    b: str


@dataclass
class Rates:
    precision: float
    recall: float
    false_hit: float


def rates(rows: list[Scored], threshold: float, guard: bool) -> Rates:
    def predicted(r: Scored) -> bool:
        return r.cosine >= threshold and (r.guard_ok or not guard)

    hits = [r for r in rows if r.label == "hit"]
    misses = [r for r in rows if r.label == "miss"]
    tp = sum(predicted(r) for r in hits)
    fp = sum(predicted(r) for r in misses)
    return Rates(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / len(hits) if hits else 0.0,
        false_hit=fp / len(misses) if misses else 0.0,
    )


async def score(pairs: list[dict]) -> tuple[list[Scored], float]:
    embedder = SentenceTransformerEmbedder()
    await embedder.start()
    try:
        texts = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
        started = time.perf_counter()
        embeddings = await embedder.embed_many(texts)
        per_text_ms = (time.perf_counter() - started) * 1000 / len(texts)
    finally:
        await embedder.close()
    vectors = {t: e.vector for t, e in zip(texts, embeddings, strict=True)}
    rows = []
    for p in pairs:
        verdict = check_near_miss(p["b"], p["a"])
        rows.append(
            Scored(
                label=p["label"],
                kind=p["kind"],
                cosine=float(np.dot(vectors[p["a"]], vectors[p["b"]])),
                guard_ok=verdict.ok,
                guard_reason=verdict.reason,
                a=p["a"],
                b=p["b"],
            )
        )
    return rows, per_text_ms


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def report(rows: list[Scored], per_text_ms: float, guard_us: float) -> str:
    n_hit = sum(r.label == "hit" for r in rows)
    n_miss = len(rows) - n_hit
    thresholds = [round(0.70 + 0.02 * i, 2) for i in range(15)]
    if DEFAULT_THRESHOLD not in thresholds:
        thresholds = sorted([*thresholds, DEFAULT_THRESHOLD])
    lines = [
        "# Semantic cache evaluation",
        "",
        f"{len(rows)} pairs: {n_hit} paraphrases (should hit), {n_miss} hard negatives "
        f"(should miss). Model all-MiniLM-L6-v2; embedding {per_text_ms:.2f} ms/prompt "
        f"batched; guard {guard_us:.0f} us/pair.",
        "",
        "| threshold | precision (cos) | recall (cos) | false-hit (cos) "
        "| precision (cos+guard) | recall (cos+guard) | false-hit (cos+guard) |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in thresholds:
        c, g = rates(rows, t, guard=False), rates(rows, t, guard=True)
        mark = " **(default)**" if t == DEFAULT_THRESHOLD else ""
        lines.append(
            f"| {t:.2f}{mark} | {pct(c.precision)} | {pct(c.recall)} | {pct(c.false_hit)} "
            f"| {pct(g.precision)} | {pct(g.recall)} | {pct(g.false_hit)} |"
        )
    fine = [t for t in thresholds if rates(rows, t, guard=True).false_hit <= TARGET_FALSE_HIT_RATE]
    best = max(fine, key=lambda t: (rates(rows, t, guard=True).recall, -t)) if fine else None
    lines += [
        "",
        f"Threshold with the highest recall (cos+guard) at false-hit <= "
        f"{pct(TARGET_FALSE_HIT_RATE)}: {best if best is not None else 'none'}; "
        f"default in cache/policy.py: {DEFAULT_THRESHOLD}.",
        "",
        f"## Per kind at the default threshold {DEFAULT_THRESHOLD}",
        "",
        "| label | kind | pairs | mean cosine | predicted hit (cos) | predicted hit (cos+guard) |",
        "|---|---|---|---|---|---|",
    ]
    by_kind: dict[tuple[str, str], list[Scored]] = defaultdict(list)
    for r in rows:
        by_kind[(r.label, r.kind)].append(r)
    for (label, kind), group in sorted(by_kind.items()):
        cos_hits = sum(r.cosine >= DEFAULT_THRESHOLD for r in group)
        both = sum(r.cosine >= DEFAULT_THRESHOLD and r.guard_ok for r in group)
        mean = sum(r.cosine for r in group) / len(group)
        lines.append(
            f"| {label} | {kind} | {len(group)} | {mean:.3f} | {pct(cos_hits / len(group))} "
            f"| {pct(both / len(group))} |"
        )
    wrong = [r for r in rows if r.label == "miss" and r.cosine >= DEFAULT_THRESHOLD and r.guard_ok]
    lost = [
        r for r in rows if r.label == "hit" and r.cosine >= DEFAULT_THRESHOLD and not r.guard_ok
    ]
    lines += ["", "## False hits at the default (cos+guard)", ""]
    lines += [f"- {r.kind} {r.cosine:.3f}: `{r.a}` / `{r.b}`" for r in wrong] or ["- none"]
    lines += ["", "## Paraphrases above the threshold rejected by the guard", ""]
    lines += [f"- {r.kind} {r.cosine:.3f} ({r.guard_reason}): `{r.a}` / `{r.b}`" for r in lost] or [
        "- none"
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=ROOT / "bench/data/eval_pairs.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/eval_cache.md")
    args = parser.parse_args()
    pairs = [json.loads(line) for line in args.pairs.read_text().splitlines() if line.strip()]
    rows, per_text_ms = asyncio.run(score(pairs))
    started = time.perf_counter()
    for p in pairs:
        check_near_miss(p["b"], p["a"])
    guard_us = (time.perf_counter() - started) * 1e6 / len(pairs)
    text = report(rows, per_text_ms, guard_us)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
