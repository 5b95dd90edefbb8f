"""The near-miss guard: reject semantic matches whose prompts ask for a different video.

Sentence embeddings put "a red car at night" and "a blue car at night" very close
together, yet the videos differ. The guard compares the two prompts word by word after
light normalisation and rejects the match when any of these differ:

- negation (no / not / without / never ... and what they negate)
- counts (digits and number words, "two" == "2"; quantity words like "several")
- colours, time of day, weather and season, camera work, visual style, directions
- any remaining content word (subjects, objects, actions, settings, details)

Counts and the word lists are compared as multisets: a long prompt often names one colour
or number for two things, and changing one of them keeps the set of values.

Then, with the same words on both sides, it compares their order, because "a cat chasing
a dog" / "a dog chasing a cat" and "a red ball and a blue cube" / "a blue ball and a red
cube" use the same words (cosine 0.97-0.99) for different videos. A paraphrase reorders
by moving whole phrases ("At sunset, a dog runs along the beach"); a swap exchanges two
words of the same kind (two nouns or adjectives, two colours, two directions, two
numbers...). Two such words are rejected when

- they appear in opposite orders and a word stays between them in both prompts: they
  traded sides of it (the action in "cat chasing dog", the noun in "small house on a
  large hill"; pronouns count as words: "cars pull over to let it pass" / "it pulls over
  to let cars pass"). Exception: two whole prepositional phrases trading places around the verb
  ("under a starry sky, a wolf howls on a hilltop" / "on a hilltop, a wolf howls under a
  starry sky"), which is adverbials moving;
- or each took the other's preposition: "from left to right" / "from right to left",
  "from a harbor to the sea" / "from the sea to a harbor", "a cup on a book" / "a book
  on a cup". A moved phrase keeps its preposition;
- or they crossed a sequence marker ("then", "after that", "afterwards", "next",
  "finally", "followed by"), whatever their kinds: the markers split a prompt into events
  in time, and "a man opens the door, then a dog runs out" / "a dog runs out, then a man
  opens the door" shows them in the other order. Phrases move within an event, never
  across a marker (a visual style, which covers the whole video, may).

A word used twice is compared occurrence by occurrence ("the cat sleeps, the dog barks" /
"the dog sleeps, the cat barks" repeat "cat" and "dog" from "a cat and a dog"): each
occurrence is paired with the other prompt's occurrence that has the same neighbours, else
in order, so a phrase moving past another occurrence of its word is still a move ("in a red
room, a man paints a red wall" / "a man paints a red wall in a red room").

Last, the surface checks compare what the word analysis reads past (a red-team probe
found 358 different-video pairs among 767 that way; the labelled set had none of them):

- text written in the video or unreadable to the word lists, verbatim and in order:
  quoted text (its case kept by cache/normalize.py), numbers with a sign, currency, unit
  or inner punctuation ("-5°C", "$50", "98-87", "5:30"), words in other scripts, emoji;
- on or off, as a particle ("streetlights blink on") or anywhere ("off"), counted;
- the small words of place and direction ("in" / "on", "to" / "from", "by"), gendered
  pronouns in order, also when only one prompt has any ("his" / "her", "he holds her hand"
  / "she holds his hand", "riding her bike" / "riding a bike");
- how a word is used: singular or plural ("a dog" / "dogs", "glass" / "glasses"), done
  or ongoing ("burned" / "burning", "chased by" / "chasing"), an action or a thing ("a
  man drinking" / "a drink", "painting a wall" / "a painting of");
- what a negation covers ("not holding a cup, holding a book") and, for a repeated word,
  which occurrence ("a tree with no leaves beside a tree with leaves");
- filler used as content ("a video game", "a crime scene", "a sculptor creating"), and
  two nouns naming one thing swapped or re-attached ("race car" / "car race", "a tall
  tree beside a tiny house" / "a tall house beside a tiny tree", "a smiling woman holding
  a baby" / "a woman holding a smiling baby", also past a colour, a style, weather or a
  time of day: "a red apple on a shiny table" / "a shiny red apple on a table");
- whom a "with" / "carrying" / "holding" / "wearing" phrase describes ("a woman with an
  umbrella talks to a man" / "a woman talks to a man with an umbrella"): the nearest noun
  before it that is not a place, where a person or an animal after a place word or "to"
  is no place ("a girl walks by a boy with a scarf"); and which thing a participle
  describes ("a cat sleeping beside a dog" / "a cat beside a sleeping dog", "a man talking
  to a woman dressed in black"), where that can be told; who wears the clothes an "in"
  names ("a man in a red coat beside a woman" / "a man beside a woman in a red coat"),
  and which noun a list of colours describes ("a red car beside a blue truck" / "a car
  beside a red and blue truck");
- who is named more often ("..., the tortoise wins" / "..., the hare wins"), or named
  where the other prompt has a pronoun ("until it crashes" / "until the police car
  crashes"), whose ("the dog's owner" / "the owner's dog"), and what has not happened yet
  ("about to jump" / "jumping");
- which clause "when" opens ("a dog barks when the doorbell rings" / "the doorbell rings
  when the dog barks");
- the same words joined into other things: a compound spelt out with more than a place
  ("a butterfly knife" / "a knife with a butterfly", "a sheep dog" / "a dog herding
  sheep"; "a beach house" / "a house at the beach" passes, while "in" or "on" are a
  relation on one side only: "a mountain lake" / "a lake in the mountains"), or with a
  place when it names a person or an animal ("a sea lion" / "a lion at sea", "a snow man"
  / "a man in the snow"), a hyphenated noun-participle compound on one side only ("a
  man-eating shark" / "a man eating shark"), one thing or two ("a black-and-white cat" /
  "a black cat and a white cat"), and what a picture or likeness shows ("a photo of a man
  holding a cat" / "a man holding a photo of a cat").

Then, for what only the prompt's structure says: a structured prompt's fields, each against
its namesake when both prompts have the same labels ("Shot 1: ..., crying. Shot 2: ..." /
"... Shot 2: ..., crying"; see sections.py); on / off / in / out and what "is" says, bound
to their thing ("the lamp is on and the TV is off"); and clauses that each tell of a moment,
in order ("a car crashes into a pole and the airbags deploy"; see events.py).

What still passes is what a paraphrase changes: phrase order, inflection (walks /
walking), synonyms and British spellings from a small table (car / automobile, big /
large, colour / color, tyre / tire), contractions ("they're", "can't"), filler ("a
cinematic video of", "beautiful", "4k"), greetings and thanks around a request ("Hi!",
"Prompt:", "... Thanks!") and punctuation, dashes included. It errs towards rejecting: a
wrong video costs far more than a second generation (a passive "a dog chased by a cat"
is rejected as a role swap, as are two phrases swapped around the verb without commas).
Prompts in other languages can hit only with the same text outside ASCII, in the same
order: the word lists are English.

Pure Python, no I/O, about 0.35 ms per call.
"""

