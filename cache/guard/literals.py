"""Text compared verbatim, in order: quoted text, numbers with a sign, a unit or inner
punctuation, words outside ASCII and symbols such as emoji.
"""

from __future__ import annotations

import re

from cache.normalize import quoted_spans

# Written as is in the video, or words the guard cannot read: compared verbatim, in order.
# Quoted text (its case kept, see cache/normalize.py); numbers with a sign, a currency, a
# unit symbol or inner punctuation ("-5", "$20", "98-87", "3/4", "5:30", "2.5"); any word
# with a letter outside ASCII (other scripts, whole CJK runs); symbols such as emoji.
# Possessive quantifiers (++, *+) keep every alternative linear in the text's length: with
# plain ones a 16,000-digit "number" took 21 s (and the regex engine holds the GIL).
_LITERAL = re.compile(
    # Quoted text is found by cache/normalize.py's quoted_spans, before this runs.
    # A dash right before a digit is a minus sign ("–15°C" as phones type it).
    r"[-+−±–—‒―]?[$€£¥₹]?\d++(?:[.,:/=x×-]\d++)++[%°]?"
    r"|[-+−±–—‒―][$€£¥₹]?\d++[%°]?|[$€£¥₹]\d++[%°]?|\d++[%°]"
    r"|\bletters?\s+[a-z]\b"  # "the letter A" / "the letter I"
    r"|\w++"
    r"|[^\w\s\x00-\x7f—–‒―…•·]|[<>=+#@*]"  # dashes, ellipses, bullets: punctuation
)

_ASCII_WORD = re.compile(r"\w+")
# Curly, low or angle quotes are one kind of quote, and a curly apostrophe is a straight one.
_QUOTES = str.maketrans({**{c: '"' for c in "“”„«»"}, "‘": "'", "’": "'"})


def literals(text: str) -> list[str]:
    """Text compared verbatim, in order: quoted stretches (cache/normalize.py's
    quoted_spans: 'We'll be back' on a sign is text, its contraction not grammar) and what
    _LITERAL finds between them; plain ASCII words are the word analysis's."""
    text = text.translate(_QUOTES)
    found: list[str] = []
    done = 0
    for start, end in [*quoted_spans(text), (len(text), len(text))]:
        found += [
            literal
            for literal in _LITERAL.findall(text, done, start)
            if not (literal.isascii() and _ASCII_WORD.fullmatch(literal))
        ]
        if start < end:
            # 'OPEN' and "OPEN" are one sign: a single-quoted stretch is compared as double.
            found.append(f'"{text[start + 1 : end - 1]}"')
        done = end
    return found
