"""Words in canonical form: the crude stemmer, synonyms and number words mapped to one word,
and the lexicon's tables as sets of canonical words.
"""

from __future__ import annotations

from cache.guard import lexicon
from cache.guard.lexicon import (
    ACTIONS,
    BEINGS,
    CATEGORIES,
    FILLER,
    IRREGULAR,
    NEGATORS,
    NUMBER_WORDS,
    PLURAL_NUMBERS,
    PREPOSITIONS,
    QUANTITY,
    STOPWORDS,
    SYNONYMS,
)

# Bound by assignment, not by `from ... import`, for speed: see kinds.py.
NUMBER = lexicon.NUMBER


def stem(word: str) -> str:
    """A deliberately crude stemmer: the same rule on both prompts is what matters.

    walks / walking / walked -> walk; dances / dancing / danced -> danc; puppies -> puppy.
    """
    if word in IRREGULAR:
        word = IRREGULAR[word]
    if len(word) <= 3 or NUMBER.fullmatch(word):
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ed") and len(word) > 4:
        word = _undouble(word[:-2])
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(word: str) -> str:
    # running -> runn -> run, but falling -> fall and kissing -> kiss keep their pair.
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word


def stemmed(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(stem(w) for w in words)


def _build_canonical() -> dict[str, str]:
    canonical: dict[str, str] = {}
    for word, digit in NUMBER_WORDS.items():
        canonical[stem(word)] = digit
    for canon, synonyms in SYNONYMS.items():
        for synonym in synonyms:
            canonical[stem(synonym)] = stem(canon)
    return canonical


CANONICAL = _build_canonical()
STOP = stemmed(STOPWORDS) | frozenset(STOPWORDS)
FILL = stemmed(FILLER) | frozenset(FILLER)
NEG = frozenset(NEGATORS)
QUANT = stemmed(QUANTITY) | frozenset(PLURAL_NUMBERS.values())
CATEGORY_SETS = {
    name: frozenset(CANONICAL.get(stem(w), stem(w)) for w in words)
    for name, words in CATEGORIES.items()
}
# Word -> its category, the first listed when a word is in two.
CATEGORY_OF = {word: name for name, members in reversed(CATEGORY_SETS.items()) for word in members}
ACTION_SET = frozenset(CANONICAL.get(stem(w), stem(w)) for w in ACTIONS)
BEING_SET = frozenset(CANONICAL.get(stem(w), stem(w)) for w in BEINGS)

PREPOSITION_SET = frozenset(CANONICAL.get(stem(w), stem(w)) for w in PREPOSITIONS)
