"""The near-miss guard: reject semantic matches whose prompts ask for a different video.

Sentence embeddings put "a red car at night" and "a blue car at night" very close
together, yet the videos differ. The guard compares the two prompts word by word after
light normalisation and rejects the match when any of these differ:

- negation (no / not / without / never ... and what they negate)
- counts (digits and number words, "two" == "2"; quantity words like "several")
- colours, time of day, weather and season, camera work, visual style, directions
- any remaining content word (subjects, objects, actions, settings, details)

What still passes is what a paraphrase changes: word order, inflection (walks / walking),
synonyms from a small table (car / automobile, big / large), filler ("a cinematic video
of", "beautiful", "4k") and punctuation. It errs towards rejecting: a wrong video costs
far more than a second generation.

Known gap: role swaps ("a dog chasing a cat" / "a cat chasing a dog") use the same words
and pass; the cosine threshold is the only protection there.

Pure Python, no I/O, a few tens of microseconds per call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cache.normalize import normalize_prompt


@dataclass
class GuardVerdict:
    ok: bool
    reason: str | None = None


# -- vocabulary ----------------------------------------------------------------------------

# Multi-word terms joined before splitting on punctuation, so "close-up", "close up" and
# "closeup" are one camera term and "black and white" is a style, not two colours.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bblack[\s-]*(?:and|&)[\s-]*white\b", " monochrome "),
    (r"\bb\s*&\s*w\b", " monochrome "),
    (r"\bclose[\s-]*ups?\b", " closeup "),
    (r"\bextreme[\s-]+closeup\b", " closeup "),
    (r"\bwide[\s-]*angle\b", " wide "),
    (r"\bslow[\s-]*(?:motion|mo)\b", " slowmotion "),
    (r"\btime[\s-]*lapse\b", " timelapse "),
    (r"\bstop[\s-]*motion\b", " stopmotion "),
    (r"\bpixel[\s-]*art\b", " pixelart "),
    (r"\boil[\s-]*painting\b", " oilpainting "),
    (r"\bfilm[\s-]*noir\b", " noir "),
    (r"\blow[\s-]*poly\b", " lowpoly "),
    (r"\bhand[\s-]*drawn\b", " handdrawn "),
    (r"\bhand[\s-]*held\b", " handheld "),
    (r"\bphoto[\s-]*realistic\b", " photorealistic "),
    (r"\bhyper[\s-]*realistic\b", " photorealistic "),
    (r"\bgolden[\s-]*hour\b", " goldenhour "),
    (r"\bblue[\s-]*hour\b", " bluehour "),
    (r"\bbird'?s?[\s-]*eye(?:[\s-]*view)?\b", " aerial "),
    (r"\bfirst[\s-]*person(?:[\s-]*view)?\b", " pov "),
    (r"\bpoint[\s-]*of[\s-]*view\b", " pov "),
    (r"\bin[\s-]+front[\s-]+of\b", " infront "),
    (r"\bnext[\s-]+to\b", " beside "),
    (r"\bon[\s-]+top[\s-]+of\b", " atop "),
    (r"\bcounter[\s-]*clockwise\b", " counterclockwise "),
    (r"\banti[\s-]*clockwise\b", " counterclockwise "),
    (r"\bhigh[\s-]*(?:quality|resolution|definition)\b", " "),
    (r"\b(?:4|8)k\b", " "),
    (r"n't\b", " not"),
    (r"\bcannot\b", "can not"),
)
_PHRASE_PATTERNS = tuple((re.compile(p), r) for p, r in _PHRASES)
_TOKEN = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_IRREGULAR = {
    "ran": "run",
    "flew": "fly",
    "flown": "fly",
    "swam": "swim",
    "sat": "sit",
    "ate": "eat",
    "eaten": "eat",
    "rode": "ride",
    "ridden": "ride",
    "drove": "drive",
    "driven": "drive",
    "fell": "fall",
    "fallen": "fall",
    "sang": "sing",
    "sung": "sing",
    "danced": "dance",
    "threw": "throw",
    "thrown": "throw",
    "caught": "catch",
    "held": "hold",
    "stood": "stand",
    "spun": "spin",
    "wore": "wear",
    "worn": "wear",
    "grew": "grow",
    "grown": "grow",
    "blew": "blow",
    "broke": "break",
    "broken": "break",
    "drew": "draw",
    "drawn": "draw",
    "took": "take",
    "went": "go",
    "gone": "go",
    "came": "come",
    "made": "make",
    "men": "man",
    "women": "woman",
    "children": "child",
    "people": "person",
    "mice": "mouse",
    "geese": "goose",
    "feet": "foot",
    "teeth": "tooth",
    "leaves": "leaf",
    "wolves": "wolf",
    "knives": "knife",
    "shelves": "shelf",
    "lives": "life",
    "fish": "fish",
    "sheep": "sheep",
    "deer": "deer",
    "glass": "glass",
    "grass": "grass",
    "dress": "dress",
    "bus": "bus",
    "canvas": "canvas",
    "octopus": "octopus",
    "cactus": "cactus",
    "this": "this",
    "always": "always",
    "news": "news",
    "lens": "lens",
    "chess": "chess",
    "moss": "moss",
    # Would otherwise stem into another category's word ("winding river" is not "wind").
    "winding": "winding",
    "spring": "spring",
    "evening": "evening",
    "morning": "morning",
}


def _stem(word: str) -> str:
    """A deliberately crude stemmer: the same rule on both prompts is what matters.

    walks / walking / walked -> walk; dances / dancing / danced -> danc; puppies -> puppy.
    """
    if word in _IRREGULAR:
        word = _IRREGULAR[word]
    if len(word) <= 3 or _NUMBER.fullmatch(word):
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ed") and len(word) > 4:
        word = _undouble(word[:-2])
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(word: str) -> str:
    # running -> runn -> run, but falling -> fall and kissing -> kiss keep their pair.
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word


# Canonical word <- its synonyms. Kept small and conservative: only words a paraphrase
# swaps freely without changing what the video shows.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "car": ("automobile", "auto"),
    "big": ("large",),
    "huge": ("giant", "enormous", "massive", "gigantic"),
    "small": ("little",),
    "fast": ("quick", "quickly", "rapid", "rapidly", "speedy", "swift", "swiftly", "fast"),
    "slow": ("slowly",),
    "sofa": ("couch",),
    "child": ("kid",),
    "woman": ("lady",),
    "man": ("guy", "gentleman"),
    "ocean": ("sea",),
    "forest": ("woods",),
    "photo": ("photograph", "picture"),
    "walk": ("stroll", "amble"),
    "jump": ("leap",),
    "path": ("pathway", "trail"),
    "house": ("home",),
    "happy": ("joyful", "cheerful"),
    "sad": ("unhappy", "sorrowful"),
    "gray": ("grey",),
    "red": ("crimson", "scarlet"),
    "watercolor": ("watercolour",),
    "color": ("colour", "colorful", "colourful"),
    "dawn": ("sunrise", "daybreak"),
    "sunset": ("sundown",),
    "dusk": ("twilight",),
    "night": ("nighttime", "nightime"),
    "noon": ("midday",),
    "aerial": ("drone", "overhead"),
    "rain": ("rainy", "raining", "rainfall"),
    "snow": ("snowy", "snowing", "snowfall"),
    "fog": ("foggy",),
    "mist": ("misty",),
    "storm": ("stormy",),
    "cloud": ("cloudy",),
    "photorealistic": ("realistic", "lifelike", "photoreal"),
    "cartoon": ("cartoonish",),
    "timelapse": ("timelaps",),
    "town": ("village",),
    "puppy": ("pup",),
    "kitten": ("kitty",),
    "glow": ("shine", "gleam"),
    "look": ("gaze",),
    "talk": ("speak", "chat"),
    "street": ("road",),
    "quiet": ("calm", "tranquil", "peaceful", "serene"),
    "autumn": ("fall",),  # "fall" is also a verb: only reached when it is not an action
}

_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "single": "1",
    "lone": "1",
    "two": "2",
    "pair": "2",
    "couple": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "dozen": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "twin": "2",
    "double": "2",
    "triple": "3",
    "solo": "1",
}
_QUANTITY = ("several", "many", "few", "multiple", "numerous", "some", "countless", "both")

_NEGATORS = ("no", "not", "without", "never", "none", "nobody", "nothing", "neither", "nor")

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "colour": (
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "violet",
        "pink",
        "brown",
        "black",
        "white",
        "gray",
        "silver",
        "gold",
        "golden",
        "beige",
        "teal",
        "turquoise",
        "cyan",
        "magenta",
        "navy",
        "maroon",
        "emerald",
        "amber",
        "ivory",
        "lavender",
        "indigo",
        "bronze",
        "copper",
        "blond",
        "blonde",
    ),
    "time of day": (
        "dawn",
        "morning",
        "noon",
        "afternoon",
        "sunset",
        "dusk",
        "evening",
        "night",
        "midnight",
        "goldenhour",
        "bluehour",
        "daytime",
        "day",
        "daylight",
        "moonlight",
        "moonlit",
    ),
    "weather/season": (
        "rain",
        "snow",
        "fog",
        "mist",
        "storm",
        "thunderstorm",
        "thunder",
        "lightning",
        "sunny",
        "cloud",
        "overcast",
        "windy",
        "wind",
        "hail",
        "drizzle",
        "blizzard",
        "spring",
        "summer",
        "autumn",
        "winter",
        "clear",
        "humid",
        "frosty",
        "icy",
    ),
    "camera": (
        "pan",
        "zoom",
        "dolly",
        "tilt",
        "tracking",
        "track",
        "static",
        "aerial",
        "closeup",
        "wide",
        "handheld",
        "orbit",
        "orbiting",
        "crane",
        "pov",
        "slowmotion",
        "timelapse",
        "macro",
        "telephoto",
        "fisheye",
        "panoramic",
        "steadicam",
        "gimbal",
        "overhead",
    ),
    "style": (
        "anime",
        "watercolor",
        "claymation",
        "noir",
        "photorealistic",
        "pixelart",
        "cartoon",
        "3d",
        "cgi",
        "oilpainting",
        "sketch",
        "pencil",
        "comic",
        "vintage",
        "retro",
        "cyberpunk",
        "steampunk",
        "surreal",
        "impressionist",
        "lowpoly",
        "stopmotion",
        "monochrome",
        "sepia",
        "documentary",
        "vhs",
        "8mm",
        "16mm",
        "35mm",
        "minimalist",
        "handdrawn",
        "isometric",
        "gothic",
        "vaporwave",
        "pastel",
        "neon",
        "origami",
        "charcoal",
        "ink",
        "painterly",
        "glitch",
        "ghibli",
        "pixar",
        "disney",
        "lego",
        "renaissance",
        "baroque",
        "abstract",
        "animated",
        "painting",
        "illustration",
    ),
    "direction": (
        "left",
        "right",
        "up",
        "down",
        "forward",
        "backward",
        "backwards",
        "upward",
        "downward",
        "north",
        "south",
        "east",
        "west",
        "clockwise",
        "counterclockwise",
        "toward",
        "towards",
        "away",
        "under",
        "over",
        "above",
        "below",
        "behind",
        "beside",
        "inside",
        "outside",
        "into",
        "through",
        "across",
        "infront",
        "atop",
        "beneath",
        "underneath",
        "around",
        "ascend",
        "descend",
        "uphill",
        "downhill",
        "upside",
    ),
}

# Words that carry no visual content of their own: articles, linking words, and the
# boilerplate people wrap prompts in ("a cinematic 4k video of ...").
_STOPWORDS = (
    "a",
    "an",
    "the",
    "of",
    "and",
    "or",
    "with",
    "is",
    "are",
    "was",
    "were",
    "be",
    "being",
    "been",
    "it",
    "its",
    "their",
    "his",
    "her",
    "hers",
    "them",
    "they",
    "he",
    "she",
    "this",
    "that",
    "these",
    "those",
    "to",
    "at",
    "by",
    "from",
    "for",
    "as",
    "while",
    "in",
    "on",
    "there",
    "here",
    "which",
    "who",
    "whose",
    "whom",
    "very",
    "really",
    "just",
    "then",
    "also",
    "each",
    "while",
    "during",
    "where",
    "when",
    "has",
    "have",
    "having",
    "can",
    "will",
    "would",
    "should",
    "could",
    "into",
    "onto",
    "our",
    "your",
    "we",
    "you",
    "i",
    "s",
    "so",
    "such",
    "than",
    "all",
    "gets",
    "get",
    "getting",
    "along",
    "amid",
    "among",
    "amidst",
    "within",
    "upon",
    "about",
    "like",
    "together",
    "slightly",
    "itself",
)
_FILLER = (
    "please",
    "generate",
    "create",
    "render",
    "produce",
    "video",
    "clip",
    "footage",
    "shot",
    "scene",
    "showing",
    "show",
    "shows",
    "depicting",
    "depict",
    "depicts",
    "featuring",
    "feature",
    "features",
    "cinematic",
    "cinematically",
    "beautiful",
    "beautifully",
    "stunning",
    "gorgeous",
    "breathtaking",
    "epic",
    "amazing",
    "quality",
    "hd",
    "detailed",
    "highly",
    "ultra",
    "professional",
    "masterpiece",
    "image",
    "view",
    "see",
    "capture",
    "captured",
    "capturing",
    "captures",
    "filmed",
    "film",
    "movie",
    "sequence",
    "moment",
    "vivid",
    "vividly",
    "lovely",
    "nice",
    "sharp",
    "crisp",
    "smooth",
    "smoothly",
    "style",
    "styled",
    "aesthetic",
)

_ACTIONS = (
    "walk",
    "run",
    "jump",
    "swim",
    "fly",
    "dance",
    "sing",
    "sit",
    "stand",
    "sleep",
    "eat",
    "drink",
    "drive",
    "ride",
    "climb",
    "fall",
    "chase",
    "play",
    "throw",
    "catch",
    "cook",
    "paint",
    "read",
    "write",
    "type",
    "laugh",
    "cry",
    "smile",
    "wave",
    "kick",
    "spin",
    "surf",
    "skate",
    "ski",
    "dive",
    "crawl",
    "roll",
    "fight",
    "hug",
    "kiss",
    "talk",
    "look",
    "turn",
    "open",
    "close",
    "pour",
    "cut",
    "build",
    "grow",
    "melt",
    "burn",
    "explode",
    "float",
    "sail",
    "race",
    "hunt",
    "land",
    "launch",
    "lie",
    "kneel",
    "bow",
    "juggle",
    "knit",
    "sweep",
    "wash",
    "bark",
    "roar",
    "howl",
    "graze",
    "perch",
    "soar",
    "glide",
    "march",
    "hop",
    "skip",
    "stretch",
    "yawn",
    "pounce",
    "rest",
    "wander",
    "drift",
    "splash",
    "bloom",
    "wilt",
    "sew",
    "bake",
    "chop",
    "stir",
    "fish",
    "row",
    "paddle",
    "shake",
    "nod",
    "point",
    "carry",
    "push",
    "pull",
    "lift",
    "drop",
    "blow",
    "break",
    "jog",
    "sprint",
    "tiptoe",
    "gallop",
    "waddle",
    "slither",
    "flap",
    "hover",
    "crash",
    "pace",
    "lean",
    "sprinkle",
    "whisper",
    "shout",
    "scream",
    "play",
    "strum",
    "drum",
)


def _stemmed(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_stem(w) for w in words)


def _build_canonical() -> dict[str, str]:
    canonical: dict[str, str] = {}
    for word, digit in _NUMBER_WORDS.items():
        canonical[_stem(word)] = digit
    for canon, synonyms in _SYNONYMS.items():
        for synonym in synonyms:
            canonical[_stem(synonym)] = _stem(canon)
    return canonical


_CANONICAL = _build_canonical()
_STOP = _stemmed(_STOPWORDS) | frozenset(_STOPWORDS)
_FILL = _stemmed(_FILLER) | frozenset(_FILLER)
_NEG = frozenset(_NEGATORS)
_QUANT = _stemmed(_QUANTITY)
_CATEGORY_SETS = {
    name: frozenset(_CANONICAL.get(_stem(w), _stem(w)) for w in words)
    for name, words in _CATEGORIES.items()
}
_ACTION_SET = frozenset(_CANONICAL.get(_stem(w), _stem(w)) for w in _ACTIONS)


# -- analysis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    counts: frozenset[str]
    negated: frozenset[str]
    negations: int
    categories: dict[str, frozenset[str]]
    content: frozenset[str]


def _words(prompt: str) -> list[str]:
    text = normalize_prompt(prompt).replace("’", "'")
    for pattern, replacement in _PHRASE_PATTERNS:
        text = pattern.sub(replacement, text)
    out = []
    for token in _TOKEN.findall(text):
        if _NUMBER.fullmatch(token):
            out.append(str(float(token)).removesuffix(".0"))  # "04" == "4" == "4.0"
            continue
        stem = _stem(token)
        out.append(_CANONICAL.get(stem, stem))
    return out


def _analyse(prompt: str) -> _Analysis:
    words = _words(prompt)
    counts: set[str] = set()
    negated: set[str] = set()
    negations = 0
    found: dict[str, set[str]] = {name: set() for name in _CATEGORY_SETS}
    content: set[str] = set()
    pending_negation = False
    for word in words:
        if word in _NEG:
            negations += 1
            pending_negation = True
            continue
        if word in _STOP or word in _FILL:
            continue
        if pending_negation:
            negated.add(word)  # the first content word after a negator is what it negates
            pending_negation = False
        if _NUMBER.fullmatch(word) or word in _QUANT:
            counts.add(word)
            continue
        category = next((c for c, members in _CATEGORY_SETS.items() if word in members), None)
        if category is not None:
            found[category].add(word)
        else:
            content.add(word)
    return _Analysis(
        counts=frozenset(counts),
        negated=frozenset(negated),
        negations=negations,
        categories={name: frozenset(values) for name, values in found.items()},
        content=frozenset(content),
    )


def _describe(a: frozenset[str], b: frozenset[str]) -> str:
    return f"{' '.join(sorted(a)) or '-'} vs {' '.join(sorted(b)) or '-'}"


def check_near_miss(requested: str, cached: str) -> GuardVerdict:
    """Whether a cached video made for `cached` may answer a request for `requested`.

    Returns ok=False with a reason naming the first difference found, in the order
    negation, count, colour, time of day, weather/season, camera, style, direction,
    action, subject.
    """
    if normalize_prompt(requested) == normalize_prompt(cached):
        return GuardVerdict(ok=True)
    want, have = _analyse(requested), _analyse(cached)
    if want.negations != have.negations or want.negated != have.negated:
        return GuardVerdict(False, f"negation differs: {_describe(want.negated, have.negated)}")
    if want.counts != have.counts:
        return GuardVerdict(False, f"count differs: {_describe(want.counts, have.counts)}")
    for name in _CATEGORY_SETS:
        if want.categories[name] != have.categories[name]:
            detail = _describe(want.categories[name], have.categories[name])
            return GuardVerdict(False, f"{name} differs: {detail}")
    if want.content != have.content:
        only_want, only_have = want.content - have.content, have.content - want.content
        kind = "action" if (only_want | only_have) & _ACTION_SET else "subject"
        return GuardVerdict(False, f"{kind} differs: {_describe(only_want, only_have)}")
    return GuardVerdict(ok=True)
