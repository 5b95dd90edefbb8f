"""The word-order check: the words that matter, in order, with their phrases and events; each
occurrence paired with its counterpart in the other prompt; and the first two words whose
exchange changes the video.
"""

from __future__ import annotations

from dataclasses import dataclass

from cache.guard.canonical import ACTION_SET, FILL, NEG, PREPOSITION_SET, STOP
from cache.guard.kinds import kind
from cache.guard.lexicon import BREAK_SET, PRONOUNS, SEQUENCE_MARKER

_ARTICLES = frozenset(("a", "an", "the"))
_SNIPPET_WORDS = 8


@dataclass(frozen=True)
class _Slot:
    word: str  # canonical form, what the two prompts are matched on
    kind: str  # a category name, "relation", "count", "action" or "content"
    governor: str  # the preposition heading the word's phrase, "" for a bare phrase
    phrase: frozenset[str]  # that preposition and the words it governs; empty when bare
    start: int  # token index of the governor, else of the word: where a reason quotes from
    position: int  # token index of the word
    segment: int  # which stretch between phrase breaks the word is in: its neighbours
    stage: int  # how many sequence markers precede the word: which event it belongs to


def _slot_kind(tokens: list[tuple[str, str]], position: int) -> str:
    """kind() of the word, where an action's word used as a noun is a thing: "the waves",
    or a plural opening a clause ("Waves lift the boat" / "The boat lifts the waves" trade
    the two things around "lift")."""
    word, written = tokens[position]
    found = kind(word)
    if found != "action":
        return found
    before = tokens[position - 1] if position else ("", "")
    if before[1] in _ARTICLES or (written.endswith("s") and not before[0]):
        return "content"
    return found


def sequence(tokens: list[tuple[str, str]], labels: list[str]) -> list[_Slot]:
    """The words that matter, in order (every occurrence), with their phrases and events;
    a noun naming one of several things is that thing (its label: see individuals), so "a
    black dog chases an old dog" / "an old dog chases a black dog" trade the two around
    "chase"."""
    # word, position, index of its phrase's opener, segment, stage
    found: list[tuple[str, int, int, int, int]] = []
    members: dict[int, set[str]] = {}  # phrase opener's position -> the phrase's words
    opener = -1
    segment = stage = 0
    marker = False  # a marker seen since the last word: the next word opens a new event
    for position, (word, written) in enumerate(tokens):
        if not word or word in BREAK_SET:
            opener = -1
            segment += 1
            marker = marker or word == SEQUENCE_MARKER
            continue
        # A pronoun stands for a thing: "cars pull over to let it pass" / "it pulls over
        # to let cars pass" trade the two around "let".
        word = PRONOUNS.get(written, labels[position])
        if not (word in NEG or word in STOP or word in FILL):  # pronouns' forms are none
            if marker and found:  # leading or doubled markers open no empty event
                stage += 1
            marker = False
            found.append((word, position, opener, segment, stage))
        if opener >= 0:
            members[opener].add(word)
        if word in PREPOSITION_SET:
            opener = position  # "across", "behind" ... are both a direction and a preposition
            members[opener] = {word}
        elif word in ACTION_SET and (position == 0 or tokens[position - 1][0] not in _ARTICLES):
            # A verb starts a new phrase: its object is bare ("chasing a dog"). After an
            # article the word is a noun or an adjective ("the open sea", "a dance floor").
            opener = -1
    slots: list[_Slot] = []
    for word, position, at, segment, stage in found:
        governor = tokens[at][0] if at >= 0 else ""
        phrase = frozenset(members[at]) if at >= 0 else frozenset()
        start = at if at >= 0 else position
        slots.append(
            _Slot(
                word,
                _slot_kind(tokens, position),
                governor,
                phrase,
                start,
                position,
                segment,
                stage,
            )
        )
    return slots


def _neighbours(slots: list[_Slot]) -> list[tuple[str, str]]:
    """Each slot's words just before and after it within its segment ("" at a break)."""
    out = []
    for index, slot in enumerate(slots):
        before = slots[index - 1] if index > 0 else None
        after = slots[index + 1] if index + 1 < len(slots) else None
        out.append(
            (
                before.word if before and before.segment == slot.segment else "",
                after.word if after and after.segment == slot.segment else "",
            )
        )
    return out


