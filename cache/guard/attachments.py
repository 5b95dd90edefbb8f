"""Whom a phrase or a participle describes: the thing a "with" / "carrying" / "holding" /
"wearing" phrase belongs to, and the thing each participle describes.
"""

from __future__ import annotations

from collections import Counter

from cache.guard import canonical, lexicon
from cache.guard.canonical import ACTION_SET, BEING_SET, FILL, NEG, PREPOSITION_SET, STOP
from cache.guard.kinds import adverb, is_past, kind, modifier, plain, verb_form
from cache.guard.lexicon import (
    ARTICLES_AND_OWNERS,
    BREAK_SET,
    CLOTHES,
    DETERMINERS,
    HAVING,
    PLACE_WORDS,
    PREPOSITIONS,
    RELATIVE,
    WEARS,
)
from cache.guard.words import differing_groups

# Bound by assignment, not by `from ... import`, for speed: see kinds.py.
NUMBER = lexicon.NUMBER
CATEGORY_OF = canonical.CATEGORY_OF

# Words that start a phrase describing the nearest person or thing before it.
_ATTACHING = frozenset(("with", "carrying", "holding", "wearing"))
# What carries the one named before it: "a man on a horse with a sword" is the man's sword.
_CARRIERS = frozenset(("in", "on", "inside", "into", "onto", "atop", "within", "upon"))
# After these a person or an animal is someone of their own, whom a phrase or participle
# after it describes ("walks by a boy with a scarf", "talks to a woman dressed in black",
# "stares at a dog sleeping on the couch"), not only where the one before it is: any place
# word or preposition but a carrier and "with" (what the one before has).
_COMPANION_AFTER = (PLACE_WORDS | frozenset(PREPOSITIONS)) - _CARRIERS - _ATTACHING
_WHO = frozenset(("who", "which", "that"))  # after a comma: the one before it goes on
_WEARING = frozenset(("wearing", "in"))  # attaching words that name what is worn
_DRESSED = frozenset(("dressed", "clad", "clothed"))
_WORN_RUN = 4  # words before the garment: "in a long red wool coat"


def attachments(tokens: list[tuple[str, str]], labels: list[str]) -> dict[tuple[str, str], str]:
    """(attaching word, its object) -> the thing it describes: the nearest noun before it
    in its phrase that is not a place ("a woman with an umbrella talks to a man"). Having is
    one relation however it is said ("with", "carrying", "holding", "who carries" are all
    "with"); clothes are "wearing" or "in" ("a man in a red coat"), and are worn by the last
    person or animal named, not by a thing another phrase attached ("a woman with red hair
    in a blue dress" is hers). Besides these, a participle right after its noun attaches
    too: "a dog covered in mud next to a cat" (the dog's mud), "a woman reading a book next
    to a man" (she reads). A person or an animal after a place word or "to" is no place ("a
    girl walks by a boy with a scarf": his), unless it carries the one before ("a man on a
    horse with a sword": the man's). Of several things named by the same noun, the one
    meant is told apart by its label ("an old man in a red coat walks with a man": see
    individuals)."""
    out: dict[tuple[str, str], str] = {}
    owner = ""
    wearer = ""  # who wears clothes: see the docstring
    held = False  # inside the object of an attached phrase
    previous = ""  # the last word that is not a stopword (its label: see individuals)
    previous_being = False  # whether that word names a person or an animal
    place = False  # the last preposition seen names a place
    introducer = ""  # the last place word or preposition seen, as written
    pending: str | None = None
    for index, (word, written) in enumerate(tokens):
        if not word or word in BREAK_SET:
            if written == "," and index + 1 < len(tokens) and tokens[index + 1][1] in _WHO:
                if previous_being:
                    # the object of "with" goes on too: "walks with her brother, who carries"
                    owner = wearer = previous
                continue  # "her brother, who carries a backpack": his
            owner, wearer, previous, place, pending, introducer = "", "", "", False, None, ""
            held = previous_being = False
            continue
        if (written in HAVING or written in WEARS) and owner and previous == owner:
            # "a boy carries a backpack" says what "a boy with a backpack" does
            pending = "wearing" if written in WEARS else "with"
            place, previous, previous_being, introducer = False, word, False, ""
            continue
        participle = is_past(written) or (written.endswith("ing") and word in ACTION_SET)
        if (
            written in _ATTACHING
            or (participle and owner and previous == owner and pending is None)
            or (written == "in" and _worn(tokens, index))
        ):
            pending = "with" if written in _ATTACHING and written != "wearing" else written
            place, previous, previous_being, introducer = False, word, False, ""
            continue
        if written in _COMPANION_AFTER or written in _CARRIERS:
            introducer = written
        if written in PLACE_WORDS:
            place = True
            continue
        if word in STOP or word in FILL or word in NEG:
            continue
        companion = word in BEING_SET and introducer in _COMPANION_AFTER
        if pending is not None and modifier(word) and word not in ACTION_SET:
            who = wearer if pending in _WEARING and wearer else owner
            if who:
                out.setdefault((pending, word), who)
            if companion:
                owner = labels[index]  # "talking to a woman dressed in black": hers
            if word in BEING_SET and pending not in _WEARING:
                wearer = labels[index]  # "walks with her grandfather in a raincoat": his
            held = True
            # What is worn owns nothing after it: the hair in "a woman in a blue dress with
            # red hair" is hers.
            place = place or pending in _WEARING
            pending, previous, previous_being = None, labels[index], word in BEING_SET
            continue
        if plain(word) and word not in ACTION_SET:
            if not place or companion:
                owner = labels[index]
                wearer = labels[index] if not held or word in BEING_SET else wearer
        elif word in ACTION_SET:
            place, introducer, held = False, "", False
        previous, previous_being = labels[index], word in BEING_SET
    return out


