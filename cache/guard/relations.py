"""The small words of place and direction ("in" / "on", "to" / "from", "by") that head a
phrase about a thing, and what is switched on or off.
"""

from __future__ import annotations

from collections import Counter

from cache.guard import lexicon
from cache.guard.kinds import plain
from cache.guard.lexicon import BREAK_SET, DETERMINERS, PREPOSITIONS

# Bound by assignment, not by `from ... import`, for speed: see kinds.py.
NUMBER = lexicon.NUMBER

# Where a thing is, or which way it goes: "a snake in a boot" / "a snake on a boot",
# "marching to the castle" / "from the castle", "attacking" / "attacked by".
_RELATIONS = {
    "in": "in",
    "inside": "in",
    "within": "in",
    "into": "in",
    "on": "on",
    "onto": "on",
    "upon": "on",
    "atop": "on",
    "from": "from",
    "to": "to",
    "by": "by",
}


def relations(tokens: list[tuple[str, str]]) -> Counter[str]:
    """The relation words that head a phrase about a thing ("in a box"); not those before a
    category word ("in slow motion", "in the rain"), nor an infinitive "to"."""
    found: Counter[str] = Counter()
    for index, (_, written) in enumerate(tokens):
        relation = _RELATIONS.get(written)
        if relation is None or (relation == "on" and index and tokens[index - 1][1] == "in"):
            continue  # "zooms in on a rose" is where the camera goes, not what is on what
        after = [w for w, t in tokens[index + 1 : index + 4] if t not in DETERMINERS]
        head = after[0] if after else ""
        if relation == "to" and (
            index + 1 >= len(tokens) or tokens[index + 1][1] not in DETERMINERS
        ):
            continue
        if not head or (not plain(head) and not NUMBER.fullmatch(head)):
            continue  # a particle ("zoom in", "the lights on") or before a category word
        found[relation] += 1
    return found


# Words after which an "on" ends its phrase ("the lights stay on now").
_STRANDED = frozenset(("again", "now", "too", "still", "already", "as", "when", "while"))


def switches(tokens: list[tuple[str, str]]) -> Counter[str]:
    """How often something is off, or on as a particle ("streetlights blink on", "her
    helmet on,"): relations leaves particles out, and "off" in a long prompt is often
    there already ("a locked-off tripod"), so one light switched the other way changes
    neither the words nor the relations."""
    found: Counter[str] = Counter()
    for index, (_, written) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        # Not heading a phrase: a break, a conjunction or another preposition comes next
        # ("the lights on in the morning").
        particle = (
            not following[0]
            or following[0] in BREAK_SET
            or following[1] in PREPOSITIONS
            or following[1] in _STRANDED
        )
        if written == "off" or (written == "on" and particle):
            found[written] += 1
    return found
