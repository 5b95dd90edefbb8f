"""Prompt normalisation for the exact cache key.

Two prompts that differ only in case, Unicode presentation form, spacing or a trailing full
stop ask for the same video, so they must share one exact key. Anything beyond that (word
order, synonyms) is the semantic lookup's job, never the exact key's.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# A quoted stretch (straight or curly double quotes, or single quotes), captured so split()
# keeps it. A single quote opens only at the start of a word and closes only at the end of
# one, and one between two letters inside is an apostrophe: "a sign reading 'We'll be back'"
# quotes three words, while "the dogs' bowl" and "it's" quote nothing.
SINGLE_QUOTED = r"(?<![\w'‘’])['‘](?=\w)(?:[^'‘’\n]|(?<=\w)['’](?=\w))*+['’](?!\w)"
_QUOTED = re.compile(r'("[^"]*"|“[^”]*”|„[^“”]*[“”]|«[^»]*»|' + SINGLE_QUOTED + ")")
SINGLE_QUOTED_TEXT = re.compile(SINGLE_QUOTED)
# Sentence-final punctuation only: "a cat." and "a cat" are the same request, but punctuation
# inside the prompt ("3:2", "close-up") can carry meaning and is kept.
_TRAILING_PUNCTUATION = ".!?…;,:。！？"


def normalize_prompt(text: str) -> str:
    """Return the canonical form of a prompt: NFKC, casefolded, single spaces, stripped.

    Trailing sentence punctuation (and whitespace around it) is removed repeatedly, so
    "A cat!!  " and "a cat" normalise alike. Text in double quotes keeps its case: it is
    what a sign or a caption in the video says ("STOP" and "stop" are different signs; 'STOP'
    in single quotes too).
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        part if _QUOTED.fullmatch(part) else part.casefold() for part in _QUOTED.split(text)
    )
    text = _WHITESPACE.sub(" ", text).strip()
    return text.rstrip(_TRAILING_PUNCTUATION + " ")
