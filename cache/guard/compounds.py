"""Compounds: filler used as content ("a video game"), two nouns naming one thing spelt out as
another ("a butterfly knife" / "a knife with a butterfly"), hyphenated noun-participle
compounds, and one thing or two ("a black-and-white cat" / "a black cat and a white cat").
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from cache.guard.canonical import BEING_SET, FILL, STOP, stemmed
from cache.guard.kinds import adverb, is_past, kind, modifier, plain, verb_form
from cache.guard.lexicon import DETERMINERS, PLACE_WORDS, RELATIVE
from cache.guard.words import normalized_tokens

# Wrappers that are content when they name a thing with another noun: "a video of a cat"
# is a cat, "a video game" and "a crime scene" are not.
_FILLER_NOUNS = frozenset(
    (
        "video",
        "clip",
        "footage",
        "shot",
        "scene",
        "film",
        "movie",
        "image",
        "show",
        "sequence",
        "moment",
        "view",
    )
)

_FILLER_ACTS = stemmed(("create", "generate", "render", "produce", "show", "depict"))
_FILLER_ACTS |= stemmed(("feature", "capture", "film"))


def compounds(tokens: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Filler used as content, with the word it goes with: nouns naming a thing with
    another noun ("video game", "crime scene"), verbs with a subject of their own ("a
    sculptor creating a statue"; "a video showing a cat" is a cat)."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, written) in enumerate(tokens):
        noun = written in _FILLER_NOUNS or word in _FILLER_NOUNS
        if not noun and word not in _FILLER_ACTS:
            continue
        before = tokens[index - 1][0] if index > 0 else ""
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        for other in (before, after) if noun else (before,):
            if plain(other) and other not in _FILLER_NOUNS:
                found[(word, other)] += 1
    return found


def compound_split(whole: list[tuple[str, str]], split: list[tuple[str, str]]) -> str | None:
    """Two nouns naming one thing on one side ("a butterfly knife", "a dog house") and,
    on the other, the second before the first with more than a place between them ("a
    knife with a butterfly on it", "a house with a dog"): another thing. A place is how a
    paraphrase spells some compounds out ("a beach house" / "a house at the beach"), but
    not those naming a person or an animal: "a sea lion" is no lion at sea, "a snow man"
    no man in the snow (those are kinds of being; a place says where one is)."""
    for (a, first), (b, second) in itertools.pairwise(whole):
        # Things, or materials and media naming one ("a pencil case", "a clay pot"), or
        # weather naming a being ("a snow man", "a snow leopard"; a season only says when).
        things = all(w and w not in STOP and w not in FILL and kind(w) in _THINGS for w in (a, b))
        weather = kind(a) == "weather/season" and a not in _SEASONS and b in BEING_SET
        if not (things or weather):
            continue
        if is_past(first) or first.endswith("ing") or adverb(first) or adverb(second):
            continue
        if a == b:
            continue
        where_a = [i for i, (w, _) in enumerate(split) if w == a]
        where_b = [i for i, (w, _) in enumerate(split) if w == b]
        if len(where_a) != 1 or len(where_b) != 1 or where_b[0] > where_a[0]:
            continue
        between = [t for _, t in split[where_b[0] + 1 : where_a[0]]]
        if set(between) <= RELATIVE or any(not w for w, _ in split[where_b[0] : where_a[0]]):
            continue  # "a lake that is frozen" is the same lake; a phrase moved past a break
        if not between:
            continue
        # Only the place phrase right after the being: in "a dog runs on the beach" (for
        # "on the beach dogs ...") the place is where a dog runs, not a compound spelt out.
        being = b in BEING_SET and _place_phrase(split[where_b[0] + 1 : where_a[0]])
        if being or not any(t in PLACE_WORDS for t in between):
            words = " ".join(t for _, t in split[where_b[0] : where_a[0] + 1])
            return f"subject differs: {first} {second} vs {words}"
    return None


def _place_phrase(tokens: list[tuple[str, str]]) -> bool:
    """A place word and its noun's determiners and modifiers ("in the", "at", "at the
    open"): all that stands between a thing and the noun of a phrase after it."""
    return (
        bool(tokens)
        and tokens[0][1] in PLACE_WORDS
        and all(
            written in DETERMINERS or (modifier(word) and not verb_form(written))
            for word, written in tokens[1:]
        )
    )


_THINGS = frozenset(("content", "style"))
_SEASONS = stemmed(("spring", "summer", "autumn", "winter"))

_HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]+)\b")


def _hyphenated(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Hyphenated noun-participle compounds ("man-eating", "cat-shaped"), as written: with
    the hyphen the first word is what the second acts on or looks like. Compounds the
    vocabulary joins anyway ("hand-drawn") are left to it."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for first, second in _HYPHENATED.findall(text):
        if not (is_past(second) or (second.endswith("ing") and len(second) > 5)):
            continue
        words = [w for w, _ in normalized_tokens(f"{first} {second}") if w]
        if len(words) == 2 and plain(words[0]):
            found[(words[0], words[1])] = (first, second)
    return found


def hyphen_conflict(want_text: str, have_text: str) -> str | None:
    """A noun-participle compound on one side only. Without its hyphen an -ing compound
    may name who acts ("a man eating shark", "a man eating a plant" / "a man-eating
    plant"), so only the same compound matches it; "moss covered" is "moss-covered"."""
    want, have = _hyphenated(want_text), _hyphenated(have_text)
    for ours, theirs, other_text in ((want, have, have_text), (have, want, want_text)):
        for key, (first, second) in ours.items():
            if key in theirs:
                continue
            if is_past(second) and re.search(rf"\b{first}\s+{second}\b", other_text):
                continue
            return f"subject differs: {first}-{second} on one side only"
    return None


def introduced(tokens: list[tuple[str, str]]) -> Counter[str]:
    """How many times each noun is introduced by "a", "an" or "another" (over modifiers and
    "and" between them): "a black cat and a white cat" is two cats, "a black-and-white cat"
    one; "the cat" refers back."""
    found: Counter[str] = Counter()
    for index, (word, _) in enumerate(tokens):
        if not plain(word) or kind(word) != "content":
            continue
        back = index - 1
        while back >= 0 and (
            tokens[back][1] == "and" or (modifier(tokens[back][0]) and tokens[back][0])
        ):
            back -= 1
        if back >= 0 and tokens[back][1] in ("a", "an", "another"):
            found[word] += 1
    return found
