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
  large hill"). Exception: two whole prepositional phrases trading places around the verb
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
  to a woman dressed in black"), where that can be told;
- who is named more often ("..., the tortoise wins" / "..., the hare wins"), whose
  ("the dog's owner" / "the owner's dog"), and what has not happened yet ("about to
  jump" / "jumping");
- the same words joined into other things: a compound spelt out with more than a place
  ("a butterfly knife" / "a knife with a butterfly", "a sheep dog" / "a dog herding
  sheep"; "a beach house" / "a house at the beach" passes, while "in" or "on" are a
  relation on one side only: "a mountain lake" / "a lake in the mountains"), or with a
  place when it names a person or an animal ("a sea lion" / "a lion at sea", "a snow man"
  / "a man in the snow"), a hyphenated noun-participle compound on one side only ("a
  man-eating shark" / "a man eating shark"), one thing or two ("a black-and-white cat" /
  "a black cat and a white cat"), and what a picture or likeness shows ("a photo of a man
  holding a cat" / "a man holding a photo of a cat").

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

import itertools
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass

from cache.normalize import normalize_prompt, quoted_spans


@dataclass
class GuardVerdict:
    ok: bool
    reason: str | None = None


# -- vocabulary ----------------------------------------------------------------------------

# Multi-word terms joined before splitting on punctuation, so "close-up", "close up" and
# "closeup" are one camera term and "black and white" is a style, not two colours.
_CONTRACTED = {"re": "are", "ll": "will", "ve": "have", "m": "am", "d": "would"}
_PHRASES: tuple[tuple[str, str | Callable[[re.Match[str]], str]], ...] = (
    # A style when it qualifies the picture ("black and white footage of a dog", "...,
    # black and white"), the colours of a thing otherwise ("a black and white cow").
    (
        r"\bblack[\s-]*(?:and|&)[\s-]*white\b(?=[\s-]+(?:film|footage|video|movie|photo"
        r"|photograph|photography|style|clip|shot|image|scene|picture)\b|\s*[,.;:]|\s*$)",
        " monochrome ",
    ),
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
    # Contractions spelt out, so "they're" is "they are" and "can't" is not "ca" + "not".
    (r"\bcan't\b", "can not"),
    (r"\bwon't\b", "will not"),
    (r"n't\b", " not"),
    # Only after a letter: a quoted 'D' or 'M' on a sign is text, not "would" or "am".
    (r"(?<=[a-z])'(re|ll|ve|m|d)\b", lambda m: " " + _CONTRACTED[m.group(1)]),
    (r"\bno[\s-]*one\b", " nobody "),  # else "no" and the number one
    # "a twin" is one person, "twins" two ("twin towers" stays the number): a noun when
    # nothing named follows it.
    (
        r"\ban?\s+twin(?=\s*+(?:$|[,.;:!?]|(?:sister|brother|sibling)s?\b|[a-z]+ing\b|"
        r"(?:in|on|at|with|and|by|near|is|was|who|that)\b))",
        " a twinsibling",
    ),
    # Abbreviations read as what they stand for.
    (r"\bnyc\b", " new york city "),
    (r"\bmph\b", " miles per hour "),
    (r"\bframes?[\s-]+per[\s-]+second\b", " fps "),
    # A number and its unit are one token whether or not a space parts them: "50 mm" lens.
    (r"\b(\d++)\s++(mm|cm|km|kg|fps)\b", r"\1\2"),
    (r"\bsec(s?)\b", r" second\1 "),
    (r"\bw/(?=\s|[a-z])", " with "),
    (r"\s&\s", " and "),
    # Greetings and thanks around a request ("Hi! ...", "... Thanks!"), and a "Prompt:"
    # label: politeness, not content. Only at the ends: "a child thanking her teacher" is.
    # A greeting only when punctuation follows it ("Hello Kitty" is a name), and thanks
    # only as a clause of its own ("a crowd cheers", "a child saying thank you" are content).
    # Possessive runs keep both linear on long runs of punctuation.
    (r"^(?:(?:hi|hello|hey)(?:\s++there)?\s*+[,!.:]++\s*+)?(?:(?:video\s+)?prompt\s*+:)?\s*+", ""),
    (
        r"[,.;!]\s*+(?:thanks|thank\s++you|thx)(?:\s++(?:so|very)\s++much)?\s*+[.!]*+\s*+$",
        ".",
    ),
    # Not yet happening: "a diver about to jump" is not "a diver jumping".
    (r"\b(?:about|getting\s+ready|preparing|ready)\s+to\b", " aboutto "),
    # Whose: "the dog's owner" / "the owner's dog" (a word of its own, so the order check
    # sees the two nouns trade sides of it).
    (r"\b(?!(?:it|that|there|here|he|she|what|who|let)'s)([a-z]+)'s\b", r"\1 poss "),
    # Requests wrapped around a prompt.
    (
        r"^(?:please[\s,]+)?(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?"
        r"(?:i\s+(?:want|need|would\s+like)|make|create|generate|render|produce|show|give)"
        r"(?:\s+(?:me|us))?\s+",
        " ",
    ),
    # Whom the video is for, right after the request: "Could you make a video for me?".
    (r"^\s*+(an?\s++(?:video|clip|film|animation))\s++for\s++(?:me|us)\b", r" \1 "),
    (r"\bcannot\b", "can not"),
    # Sequence markers, all read as "then" (a stopword: "X, finally Y" is "X, then Y"); the
    # order check keeps words from crossing them. One pattern: each costs every call. "next"
    # is one only where it opens a clause, which _tokens decides.
    (r"\b(?:after(?:[\s-]+that\b|wards?\b)|followed[\s-]+by\b|finally\b)", " then "),
)
_PHRASE_PATTERNS = tuple((re.compile(p), r) for p, r in _PHRASES)
_SEQUENCE_MARKER = "then"  # what every sequence marker reads as
_CLAUSE_OPENERS = frozenset(("", "and", _SEQUENCE_MARKER))  # after these "next" is a marker
# Words, plus the punctuation that ends a phrase (kept for the word-order check only).
_TOKEN_OR_BREAK = re.compile(r"[a-z0-9]+|[,.;:!?()\[\]\"—–]| - ")
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
    "mathematics": "math",
    "maths": "math",
    "moss": "moss",
    # The forest, not wood the material ("a wood cabin" / "a cabin in the woods").
    "woods": "forest",
    "lying": "lie",
    "lies": "lie",
    "tying": "tie",
    "dying": "die",
    "skiing": "ski",
    "skis": "ski",
    "goes": "go",
    "going": "go",
    "adding": "add",
    "adds": "add",
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
    "motorcycle": ("motorbike",),
    "airplane": ("aeroplane", "plane", "aircraft"),
    "bicycle": ("bike",),
    "mother": ("mom", "mum", "mommy"),
    "father": ("dad", "daddy"),
    "television": ("tv",),
    "taxi": ("cab",),
    "theater": ("theatre",),
    "jewelry": ("jewellery",),
    "center": ("centre",),
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
    "quiet": ("calm", "tranquil", "peaceful", "serene"),
    "under": ("beneath", "underneath"),
    "grandfather": ("grandpa", "granddad", "grandad"),
    "grandmother": ("grandma", "granny"),
    "refrigerator": ("fridge",),
    "hippopotamus": ("hippo",),
    "rhinoceros": ("rhino",),
    "alligator": ("gator",),
    "microphone": ("mic",),
    "limousine": ("limo",),
    "hamburger": ("burger",),
    "advertisement": ("ad", "advert"),
    # British spellings (colour, grey, centre, theatre... are above).
    "armor": ("armour",),
    "tire": ("tyre",),
    "mustache": ("moustache",),
    "neighbor": ("neighbour",),
    "neighborhood": ("neighbourhood",),
    "harbor": ("harbour",),
    "flavor": ("flavour",),
    "humor": ("humour",),
    "behavior": ("behaviour",),
    "vapor": ("vapour",),
    "odor": ("odour",),
    "parlor": ("parlour",),
    "favorite": ("favourite",),
    "pajamas": ("pyjamas",),
    "donut": ("doughnut",),
    "practice": ("practise",),
    "travel": ("travelling", "travelled"),
    "traveler": ("traveller",),
    "cancel": ("cancelling", "cancelled"),
    "model": ("modelling", "modelled"),
    "fuel": ("fuelling", "fuelled"),
    "signal": ("signalling", "signalled"),
    "aluminum": ("aluminium",),
    "meter": ("metre",),
    "liter": ("litre",),
    "fiber": ("fibre",),
    "somber": ("sombre",),
    "saber": ("sabre",),
    "program": ("programme",),
    "catalog": ("catalogue",),
    "plow": ("plough",),
    "cozy": ("cosy",),
    "mold": ("mould",),
    "curb": ("kerb",),
    "skeptical": ("sceptical",),
    "defense": ("defence",),
    "license": ("licence",),
    "whiskey": ("whisky",),
    "truck": ("lorry",),
    "story": ("storey",),
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
# Number words in the plural name a crowd, not the number: "pairs of swans", "thousands".
_PLURAL_NUMBERS = {
    word: "many"
    for word in ("pairs", "couples", "dozens", "hundreds", "thousands", "millions", "tens")
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
    "any",
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
    "pls",
    "plz",
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

# People and animals: what wears, holds or does something. A being named after a place word
# is someone the phrase after it may describe ("a girl walks by a boy with a scarf"), and a
# compound naming one is a kind of being, not a being somewhere ("a sea lion", "a snow man").
_BEINGS = (
    "person",
    "people",
    "man",
    "woman",
    "boy",
    "girl",
    "child",
    "baby",
    "toddler",
    "teenager",
    "teen",
    "adult",
    "father",
    "mother",
    "parent",
    "son",
    "daughter",
    "brother",
    "sister",
    "husband",
    "wife",
    "grandfather",
    "grandmother",
    "friend",
    "stranger",
    "family",
    "king",
    "queen",
    "prince",
    "princess",
    "knight",
    "soldier",
    "warrior",
    "chef",
    "waiter",
    "waitress",
    "doctor",
    "nurse",
    "teacher",
    "student",
    "farmer",
    "fisherman",
    "sailor",
    "pilot",
    "driver",
    "rider",
    "dancer",
    "singer",
    "musician",
    "guitarist",
    "drummer",
    "pianist",
    "violinist",
    "artist",
    "painter",
    "sculptor",
    "photographer",
    "worker",
    "builder",
    "officer",
    "policeman",
    "firefighter",
    "astronaut",
    "scientist",
    "athlete",
    "player",
    "runner",
    "swimmer",
    "surfer",
    "skier",
    "skater",
    "skateboarder",
    "cyclist",
    "climber",
    "hiker",
    "boxer",
    "pirate",
    "cowboy",
    "ninja",
    "samurai",
    "viking",
    "wizard",
    "witch",
    "clown",
    "monk",
    "priest",
    "bride",
    "groom",
    "tourist",
    "robot",
    "zombie",
    "vampire",
    "alien",
    "elf",
    "fairy",
    "angel",
    "mermaid",
    "dog",
    "puppy",
    "cat",
    "kitten",
    "horse",
    "pony",
    "donkey",
    "cow",
    "bull",
    "calf",
    "pig",
    "sheep",
    "lamb",
    "goat",
    "chicken",
    "hen",
    "rooster",
    "duck",
    "goose",
    "swan",
    "bird",
    "eagle",
    "hawk",
    "owl",
    "parrot",
    "penguin",
    "pigeon",
    "crow",
    "flamingo",
    "peacock",
    "hummingbird",
    "shark",
    "whale",
    "dolphin",
    "octopus",
    "seal",
    "lion",
    "tiger",
    "leopard",
    "cheetah",
    "panther",
    "jaguar",
    "bear",
    "panda",
    "wolf",
    "fox",
    "deer",
    "moose",
    "rabbit",
    "bunny",
    "hare",
    "squirrel",
    "mouse",
    "rat",
    "hamster",
    "monkey",
    "gorilla",
    "chimpanzee",
    "elephant",
    "giraffe",
    "zebra",
    "rhinoceros",
    "hippopotamus",
    "camel",
    "kangaroo",
    "koala",
    "sloth",
    "otter",
    "beaver",
    "raccoon",
    "hedgehog",
    "frog",
    "toad",
    "turtle",
    "tortoise",
    "snake",
    "lizard",
    "crocodile",
    "alligator",
    "dragon",
    "dinosaur",
    "unicorn",
    "butterfly",
    "bee",
    "ant",
    "spider",
    "ladybug",
    "snail",
    "crab",
    "lobster",
    "jellyfish",
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
# Word -> its category, the first listed when a word is in two.
_CATEGORY_OF = {
    word: name for name, members in reversed(_CATEGORY_SETS.items()) for word in members
}
_ACTION_SET = frozenset(_CANONICAL.get(_stem(w), _stem(w)) for w in _ACTIONS)
_BEING_SET = frozenset(_CANONICAL.get(_stem(w), _stem(w)) for w in _BEINGS)


# -- analysis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    # Counts and category words are compared as multisets: in a long prompt the same colour
    # or number often describes two things, and changing one of them ("a red bus ... red
    # boots" / "a yellow bus ... red boots") leaves the set of colours as it was.
    counts: Counter[str]
    negated: frozenset[str]
    negations: int
    categories: dict[str, Counter[str]]
    content: frozenset[str]


def _tokens(prompt: str) -> list[tuple[str, str]]:
    """(canonical word, word as written) pairs; a phrase break is ("", punctuation)."""
    return _normalized_tokens(normalize_prompt(prompt).casefold())


def _normalized_tokens(text: str) -> list[tuple[str, str]]:
    """_tokens of a prompt already through normalize_prompt."""
    text = text.replace("’", "'")
    for pattern, replacement in _PHRASE_PATTERNS:
        text = pattern.sub(replacement, text)
    out = []
    for token in _TOKEN_OR_BREAK.findall(text):
        if not token[0].isalnum():
            out.append(("", token.strip()))
        elif _NUMBER.fullmatch(token):
            out.append((_number(token), token))
        elif token in _PLURAL_NUMBERS:
            out.append((_PLURAL_NUMBERS[token], token))  # "dozens of eggs" is no dozen
        elif token == "next" and (not out or out[-1][0] in _CLAUSE_OPENERS):
            out.append((_SEQUENCE_MARKER, token))  # ", next a dog runs out"; not "the next car"
        else:
            stem = _stem(token)
            if (stem in _NEG and token not in _NEG) or (stem in _STOP and token not in _STOP):
                # "notes" stems to "not", "cane" to the stopword "can": content all the
                # same, told apart from each other by more than the crude stem ("cans")
                stem = token.removesuffix("s") + "~"
            out.append((_CANONICAL.get(stem, stem), token))
    return out


def _number(token: str) -> str:
    """ "04" == "4" == "4.0", exactly at any length (a float would make 17-digit numbers
    equal)."""
    whole, _, fraction = token.partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _words(prompt: str) -> list[str]:
    return [word for word, _ in _tokens(prompt) if word]


def _analyse(tokens: list[tuple[str, str]]) -> _Analysis:
    words = [word for word, _ in tokens if word]
    counts: Counter[str] = Counter()
    negated: set[str] = set()
    negations = 0
    found: dict[str, Counter[str]] = {name: Counter() for name in _CATEGORY_SETS}
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
            counts[word] += 1
            continue
        category = _CATEGORY_OF.get(word)
        if category is not None:
            found[category][word] += 1
        else:
            content.add(word)
    return _Analysis(
        counts=counts,
        negated=frozenset(negated),
        negations=negations,
        categories=found,
        content=frozenset(content),
    )


def _describe(a: Collection[str], b: Collection[str]) -> str:
    """Both sides' words; for multisets, the occurrences one side has more of."""
    if isinstance(a, Counter) and isinstance(b, Counter):
        a, b = list((a - b).elements()), list((b - a).elements())
    return f"{' '.join(sorted(a)) or '-'} vs {' '.join(sorted(b)) or '-'}"


# -- word order ----------------------------------------------------------------------------

# Prepositions open a phrase; the last one seen "governs" the words after it until a phrase
# break. "of" is left out: it mostly joins a noun to its complement ("a cup of coffee") or to
# the wrapper around a prompt ("close-up of ..."), not an adverbial that can move.
_PREPOSITIONS = (
    "in",
    "on",
    "at",
    "to",
    "from",
    "by",
    "with",
    "into",
    "onto",
    "under",
    "over",
    "above",
    "below",
    "beneath",
    "underneath",
    "behind",
    "beside",
    "infront",
    "atop",
    "inside",
    "outside",
    "near",
    "through",
    "across",
    "along",
    "around",
    "toward",
    "towards",
    "past",
    "off",
    "between",
    "against",
    "within",
    "upon",
    "amid",
    "among",
    "during",
    "after",
    "before",
    "beyond",
)
# A conjunction or "of" starts a new noun phrase, so the preposition before it stops governing.
_PHRASE_BREAKS = ("and", "or", "but", "then", "while", "of")

_PREPOSITION_SET = frozenset(_CANONICAL.get(_stem(w), _stem(w)) for w in _PREPOSITIONS)
_BREAK_SET = frozenset(_PHRASE_BREAKS)
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


def _kind(word: str) -> str:
    if word in _PREPOSITION_SET:
        # A preposition goes where its phrase goes, so its own position says nothing; the
        # words it governs carry the roles ("under", "across" are directions otherwise).
        return "relation"
    if _NUMBER.fullmatch(word) or word in _QUANT:
        return "count"
    return _CATEGORY_OF.get(word) or ("action" if word in _ACTION_SET else "content")


def _sequence(tokens: list[tuple[str, str]]) -> list[_Slot]:
    """The words that matter, in order (every occurrence), with their phrases and events."""
    # word, position, index of its phrase's opener, segment, stage
    found: list[tuple[str, int, int, int, int]] = []
    members: dict[int, set[str]] = {}  # phrase opener's position -> the phrase's words
    opener = -1
    segment = stage = 0
    marker = False  # a marker seen since the last word: the next word opens a new event
    for position, (word, _) in enumerate(tokens):
        if not word or word in _BREAK_SET:
            opener = -1
            segment += 1
            marker = marker or word == _SEQUENCE_MARKER
            continue
        if not (word in _NEG or word in _STOP or word in _FILL):
            if marker and found:  # leading or doubled markers open no empty event
                stage += 1
            marker = False
            found.append((word, position, opener, segment, stage))
        if opener >= 0:
            members[opener].add(word)
        if word in _PREPOSITION_SET:
            opener = position  # "across", "behind" ... are both a direction and a preposition
            members[opener] = {word}
        elif word in _ACTION_SET and (position == 0 or tokens[position - 1][0] not in _ARTICLES):
            # A verb starts a new phrase: its object is bare ("chasing a dog"). After an
            # article the word is a noun or an adjective ("the open sea", "a dance floor").
            opener = -1
    slots: list[_Slot] = []
    for word, position, at, segment, stage in found:
        governor = tokens[at][0] if at >= 0 else ""
        phrase = frozenset(members[at]) if at >= 0 else frozenset()
        start = at if at >= 0 else position
        slots.append(_Slot(word, _kind(word), governor, phrase, start, position, segment, stage))
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


def _pair_occurrences(want: list[_Slot], have: list[_Slot]) -> dict[int, int]:
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


def _order_conflict(
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
                any(have[k].word in _ACTION_SET for k in stays)
                and bool(x.governor and y.governor)
                and (x.phrase, y.phrase) == (hx.phrase, hy.phrase)
            )
            if stays and not adverbials:
                return wi, wj
    return None


def _snippet(tokens: list[tuple[str, str]], first: _Slot, last: _Slot) -> str:
    lo, hi = min(first.start, last.start), max(first.position, last.position)
    words = [written for word, written in tokens[lo : hi + 1] if word]
    if len(words) > _SNIPPET_WORDS:
        words = [*words[:3], "...", *words[-3:]]
    return " ".join(words)


# Words that matter (see _sequence; a repeated word counts each time) beyond which word
# order is not compared. Video prompts rarely come near it; the embedding itself reads only
# the first 256 tokens.
MAX_ORDER_WORDS = 128
MAX_GUARD_CHARS = 2000


def _check_order(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> GuardVerdict:
    want, have = _sequence(want_tokens), _sequence(have_tokens)
    if max(len(want), len(have)) > MAX_ORDER_WORDS:
        # The comparison grows with the cube of the words in the worst case (about 20 ms at
        # 150): past the cap a prompt is not compared, so it cannot be a semantic hit.
        return GuardVerdict(False, f"order not compared: over {MAX_ORDER_WORDS} words")
    partner = _pair_occurrences(want, have)
    conflict = _order_conflict(want, have, partner)
    if conflict is None:
        return GuardVerdict(ok=True)
    x, y = want[conflict[0]], want[conflict[1]]
    hx, hy = have[partner[conflict[0]]], have[partner[conflict[1]]]
    detail = f"{_snippet(want_tokens, x, y)} vs {_snippet(have_tokens, hx, hy)}"
    kind = "direction" if x.kind == "direction" else "order"
    return GuardVerdict(False, f"{kind} differs: {detail}")


# -- surface -------------------------------------------------------------------------------
# What the word analysis above reads past: small words that change the picture, and text it
# cannot read at all. Each check compares the two prompts directly. A different video often
# changes only one of these; most paraphrases leave them alone, and those that do not
# ("in sunglasses" / "wearing sunglasses", "a city view" / "a view of the city") become a
# second generation, never a wrong video.

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
# Where a thing is, or which way it goes: "a snake in a boot" / "a snake on a boot",
# "marching to the castle" / "from the castle", "attacking" / "attacked by".
_RELATIONS = {
    "in": "in",
    "inside": "in",
    "within": "in",
    "into": "in",
    "on": "on",
    "onto": "on",
    "upon": "on",
    "atop": "on",
    "from": "from",
    "to": "to",
    "by": "by",
}
_DETERMINERS = frozenset(
    ("a", "an", "the", "his", "her", "their", "its", "my", "our", "your", "this", "that")
)
# Before a noun, never a clause ("a dog that runs"): what makes the next word a thing.
_ARTICLES_AND_OWNERS = _DETERMINERS - {"this", "that"}
_PLURAL_IRREGULAR = frozenset(
    (
        "men",
        "women",
        "children",
        "people",
        "mice",
        "geese",
        "feet",
        "teeth",
        "leaves",
        "wolves",
        "knives",
        "shelves",
        "lives",
    )
)
# Past forms the stemmer maps to another word ("broken" -> "break"), not plural nouns.
_PAST_IRREGULAR = frozenset(
    w
    for w, base in _IRREGULAR.items()
    if w != base and w not in _PLURAL_IRREGULAR and not w.endswith(("ing", "s"))
)
_NOT_PAST = frozenset(
    (
        "naked",
        "sacred",
        "wicked",
        "rugged",
        "ragged",
        "jagged",
        "beloved",
        "crooked",
        "hundred",
        "kindred",
        "embed",
        "sled",
        "shed",
    )
)
# Wrappers that are content when they name a thing with another noun: "a video of a cat"
# is a cat, "a video game" and "a crime scene" are not.
_FILLER_NOUNS = frozenset(
    (
        "video",
        "clip",
        "footage",
        "shot",
        "scene",
        "film",
        "movie",
        "image",
        "show",
        "sequence",
        "moment",
        "view",
    )
)


def _plain(word: str) -> bool:
    """A word naming a thing or an action of its own (not a category word, not filler)."""
    return (
        bool(word)
        and _kind(word) in ("content", "action")
        and not (word in _STOP or word in _FILL or word in _NEG)
    )


_ASCII_WORD = re.compile(r"\w+")
# Curly, low or angle quotes are one kind of quote, and a curly apostrophe is a straight one.
_QUOTES = str.maketrans({**{c: '"' for c in "“”„«»"}, "‘": "'", "’": "'"})


def _literals(text: str) -> list[str]:
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


def _relations(tokens: list[tuple[str, str]]) -> Counter[str]:
    """The relation words that head a phrase about a thing ("in a box"); not those before a
    category word ("in slow motion", "in the rain"), nor an infinitive "to"."""
    found: Counter[str] = Counter()
    for index, (_, written) in enumerate(tokens):
        relation = _RELATIONS.get(written)
        if relation is None or (relation == "on" and index and tokens[index - 1][1] == "in"):
            continue  # "zooms in on a rose" is where the camera goes, not what is on what
        after = [w for w, t in tokens[index + 1 : index + 4] if t not in _DETERMINERS]
        head = after[0] if after else ""
        if relation == "to" and (
            index + 1 >= len(tokens) or tokens[index + 1][1] not in _DETERMINERS
        ):
            continue
        if not head or (not _plain(head) and not _NUMBER.fullmatch(head)):
            continue  # a particle ("zoom in", "the lights on") or before a category word
        found[relation] += 1
    return found


# Words after which an "on" ends its phrase ("the lights stay on now").
_STRANDED = frozenset(("again", "now", "too", "still", "already", "as", "when", "while"))


def _switches(tokens: list[tuple[str, str]]) -> Counter[str]:
    """How often something is off, or on as a particle ("streetlights blink on", "her
    helmet on,"): _relations leaves particles out, and "off" in a long prompt is often
    there already ("a locked-off tripod"), so one light switched the other way changes
    neither the words nor the relations."""
    found: Counter[str] = Counter()
    for index, (_, written) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        # Not heading a phrase: a break, a conjunction or another preposition comes next
        # ("the lights on in the morning").
        particle = (
            not following[0]
            or following[0] in _BREAK_SET
            or following[1] in _PREPOSITIONS
            or following[1] in _STRANDED
        )
        if written == "off" or (written == "on" and particle):
            found[written] += 1
    return found


# Past tense forms distinct from their participle: "the tree fell" is the event, "a fallen
# tree" what it left.
_SIMPLE_PAST = frozenset(
    (
        "ran",
        "flew",
        "swam",
        "sat",
        "ate",
        "rode",
        "drove",
        "fell",
        "sang",
        "threw",
        "wore",
        "grew",
        "blew",
        "broke",
        "drew",
        "took",
        "went",
        "came",
    )
)


def _is_past(written: str) -> bool:
    """A past form as written: "burned", "broken" (not "sled", "speed", "naked")."""
    return written in _PAST_IRREGULAR or (
        written.endswith("ed")
        and len(written) > 4
        and not written.endswith("eed")
        and written not in _NOT_PAST
    )


def _forms(tokens: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Canonical word -> how it was used: "past" ("-ed", "broken"), "ing" (doing it),
    "noun" (after a determiner or a number: "a drink", "a painting of"), and for nouns
    "plural" or "singular"."""
    forms: dict[str, set[str]] = {}
    for index, (word, written) in enumerate(tokens):
        if not word or word in _STOP or word in _FILL or word in _NEG or word in _QUANT:
            continue
        if _NUMBER.fullmatch(word):
            continue
        before = tokens[index - 1] if index > 0 else ("", "")
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        noun_slot = before[1] in _ARTICLES_AND_OWNERS or bool(
            before[0] and _NUMBER.fullmatch(before[0])
        )
        found = forms.setdefault(word, set())
        if _is_past(written):
            found.add("past")
            if written in _SIMPLE_PAST:
                found.add("event")  # "the vase broke": it happens
            elif _plain(after):
                found.add("result")  # "a broken vase": it has happened
            continue
        pointed = noun_slot or before[1] in ("this", "that")
        if written.endswith("ing") and len(written) > 5:
            # "a painting of a man" is a thing; "a running dog" is still doing it.
            if pointed and not _plain(after):
                found.update(("noun", "gerund"))  # a thing, but not a plain one
            else:
                found.add("ing")
            continue
        if noun_slot:
            found.add("noun")
            if after == "of":
                found.add("gerund")  # "the collapse of a bridge": an event, not a thing
        plural = written in _PLURAL_IRREGULAR or (
            written.endswith("s")
            and written not in _IRREGULAR
            and len(written) > 3
            and not written.endswith(("ss", "us", "is"))
        )
        if word in _ACTION_SET:
            if noun_slot:
                found.add("plural" if plural else "singular")  # "a drink" / "the drinks"
            elif plural and not (_plain(before[0]) and before[0] not in _ACTION_SET):
                found.add("plural")  # "playing drums", "rows of houses": no subject before
            else:
                found.add("verb")  # "a glass breaks": happening, not "a broken glass"
            continue
        if _kind(word) != "content":
            continue
        found.add("plural" if plural else "singular")
    return forms


_PAST_FORMS = frozenset(("past", "event", "result"))


def _doing(forms: set[str]) -> bool:
    """Not only a plain thing named after a determiner: a past form on the other side then
    means something else ("a house burns" / "a burned house", "the burning of a house" /
    "a burned house", "a painting of a house" / "a painted house"). A plain thing is the
    one exception ("a man with a beard" / "a bearded man")."""
    rest = forms - _PAST_FORMS
    return bool(rest) and not ("noun" in rest and rest <= {"noun", "singular", "plural"})


def _form_conflict(want: dict[str, set[str]], have: dict[str, set[str]]) -> str | None:
    for word in sorted(want.keys() & have.keys()):
        a, b = want[word], have[word]
        number_a, number_b = a & {"plural", "singular"}, b & {"plural", "singular"}
        if number_a and number_b and number_a != number_b:
            return f"number differs: {word} ({'/'.join(sorted(number_a))} vs " + (
                f"{'/'.join(sorted(number_b))})"
            )
        if ("event" in a and "result" in b) or ("result" in a and "event" in b):
            return f"tense differs: {word} (happening vs happened)"
        if (a and a <= _PAST_FORMS and _doing(b)) or (b and b <= _PAST_FORMS and _doing(a)):
            # "burned" / "burning", "a broken glass" / "a glass breaks", "chased by" /
            # "chasing"; not "bearded" / "a beard" (no verb there).
            return f"tense differs: {word} (done vs ongoing)"
        doing_a, doing_b = "ing" in a and "noun" not in a, "ing" in b and "noun" not in b
        thing_a, thing_b = "noun" in a and "ing" not in a, "noun" in b and "ing" not in b
        if (doing_a and thing_b) or (thing_a and doing_b):
            return f"action differs: {word} (an action vs a thing)"
    return None


def _negation_subjects(tokens: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Negated word -> the words the negation is attached to (the nearest thing before
    it in its phrase): "a son without a scarf" negates the son's scarf."""
    out: dict[str, set[str]] = {}
    last = ""
    pending: str | None = None
    for word, _ in tokens:
        if not word or word in _BREAK_SET:
            last, pending = "", None
            continue
        if word in _NEG:
            pending = last
            continue
        if word in _STOP or word in _FILL:
            continue
        if pending is not None:
            out.setdefault(word, set()).add(pending)
            pending = None
        if _plain(word):
            last = word
    return out


def _negation_spans(tokens: list[tuple[str, str]]) -> Counter[tuple[frozenset[str], int]]:
    """What each negation covers: the words up to its first thing ("not holding a cup"
    covers holding and the cup), and, for a word used more than once, which occurrence
    ("a tree with no leaves beside a tree with leaves")."""
    words = [w for w, _ in tokens if w and not (w in _STOP or w in _FILL)]
    seen: Counter[str] = Counter()
    spans: Counter[tuple[frozenset[str], int]] = Counter()
    open_span: set[str] | None = None
    first = ""
    for word, _ in tokens:
        if not word or word in _BREAK_SET or word in _NEG:
            if open_span:
                spans[(frozenset(open_span), _occurrence(words, first, seen))] += 1
            open_span = set() if word in _NEG else None
            continue
        if word in _STOP or word in _FILL:
            continue
        seen[word] += 1
        if open_span is None:
            continue
        if not open_span:
            first = word
        open_span.add(word)
        if _plain(word) and word not in _ACTION_SET:
            spans[(frozenset(open_span), _occurrence(words, first, seen))] += 1
            open_span = None
    if open_span:
        spans[(frozenset(open_span), _occurrence(words, first, seen))] += 1
    return spans


def _occurrence(words: list[str], word: str, seen: Counter[str]) -> int:
    return seen[word] - 1 if words.count(word) > 1 else -1


_FILLER_ACTS = _stemmed(("create", "generate", "render", "produce", "show", "depict"))
_FILLER_ACTS |= _stemmed(("feature", "capture", "film"))


def _compounds(tokens: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Filler used as content, with the word it goes with: nouns naming a thing with
    another noun ("video game", "crime scene"), verbs with a subject of their own ("a
    sculptor creating a statue"; "a video showing a cat" is a cat)."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, written) in enumerate(tokens):
        noun = written in _FILLER_NOUNS or word in _FILLER_NOUNS
        if not noun and word not in _FILLER_ACTS:
            continue
        before = tokens[index - 1][0] if index > 0 else ""
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        for other in (before, after) if noun else (before,):
            if _plain(other) and other not in _FILLER_NOUNS:
                found[(word, other)] += 1
    return found


def _modifier(word: str) -> bool:
    """A word that can describe the noun after it: a thing, a colour, a size, a style..."""
    return bool(word) and not (
        word in _STOP or word in _FILL or word in _NEG or _kind(word) in ("relation", "count")
    )


# Kinds of word that stack before a noun with a modifier ("a shiny red apple", "a rusty
# vintage truck", "a quiet night street"), so the modifier still describes that noun.
_STACKED = frozenset(("colour", "style", "weather/season", "time of day"))


def _stacked(word: str) -> bool:
    """A word of a kind in _STACKED, but not a verb a style shares its stem with ("a woman
    painting walls" paints them)."""
    return bool(word) and _kind(word) in _STACKED and word not in _ACTION_SET


def _adjacent(tokens: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """A word and the thing named right after it ("race car", "yellow taxi", "smiling
    baby"), with both as written; past colours, styles, weather and times of day, which
    describe the same thing: "shiny" in "a shiny red apple" is the apple's, so "a red apple
    on a shiny table" has moved it onto the table."""
    found = []
    for index, (a, first) in enumerate(tokens):
        if not _modifier(a):
            continue
        after = index + 1
        while after < len(tokens) and _stacked(tokens[after][0]):
            after += 1
        if after < len(tokens) and _plain(tokens[after][0]):
            found.append((a, tokens[after][0], first, tokens[after][1]))
    return found


def _compound_split(whole: list[tuple[str, str]], split: list[tuple[str, str]]) -> str | None:
    """Two nouns naming one thing on one side ("a butterfly knife", "a dog house") and,
    on the other, the second before the first with more than a place between them ("a
    knife with a butterfly on it", "a house with a dog"): another thing. A place is how a
    paraphrase spells some compounds out ("a beach house" / "a house at the beach"), but
    not those naming a person or an animal: "a sea lion" is no lion at sea, "a snow man"
    no man in the snow (those are kinds of being; a place says where one is)."""
    for (a, first), (b, second) in itertools.pairwise(whole):
        # Things, or materials and media naming one ("a pencil case", "a clay pot"), or
        # weather naming a being ("a snow man", "a snow leopard"; a season only says when).
        things = all(
            w and w not in _STOP and w not in _FILL and _kind(w) in _THINGS for w in (a, b)
        )
        weather = _kind(a) == "weather/season" and a not in _SEASONS and b in _BEING_SET
        if not (things or weather):
            continue
        if _is_past(first) or first.endswith("ing") or _adverb(first) or _adverb(second):
            continue
        if a == b:
            continue
        where_a = [i for i, (w, _) in enumerate(split) if w == a]
        where_b = [i for i, (w, _) in enumerate(split) if w == b]
        if len(where_a) != 1 or len(where_b) != 1 or where_b[0] > where_a[0]:
            continue
        between = [t for _, t in split[where_b[0] + 1 : where_a[0]]]
        if set(between) <= _RELATIVE or any(not w for w, _ in split[where_b[0] : where_a[0]]):
            continue  # "a lake that is frozen" is the same lake; a phrase moved past a break
        if not between:
            continue
        # Only the place phrase right after the being: in "a dog runs on the beach" (for
        # "on the beach dogs ...") the place is where a dog runs, not a compound spelt out.
        being = b in _BEING_SET and _place_phrase(split[where_b[0] + 1 : where_a[0]])
        if being or not any(t in _PLACE_WORDS for t in between):
            words = " ".join(t for _, t in split[where_b[0] : where_a[0] + 1])
            return f"subject differs: {first} {second} vs {words}"
    return None


def _place_phrase(tokens: list[tuple[str, str]]) -> bool:
    """A place word and its noun's determiners and modifiers ("in the", "at", "at the
    open"): all that stands between a thing and the noun of a phrase after it."""
    return (
        bool(tokens)
        and tokens[0][1] in _PLACE_WORDS
        and all(
            written in _DETERMINERS or (_modifier(word) and not _verb_form(written))
            for word, written in tokens[1:]
        )
    )


_THINGS = frozenset(("content", "style"))
_SEASONS = _stemmed(("spring", "summer", "autumn", "winter"))
# Nouns that end like an adverb.
_LY_NOUNS = frozenset(
    ("family", "lily", "belly", "jelly", "holly", "bully", "ally", "rally", "gully", "assembly")
)


def _adverb(written: str) -> bool:
    """ "quickly", "softly": how, not what ("vegetables quickly" is no compound)."""
    return written.endswith("ly") and not written.endswith("fly") and written not in _LY_NOUNS


_RELATIVE = frozenset(("that", "which", "who", "is", "are", "was", "were"))
_HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]+)\b")


def _hyphenated(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Hyphenated noun-participle compounds ("man-eating", "cat-shaped"), as written: with
    the hyphen the first word is what the second acts on or looks like. Compounds the
    vocabulary joins anyway ("hand-drawn") are left to it."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for first, second in _HYPHENATED.findall(text):
        if not (_is_past(second) or (second.endswith("ing") and len(second) > 5)):
            continue
        words = [w for w, _ in _normalized_tokens(f"{first} {second}") if w]
        if len(words) == 2 and _plain(words[0]):
            found[(words[0], words[1])] = (first, second)
    return found


def _hyphen_conflict(want_text: str, have_text: str) -> str | None:
    """A noun-participle compound on one side only. Without its hyphen an -ing compound
    may name who acts ("a man eating shark", "a man eating a plant" / "a man-eating
    plant"), so only the same compound matches it; "moss covered" is "moss-covered"."""
    want, have = _hyphenated(want_text), _hyphenated(have_text)
    for ours, theirs, other_text in ((want, have, have_text), (have, want, want_text)):
        for key, (first, second) in ours.items():
            if key in theirs:
                continue
            if _is_past(second) and re.search(rf"\b{first}\s+{second}\b", other_text):
                continue
            return f"subject differs: {first}-{second} on one side only"
    return None


# Pictures and likenesses of something: what follows their "of" is in the picture, the rest
# of the prompt around it ("a man holding a photo of a cat": the man is real, the cat is not).
_DEPICTIONS = (
    "photo",
    "photograph",
    "picture",
    "painting",
    "drawing",
    "sketch",
    "illustration",
    "portrait",
    "poster",
    "postcard",
    "mural",
    "statue",
    "sculpture",
    "figurine",
    "carving",
    "model",
    "replica",
    "tattoo",
    "image",
    "video",
    "film",
    "movie",
    "clip",
    "footage",
)
_DEPICTION_SET = frozenset(_CANONICAL.get(_stem(w), _stem(w)) for w in _DEPICTIONS)
# Where the clause a picture is named in ends (besides punctuation).
_SCENE_BREAKS = frozenset((_SEQUENCE_MARKER, "while", "but", "when", "as"))


def _depictions(tokens: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(picture, what it shows) for each picture or likeness followed by "of": the things
    named after it up to the end of its clause, sorted ("a photo of a man holding a cat"
    shows a man and a cat, "a man holding a photo of a cat" only the cat). Not where they
    are, which a paraphrase moves in and out ("a poster of a dog on a wall" / "on a wall,
    a poster of a dog"), nor actions and the colours, styles, times... that may be the
    whole video's ("a slow motion video of a dog running")."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, _) in enumerate(tokens[:-1]):
        if word not in _DEPICTION_SET or tokens[index + 1][1] != "of":
            continue
        shown: set[str] = set()
        placed = False  # in a phrase after a place word or a preposition
        for after, written in tokens[index + 2 :]:
            if not after or after in _SCENE_BREAKS:
                break
            if written in _PLACE_WORDS or _kind(after) == "relation":
                placed = True
            elif after in _ACTION_SET or _verb_form(written) or written in ("and", "or"):
                placed = False  # "a dog on a beach | chasing a ball", "... | and a cat"
            elif _plain(after) and not placed:
                shown.add(after)
        found[(word, " ".join(sorted(shown)))] += 1
    return found


def _depiction_conflict(
    want: Counter[tuple[str, str]], have: Counter[tuple[str, str]]
) -> str | None:
    """A picture showing other things on one side than on the other. Only pictures
    followed by "of" on both sides are compared: "a photo of a cat" / "a cat" is a
    wrapper dropped, as "a video of" is."""
    for word in sorted({w for w, _ in want} & {w for w, _ in have}):
        a = Counter({shown: n for (w, shown), n in want.items() if w == word})
        b = Counter({shown: n for (w, shown), n in have.items() if w == word})
        if a != b:
            return (
                f"subject differs: {word} of {' / '.join(sorted(a.elements()))} vs "
                f"{word} of {' / '.join(sorted(b.elements()))}"
            )
    return None


def _introduced(tokens: list[tuple[str, str]]) -> Counter[str]:
    """How many times each noun is introduced by "a", "an" or "another" (over modifiers and
    "and" between them): "a black cat and a white cat" is two cats, "a black-and-white cat"
    one; "the cat" refers back."""
    found: Counter[str] = Counter()
    for index, (word, _) in enumerate(tokens):
        if not _plain(word) or _kind(word) != "content":
            continue
        back = index - 1
        while back >= 0 and (
            tokens[back][1] == "and" or (_modifier(tokens[back][0]) and tokens[back][0])
        ):
            back -= 1
        if back >= 0 and tokens[back][1] in ("a", "an", "another"):
            found[word] += 1
    return found


def _binding_conflict(
    want_tokens: list[tuple[str, str]], have_tokens: list[tuple[str, str]]
) -> str | None:
    """A word that names something together with the next word, with another next word on
    the other side ("a tiny house" / "a tiny giant"), or two such words swapped ("race car"
    / "car race")."""
    want, have = _adjacent(want_tokens), _adjacent(have_tokens)
    have_pairs = {(a, b) for a, b, _, _ in have}
    for a, b, first, second in want:
        swapped = (b, a) in have_pairs and (a, b) not in have_pairs
        # "a mountain covered in snow" / "a snow-covered mountain": a participle moves.
        participle = any(
            _is_past(w) or (w.endswith("ing") and len(w) > 5 and x in _ACTION_SET)
            for w, x in ((first, a), (second, b))
        )
        # Two nouns, or a noun and an action's bare form used as one ("race car" / "car
        # race", "dance party" / "party dance").
        nouns = {_kind(a), _kind(b)} <= {"content", "action"}
        if swapped and not participle and nouns:
            return f"order differs: {a} {b} vs {b} {a}"
    want_count = Counter(w for w, _ in want_tokens if w)
    have_count = Counter(w for w, _ in have_tokens if w)

    # A modifier and the thing it describes: a verb only as an adjective ("a smiling
    # baby", "a broken vase"), never an adverb or a verb's -ing after it.
    def described(a: str, b: str, first: str, second: str) -> bool:
        adjectival = (
            _kind(a) != "action" or first.endswith(("ing", "ed")) or (first in _PAST_IRREGULAR)
        )
        return adjectival and _kind(b) == "content" and not second.endswith(("ing", "ly"))

    have_next = {a: b for a, b, first, second in have if described(a, b, first, second)}
    for a, b, first, second in want:
        if not described(a, b, first, second) or want_count[a] != 1 or have_count[a] != 1:
            continue
        if a in have_next and have_next[a] != b:
            return f"attribute differs: {a} {b} vs {a} {have_next[a]}"
    return None


# Where a thing is: a noun after one of these names a place, not who holds or wears the
# phrase that follows ("a man walking in the park with a dog" is the man's dog).
_PLACE_WORDS = frozenset(
    (
        "at",
        "in",
        "on",
        "inside",
        "into",
        "onto",
        "under",
        "near",
        "along",
        "across",
        "through",
        "over",
        "above",
        "below",
        "around",
        "by",
        "atop",
        "underneath",
        "beneath",
        "within",
        "infront",
        "behind",
    )
)
# Words that start a phrase describing the nearest person or thing before it.
_ATTACHING = frozenset(("with", "carrying", "holding", "wearing"))
# What carries the one named before it: "a man on a horse with a sword" is the man's sword.
_CARRIERS = frozenset(("in", "on", "inside", "into", "onto", "atop", "within", "upon"))
# After these a person or an animal is someone of their own, whom a phrase or participle
# after it describes ("walks by a boy with a scarf", "talks to a woman dressed in black",
# "stares at a dog sleeping on the couch"), not only where the one before it is: any place
# word or preposition but a carrier and "with" (what the one before has).
_COMPANION_AFTER = (_PLACE_WORDS | frozenset(_PREPOSITIONS)) - _CARRIERS - _ATTACHING


def _attachments(tokens: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(attaching word, its object) -> the thing it describes: the nearest noun before it
    in its phrase that is not a place ("a woman with an umbrella talks to a man"). Besides
    with/carrying/holding/wearing, a participle right after its noun attaches too: "a dog
    covered in mud next to a cat" (the dog's mud), "a woman reading a book next to a man"
    (she reads). A person or an animal after a place word or "to" is no place ("a girl
    walks by a boy with a scarf": his), unless it carries the one before ("a man on a
    horse with a sword": the man's)."""
    out: dict[tuple[str, str], str] = {}
    owner = ""
    previous = ""  # the last word that is not a stopword
    place = False  # the last preposition seen names a place
    introducer = ""  # the last place word or preposition seen, as written
    pending: str | None = None
    for word, written in tokens:
        if not word or word in _BREAK_SET:
            owner, previous, place, pending, introducer = "", "", False, None, ""
            continue
        participle = _is_past(written) or (written.endswith("ing") and word in _ACTION_SET)
        if written in _ATTACHING or (
            participle and owner and previous == owner and pending is None
        ):
            pending, place, previous, introducer = written, False, word, ""
            continue
        if written in _COMPANION_AFTER or written in _CARRIERS:
            introducer = written
        if written in _PLACE_WORDS:
            place = True
            continue
        if word in _STOP or word in _FILL or word in _NEG:
            continue
        companion = word in _BEING_SET and introducer in _COMPANION_AFTER
        if pending is not None and _modifier(word) and word not in _ACTION_SET:
            if owner:
                out.setdefault((pending, word), owner)
            if companion:
                owner = word  # "talking to a woman dressed in black": hers
            pending, previous = None, word
            continue
        if _plain(word) and word not in _ACTION_SET:
            if not place or companion:
                owner = word
        elif word in _ACTION_SET:
            place, introducer = False, ""
        previous = word
    return out


def _participle_hosts(tokens: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(participle, the thing it describes) for each "-ing" action or past participle: the
    noun right after it when it opens a noun phrase ("a sleeping dog", "a broken cup"), the
    thing right before it otherwise ("a cat sleeping beside a dog", "a woman dressed in
    black"), adverbs and "that is" skipped. "" where it could be either: after a word that
    may be an adjective or a noun, before a noun ("a big sleeping dog", "a man watching
    dogs"), or with nothing named before it in its phrase."""
    found: Counter[tuple[str, str]] = Counter()
    for index, (word, written) in enumerate(tokens):
        if not (_is_past(written) or (_verb_form(written) and word in _ACTION_SET)):
            continue
        before, before_written = tokens[index - 1] if index else ("", "")
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        if _plain(after) and after not in _ACTION_SET:
            opens = (
                not index
                or before_written in _ARTICLES_AND_OWNERS
                or bool(_NUMBER.fullmatch(before))
                or _kind(before) not in ("content", "action", "relation", "count")
                or _adverb(before_written)
            )
            if opens:
                # The head of the phrase it opens: "a smiling old man" describes the man.
                # It ends at a verb form, known action or not ("a smiling girl feeding ducks").
                head = index + 1
                while (
                    head + 1 < len(tokens)
                    and _plain(tokens[head + 1][0])
                    and tokens[head + 1][0] not in _ACTION_SET
                    and not _verb_form(tokens[head + 1][1])
                ):
                    head += 1
                # "a dancing man and woman": it may describe both.
                shared = head + 2 < len(tokens) and (
                    tokens[head + 1][1] in ("and", "or") and _plain(tokens[head + 2][0])
                )
                found[(word, "" if shared else tokens[head][0])] += 1
                continue
            if _plain(before):
                found[(word, "")] += 1
                continue
        found[(word, _host_before(tokens, index))] += 1
    return found


def _verb_form(written: str) -> bool:
    """ "-ing" or a past form as written: a verb, whether or not the action list knows it."""
    return (written.endswith("ing") and len(written) > 4) or _is_past(written)


def _host_before(tokens: list[tuple[str, str]], index: int) -> str:
    """The thing named right before tokens[index] (adverbs and "that is" skipped), or ""
    when there is none or it is the object of a preposition: in "a man with a dog walking"
    or "a woman in a blue dress walking" the walker is the man, the woman. A person or an
    animal after a place word or "to" is the exception (see _COMPANION_AFTER)."""
    j = index - 1
    while j >= 0 and (_adverb(tokens[j][1]) or tokens[j][1] in _RELATIVE):
        j -= 1
    if j < 0 or not _plain(tokens[j][0]) or tokens[j][0] in _ACTION_SET:
        return ""
    if _verb_form(tokens[j][1]):
        return ""  # a verb the action list does not know ("a woman holding", "a dog fetching")
    k = j - 1  # back over its determiner and modifiers to what introduces the phrase
    while k >= 0 and (
        tokens[k][1] in _DETERMINERS
        or (
            _modifier(tokens[k][0])
            and not (tokens[k][0] in _ACTION_SET or tokens[k][1] in _ATTACHING)
        )
    ):
        k -= 1
    if k >= 0 and tokens[k][1] in _COMPANION_AFTER and tokens[j][0] in _BEING_SET:
        return tokens[j][0]  # "a cat staring at a dog sleeping on the couch": the dog sleeps
    if k >= 0 and tokens[k][1] in _ATTACHING:
        # "a knight holding a sword sleeping": the one holding it, as _attachments reads it
        return _host_before(tokens, k)
    if k >= 0 and (
        tokens[k][1] in ("and", "or")  # "a man and a woman dancing": both may be
        or tokens[k][1] in _PLACE_WORDS
        or _kind(tokens[k][0]) == "relation"
    ):
        return ""
    return tokens[j][0]


def _host_conflict(want: Counter[tuple[str, str]], have: Counter[tuple[str, str]]) -> str | None:
    """A participle describing one thing on one side and another on the other ("a cat
    sleeping beside a dog" / "a cat beside a sleeping dog"). Only participles whose every
    use has a known host on both sides are compared."""
    for word in sorted({w for w, _ in want} & {w for w, _ in have}):
        a = Counter({h: n for (w, h), n in want.items() if w == word})
        b = Counter({h: n for (w, h), n in have.items() if w == word})
        if "" in a or "" in b or a == b:
            continue
        return (
            f"attribute differs: {word} {' '.join(sorted(a.elements()))} vs "
            f"{word} {' '.join(sorted(b.elements()))}"
        )
    return None


def _surface_conflict(
    requested: str,
    cached: str,
    want_tokens: list[tuple[str, str]],
    have_tokens: list[tuple[str, str]],
) -> str | None:
    """The first surface difference between two prompts whose words agree, or None."""
    want_literals, have_literals = _literals(requested), _literals(cached)
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
    want_relations, have_relations = _relations(want_tokens), _relations(have_tokens)
    if want_relations != have_relations:
        return f"relation differs: {' '.join(sorted(want_relations.elements())) or '-'} vs " + (
            " ".join(sorted(have_relations.elements())) or "-"
        )
    want_switches, have_switches = _switches(want_tokens), _switches(have_tokens)
    if want_switches != have_switches:
        return f"state differs: {_describe(want_switches, have_switches)}"
    conflict = _form_conflict(_forms(want_tokens), _forms(have_tokens))
    if conflict is not None:
        return conflict
    if _negation_spans(want_tokens) != _negation_spans(have_tokens):
        return "negation differs: it covers other words"
    want_negated, have_negated = _negation_subjects(want_tokens), _negation_subjects(have_tokens)
    for word in sorted(want_negated.keys() & have_negated.keys()):
        a, b = want_negated[word] - {""}, have_negated[word] - {""}
        if a and b and a != b:
            return f"negation differs: {word} of {' '.join(sorted(a))} vs {' '.join(sorted(b))}"
    want_count = Counter(w for w, _ in want_tokens if _plain(w))
    have_count = Counter(w for w, _ in have_tokens if _plain(w))
    more = {w for w in want_count if want_count[w] > have_count[w] and have_count[w]}
    fewer = {w for w in want_count if want_count[w] < have_count[w]}
    if more and fewer:
        # "the tortoise and the hare race, the tortoise wins" / "..., the hare wins": a
        # word named more often on one side, another on the other, is who does what.
        return f"subject differs: {' '.join(sorted(more))} vs {' '.join(sorted(fewer))}"
    want_attached, have_attached = _attachments(want_tokens), _attachments(have_tokens)
    for key in sorted(want_attached.keys() & have_attached.keys()):
        if want_attached[key] != have_attached[key]:
            return (
                f"attribute differs: {want_attached[key]} {' '.join(key)} vs "
                f"{have_attached[key]} {' '.join(key)}"
            )
    if _compounds(want_tokens) != _compounds(have_tokens):
        return "subject differs: a compound name with video/scene/show... on one side only"
    return None


def _joining_conflict(
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
    split = _compound_split(want_tokens, have_tokens) or _compound_split(have_tokens, want_tokens)
    if split is not None:
        return split
    depicted = _depiction_conflict(_depictions(want_tokens), _depictions(have_tokens))
    if depicted is not None:
        return depicted
    hyphens = _hyphen_conflict(requested.casefold(), cached.casefold())
    if hyphens is not None:
        return hyphens
    want_introduced, have_introduced = _introduced(want_tokens), _introduced(have_tokens)
    for word in sorted(want_introduced.keys() & have_introduced.keys()):
        if want_introduced[word] != have_introduced[word]:
            return (
                f"count differs: {word} introduced {want_introduced[word]} vs "
                f"{have_introduced[word]} times"
            )
    return None


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
    want_tokens = _normalized_tokens(requested.casefold())
    have_tokens = _normalized_tokens(cached.casefold())
    want, have = _analyse(want_tokens), _analyse(have_tokens)
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
    surface = _surface_conflict(requested, cached, want_tokens, have_tokens)
    if surface is not None:
        return GuardVerdict(False, surface)
    # Same words on both sides: only their arrangement can still differ.
    order = _check_order(want_tokens, have_tokens)
    if not order.ok:
        return order
    binding = (
        _binding_conflict(want_tokens, have_tokens)
        or _joining_conflict(requested, cached, want_tokens, have_tokens)
        or _host_conflict(_participle_hosts(want_tokens), _participle_hosts(have_tokens))
    )
    return order if binding is None else GuardVerdict(False, binding)
