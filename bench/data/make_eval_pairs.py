"""Generate bench/data/eval_pairs.jsonl: labelled prompt pairs for bench/eval_cache.py.

Run: .venv/bin/python bench/data/make_eval_pairs.py  (deterministic: fixed seed).

Each pair is {"a", "b", "label", "kind"}. "hit" pairs ask for the same video in other words
(kinds: reorder, synonym, punctuation, filler, inflection, combo); "miss" pairs are hard
negatives that change one thing that changes the video (kinds: subject, colour, count,
action, setting, camera, style, time, weather, negation). Some synonyms used here are
deliberately NOT in the guard's synonym table, so recall is not measured on words the
guard was written for only. Hand-written pairs are appended from HANDWRITTEN, then the
pairs the red-team rounds added (eval_pairs_rounds.jsonl: written anew after each round,
not copied from its sets; since round 5 they include long prompts of several sentences).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240611
OUT = Path(__file__).with_name("eval_pairs.jsonl")
ROUNDS = Path(__file__).with_name("eval_pairs_rounds.jsonl")

GROUPS = {
    "animal": {
        "subjects": ["cat", "dog", "fox", "horse", "wolf", "rabbit", "bear", "deer", "owl"],
        "actions": [
            "running",
            "sleeping",
            "jumping",
            "walking",
            "eating",
            "playing",
            "sitting quietly",
            "rolling in the grass",
            "drinking water",
        ],
    },
    "person": {
        "subjects": [
            "woman",
            "man",
            "girl",
            "boy",
            "astronaut",
            "dancer",
            "chef",
            "old fisherman",
            "knight",
            "skateboarder",
        ],
        "actions": [
            "walking",
            "running",
            "dancing",
            "reading a book",
            "playing guitar",
            "sitting on a bench",
            "painting a canvas",
            "riding a bicycle",
            "laughing",
            "looking at the sky",
        ],
    },
    "vehicle": {
        "subjects": [
            "car",
            "truck",
            "motorcycle",
            "vintage train",
            "sailboat",
            "bus",
            "hot air balloon",
            "bicycle",
        ],
        "actions": [
            "driving",
            "speeding",
            "parked",
            "turning a corner",
            "crossing a bridge",
            "moving slowly",
        ],
    },
}
SETTINGS = [
    "on a sandy beach",
    "in a quiet forest",
    "in a busy city street",
    "across a mountain meadow",
    "in a cozy kitchen",
    "on a rooftop",
    "in a desert",
    "by a calm lake",
    "in a narrow alley",
    "inside an old library",
    "along a winding river",
    "in a wheat field",
    "in a snowy village square",
    "near a lighthouse",
]
TIMES = [
    "at dawn",
    "at sunset",
    "at night",
    "at noon",
    "in the morning",
    "in the afternoon",
    "during golden hour",
    "at midnight",
]
WEATHER = [
    "in the rain",
    "in light snow",
    "in thick fog",
    "during a thunderstorm",
    "on a windy day",
    "under overcast skies",
]
CAMERAS = [
    "slow pan",
    "aerial shot",
    "close-up",
    "tracking shot",
    "static wide shot",
    "slow zoom in",
    "handheld shot",
    "tilt up shot",
    "dolly shot",
    "orbit shot",
]
STYLES = [
    "anime style",
    "watercolor style",
    "claymation",
    "film noir",
    "photorealistic",
    "pixel art",
    "oil painting style",
    "3D animation",
    "vintage 16mm film",
    "cyberpunk style",
    "stop motion",
]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "silver", "pink"]
COUNTS = [("a", 1), ("two", 2), ("three", 3), ("four", 4), ("five", 5), ("2", 2), ("3", 3)]
PLURAL = {
    "fox": "foxes",
    "deer": "deer",
    "woman": "women",
    "man": "men",
    "old fisherman": "old fishermen",
    "bus": "buses",
    "knight": "knights",
    "dancer": "dancers",
    "skateboarder": "skateboarders",
    "boy": "boys",
}
NEGATIONS = [
    ("with people in the background", "with no people in the background"),
    ("wearing a hat", "not wearing a hat"),
    ("with birds in the sky", "without birds in the sky"),
    ("with leaves on the trees", "with no leaves on the trees"),
    ("with the lights on", "with the lights off"),
    ("and smiling", "and not smiling"),
    ("with music playing", "with no music playing"),
    ("with clouds overhead", "without any clouds overhead"),
]

# (from, to) substitutions for synonym paraphrases. The last group is outside the guard's
# table on purpose.
SYNONYMS_IN_TABLE = [
    ("car", "automobile"),
    ("big", "large"),
    ("small", "little"),
    ("forest", "woods"),
    ("walking", "strolling"),
    ("jumping", "leaping"),
    ("child", "kid"),
    ("street", "road"),
    ("calm", "tranquil"),
    ("quiet", "peaceful"),
    ("at dawn", "at sunrise"),
    ("at sunset", "at sundown"),
    ("at noon", "at midday"),
    ("aerial shot", "drone shot"),
    ("woman", "lady"),
    ("sofa", "couch"),
]
SYNONYMS_OUTSIDE = [
    ("old", "elderly"),
    ("cozy", "snug"),
    ("speeding", "racing"),
    ("laughing", "giggling"),
    ("narrow", "tight"),
    ("boy", "young boy"),
    ("looking at", "gazing at"),
    ("winding", "meandering"),
    ("sandy beach", "sandy shore"),
    ("moving slowly", "moving gradually"),
]
SIZE_ADJ = ["big", "small", ""]
FILLER_PREFIX = [
    "A cinematic video of",
    "Generate a beautiful 4K clip showing",
    "Stunning footage of",
    "Create a video of",
    "A high quality shot of",
    "Please render",
    "Cinematic scene:",
    "An epic, breathtaking clip of",
]
FILLER_SUFFIX = [", highly detailed", ", high quality", ", 4k", ", cinematic", "", ""]


def noun_phrase(count: str, n: int, size: str, colour: str, subject: str) -> str:
    noun = subject if n == 1 else PLURAL.get(subject, subject + "s")
    words = [w for w in (count, size, colour, noun) if w]
    if count == "a" and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def sample(rng: random.Random) -> dict:
    group = rng.choice(list(GROUPS))
    spec = {
        "group": group,
        "subject": rng.choice(GROUPS[group]["subjects"]),
        "action": rng.choice(GROUPS[group]["actions"]),
        "count": rng.choice(COUNTS[:1] * 4 + COUNTS[1:]),
        "size": rng.choice(SIZE_ADJ),
        "colour": rng.choice(COLOURS) if rng.random() < 0.6 else "",
        "setting": rng.choice(SETTINGS),
        "time": rng.choice(TIMES) if rng.random() < 0.7 else "",
        "weather": rng.choice(WEATHER) if rng.random() < 0.35 else "",
        "camera": rng.choice(CAMERAS) if rng.random() < 0.6 else "",
        "style": rng.choice(STYLES) if rng.random() < 0.5 else "",
        "negation": rng.choice(NEGATIONS) if rng.random() < 0.3 else None,
        "negated": False,
    }
    return spec


def render(spec: dict, order: str = "plain") -> str:
    count, n = spec["count"]
    np_ = noun_phrase(count, n, spec["size"], spec["colour"], spec["subject"])
    core = f"{np_} {spec['action']} {spec['setting']}"
    if spec["negation"]:
        core += " " + spec["negation"][1 if spec["negated"] else 0]
    time, weather = spec["time"], spec["weather"]
    if order == "plain":
        text = core + "".join(f" {x}" for x in (time, weather) if x)
        if spec["camera"]:
            text = f"{spec['camera']} of {text}"
        if spec["style"]:
            text = f"{text}, {spec['style']}"
    else:  # "front": circumstances first, camera and style at the end
        lead = ", ".join(x for x in (time, weather) if x)
        text = f"{lead}, {core}" if lead else core
        tail = ", ".join(x for x in (spec["style"], spec["camera"]) if x)
        if tail:
            text = f"{text}. {tail}"
    return text[0].upper() + text[1:] + "."


def punctuate(rng: random.Random, text: str) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return text.lower().rstrip(".")
    if choice == 1:
        return text.replace(" of ", ", of ", 1).replace(" at ", ", at ", 1).rstrip(".") + "!"
    if choice == 2:
        return text.upper()
    return text.replace("close-up", "close up").replace(", ", " - ").rstrip(".") + " ..."


def filler(rng: random.Random, text: str) -> str:
    body = text[0].lower() + text[1:].rstrip(".")
    return f"{rng.choice(FILLER_PREFIX)} {body}{rng.choice(FILLER_SUFFIX)}."


def synonym(rng: random.Random, spec: dict, text: str) -> str | None:
    table = SYNONYMS_IN_TABLE + SYNONYMS_OUTSIDE
    options = [(a, b) for a, b in table if f" {a} " in f" {text.lower()} "]
    if not options:
        return None
    out = text
    for a, b in rng.sample(options, k=min(len(options), rng.choice([1, 1, 2]))):
        out = (
            (" " + out)
            .replace(f" {a} ", f" {b} ", 1)
            .replace(f" {a.capitalize()} ", f" {b.capitalize()} ", 1)[1:]
        )
    return out if out != text else None


def inflect(text: str) -> str | None:
    swaps = [
        (" running", " runs"),
        (" sleeping", " sleeps"),
        (" walking", " walks"),
        (" dancing", " dances"),
        (" jumping", " jumps"),
        (" playing", " plays"),
        (" eating", " eats"),
        (" reading", " reads"),
        (" riding", " rides"),
        (" driving", " drives"),
        (" laughing", " laughs"),
        (" crossing", " crosses"),
    ]
    for a, b in swaps:
        if a in text:
            return text.replace(a, b, 1)
    return None


def hit_pair(rng: random.Random, kind: str) -> dict | None:
    spec = sample(rng)
    a = render(spec)
    if kind == "reorder":
        b = render(spec, "front")
    elif kind == "synonym":
        b = synonym(rng, spec, a)
    elif kind == "punctuation":
        b = punctuate(rng, a)
    elif kind == "filler":
        b = filler(rng, a)
    elif kind == "inflection":
        b = inflect(a)
    else:  # combo: reorder + filler or synonym
        b = render(spec, "front")
        b = synonym(rng, spec, b) or filler(rng, b)
    if not b or b == a:
        return None
    return {"a": a, "b": b, "label": "hit", "kind": kind}


def other(rng: random.Random, choices: list, current: object) -> object:
    return rng.choice([c for c in choices if c != current])


def miss_pair(rng: random.Random, kind: str) -> dict | None:
    spec = sample(rng)
    changed = dict(spec)
    if kind == "subject":
        changed["subject"] = other(rng, GROUPS[spec["group"]]["subjects"], spec["subject"])
    elif kind == "colour":
        spec["colour"] = spec["colour"] or rng.choice(COLOURS)
        changed["colour"] = other(rng, COLOURS, spec["colour"])
    elif kind == "count":
        changed["count"] = other(rng, COUNTS, spec["count"])
        if changed["count"][1] == spec["count"][1]:
            return None
    elif kind == "action":
        changed["action"] = other(rng, GROUPS[spec["group"]]["actions"], spec["action"])
    elif kind == "setting":
        changed["setting"] = other(rng, SETTINGS, spec["setting"])
    elif kind == "camera":
        spec["camera"] = spec["camera"] or rng.choice(CAMERAS)
        changed["camera"] = other(rng, CAMERAS, spec["camera"])
    elif kind == "style":
        spec["style"] = spec["style"] or rng.choice(STYLES)
        changed["style"] = other(rng, STYLES, spec["style"])
    elif kind == "time":
        spec["time"] = spec["time"] or rng.choice(TIMES)
        changed["time"] = other(rng, TIMES, spec["time"])
    elif kind == "weather":
        spec["weather"] = spec["weather"] or rng.choice(WEATHER)
        changed["weather"] = other(rng, WEATHER, spec["weather"])
    elif kind == "negation":
        spec["negation"] = spec["negation"] or rng.choice(NEGATIONS)
        changed["negation"] = spec["negation"]
        changed["negated"] = True
    for key in ("colour", "camera", "style", "time", "weather", "negation"):
        if key != kind:
            changed[key] = spec[key]
    a = render(spec)
    # Half the hard negatives are also phrased differently, as real requests would be.
    b = render(changed, rng.choice(["plain", "front"]))
    return {"a": a, "b": b, "label": "miss", "kind": kind} if a != b else None


# Free-form pairs written by hand, outside the templates' vocabulary.
HANDWRITTEN = [
    (
        "A golden retriever catching a frisbee in a park",
        "In a park, a golden retriever catches a frisbee",
        "hit",
        "reorder",
    ),
    (
        "Waves crashing against black volcanic rocks, slow motion",
        "Slow-motion waves crashing against black volcanic rocks",
        "hit",
        "reorder",
    ),
    (
        "A barista pouring latte art in a small cafe",
        "Cinematic close look: a barista pouring latte art in a small cafe",
        "hit",
        "filler",
    ),
    (
        "Timelapse of clouds rolling over snowy mountain peaks",
        "Time-lapse of clouds rolling over snowy mountain peaks.",
        "hit",
        "punctuation",
    ),
    (
        "A hummingbird hovering near a red flower, macro shot",
        "Macro shot of a hummingbird hovering near a red flower",
        "hit",
        "reorder",
    ),
    (
        "An old lighthouse on a cliff during a storm at night",
        "At night, during a storm, an old lighthouse on a cliff",
        "hit",
        "reorder",
    ),
    (
        "A large ship sailing through icy arctic waters",
        "A big ship sailing through icy arctic waters",
        "hit",
        "synonym",
    ),
    (
        "A kid flying a kite on a windy hill",
        "A child flying a kite on a windy hill",
        "hit",
        "synonym",
    ),
    (
        "A sports car racing along a coastal road at sunset",
        "At sunset, a sports automobile racing along a coastal road",
        "hit",
        "combo",
    ),
    (
        "Fireworks exploding over a river city skyline",
        "fireworks exploding over a river city skyline!!!",
        "hit",
        "punctuation",
    ),
    (
        "A chef slicing vegetables quickly on a wooden board",
        "A chef quickly slicing vegetables on a wooden board",
        "hit",
        "reorder",
    ),
    (
        "Two penguins waddling across the ice",
        "2 penguins waddling across the ice",
        "hit",
        "synonym",
    ),
    (
        "A steaming cup of coffee on a rainy window sill",
        "A steaming mug of coffee on a rainy window sill",
        "hit",
        "synonym",
    ),
    (
        "A panda munching bamboo in a misty forest",
        "A panda chewing bamboo in a misty forest",
        "hit",
        "synonym",
    ),
    (
        "A jellyfish drifting in dark blue water, glowing softly",
        "Glowing softly, a jellyfish drifting in dark blue water",
        "hit",
        "reorder",
    ),
    (
        "Neon signs reflecting on wet pavement in Tokyo at night",
        "At night in Tokyo, neon signs reflecting on wet pavement",
        "hit",
        "reorder",
    ),
    (
        "A little girl blowing bubbles in a sunny garden",
        "A small girl blowing bubbles in a sunny garden",
        "hit",
        "synonym",
    ),
    (
        "An astronaut floating inside the space station",
        "Beautiful footage of an astronaut floating inside the space station",
        "hit",
        "filler",
    ),
    ("A cat knocking a glass off a table", "A cat knocks a glass off a table", "hit", "inflection"),
    (
        "A family having a picnic under a big oak tree",
        "Under a large oak tree, a family having a picnic",
        "hit",
        "combo",
    ),
    (
        "A golden retriever catching a frisbee in a park",
        "A golden retriever catching a tennis ball in a park",
        "miss",
        "subject",
    ),
    (
        "Waves crashing against black volcanic rocks, slow motion",
        "Waves crashing against white chalk cliffs, slow motion",
        "miss",
        "setting",
    ),
    (
        "A barista pouring latte art in a small cafe",
        "A barista grinding coffee beans in a small cafe",
        "miss",
        "action",
    ),
    (
        "Timelapse of clouds rolling over snowy mountain peaks",
        "Timelapse of stars rotating over snowy mountain peaks",
        "miss",
        "subject",
    ),
    (
        "A hummingbird hovering near a red flower, macro shot",
        "A hummingbird hovering near a yellow flower, macro shot",
        "miss",
        "colour",
    ),
    (
        "An old lighthouse on a cliff during a storm at night",
        "An old lighthouse on a cliff on a calm sunny afternoon",
        "miss",
        "weather",
    ),
    (
        "A large ship sailing through icy arctic waters",
        "A large ship sailing through warm tropical waters",
        "miss",
        "setting",
    ),
    (
        "A kid flying a kite on a windy hill",
        "A kid flying a drone on a windy hill",
        "miss",
        "subject",
    ),
    (
        "A sports car racing along a coastal road at sunset",
        "A sports car racing along a coastal road at night",
        "miss",
        "time",
    ),
    (
        "Fireworks exploding over a river city skyline",
        "Fireworks exploding over a quiet desert",
        "miss",
        "setting",
    ),
    (
        "A chef slicing vegetables quickly on a wooden board",
        "A chef slicing vegetables slowly on a wooden board",
        "miss",
        "action",
    ),
    (
        "Two penguins waddling across the ice",
        "Ten penguins waddling across the ice",
        "miss",
        "count",
    ),
    (
        "A steaming cup of coffee on a rainy window sill",
        "A steaming cup of tea on a rainy window sill",
        "miss",
        "subject",
    ),
    (
        "A panda munching bamboo in a misty forest",
        "A panda munching bamboo in a misty forest, pixel art",
        "miss",
        "style",
    ),
    (
        "A jellyfish drifting in dark blue water, glowing softly",
        "A jellyfish drifting in dark blue water, not glowing",
        "miss",
        "negation",
    ),
    (
        "Neon signs reflecting on wet pavement in Tokyo at night",
        "Neon signs reflecting on dry pavement in Tokyo at night",
        "miss",
        "setting",
    ),
    (
        "A little girl blowing bubbles in a sunny garden",
        "A little boy blowing bubbles in a sunny garden",
        "miss",
        "subject",
    ),
    (
        "An astronaut floating inside the space station",
        "An astronaut floating outside the space station",
        "miss",
        "setting",
    ),
    ("A cat knocking a glass off a table", "A cat pushing a glass off a table", "miss", "action"),
    (
        "A family having a picnic under a big oak tree",
        "A family having a picnic under a big oak tree, aerial view",
        "miss",
        "camera",
    ),
    (
        "A man walking his dog along the beach, camera tracking left",
        "A man walking his dog along the beach, camera tracking right",
        "miss",
        "camera",
    ),
    (
        "A woman in a flowing dress spinning in a field of sunflowers",
        "A woman in a flowing dress spinning in a field of lavender",
        "miss",
        "setting",
    ),
    (
        "A dragon flying over a medieval castle",
        "A dragon sleeping on a medieval castle",
        "miss",
        "action",
    ),
    ("A busy street market with no cars", "A busy street market full of cars", "miss", "negation"),
    (
        "A quiet snowy street with no footprints",
        "A quiet snowy street with footprints",
        "miss",
        "negation",
    ),
    (
        "Four friends toasting glasses at a dinner party",
        "Five friends toasting glasses at a dinner party",
        "miss",
        "count",
    ),
    (
        "A paper boat floating down a gutter after rain",
        "A paper plane gliding down a gutter after rain",
        "miss",
        "subject",
    ),
    (
        "A knight in silver armor riding through a burning village",
        "A knight in golden armor riding through a burning village",
        "miss",
        "colour",
    ),
    (
        "A lone tree in a field, seasons changing from summer to winter",
        "A lone tree in a field, seasons changing from winter to summer",
        "miss",
        "time",
    ),
    (
        "A train arriving at a station in anime style",
        "A train arriving at a station in claymation",
        "miss",
        "style",
    ),
]

HIT_KINDS = {
    "reorder": 40,
    "synonym": 45,
    "punctuation": 30,
    "filler": 40,
    "inflection": 25,
    "combo": 35,
}
MISS_KINDS = {
    "subject": 28,
    "colour": 28,
    "count": 28,
    "action": 28,
    "setting": 28,
    "camera": 28,
    "style": 28,
    "time": 28,
    "weather": 24,
    "negation": 28,
}


def main() -> None:
    rng = random.Random(SEED)
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for kinds, make in ((HIT_KINDS, hit_pair), (MISS_KINDS, miss_pair)):
        for kind, wanted in kinds.items():
            made = 0
            while made < wanted:
                pair = make(rng, kind)
                if pair and (pair["a"], pair["b"]) not in seen:
                    seen.add((pair["a"], pair["b"]))
                    rows.append(pair)
                    made += 1
    rows += [
        {"a": a, "b": b, "label": label, "kind": kind, "source": "hand"}
        for a, b, label, kind in HANDWRITTEN
    ]
    rows += [json.loads(line) for line in ROUNDS.read_text().splitlines() if line.strip()]
    with OUT.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} pairs to {OUT}")


if __name__ == "__main__":
    main()
