"""The surface checks in the order they run: what the word analysis reads past (text, gender,
relations, forms, negation, who is named more often, attachments, filler compounds), then
the same words joined into other things.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from cache.guard.attachments import attachments
from cache.guard.canonical import ACTION_SET
from cache.guard.compounds import compound_split, compounds, hyphen_conflict, introduced
from cache.guard.depictions import depiction_conflict, depictions
from cache.guard.forms import form_conflict, forms
from cache.guard.kinds import plain
from cache.guard.lexicon import HAVING, PRONOUNS, WEARS
from cache.guard.literals import literals
from cache.guard.negation import negation_spans, negation_subjects
from cache.guard.relations import relations, switches
from cache.guard.words import describe

# What the word analysis (words.py) reads past: small words that change the picture, and
# text it cannot read at all. Each check compares the two prompts directly. A different
# video often changes only one of these; most paraphrases leave them alone, and those that
# do not ("in sunglasses" / "wearing sunglasses", "a city view" / "a view of the city")
# become a second generation, never a wrong video.


_JOINERS = frozenset(("and", "then"))

_GENDERED = {
    "he": "he",
    "him": "he",
    "his": "he",
    "himself": "he",
    "she": "she",
    "her": "she",
    "hers": "she",
    "herself": "she",
}


def surface_conflict(
    requested: str,
    cached: str,
    want_tokens: list[tuple[str, str]],
    have_tokens: list[tuple[str, str]],
    want_labels: list[str],
    have_labels: list[str],
) -> str | None:
    """The first surface difference between two prompts whose words agree, or None. The
    labels tell apart things named by the same noun (see individuals)."""
    want_literals, have_literals = literals(requested), literals(cached)
    if want_literals != have_literals:
        return f"text differs: {' '.join(want_literals) or '-'} vs {' '.join(have_literals) or '-'}"
    # In order: "he holds her hand" / "she holds his hand" use the same two.
    want_gender = [_GENDERED[w] for _, w in want_tokens if w in _GENDERED]
    have_gender = [_GENDERED[w] for _, w in have_tokens if w in _GENDERED]
    if want_gender != have_gender:
        # Also when one prompt names no one: "a person riding her bike" shows a woman,
        # "a person riding a bike" may not.
        want_text, have_text = " ".join(want_gender) or "-", " ".join(have_gender) or "-"
        return f"gender differs: {want_text} vs {have_text}"
    want_relations, have_relations = relations(want_tokens), relations(have_tokens)
    if want_relations != have_relations:
        return f"relation differs: {' '.join(sorted(want_relations.elements())) or '-'} vs " + (
            " ".join(sorted(have_relations.elements())) or "-"
        )
    want_switches, have_switches = switches(want_tokens), switches(have_tokens)
    if want_switches != have_switches:
        return f"state differs: {describe(want_switches, have_switches)}"
    conflict = form_conflict(forms(want_tokens), forms(have_tokens))
    if conflict is not None:
        return conflict
    if negation_spans(want_tokens) != negation_spans(have_tokens):
        return "negation differs: it covers other words"
    want_negated, have_negated = negation_subjects(want_tokens), negation_subjects(have_tokens)
    for word in sorted(want_negated.keys() & have_negated.keys()):
        a, b = want_negated[word] - {""}, have_negated[word] - {""}
        if a and b and a != b:
            return f"negation differs: {word} of {' '.join(sorted(a))} vs {' '.join(sorted(b))}"
    want_count = Counter(w for w, _ in want_tokens if plain(w))
    have_count = Counter(w for w, _ in have_tokens if plain(w))
    more = {w for w in want_count if want_count[w] > have_count[w] and have_count[w]}
    fewer = {w for w in want_count if want_count[w] < have_count[w]}
    if more and fewer:
        # "the tortoise and the hare race, the tortoise wins" / "..., the hare wins": a
        # word named more often on one side, another on the other, is who does what.
        return f"subject differs: {' '.join(sorted(more))} vs {' '.join(sorted(fewer))}"
    want_pronouns = sum(1 for _, written in want_tokens if written in PRONOUNS)
    have_pronouns = sum(1 for _, written in have_tokens if written in PRONOUNS)
    if (more and want_pronouns < have_pronouns) or (fewer and want_pronouns > have_pronouns):
        # A pronoun spelt out may not name the one it stood for: in "a police car chases a
        # motorbike until it crashes", "it" may be the motorbike, not "the police car".
        named = " ".join(sorted(more or fewer))
        return f"subject differs: {named} named where the other says it, they, he or she"
    want_elided, have_elided = _elided(want_tokens), _elided(have_tokens)
    if (more and want_elided < have_elided) or (fewer and want_elided > have_elided):
        # A subject left out is the one before: in "pulls a swimmer out and carries him" the
        # lifeguard carries, in "... and the swimmer carries him" the swimmer does.
        named = " ".join(sorted(more or fewer))
        return f"subject differs: {named} named where the other leaves the subject out"
    want_attached = attachments(want_tokens, want_labels)
    have_attached = attachments(have_tokens, have_labels)
    for key in sorted(want_attached.keys() & have_attached.keys()):
        if want_attached[key] != have_attached[key]:
            return (
                f"attribute differs: {want_attached[key]} {' '.join(key)} vs "
                f"{have_attached[key]} {' '.join(key)}"
            )
    if compounds(want_tokens) != compounds(have_tokens):
        return "subject differs: a compound name with video/scene/show... on one side only"
    return None


def _elided(tokens: list[tuple[str, str]]) -> int:
    """Verbs right after "and" or "then" with no subject of their own ("and carries him"):
    a finite form, not a participle continuing a list ("singing and dancing")."""
    return sum(
        1
        for (_, joiner), (word, written) in pairwise(tokens)
        if joiner in _JOINERS
        and (word in ACTION_SET or written in HAVING or written in WEARS)
        and written.endswith("s")
    )


def joining_conflict(
    requested: str,
    cached: str,
    want_tokens: list[tuple[str, str]],
    have_tokens: list[tuple[str, str]],
) -> str | None:
    """The same words joined into other things: a compound spelt out with more than a
    place ("a butterfly knife" / "a knife with a butterfly"), a hyphenated compound on one
    side only ("a man-eating shark"), one thing or two ("a black-and-white cat" / "a black
    cat and a white cat"), a picture of another thing ("a photo of a man holding a cat" /
    "a man holding a photo of a cat")."""
    split = compound_split(want_tokens, have_tokens) or compound_split(have_tokens, want_tokens)
    if split is not None:
        return split
    depicted = depiction_conflict(depictions(want_tokens), depictions(have_tokens))
    if depicted is not None:
        return depicted
    hyphens = hyphen_conflict(requested.casefold(), cached.casefold())
    if hyphens is not None:
        return hyphens
    want_introduced, have_introduced = introduced(want_tokens), introduced(have_tokens)
    for word in sorted(want_introduced.keys() & have_introduced.keys()):
        if want_introduced[word] != have_introduced[word]:
            return (
                f"count differs: {word} introduced {want_introduced[word]} vs "
                f"{have_introduced[word]} times"
            )
    return None
