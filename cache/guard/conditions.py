"""Which event comes first when a clause says when another happens: "a dog barks when the
doorbell rings" / "the doorbell rings when the dog barks" use the same words, in events
told in the other order. The word-order check does not see it: "when" is a stopword, so
nothing stays between the two clauses as they trade places.
"""

from __future__ import annotations

from collections import Counter

from cache.guard.canonical import FILL, PREPOSITION_SET, STOP
from cache.guard.lexicon import BREAK_SET

# Words opening a clause that says when the rest happens. Other such words ("before",
# "until", "because") are content words, which the word-order check keeps between the two
# clauses.
_CONDITIONS = frozenset(("when", "whenever"))
_SENTENCE_ENDS = frozenset((".", "!", "?", ";", ":"))


def _conditions(tokens: list[tuple[str, str]]) -> Counter[frozenset[str]] | None:
    """The words of each clause a condition word opens, or None when a clause's end cannot
    be told: one opening a sentence without a comma ("When the sun sets a wolf howls")."""
    found: Counter[frozenset[str]] = Counter()
    for index, (_, written) in enumerate(tokens):
        if written not in _CONDITIONS:
            continue
        opening = index == 0 or tokens[index - 1][1] in _SENTENCE_ENDS
        words: set[str] = set()
        adverbial = False  # past the clause's first preposition: where or when, not who
        for word, later in tokens[index + 1 :]:
            if not word:  # punctuation: a comma ends it, a sentence's end too
                if later in _SENTENCE_ENDS and opening:
                    return None
                break
            if word in BREAK_SET and not opening:
                break
            # "when the fireworks start at midnight" / "at midnight, ... when the fireworks
            # start": a scene phrase moving in or out of the clause is no other event.
            adverbial = adverbial or later in PREPOSITION_SET
            if not (word in STOP or word in FILL or adverbial):
                words.add(word)
        else:
            if opening:
                return None
        found[frozenset(words)] += 1
    return found


def condition_conflict(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> str | None:
    """Another clause follows "when" on each side: the events happen in another order."""
    want, have = _conditions(want_tokens), _conditions(have_tokens)
    if want is None or have is None or want == have:
        return None
    return (
        f"order differs: when {' / '.join(' '.join(sorted(c)) for c in want)} vs "
        f"when {' / '.join(' '.join(sorted(c)) for c in have)}"
    )
