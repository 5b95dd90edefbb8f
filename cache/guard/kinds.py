"""What a word is: its kind (a category, a relation, a count, an action or content), whether
it names a thing of its own or can describe one, and whether it is written as a past form,
a verb form or an adverb.
"""

from __future__ import annotations

from cache.guard import canonical, lexicon
from cache.guard.canonical import ACTION_SET, FILL, NEG, PREPOSITION_SET, QUANT, STOP
from cache.guard.lexicon import PAST_IRREGULAR

# Bound by assignment, not by `from ... import`: on CPython 3.11 a method call through a
# name bound by `from ... import` (NUMBER.fullmatch(...), CATEGORY_OF.get(...)) measured
# 25-40% slower per call (kind() 40%, the guard 5%), also in a ten-line reproduction outside
# this package. The other modules that call these per word do the same.
CATEGORY_OF = canonical.CATEGORY_OF
NUMBER = lexicon.NUMBER


def kind(word: str) -> str:
    if word in PREPOSITION_SET:
        # A preposition goes where its phrase goes, so its own position says nothing; the
        # words it governs carry the roles ("under", "across" are directions otherwise).
        return "relation"
    if NUMBER.fullmatch(word) or word in QUANT:
        return "count"
    return CATEGORY_OF.get(word) or ("action" if word in ACTION_SET else "content")


_NOT_PAST = frozenset(
    (
        "naked",
        "sacred",
        "wicked",
        "rugged",
        "ragged",
        "jagged",
        "beloved",
        "crooked",
        "hundred",
        "kindred",
        "embed",
        "sled",
        "shed",
    )
)


def plain(word: str) -> bool:
    """A word naming a thing or an action of its own (not a category word, not filler)."""
    return (
        bool(word)
        and kind(word) in ("content", "action")
        and not (word in STOP or word in FILL or word in NEG)
    )


def is_past(written: str) -> bool:
    """A past form as written: "burned", "broken" (not "sled", "speed", "naked")."""
    return written in PAST_IRREGULAR or (
        written.endswith("ed")
        and len(written) > 4
        and not written.endswith("eed")
        and written not in _NOT_PAST
    )


def modifier(word: str) -> bool:
    """A word that can describe the noun after it: a thing, a colour, a size, a style..."""
    return bool(word) and not (
        word in STOP or word in FILL or word in NEG or kind(word) in ("relation", "count")
    )


# Nouns that end like an adverb.
_LY_NOUNS = frozenset(
    ("family", "lily", "belly", "jelly", "holly", "bully", "ally", "rally", "gully", "assembly")
)


def adverb(written: str) -> bool:
    """ "quickly", "softly": how, not what ("vegetables quickly" is no compound)."""
    return written.endswith("ly") and not written.endswith("fly") and written not in _LY_NOUNS


def verb_form(written: str) -> bool:
    """ "-ing" or a past form as written: a verb, whether or not the action list knows it."""
    return (written.endswith("ing") and len(written) > 4) or is_past(written)
