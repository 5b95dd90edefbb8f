"""Which thing a word right before a noun describes, past stacked colours, styles, weather and
times of day: two nouns swapped ("race car" / "car race") or a modifier moved to another
thing ("a tiny house" / "a tiny giant").
"""

from __future__ import annotations

from collections import Counter

from cache.guard.canonical import ACTION_SET, CATEGORY_OF, FILL, STOP
from cache.guard.kinds import is_past, kind, modifier, plain
from cache.guard.lexicon import NUMBER, PAST_IRREGULAR
from cache.guard.words import describe, differing_groups

# Kinds of word that stack before a noun with a modifier ("a shiny red apple", "a rusty
# vintage truck", "a quiet night street"), so the modifier still describes that noun.
_STACKED = frozenset(("colour", "style", "weather/season", "time of day"))
_LISTING = frozenset(("and", "or", ","))  # "a red and blue truck" is a red truck


def _stacked(word: str) -> bool:
    """A word of a kind in _STACKED, but not a verb a style shares its stem with ("a woman
    painting walls" paints them)."""
    return bool(word) and kind(word) in _STACKED and word not in ACTION_SET


def _adjacent(tokens: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """A word and the thing named right after it ("race car", "yellow taxi", "smiling
    baby"), with both as written; past colours, styles, weather and times of day, which
    describe the same thing: "shiny" in "a shiny red apple" is the apple's, so "a red apple
    on a shiny table" has moved it onto the table. Also past the rest of a list of those:
    "a red car beside a blue truck" / "a car beside a red and blue truck"."""
    found = []
    for index, (a, first) in enumerate(tokens):
        if not modifier(a):
            continue
        after = index + 1
        while after < len(tokens) and (
            _stacked(tokens[after][0])
            or (
                tokens[after][1] in _LISTING
                and after + 1 < len(tokens)
                and _stacked(tokens[after + 1][0])
            )
        ):
            after += 1
        if after < len(tokens) and plain(tokens[after][0]):
            found.append((a, tokens[after][0], first, tokens[after][1]))
    return found


def binding_conflict(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> str | None:
    """A word that names something together with the next word, with another next word on
    the other side ("a tiny house" / "a tiny giant"), or two such words swapped ("race car"
    / "car race")."""
    want, have = _adjacent(want_tokens), _adjacent(have_tokens)
    have_pairs = {(a, b) for a, b, _, _ in have}
    for a, b, first, second in want:
        swapped = (b, a) in have_pairs and (a, b) not in have_pairs
        # "a mountain covered in snow" / "a snow-covered mountain": a participle moves.
        participle = any(
            is_past(w) or (w.endswith("ing") and len(w) > 5 and x in ACTION_SET)
            for w, x in ((first, a), (second, b))
        )
        # Two nouns, or a noun and an action's bare form used as one ("race car" / "car
        # race", "dance party" / "party dance").
        nouns = {kind(a), kind(b)} <= {"content", "action"}
        if swapped and not participle and nouns:
            return f"order differs: {a} {b} vs {b} {a}"
    want_count = Counter(w for w, _ in want_tokens if w)
    have_count = Counter(w for w, _ in have_tokens if w)

    # A modifier and the thing it describes: a verb only as an adjective ("a smiling
    # baby", "a broken vase"), never an adverb or a verb's -ing after it.
    def described(a: str, b: str, first: str, second: str) -> bool:
        adjectival = (
            kind(a) != "action" or first.endswith(("ing", "ed")) or (first in PAST_IRREGULAR)
        )
        return adjectival and kind(b) == "content" and not second.endswith(("ing", "ly"))

    have_next = {a: b for a, b, first, second in have if described(a, b, first, second)}
    for a, b, first, second in want:
        if not described(a, b, first, second) or want_count[a] != 1 or have_count[a] != 1:
            continue
        if a in have_next and have_next[a] != b:
            return f"attribute differs: {a} {b} vs {a} {have_next[a]}"
    return None


_COUNTED_RUN = 4  # words between a count and its noun: "3 small fluffy white cats"


def counted(tokens: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(count, the thing it counts) for each number or quantity word: the first thing named
    after it, past what describes it ("3 small cats", "several old boats")."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, _) in enumerate(tokens):
        if kind(word) != "count":
            continue
        first = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        # A number right before a word of the lists counts it when nothing plain follows:
        # "6 drones in formation" reads "6 aerial in formation".
        counts = first if NUMBER.fullmatch(word) and first in CATEGORY_OF else ""
        for after, _written in tokens[index + 1 : index + 1 + _COUNTED_RUN]:
            if not after or kind(after) in ("count", "relation"):
                break
            if plain(after) and after not in ACTION_SET:
                counts = after
                break
        if counts:
            found[(word, counts)] += 1
    return found


def count_conflict(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> str | None:
    """A number moved to another thing: "3 cats on a bed, dogs in the yard" / "cats on a
    bed, 3 dogs in the yard" have the same counts and the same things. A count is compared
    where it counts a thing on both sides."""
    for count, a, b in differing_groups(counted(want_tokens), counted(have_tokens)):
        return (
            f"count differs: {count} {' '.join(sorted(a.elements()))} vs "
            f"{count} {' '.join(sorted(b.elements()))}"
        )
    return None


_COPULAS = frozenset(("is", "are", "was", "were", "looks", "look", "seems", "seem"))


def predicates(tokens: list[tuple[str, str]], labels: list[str]) -> Counter[tuple[str, str]]:
    """(a word said of a thing, the thing) for each word after "is" up to the phrase's end:
    "the first dog is black and digging" says "black" and "dig" of the first dog. The thing
    is its label (see individuals), which tells "first dog" from "second dog"."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (_, written) in enumerate(tokens):
        if written not in _COPULAS or not index:
            continue
        # The thing named right before, or past one word: "the mountains behind are blurry"
        before = index - 1 if plain(tokens[index - 1][0]) else index - 2
        if before < 0 or not plain(tokens[before][0]):
            continue
        host = _thing(tokens, labels, before)
        for offset, (word, said) in enumerate(tokens[index + 1 :]):
            if said == "and" or (said == "in" and not offset):  # "is in slow motion"
                continue
            # A new phrase, or a comma left out before one ("is navy the cabinets are white")
            if not word or kind(word) == "relation" or word in STOP or said in _COPULAS:
                break
            if modifier(word) or word in FILL:  # "the flowers are sharp" says "sharp"
                found[(word, host)] += 1
    return found


Tokens = list[tuple[str, str]]


def said_of_conflict(
    want_tokens: Tokens, have_tokens: Tokens, want_labels: list[str], have_labels: list[str]
) -> str | None:
    """A word said of another thing: what "is" says ("the first dog is black ...; the
    second dog is old" / "the first dog is old ...; the second dog is black"), then an on /
    off / in / out ("the lamp is on and the TV is off" / "the lamp is off and the TV is
    on")."""
    for name, said in (("attribute", predicates), ("particle", particles)):
        want, have = said(want_tokens, want_labels), said(have_tokens, have_labels)
        for word, a, b in differing_groups(want, have):
            return f"{name} differs: {word} said of {describe(a, b)}"
    return None


_PARTICLES = frozenset(("on", "off", "in", "out"))
_CLAUSE_ENDS = frozenset(("and", "but", "while", "as", "then"))


def particles(tokens: list[tuple[str, str]], labels: list[str]) -> Counter[tuple[str, str]]:
    """(particle, the thing it is said of) for an on / off / in / out that ends a phrase:
    "the lamp is on and the TV is off", "switches the TV on", "bees fly in through the
    window". The thing is the last one named before it in its clause, or none ("" : "and
    out through the door")."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (_, written) in enumerate(tokens):
        if written not in _PARTICLES or not index:
            continue
        after = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if after[0] and after[1] not in _CLAUSE_ENDS and kind(after[0]) != "relation":
            continue  # "on the table": a place, not a particle
        host = ""
        for back in range(index - 1, -1, -1):
            before, said = tokens[back]
            if not before or said in _CLAUSE_ENDS:
                break
            # The verb the particle belongs to: "the dog goes in", "the light is switched on"
            verb = back == index - 1 and said.endswith("s") and plain(tokens[back - 1][0])
            if plain(before) and before not in ACTION_SET and not verb and not is_past(said):
                host = _thing(tokens, labels, back)
                break
        found[(written, host)] += 1
    return found


def _thing(tokens: list[tuple[str, str]], labels: list[str], index: int) -> str:
    """The thing the noun at `index` names: its label (see individuals), or for a plural
    named more than once, with the word before it ("the gate lights" / "the garage
    lights"), which individuals leaves alone."""
    label = labels[index]
    if label != tokens[index][0] or not index or not tokens[index][1].endswith("s"):
        return label
    if not modifier(tokens[index - 1][0]):
        return label
    if sum(word == label for word, _ in tokens) < 2:
        return label
    return f"{tokens[index - 1][0]} {label}"
