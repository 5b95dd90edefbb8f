"""Pictures and likenesses: what a photo, a painting, a statue or a video "of" something shows,
compared between the two prompts.
"""

from __future__ import annotations

from collections import Counter

from cache.guard.canonical import ACTION_SET, CANONICAL, stem
from cache.guard.kinds import kind, plain, verb_form
from cache.guard.lexicon import PLACE_WORDS, SEQUENCE_MARKER
from cache.guard.words import differing_groups

# Pictures and likenesses of something: what follows their "of" is in the picture, the rest
# of the prompt around it ("a man holding a photo of a cat": the man is real, the cat is not).
_DEPICTIONS = (
    "photo",
    "photograph",
    "picture",
    "painting",
    "drawing",
    "sketch",
    "illustration",
    "portrait",
    "poster",
    "postcard",
    "mural",
    "statue",
    "sculpture",
    "figurine",
    "carving",
    "model",
    "replica",
    "tattoo",
    "image",
    "video",
    "film",
    "movie",
    "clip",
    "footage",
)
_DEPICTION_SET = frozenset(CANONICAL.get(stem(w), stem(w)) for w in _DEPICTIONS)
# Where the clause a picture is named in ends (besides punctuation).
_SCENE_BREAKS = frozenset((SEQUENCE_MARKER, "while", "but", "when", "as"))


def depictions(tokens: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(picture, what it shows) for each picture or likeness followed by "of": the things
    named after it up to the end of its clause, sorted ("a photo of a man holding a cat"
    shows a man and a cat, "a man holding a photo of a cat" only the cat). Not where they
    are, which a paraphrase moves in and out ("a poster of a dog on a wall" / "on a wall,
    a poster of a dog"), nor actions and the colours, styles, times... that may be the
    whole video's ("a slow motion video of a dog running")."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, _) in enumerate(tokens[:-1]):
        if word not in _DEPICTION_SET or tokens[index + 1][1] != "of":
            continue
        shown: set[str] = set()
        placed = False  # in a phrase after a place word or a preposition
        for after, written in tokens[index + 2 :]:
            if not after or after in _SCENE_BREAKS:
                break
            if written in PLACE_WORDS or kind(after) == "relation":
                placed = True
            elif after in ACTION_SET or verb_form(written) or written in ("and", "or"):
                placed = False  # "a dog on a beach | chasing a ball", "... | and a cat"
            elif plain(after) and not placed:
                shown.add(after)
        found[(word, " ".join(sorted(shown)))] += 1
    return found


def depiction_conflict(
    want: Counter[tuple[str, str]], have: Counter[tuple[str, str]]
) -> str | None:
    """A picture showing other things on one side than on the other. Only pictures
    followed by "of" on both sides are compared: "a photo of a cat" / "a cat" is a
    wrapper dropped, as "a video of" is."""
    for word, a, b in differing_groups(want, have):
        return (
            f"subject differs: {word} of {' / '.join(sorted(a.elements()))} vs "
            f"{word} of {' / '.join(sorted(b.elements()))}"
        )
    return None