def _worn(tokens: list[tuple[str, str]], index: int) -> bool:
    """Whether the "in" at tokens[index] opens a phrase naming clothes ("in a red coat",
    "in his shining armour") or only colours ("a woman in black walks", "in red and blue"):
    what someone wears, not where they are ("in red light")."""
    if index and tokens[index - 1][1] in _DRESSED:
        return False  # the participle already says who wears it
    j = index + 1
    if j < len(tokens) and tokens[j][1] in DETERMINERS:
        j += 1
    for word, written in tokens[j : j + _WORN_RUN]:
        if not modifier(word) or word in PREPOSITION_SET:
            break
        if _garment(written):
            return True
    colours = 0
    while j < len(tokens) and (
        CATEGORY_OF.get(tokens[j][0]) == "colour" or (colours and tokens[j][1] in ("and", "or"))
    ):
        colours += CATEGORY_OF.get(tokens[j][0]) == "colour"
        j += 1
    if not colours:
        return False
    after, written = tokens[j] if j < len(tokens) else ("", "")
    # Colours on their own, or of clothes: not of a thing named after them ("red light").
    # A verb the action list lacks is told by what follows it: "in black follows a man",
    # "in red holds hands with".
    following = tokens[j + 1][1] if j + 1 < len(tokens) else ""
    return (
        _garment(written)
        or not plain(after)
        or after in ACTION_SET
        or verb_form(written)
        or written in HAVING
        or (written.endswith("s") and following in DETERMINERS)
    )


def _garment(written: str) -> bool:
    return (
        written in CLOTHES
        or written.removesuffix("s") in CLOTHES
        or written.removesuffix("es") in CLOTHES  # "dresses"
    )


