"""What a negation covers: the words up to its first thing, the thing it is attached to, and
which occurrence of a repeated word it is about.
"""

from __future__ import annotations

from collections import Counter

from cache.guard.canonical import ACTION_SET, FILL, NEG, STOP
from cache.guard.kinds import plain
from cache.guard.lexicon import BREAK_SET


def negation_subjects(tokens: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Negated word -> the words the negation is attached to (the nearest thing before
    it in its phrase): "a son without a scarf" negates the son's scarf."""
    out: dict[str, set[str]] = {}
    last = ""
    pending: str | None = None
    for word, _ in tokens:
        if not word or word in BREAK_SET:
            last, pending = "", None
            continue
        if word in NEG:
            pending = last
            continue
        if word in STOP or word in FILL:
            continue
        if pending is not None:
            out.setdefault(word, set()).add(pending)
            pending = None
        if plain(word):
            last = word
    return out


def negation_spans(tokens: list[tuple[str, str]]) -> Counter[tuple[frozenset[str], int]]:
    """What each negation covers: the words up to its first thing ("not holding a cup"
    covers holding and the cup), and, for a word used more than once, which occurrence
    ("a tree with no leaves beside a tree with leaves")."""
    words = [w for w, _ in tokens if w and not (w in STOP or w in FILL)]
    seen: Counter[str] = Counter()
    spans: Counter[tuple[frozenset[str], int]] = Counter()
    open_span: set[str] | None = None
    first = ""
    for word, _ in tokens:
        if not word or word in BREAK_SET or word in NEG:
            if open_span:
                spans[(frozenset(open_span), _occurrence(words, first, seen))] += 1
            open_span = set() if word in NEG else None
            continue
        if word in STOP or word in FILL:
            continue
        seen[word] += 1
        if open_span is None:
            continue
        if not open_span:
            first = word
        open_span.add(word)
        if plain(word) and word not in ACTION_SET:
            spans[(frozenset(open_span), _occurrence(words, first, seen))] += 1
            open_span = None
    if open_span:
        spans[(frozenset(open_span), _occurrence(words, first, seen))] += 1
    return spans


def _occurrence(words: list[str], word: str, seen: Counter[str]) -> int:
    return seen[word] - 1 if words.count(word) > 1 else -1
