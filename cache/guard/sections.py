"""The fields of a structured prompt: "Shot 1: the bride walks down the aisle, crying. Shot 2:
the groom waits at the altar" puts the tears on the bride, and "Inside: an empty room.
Outside: a furnished room" says which room is where. The word checks see the same words
when a detail moves to another field or two fields trade their contents, and a paraphrase
may well reorder whole fields, so when both prompts have the same labels each field is
compared with its namesake: the words that matter in it, as a multiset, and in fields whose
items come in order ("Steps:", "Sequence:"), item by item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from cache.guard.canonical import CANONICAL, CATEGORY_OF, FILL, NEG, STOP, stem
from cache.guard.lexicon import (
    FIELD_LABELS,
    NUMBER,
    ORDERED_FIELDS,
    RUNNING_FIELDS,
    SEQUENCE_MARKER,
)
from cache.guard.words import describe

_ORDERED = frozenset(CANONICAL.get(stem(w), stem(w)) for w in ORDERED_FIELDS)
_MAX_LABEL_WORDS = 3  # "Opening shot:", "Left side:", "Aspect ratio:"; more is a sentence
_ITEM_BREAKS = frozenset((",", ";"))
_NUMBERED = frozenset((")", "."))  # "1) ...", "2. ..."
_DASHES = frozenset(("—", "–", "-", ".", ")"))  # after "Scene 1"
_SENTENCE_ENDS = frozenset((".", ";", "!", "?"))
_RUNS = frozenset(CANONICAL.get(stem(w), stem(w)) for w in RUNNING_FIELDS)
_NEGATION = "no"  # "Audio: no music" says "Audio: without music"

Label = tuple[str, ...]
Key = tuple[Label, int]  # a label and which of the fields so labelled
Items = tuple[Counter[str], ...]  # the words that matter in each of a field's items


def _label_span(tokens: list[tuple[str, str]], colon: int) -> tuple[int, int] | None:
    """Where the words of the label before the colon at `colon` start and end, or None when
    the colon ends no label."""
    end = colon
    if end and tokens[end - 1][1] == ")":  # "Shot 1 (4s):" -- the parenthesis is content
        while end and tokens[end - 1][1] != "(":
            end -= 1
        end -= 1
    # Field words just before the colon are the label, whatever precedes them: "Camera:",
    # "..., laughing SHOT 2:" (a line break or a "|" before "SHOT" is gone from the words).
    start = end
    while (
        start
        and end - start < _MAX_LABEL_WORDS
        and (tokens[start - 1][1] in FIELD_LABELS or NUMBER.fullmatch(tokens[start - 1][0]))
    ):
        start -= 1
    if any(written in FIELD_LABELS for _, written in tokens[start:end]):
        return start, end
    # Else a few words after a phrase break: "Golden retriever:", "Day 3:".
    start = end
    while start and tokens[start - 1][0] and end - start <= _MAX_LABEL_WORDS:
        start -= 1
    if 0 < end - start <= _MAX_LABEL_WORDS:
        return start, end
    return None


def _boundaries(tokens: list[tuple[str, str]]) -> list[tuple[int, int, Label]]:
    """(start of the label, start of its content, the label's words) for each field."""
    found: list[tuple[int, int, Label]] = []
    expected = "1"  # the next number of a numbered list, wherever it falls
    for i, (word, written) in enumerate(tokens):
        if found and i < found[-1][1]:
            continue  # inside a label found already
        if written == ":" and not word:
            field = _colon_label(tokens, i)
        elif NUMBER.fullmatch(word):
            field = _timestamp(tokens, i) or _numbered(tokens, i, expected)
        elif written in FIELD_LABELS:
            field = _dashed(tokens, i)
        else:
            continue
        if field is not None and not (found and field[0] < found[-1][1]):
            found.append(field)
            if len(field[2]) == 1 and field[2][0].isdigit():
                expected = str(int(field[2][0]) + 1)
    return found


def _opens(tokens: list[tuple[str, str]], i: int) -> bool:
    return i == 0 or not tokens[i - 1][0]  # at the start or after punctuation


def _colon_label(tokens: list[tuple[str, str]], i: int) -> tuple[int, int, Label] | None:
    """ "Camera:", "Shot 2 (4s):", "In:"; not "5:30" or "16:9"."""
    if not 0 < i < len(tokens) - 1:
        return None
    before, after = tokens[i - 1][0], tokens[i + 1][0]
    # "5:30", "16:9" unless a field word names it: "Shot 1: 3 dogs"
    if (
        NUMBER.fullmatch(before)
        and NUMBER.fullmatch(after)
        and (i < 2 or tokens[i - 2][1] not in FIELD_LABELS)
    ):
        return None
    span = _label_span(tokens, i)
    if span is None:
        return None
    start, end = span
    # "In:" / "Out:", "First:" / "Then:", "A:" / "B:" are labels of small words.
    label = tuple(w for w, _ in tokens[start:end] if w and w not in STOP) or tuple(
        written for _, written in tokens[start:end]
    )
    # What a parenthesis before the colon says belongs to the field: "Shot 1 (4s):"
    return (start, end, label) if label else None


def _timestamp(tokens: list[tuple[str, str]], i: int) -> tuple[int, int, Label] | None:
    """ "0:00-0:04 a house on a hill." or "[0:04] the kitchen" opening a field."""
    end = i
    while (
        end + 2 < len(tokens)
        and NUMBER.fullmatch(tokens[end][0])
        and tokens[end + 1][1] == ":"
        and NUMBER.fullmatch(tokens[end + 2][0])
    ):
        end += 3
    if end == i or not _opens(tokens, i):
        return None
    label = tuple(f"{tokens[n][0]}:{tokens[n + 2][0]}" for n in range(i, end, 3))
    return i, end, label


def _numbered(
    tokens: list[tuple[str, str]], i: int, expected: str
) -> tuple[int, int, Label] | None:
    """ "1) ...; 2) ..." or "1. ... 2. ...", where a number that continues the list needs no
    punctuation before it (a line break before it is gone from the words)."""
    if (
        i + 2 < len(tokens)
        and tokens[i + 1][1] in _NUMBERED
        and tokens[i + 2][0]
        and not NUMBER.fullmatch(tokens[i + 2][0])
        and (_opens(tokens, i) or tokens[i][0] == expected)
    ):
        return i, i + 2, (tokens[i][0],)
    return None


def _dashed(tokens: list[tuple[str, str]], i: int) -> tuple[int, int, Label] | None:
    """ "Scene 1 — a house on a hill", "Shot 2. The kitchen", "Step 3) whisk"."""
    if (
        i + 2 < len(tokens)
        and NUMBER.fullmatch(tokens[i + 1][0])
        and tokens[i + 2][1] in _DASHES
        and _opens(tokens, i)
    ):
        return i, i + 3, (tokens[i][0], tokens[i + 1][0])
    return None


def numbered(tokens: list[tuple[str, str]]) -> bool:
    """Whether the prompt has fields that give their own order: "Shot 1: ... Shot 2: ..."."""
    return any(_runs(label) for _, _, label in _boundaries(tokens))


def _runs(label: Label) -> bool:
    return any(word in _RUNS or NUMBER.fullmatch(word) for word in label)


def _fields(tokens: list[tuple[str, str]]) -> tuple[dict[Key, Items], Counter[str]]:
    """Each field's items (one, unless its label says they come in order) and the free text:
    the words before the first label and after a field's sentence ends. A field of a shot,
    a scene, a step or any numbered label runs to the next label ("Shot 1: A bride walks in.
    She cries."); any other field to the end of its sentence ("Music: guitar. A bride walks
    in.")."""
    found = _boundaries(tokens)
    fields: dict[Key, Items] = {}
    free: Counter[str] = Counter()
    seen: Counter[Label] = Counter()
    for n, (_, start, label) in enumerate(found):
        end = found[n + 1][0] if n + 1 < len(found) else len(tokens)
        whole = _runs(label)
        ordered = any(word in _ORDERED for word in label)
        items: list[Counter[str]] = [Counter()]
        for position in range(start, end):
            word, written = tokens[position]
            if not whole and written in _SENTENCE_ENDS:
                break
            if ordered and (written in _ITEM_BREAKS or word == SEQUENCE_MARKER):
                items.append(Counter())
            # A style named in a shot is that shot's look; in another field ("Subject: a
            # dancer, cinematic") it covers the whole video, wherever it is named.
            elif _matters(word) and (whole or CATEGORY_OF.get(word) != "style"):
                items[-1][_NEGATION if word in NEG else word] += 1
        else:
            position = end
        fields[label, seen[label]] = tuple(item for item in items if item)
        seen[label] += 1
        free.update(_words(tokens, position, end))
    free.update(_words(tokens, 0, found[0][0] if found else len(tokens)))
    return fields, free


def _matters(word: str) -> bool:
    return bool(word) and word not in STOP and word not in FILL


def _words(tokens: list[tuple[str, str]], start: int, end: int) -> Iterator[str]:
    for word, _ in tokens[start:end]:
        if _matters(word):
            yield _NEGATION if word in NEG else word


def section_conflict(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> str | None:
    """A field whose words differ from its namesake's in the other prompt, when both prompts
    have the same labels (in any order: a paraphrase may move whole fields): a detail moved
    to another field or added to one, or a field's items in another order. Words may move
    between the free text and one field, as a sentence moving past a field's end does."""
    want, want_free = _fields(want_tokens)
    have, have_free = _fields(have_tokens)
    if not want or want.keys() != have.keys():
        return None  # other labels: which field holds what cannot be matched up
    totals = {key: (sum(want[key], Counter()), sum(have[key], Counter())) for key in want}
    for key, (a, b) in totals.items():
        if a == b and want[key] != have[key]:
            return f"section differs: {_name(key)}: the same items in another order"
    for key, (a, b) in totals.items():
        for word in (a - b) + (b - a):
            moved = {k: x[word] - y[word] for k, (x, y) in totals.items() if x[word] != y[word]}
            if len(moved) == 1 and want_free[word] - have_free[word] == -moved[key]:
                continue
            return f"section differs: {_name(key)}: {describe(a, b)}"
    return None


def _name(key: Key) -> str:
    label, occurrence = key
    return " ".join(label) + (f" ({occurrence + 1})" if occurrence else "")
