"""Prompt normalisation for the exact cache key.

Two prompts that differ only in case, Unicode presentation form, spacing or a trailing full
stop ask for the same video, so they must share one exact key. Anything beyond that (word
order, synonyms) is the semantic lookup's job, never the exact key's.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# Double-quoted stretches, straight or curly. No class admits its own opening quote, so an
# unclosed one fails at the next and each match attempt is linear.
_DOUBLE_QUOTED = re.compile(r'"[^"]*+"|“[^”“]*+”|„[^“”„]*+[“”]|«[^»«]*+»')
# Single quotes: one opens only at the start of a word (not after a letter: "the dogs' bowl",
# "it's") and closes only at the end of one. Which closing quote ends the stretch cannot be
# told from apostrophes inside it ('CLASS OF '99', 'ROCK 'N' ROLL'), so the stretch runs to
# the last closing quote: a wider stretch only keeps more case, never merges two signs.
_SINGLE_OPEN = re.compile(r"(?<![\w'‘’])['‘](?=[^\s'‘’])")
_SINGLE_CLOSE = re.compile(r"(?<=\S)['’](?!\w)")
# Sentence-final punctuation only: "a cat." and "a cat" are the same request, but punctuation
# inside the prompt ("3:2", "close-up") can carry meaning and is kept.
_TRAILING_PUNCTUATION = ".!?…;,:。！？"


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quoted stretch of `text`, in order, quotes included: every
    double-quoted one, and one single-quoted stretch from the first opening single quote
    outside them to the last closing one (with any double-quoted stretches inside it)."""
    spans = [m.span() for m in _DOUBLE_QUOTED.finditer(text)]
    starts = [a for a, _ in spans]

    def outside(position: int) -> bool:
        i = bisect.bisect_right(starts, position) - 1
        return i < 0 or position >= spans[i][1]

    opening = next((m.start() for m in _SINGLE_OPEN.finditer(text) if outside(m.start())), None)
    if opening is None:
        return spans
    closing = max(
        (m.end() for m in _SINGLE_CLOSE.finditer(text, opening + 1) if outside(m.start())),
        default=None,
    )
    if closing is None:
        return spans
    inside = [span for span in spans if opening <= span[0] < closing]
    return sorted([span for span in spans if span not in inside] + [(opening, closing)])


def has_single_quotes(text: str) -> bool:
    """Whether `text` has a single-quoted stretch (see quoted_spans)."""
    return any(text[a] in "'‘" for a, _ in quoted_spans(text))


# Compatibility forms whose folding changes what a prompt says: NFKC reads "10²" as "102",
# "H₂O" as "H2O", "①" as "1" and "1½" as "11⁄2". These are kept as written.
_MEANINGFUL_FORMS = ("<super>", "<sub>", "<circle>", "<fraction>")


def compatibility_fold(text: str) -> str:
    """NFKC (fullwidth letters, ligatures, odd spaces to their plain forms), except for the
    forms that carry meaning (superscripts, subscripts, circled and fraction forms)."""
    if text.isascii():
        return text
    out: list[str] = []
    run: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if unicodedata.decomposition(char).startswith(_MEANINGFUL_FORMS):
            out += [unicodedata.normalize("NFKC", "".join(run)), char]
            run.clear()
        else:
            run.append(char)
    out.append(unicodedata.normalize("NFKC", "".join(run)))
    return "".join(out)


def normalize_prompt(text: str) -> str:
    """Return the canonical form of a prompt: compatibility forms folded (see
    compatibility_fold), casefolded, single spaces, stripped.

    Trailing sentence punctuation (and whitespace around it) is removed repeatedly, so
    "A cat!!  " and "a cat" normalise alike. Quoted text keeps its case: it is what a sign
    or a caption in the video says ("STOP" and "stop" are different signs, and so are
    'STOP' and 'stop').
    """
    text = _WHITESPACE.sub(" ", compatibility_fold(text))
    parts, done = [], 0
    for start, end in quoted_spans(text):
        parts += [text[done:start].casefold(), text[start:end]]
        done = end
    parts.append(text[done:].casefold())
    return "".join(parts).strip().rstrip(_TRAILING_PUNCTUATION + " ")
