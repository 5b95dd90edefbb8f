"""Events in order: "a car crashes into a pole and the airbags deploy" / "the airbags deploy
and a car crashes into a pole" are the same clauses in another order, which the word-order
check lets through because a paraphrase reorders clauses ("a dog barks and a cat meows").
Clauses that each tell of a moment (a verb of PUNCTUAL_VERBS, used as a verb) happen one
after the other, so those found on both sides must come in the same order, as if the prompt
had said "then" between them; any other clause may move past them.
"""

from __future__ import annotations

from cache.guard.canonical import CANONICAL, STOP, stem
from cache.guard.kinds import plain
from cache.guard.lexicon import (
    DETERMINERS,
    PAST_IRREGULAR,
    PRONOUNS,
    PUNCTUAL_VERBS,
    SEQUENCE_MARKER,
)
from cache.guard.sections import numbered

_PUNCTUAL = frozenset(CANONICAL.get(stem(w), stem(w)) for w in PUNCTUAL_VERBS)
_JOINS = frozenset(("and", ",", ";", ".", "!", "?"))
_SUBORDINATORS = frozenset(
    (
        "when",
        "while",
        "as",
        "after",
        "before",
        "until",
        "once",
        "if",
        "because",
        "since",
        "whenever",
    )
)
_ASPECTUAL = frozenset(CANONICAL.get(stem(w), stem(w)) for w in ("stop", "start", "begin"))
_SUBJECTS = frozenset(("they", "we", "you", "i", "he", "she", "it", "everyone", "someone"))
# Particles that may follow a verb ("the lights go out", "the cat jumps up").
_AFTER_VERB = frozenset(("on", "off", "in", "out", "up", "down", "over", "away", "back"))


def _is_event(tokens: list[tuple[str, str]], index: int) -> bool:
    """A verb of a moment used as a verb: "the dam breaks", "a glass shattered", the bare
    form after a plural or a pronoun ("the airbags deploy", "they jump"); not "the crash",
    "northern lights ripple" or "purple waves"."""
    word, written = tokens[index]
    before = tokens[index - 1] if index else ("", "")
    after = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
    if written.endswith("ing") or (word not in _PUNCTUAL and after[1] != "away"):
        return False  # "walks away", "runs away": a moment too
    # A verb is followed by its object's determiner, a preposition, a particle, an adverb
    # or the clause's end; a noun mostly by another noun or a verb.
    if (
        after[0]
        and after[0] not in STOP
        and not after[1].endswith("ly")
        and not (word in _ASPECTUAL and after[1].endswith("ing"))  # "the players stop running"
        and after[1] not in _AFTER_VERB
    ):
        return False
    if before[1] in PRONOUNS or before[1] in _SUBJECTS:
        return True
    if before[1] in _JOINS or before[0] == SEQUENCE_MARKER:
        # A subject left out: "jumps out of the plane and opens his parachute"
        return written.endswith("s") and not written.endswith("ss")
    # Its subject right before it: a thing, not a determiner, a colour or a number.
    if not before[0] or before[1] in DETERMINERS or not plain(before[0]):
        return False
    # With nothing after it, only a subject with a determiner tells a verb ("the dam
    # breaks.", "a giant wave rises.") from a plural ending a list ("bright arena lights.").
    if not after[0] and not any(
        written in DETERMINERS for _, written in tokens[max(0, index - 4) : index - 1]
    ):
        return False
    if written in PAST_IRREGULAR or written.endswith("ed"):
        return True
    if written.endswith("s") and not written.endswith("ss"):
        return True
    return before[1].endswith("s")  # "the airbags deploy"


def events(tokens: list[tuple[str, str]]) -> list[str]:
    """The verb of each clause that tells of a moment, in order. Clauses are split at
    "and", "then" and punctuation; one opened by "when", "as", "until"... gives its own
    order and is left out, as is any clause of no moment."""
    found: list[str] = []
    verb = ""
    subordinate = False
    for index, (word, written) in enumerate([*tokens, ("", ".")]):
        if written in _JOINS or word == SEQUENCE_MARKER:
            if verb and not subordinate:
                found.append(verb)
            verb, subordinate = "", False
        elif written in _SUBORDINATORS:
            subordinate = True
        elif not verb and _is_event(tokens, index):
            verb = word
    return found


def event_conflict(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> str | None:
    """Two moments told in the other order: "a car crashes into a pole and the airbags
    deploy" / "the airbags deploy and a car crashes into a pole". Clauses of no moment
    (a setting, a style, "a dog barks") may go anywhere, and so may the shots of a prompt
    whose labels number them (see sections)."""
    want, have = events(want_tokens), events(have_tokens)
    if len(want) < 2 or len(have) < 2 or numbered(want_tokens) or numbered(have_tokens):
        return None
    # Each verb told once on each side is one event, matched by it.
    once = {verb for verb in want if want.count(verb) == 1 and have.count(verb) == 1}
    mine, theirs = [v for v in want if v in once], [v for v in have if v in once]
    if mine == theirs:
        return None
    return f"event order differs: {' then '.join(mine)} vs {' then '.join(theirs)}"