from __future__ import annotations

from dataclasses import dataclass

from cache.guard.attachments import host_conflict, participle_hosts
from cache.guard.bindings import (
    binding_conflict,
    count_conflict,
    said_of_conflict,
)
from cache.guard.canonical import ACTION_SET, CATEGORY_SETS
from cache.guard.conditions import condition_conflict
from cache.guard.events import event_conflict
from cache.guard.individuals import shared_labels
from cache.guard.order import order_conflict, pair_occurrences, sequence, snippet
from cache.guard.sections import section_conflict
from cache.guard.surface import joining_conflict, surface_conflict
from cache.guard.words import analyse, describe, normalized_tokens
from cache.normalize import normalize_prompt

__all__ = ["MAX_GUARD_CHARS", "MAX_ORDER_WORDS", "GuardVerdict", "check_near_miss"]


@dataclass
class GuardVerdict:
    ok: bool
    reason: str | None = None


# Words that matter (see order.sequence; a repeated word counts each time) beyond which word
# order is not compared. Video prompts rarely come near it; the embedding itself reads only
# the first 256 tokens.
MAX_ORDER_WORDS = 128
MAX_GUARD_CHARS = 2000
_RESPECTIVELY = ("respectively", "respectively")


def _check_order(
    want_tokens: list[tuple[str, str]],
    have_tokens: list[tuple[str, str]],
    want_labels: list[str],
    have_labels: list[str],
) -> GuardVerdict:
    want, have = sequence(want_tokens, want_labels), sequence(have_tokens, have_labels)
    if max(len(want), len(have)) > MAX_ORDER_WORDS:
        # The comparison grows with the cube of the words in the worst case (about 20 ms at
        # 150): past the cap a prompt is not compared, so it cannot be a semantic hit.
        return GuardVerdict(False, f"order not compared: over {MAX_ORDER_WORDS} words")
    # "a knight and a dragon, raising a shield and roaring respectively": the two lists pair
    # up by position, so any other order is another video.
    if (_RESPECTIVELY in want_tokens or _RESPECTIVELY in have_tokens) and [
        slot.word for slot in want
    ] != [slot.word for slot in have]:
        return GuardVerdict(False, "order differs: a list read with 'respectively'")
    partner = pair_occurrences(want, have)
    conflict = order_conflict(want, have, partner)
    if conflict is None:
        return GuardVerdict(ok=True)
    x, y = want[conflict[0]], want[conflict[1]]
    hx, hy = have[partner[conflict[0]]], have[partner[conflict[1]]]
    detail = f"{snippet(want_tokens, x, y)} vs {snippet(have_tokens, hx, hy)}"
    kind = "direction" if x.kind == "direction" else "order"
    return GuardVerdict(False, f"{kind} differs: {detail}")


