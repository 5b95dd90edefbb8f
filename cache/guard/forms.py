"""How each word is used: singular or plural, done or ongoing, an action or a thing; and the
first word used one way in one prompt and another way in the other.
"""

from __future__ import annotations

from cache.guard import lexicon
from cache.guard.canonical import ACTION_SET, FILL, NEG, QUANT, STOP
from cache.guard.kinds import is_past, kind, plain
from cache.guard.lexicon import ARTICLES_AND_OWNERS, IRREGULAR, PLURAL_IRREGULAR

# Bound by assignment, not by `from ... import`, for speed: see kinds.py.
NUMBER = lexicon.NUMBER

# Past tense forms distinct from their participle: "the tree fell" is the event, "a fallen
# tree" what it left.
_SIMPLE_PAST = frozenset(
    (
        "ran",
        "flew",
        "swam",
        "sat",
        "ate",
        "rode",
        "drove",
        "fell",
        "sang",
        "threw",
        "wore",
        "grew",
        "blew",
        "broke",
        "drew",
        "took",
        "went",
        "came",
    )
)


def forms(tokens: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Canonical word -> how it was used: "past" ("-ed", "broken"), "ing" (doing it),
    "noun" (after a determiner or a number: "a drink", "a painting of"), and for nouns
    "plural" or "singular"."""
    forms: dict[str, set[str]] = {}
    for index, (word, written) in enumerate(tokens):
        if not word or word in STOP or word in FILL or word in NEG or word in QUANT:
            continue
        if NUMBER.fullmatch(word):
            continue
        before = tokens[index - 1] if index > 0 else ("", "")
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        noun_slot = before[1] in ARTICLES_AND_OWNERS or bool(
            before[0] and NUMBER.fullmatch(before[0])
        )
        found = forms.setdefault(word, set())
        if is_past(written):
            found.add("past")
            if written in _SIMPLE_PAST:
                found.add("event")  # "the vase broke": it happens
            elif plain(after):
                found.add("result")  # "a broken vase": it has happened
            continue
        pointed = noun_slot or before[1] in ("this", "that")
        if written.endswith("ing") and len(written) > 5:
            # "a painting of a man" is a thing; "a running dog" is still doing it.
            if pointed and not plain(after):
                found.update(("noun", "gerund"))  # a thing, but not a plain one
            else:
                found.add("ing")
            continue
        if noun_slot:
            found.add("noun")
            if after == "of":
                found.add("gerund")  # "the collapse of a bridge": an event, not a thing
        plural = written in PLURAL_IRREGULAR or (
            written.endswith("s")
            and written not in IRREGULAR
            and len(written) > 3
            and not written.endswith(("ss", "us", "is"))
        )
        if word in ACTION_SET:
            if noun_slot:
                found.add("plural" if plural else "singular")  # "a drink" / "the drinks"
            elif plural and not (plain(before[0]) and before[0] not in ACTION_SET):
                found.add("plural")  # "playing drums", "rows of houses": no subject before
            else:
                found.add("verb")  # "a glass breaks": happening, not "a broken glass"
            continue
        if kind(word) != "content":
            continue
        found.add("plural" if plural else "singular")
    return forms


_PAST_FORMS = frozenset(("past", "event", "result"))


def _doing(forms: set[str]) -> bool:
    """Not only a plain thing named after a determiner: a past form on the other side then
    means something else ("a house burns" / "a burned house", "the burning of a house" /
    "a burned house", "a painting of a house" / "a painted house"). A plain thing is the
    one exception ("a man with a beard" / "a bearded man")."""
    rest = forms - _PAST_FORMS
    return bool(rest) and not ("noun" in rest and rest <= {"noun", "singular", "plural"})


def form_conflict(want: dict[str, set[str]], have: dict[str, set[str]]) -> str | None:
    for word in sorted(want.keys() & have.keys()):
        a, b = want[word], have[word]
        number_a, number_b = a & {"plural", "singular"}, b & {"plural", "singular"}
        if number_a and number_b and number_a != number_b:
            return f"number differs: {word} ({'/'.join(sorted(number_a))} vs " + (
                f"{'/'.join(sorted(number_b))})"
            )
        if ("event" in a and "result" in b) or ("result" in a and "event" in b):
            return f"tense differs: {word} (happening vs happened)"
        if (a and a <= _PAST_FORMS and _doing(b)) or (b and b <= _PAST_FORMS and _doing(a)):
            # "burned" / "burning", "a broken glass" / "a glass breaks", "chased by" /
            # "chasing"; not "bearded" / "a beard" (no verb there).
            return f"tense differs: {word} (done vs ongoing)"
        doing_a, doing_b = "ing" in a and "noun" not in a, "ing" in b and "noun" not in b
        thing_a, thing_b = "noun" in a and "ing" not in a, "noun" in b and "ing" not in b
        if (doing_a and thing_b) or (thing_a and doing_b):
            return f"action differs: {word} (an action vs a thing)"
    return None