def participle_hosts(tokens: list[tuple[str, str]], labels: list[str]) -> Counter[tuple[str, str]]:
    """(participle, the thing it describes) for each "-ing" action or past participle: the
    noun right after it when it opens a noun phrase ("a sleeping dog", "a broken cup"), the
    thing right before it otherwise ("a cat sleeping beside a dog", "a woman dressed in
    black"), adverbs and "that is" skipped. "" where it could be either: after a word that
    may be an adjective or a noun, before a noun ("a big sleeping dog", "a man watching
    dogs"), or with nothing named before it in its phrase."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, written) in enumerate(tokens):
        if not (is_past(written) or (verb_form(written) and word in ACTION_SET)):
            continue
        before, before_written = tokens[index - 1] if index else ("", "")
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        if plain(after) and after not in ACTION_SET:
            opens = (
                not index
                or before_written in ARTICLES_AND_OWNERS
                or bool(NUMBER.fullmatch(before))
                or kind(before) not in ("content", "action", "relation", "count")
                or adverb(before_written)
            )
            if opens:
                # The head of the phrase it opens: "a smiling old man" describes the man.
                # It ends at a verb form, known action or not ("a smiling girl feeding ducks").
                head = index + 1
                while (
                    head + 1 < len(tokens)
                    and plain(tokens[head + 1][0])
                    and tokens[head + 1][0] not in ACTION_SET
                    and not verb_form(tokens[head + 1][1])
                ):
                    head += 1
                # "a dancing man and woman": it may describe both.
                shared = head + 2 < len(tokens) and (
                    tokens[head + 1][1] in ("and", "or") and plain(tokens[head + 2][0])
                )
                found[(word, "" if shared else labels[head])] += 1
                continue
            if plain(before):
                found[(word, "")] += 1
                continue
        found[(word, _host_before(tokens, labels, index))] += 1
    return found


def _host_before(tokens: list[tuple[str, str]], labels: list[str], index: int) -> str:
    """The thing named right before tokens[index] (adverbs and "that is" skipped), or ""
    when there is none or it is the object of a preposition: in "a man with a dog walking"
    or "a woman in a blue dress walking" the walker is the man, the woman. A person or an
    animal after a place word or "to" is the exception (see _COMPANION_AFTER)."""
    j = index - 1
    while j >= 0 and (adverb(tokens[j][1]) or tokens[j][1] in RELATIVE):
        j -= 1
    if j < 0 or not plain(tokens[j][0]) or tokens[j][0] in ACTION_SET:
        return ""
    if verb_form(tokens[j][1]):
        return ""  # a verb the action list does not know ("a woman holding", "a dog fetching")
    k = j - 1  # back over its determiner and modifiers to what introduces the phrase
    while k >= 0 and (
        tokens[k][1] in DETERMINERS
        or (
            modifier(tokens[k][0])
            and not (tokens[k][0] in ACTION_SET or tokens[k][1] in _ATTACHING)
        )
    ):
        k -= 1
    # Clothes after "in" attach as "wearing" does ("a girl in a hat sleeping").
    attached = k >= 0 and (
        tokens[k][1] in _ATTACHING or (tokens[k][1] == "in" and _worn(tokens, k))
    )
    if k >= 0 and tokens[k][1] in _COMPANION_AFTER and tokens[j][0] in BEING_SET:
        return labels[j]  # "a cat staring at a dog sleeping on the couch": the dog sleeps
    if attached and tokens[j][0] in BEING_SET and is_past(tokens[index][1]):
        # A state describes the one just named ("dancing with a man dressed in red"); an
        # action, the one who has him ("a man with a dog walking in the park").
        return labels[j]
    if attached:
        # "a knight holding a sword sleeping": the one holding it, as attachments reads it
        return _host_before(tokens, labels, k)
    if k >= 0 and (
        tokens[k][1] in ("and", "or")  # "a man and a woman dancing": both may be
        or tokens[k][1] in PLACE_WORDS
        or kind(tokens[k][0]) == "relation"
    ):
        return ""
    return labels[j]


def host_conflict(want: Counter[tuple[str, str]], have: Counter[tuple[str, str]]) -> str | None:
    """A participle describing one thing on one side and another on the other ("a cat
    sleeping beside a dog" / "a cat beside a sleeping dog"). Only participles whose every
    use has a known host on both sides are compared."""
    for word, a, b in differing_groups(want, have):
        if "" in a or "" in b:
            continue
        return (
            f"attribute differs: {word} {' '.join(sorted(a.elements()))} vs "
            f"{word} {' '.join(sorted(b.elements()))}"
        )
    return None
