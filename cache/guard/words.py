"""A prompt read into words: tokens (canonical word, word as written, phrase breaks), numbers,
the word analysis the guard compares first, and how a difference in it is described.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from cache.guard import canonical, lexicon
from cache.guard.canonical import CATEGORY_SETS, FILL, NEG, QUANT, STOP, stem
from cache.guard.lexicon import (
    NEGATIVE_LIST,
    NEGATIVE_RUN,
    PHRASE_PATTERNS,
    PLURAL_NUMBERS,
    RARE_PHRASE_PATTERNS,
    SEQUENCE_MARKER,
    WEARING_CLOTHES,
)
from cache.normalize import normalize_prompt

# Bound by assignment, not by `from ... import`, for speed: see kinds.py.
CANONICAL = canonical.CANONICAL
CATEGORY_OF = canonical.CATEGORY_OF
NUMBER = lexicon.NUMBER

_WITHOUT = (CANONICAL.get(stem("without"), stem("without")), "without")
_NEGATED_LISTS = frozenset((NEGATIVE_LIST, NEGATIVE_RUN))
_CLAUSE_OPENERS = frozenset(("", "and", SEQUENCE_MARKER))  # after these "next" is a marker
# Words, plus the punctuation that ends a phrase (kept for the word-order check only).
_TOKEN_OR_BREAK = re.compile(r"[a-z0-9]+|[,.;:!?()\[\]\"—–|]| - ")


@dataclass(frozen=True)
class _Analysis:
    # Counts and category words are compared as multisets: in a long prompt the same colour
    # or number often describes two things, and changing one of them ("a red bus ... red
    # boots" / "a yellow bus ... red boots") leaves the set of colours as it was.
    counts: Counter[str]
    negated: frozenset[str]
    negations: int
    categories: dict[str, Counter[str]]
    content: frozenset[str]


def _tokens(prompt: str) -> list[tuple[str, str]]:
    """(canonical word, word as written) pairs; a phrase break is ("", punctuation)."""
    return normalized_tokens(normalize_prompt(prompt).casefold())


def normalized_tokens(text: str) -> list[tuple[str, str]]:
    """_tokens of a prompt already through normalize_prompt."""
    text = text.replace("’", "'")
    for needle, pattern, replacement in RARE_PHRASE_PATTERNS:
        if needle in text:
            text = pattern.sub(replacement, text)
    for pattern, replacement in PHRASE_PATTERNS:
        text = pattern.sub(replacement, text)
    if "wearing" in text:
        text = WEARING_CLOTHES.sub("in", text)
    out = []
    negating = ""  # inside a list of what not to show: each item is negated
    found = _TOKEN_OR_BREAK.findall(text)
    for index, token in enumerate(found):
        if token in _NEGATED_LISTS:
            negating, token = token, "without"
        if not token[0].isalnum():
            out.append(("", token.strip()))
            if negating and token == "," and _negated_item(negating, found, index + 1):
                out.append(_WITHOUT)
            elif token != ",":
                negating = ""
        elif NUMBER.fullmatch(token):
            out.append((_number(token), token))
        elif token in PLURAL_NUMBERS:
            out.append((PLURAL_NUMBERS[token], token))  # "dozens of eggs" is no dozen
        elif token == "next" and (not out or out[-1][0] in _CLAUSE_OPENERS):
            out.append((SEQUENCE_MARKER, token))  # ", next a dog runs out"; not "the next car"
        else:
            base = stem(token)
            if (base in NEG and token not in NEG) or (base in STOP and token not in STOP):
                # "notes" stems to "not", "cane" to the stopword "can": content all the
                # same, told apart from each other by more than the crude stem ("cans")
                base = token.removesuffix("s") + "~"
            out.append((CANONICAL.get(base, base), token))
    return out


def _negated_item(opener: str, found: list[str], index: int) -> bool:
    """Whether the item at found[index] is one more thing not to show. After a label
    ("Avoid: people, cars") every item is; after "free of" ("free of people, fog"), items
    naming a thing are, while a phrase or a clause is not ("free of people, at sunset")."""
    if opener == NEGATIVE_LIST:
        return True
    item = found[index] if index < len(found) else ""
    return item[:1].isalnum() and item not in STOP and not item.endswith(("ing", "ed"))


def _number(token: str) -> str:
    """ "04" == "4" == "4.0", exactly at any length (a float would make 17-digit numbers
    equal)."""
    whole, _, fraction = token.partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _words(prompt: str) -> list[str]:
    return [word for word, _ in _tokens(prompt) if word]


def analyse(tokens: list[tuple[str, str]]) -> _Analysis:
    words = [word for word, _ in tokens if word]
    counts: Counter[str] = Counter()
    negated: set[str] = set()
    negations = 0
    found: dict[str, Counter[str]] = {name: Counter() for name in CATEGORY_SETS}
    content: set[str] = set()
    pending_negation = False
    for word in words:
        if word in NEG:
            negations += 1
            pending_negation = True
            continue
        if word in STOP or word in FILL:
            continue
        if pending_negation:
            negated.add(word)  # the first content word after a negator is what it negates
            pending_negation = False
        if NUMBER.fullmatch(word) or word in QUANT:
            counts[word] += 1
            continue
        category = CATEGORY_OF.get(word)
        if category is not None:
            found[category][word] += 1
        else:
            content.add(word)
    return _Analysis(
        counts=counts,
        negated=frozenset(negated),
        negations=negations,
        categories=found,
        content=frozenset(content),
    )


def differing_groups(
    want: Counter[tuple[str, str]], have: Counter[tuple[str, str]]
) -> Iterator[tuple[str, Counter[str], Counter[str]]]:
    """For (key, value) counts such as (participle, whom it describes) or (count, what it
    counts): each key found on both sides whose values differ, with both sides' values,
    in key order."""
    for key in sorted({k for k, _ in want} & {k for k, _ in have}):
        a = Counter({value: n for (k, value), n in want.items() if k == key})
        b = Counter({value: n for (k, value), n in have.items() if k == key})
        if a != b:
            yield key, a, b


def describe(a: Collection[str], b: Collection[str]) -> str:
    """Both sides' words; for multisets, the occurrences one side has more of."""
    if isinstance(a, Counter) and isinstance(b, Counter):
        a, b = list((a - b).elements()), list((b - a).elements())
    return f"{' '.join(sorted(a)) or '-'} vs {' '.join(sorted(b)) or '-'}"