def pair_occurrences(want: list[_Slot], have: list[_Slot]) -> dict[int, int]:
    """Index in `want` -> index in `have` of the same word, occurrence by occurrence.

    A word that appears once on each side pairs with itself. Repeated words pair the
    occurrences that share the most neighbours first ("red" in "a red room" with "red" in
    "a red room", wherever the phrase moved), then the rest in order: first with first,
    second with second. A swap changes the neighbours, so it falls back to the order.
    """
    want_at: dict[str, list[int]] = {}
    have_at: dict[str, list[int]] = {}
    for index, slot in enumerate(want):
        want_at.setdefault(slot.word, []).append(index)
    for index, slot in enumerate(have):
        have_at.setdefault(slot.word, []).append(index)
    partner: dict[int, int] = {}
    want_near: list[tuple[str, str]] = []
    have_near: list[tuple[str, str]] = []
    for word, wants in want_at.items():
        haves = have_at.get(word)
        if not haves:
            continue
        if len(wants) == 1 and len(haves) == 1:
            partner[wants[0]] = haves[0]
            continue
        if not want_near:
            want_near, have_near = _neighbours(want), _neighbours(have)
        ranked = []
        for a, i in enumerate(wants):
            w_before, w_after = want_near[i]
            for b, j in enumerate(haves):
                h_before, h_after = have_near[j]
                shared = (w_before != "" and w_before == h_before) + (
                    w_after != "" and w_after == h_after
                )
                ranked.append((-shared, abs(a - b), a, b))
        ranked.sort()
        used_a: set[int] = set()
        used_b: set[int] = set()
        for _, _, a, b in ranked:
            if a not in used_a and b not in used_b:
                used_a.add(a)
                used_b.add(b)
                partner[wants[a]] = haves[b]
    return partner


def order_conflict(
    want: list[_Slot], have: list[_Slot], partner: dict[int, int]
) -> tuple[int, int] | None:
    """Two words whose exchange changes the video, as indices into `want` in its order.

    Pairs in opposite orders are what any reordering produces; moving one phrase past
    another never leaves a word between the pair in both prompts, changes prepositions or
    crosses a sequence marker, a swap does one or the other. `partner` pairs each word of
    `want` (each occurrence) with its counterpart in `have`.
    """
    shared = sorted(partner)
    matched = set(partner.values())
    for i, wi in enumerate(shared):
        x, hi = want[wi], partner[wi]
        hx = have[hi]
        for j in range(i + 1, len(shared)):
            wj = shared[j]
            y, hj = want[wj], partner[wj]
            hy = have[hj]
            if x.word == y.word:
                continue  # two occurrences of one word: exchanging them changes nothing
            if (
                hi > hj
                and (x.stage != y.stage or hx.stage != hy.stage)
                and "relation" not in (x.kind, y.kind)
                and "style" not in (x.kind, y.kind)
            ):
                # Crossed a sequence marker: "a man opens the door, then a dog runs out" /
                # "a dog runs out, then a man opens the door" (or "... and a man ...").
                return wi, wj
            if x.kind != y.kind or x.kind == "relation":
                continue
            # Both words changed preposition, each to the other's: "from a harbor to the
            # sea" / "from the sea to a harbor", "a cup on a book" / "a book on a cup". A
            # phrase that moves keeps its preposition, and one moved to the front without
            # a comma ("on a cliff a lighthouse") changes one governor, not both.
            traded = x.governor == hy.governor != y.governor == hx.governor
            if hi < hj:
                # Same order, prepositions exchanged: "a cat under a table beside a chair" /
                # "a cat beside a table under a chair".
                if traded and x.governor and y.governor:
                    return wi, wj
                continue
            if traded:
                return wi, wj
            # Words between the two in both prompts, each named by its index in `have`.
            between_want = {partner[k] for k in shared[i + 1 : j]}
            between_have = set(range(hj + 1, hi)) & matched
            # Traded sides of a word that stays put: "cat chasing dog" / "dog chasing cat".
            # The one exception is two whole prepositional phrases trading places around the
            # verb, adverbials moving as paraphrases do ("under a starry sky, a wolf howls on
            # a hilltop" / "on a hilltop, a wolf howls under a starry sky"). Not a word that
            # left its phrase ("in a red dress ... in a black suit" / "in a black dress ...
            # in a red suit"), nor phrases around a noun ("a man on a horse and a woman on a
            # camel" / "a man on a camel and a woman on a horse").
            stays = between_want & between_have
            adverbials = (
                any(have[k].word in ACTION_SET for k in stays)
                and bool(x.governor and y.governor)
                and (x.phrase, y.phrase) == (hx.phrase, hy.phrase)
            )
            if stays and not adverbials:
                return wi, wj
    return None


def snippet(tokens: list[tuple[str, str]], first: _Slot, last: _Slot) -> str:
    lo, hi = min(first.start, last.start), max(first.position, last.position)
    words = [written for word, written in tokens[lo : hi + 1] if word]
    if len(words) > _SNIPPET_WORDS:
        words = [*words[:3], "...", *words[-3:]]
    return " ".join(words)
