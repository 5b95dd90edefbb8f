"""Which one of several things named by the same noun a word names: in "an old man in a red
coat walks with a man" the coat is the old man's, and in "an old man walks with a man in a
red coat" the other man's, though both sides say "man" each time.
"""

from __future__ import annotations

from cache.guard.canonical import ACTION_SET, PREPOSITION_SET
from cache.guard.kinds import modifier, plain, verb_form
from cache.guard.lexicon import BREAK_SET, DETERMINERS, PLURAL_IRREGULAR

# After these a noun is one more thing ("a man ... a man"). After any other determiner, or
# none, it is one named elsewhere ("the man", "his dog"), where one fits: a prompt without
# articles ("man in red coat pushes man") tells nothing apart, and a prompt whose sentences
# come in another order names the same things.
_NEW = frozenset(("a", "an", "another", "1"))


def individuals(tokens: list[tuple[str, str]]) -> list[str]:
    """Each token's canonical word, except at the head of a noun phrase whose noun names two
    or more different things: there the thing, told apart by the words before the noun
    ("old man", "police car") or, with none, by its place among the new ones named with
    none ("man#1", "man#2"). A mention that is not new (see _NEW) is the thing named new
    whose words include its own: the one with the same words, else the latest before it,
    else the first ("the man", "the red ball" after "a big red ball"); with none, it is a
    thing of its own if words after a determiner tell it apart ("the old man"). Plurals
    name no one thing and stay themselves, and so does a noun naming one thing however
    often it is named, so that a side saying "the man" again compares equal to one that
    does not."""
    labels = [word for word, _ in tokens]
    # Only a noun named twice or more can name two things: most prompts have none, and
    # then nothing below runs.
    seen: set[str] = set()
    repeated: set[str] = set()
    for word in labels:
        if word in seen:
            repeated.add(word)
        seen.add(word)
    repeated.discard("")
    if not repeated:
        return labels
    # index, noun, words, thing, new
    mentions: list[tuple[int, str, frozenset[str], str, bool]] = []
    new_things: dict[str, list[tuple[int, frozenset[str], str]]] = {}
    for index, (word, written) in enumerate(tokens):
        if word not in repeated:
            continue
        if written == "one" and index and _describes(tokens, index - 1):
            word = written  # "the ginger one": a thing, told apart as a noun would be
        elif not _head(tokens, index) or _plural(word, written):
            continue
        before = index - 1
        described: list[str] = []
        while before >= 0 and _describes(tokens, before):
            described.append(tokens[before][0])
            before -= 1
        words = frozenset(described)
        thing = " ".join([*reversed(described), word])
        new = before >= 0 and tokens[before][0] in _NEW
        # Without a determiner the phrase's start is a guess ("racket strikes ball").
        determined = new or (before >= 0 and tokens[before][1] in DETERMINERS)
        if new and not described:
            bare = {t for _, w, t in new_things.get(word, ()) if not w}
            thing = f"{word}#{len(bare) + 1}"
        if new:
            new_things.setdefault(word, []).append((index, words, thing))
        mentions.append((index, word, words if determined else frozenset(), thing, new))
    things: dict[str, set[str]] = {}
    resolved: list[tuple[int, str]] = []
    for index, word, words, thing, new in mentions:
        if not new:
            fits = [(i, t) for i, w, t in new_things.get(word, ()) if words <= w]
            same = [t for i, w, t in new_things.get(word, ()) if w == words]
            before = [t for i, t in fits if i < index]
            if same or fits:
                thing = same[-1] if same else before[-1] if before else fits[0][1]
            elif not words:
                # "the man" with no man named new, or a phrase with no determiner: nothing
                # tells it from the others
                continue
        things.setdefault(word, set()).add(thing)
        resolved.append((index, word, thing))
    for index, word, thing in resolved:
        if len(things[word]) > 1:
            labels[index] = thing
    return labels


def shared_labels(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """individuals() of both prompts, with a noun told apart on one side only left as the
    noun on both: a prompt without articles tells no one apart ("green beaker, red beaker"),
    and its paraphrase with them must still compare equal."""
    want, have = individuals(want_tokens), individuals(have_tokens)
    want_split = {word for (word, _), label in zip(want_tokens, want, strict=True) if label != word}
    have_split = {word for (word, _), label in zip(have_tokens, have, strict=True) if label != word}
    both = want_split & have_split
    for tokens, labels in ((want_tokens, want), (have_tokens, have)):
        for index, (word, _) in enumerate(tokens):
            if labels[index] != word and word not in both:
                labels[index] = word
    return want, have


def _describes(tokens: list[tuple[str, str]], index: int) -> bool:
    """Whether the word at tokens[index], before a noun, is one that tells it apart ("old",
    "police", "red"); a participle only right after a determiner or another such word ("a
    wounded knight", "a big sleeping dog"), not a verb before its object ("holding knight")."""
    word, written = tokens[index]
    if not word or written in DETERMINERS or word in BREAK_SET or not modifier(word):
        return False
    if word not in ACTION_SET and not verb_form(written):
        return True
    if not index:
        return False
    before, before_written = tokens[index - 1]
    return before_written in DETERMINERS or (
        bool(before)
        and modifier(before)
        and before not in ACTION_SET
        and not verb_form(before_written)
        and before not in BREAK_SET
    )


def _plural(word: str, written: str) -> bool:
    return written in PLURAL_IRREGULAR or (written.endswith("s") and word != written)


def _head(tokens: list[tuple[str, str]], index: int) -> bool:
    """Whether tokens[index] is the noun a noun phrase ends on: a thing, with no other thing
    after it that it describes ("police" in "a police car" is not)."""
    word = tokens[index][0]
    if not plain(word) or word in ACTION_SET:
        return False
    if index + 1 == len(tokens):
        return True
    after, written = tokens[index + 1]
    # A verb the action list lacks is told by the determiner after it ("a man meets a").
    following = tokens[index + 2][1] if index + 2 < len(tokens) else ""
    verb = written.endswith("s") and (following in DETERMINERS or following in PREPOSITION_SET)
    return not (plain(after) and after not in ACTION_SET and not verb_form(written) and not verb)