def check_near_miss(requested: str, cached: str) -> GuardVerdict:
    """Whether a cached video made for `cached` may answer a request for `requested`.

    Returns ok=False with a reason naming the first difference found, in the order
    negation, count, colour, time of day, weather/season, camera, style, direction,
    action, subject, and then word order ("order differs" / "direction differs").
    """
    requested, cached = normalize_prompt(requested), normalize_prompt(cached)
    if requested == cached:
        return GuardVerdict(ok=True)
    if max(len(requested), len(cached)) > MAX_GUARD_CHARS:
        # Every check is linear or bounded, but a prompt of tens of thousands of characters
        # is not a video prompt anyone paraphrases: it is not compared, so it cannot be a
        # semantic hit (exact hits still work).
        return GuardVerdict(False, f"not compared: over {MAX_GUARD_CHARS} characters")
    # Quoted text keeps its case in the normal form; the word analysis ignores case.
    want_tokens = normalized_tokens(requested.casefold())
    have_tokens = normalized_tokens(cached.casefold())
    want, have = analyse(want_tokens), analyse(have_tokens)
    if want.negations != have.negations or want.negated != have.negated:
        return GuardVerdict(False, f"negation differs: {describe(want.negated, have.negated)}")
    if want.counts != have.counts:
        return GuardVerdict(False, f"count differs: {describe(want.counts, have.counts)}")
    for name in CATEGORY_SETS:
        if want.categories[name] != have.categories[name]:
            detail = describe(want.categories[name], have.categories[name])
            return GuardVerdict(False, f"{name} differs: {detail}")
    if want.content != have.content:
        only_want, only_have = want.content - have.content, have.content - want.content
        kind = "action" if (only_want | only_have) & ACTION_SET else "subject"
        return GuardVerdict(False, f"{kind} differs: {describe(only_want, only_have)}")
    want_labels, have_labels = shared_labels(want_tokens, have_tokens)
    surface = surface_conflict(
        requested, cached, want_tokens, have_tokens, want_labels, have_labels
    )
    if surface is not None:
        return GuardVerdict(False, surface)
    # Same words on both sides: only their arrangement can still differ.
    order = _check_order(want_tokens, have_tokens, want_labels, have_labels)
    if not order.ok:
        return order
    binding = (
        binding_conflict(want_tokens, have_tokens)
        or count_conflict(want_tokens, have_tokens)
        or joining_conflict(requested, cached, want_tokens, have_tokens)
        or host_conflict(
            participle_hosts(want_tokens, want_labels), participle_hosts(have_tokens, have_labels)
        )
        or condition_conflict(want_tokens, have_tokens)
        or said_of_conflict(want_tokens, have_tokens, want_labels, have_labels)
        or event_conflict(want_tokens, have_tokens)
        or section_conflict(want_tokens, have_tokens)
    )
    return order if binding is None else GuardVerdict(False, binding)
