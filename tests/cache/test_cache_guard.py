import pytest

from cache.guard import MAX_ORDER_WORDS, check_near_miss


def assert_passes_both_ways(requested: str, cached: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert verdict.ok, (a, b, verdict.reason)


def assert_rejected_both_ways(requested: str, cached: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        assert not check_near_miss(a, b).ok, (a, b)


SHOULD_PASS = [
    (
        "A red car driving down a highway at night",
        "At night, a red automobile drives down a highway.",
    ),
    ("A cinematic 4K video of a cat sleeping on a couch", "a cat sleeps on a sofa"),
    ("A big dog runs to the left", "a large dog running to the left"),
    ("close-up of a hummingbird", "Closeup of a hummingbird!"),
    ("Two penguins waddling across the ice", "2 penguins waddling across the ice"),
    ("A kid flying a kite at sunrise", "a child flying a kite at dawn"),
    ("slow motion waves hitting rocks", "Waves hitting rocks, slow-motion"),
    ("Stunning footage of a fox jumping over a log", "a fox leaps over a log"),
    ("A black and white film of a dancer", "a dancer, black & white"),
    ("A woman walking in the woods, anime style", "Anime: a lady strolling in the forest"),
    ("A street with no cars", "a street with no cars."),
]

SHOULD_REJECT = [
    ("A red car driving at night", "A blue car driving at night", "colour"),
    ("two dogs playing in the snow", "three dogs playing in the snow", "count"),
    ("4 candles on a cake", "5 candles on a cake", "count"),
    ("a street with no cars", "a street with cars", "negation"),
    ("a man without a hat", "a man with a hat", "negation"),
    ("a cat on a table", "a dog on a table", "subject"),
    ("a lake at dawn", "a lake at sunset", "time"),
    ("a lake at noon", "a lake at night", "time"),
    ("slow pan across a forest", "slow zoom across a forest", "camera"),
    ("aerial shot of a city", "close-up of a city", "camera"),
    ("a girl walking, anime style", "a girl walking, watercolor style", "style"),
    ("a castle in claymation", "a castle, photorealistic", "style"),
    ("a garden in the rain", "a garden in the snow", "weather"),
    ("a park in winter", "a park in summer", "weather"),
    ("a man running on the beach", "a man walking on the beach", "action"),
    ("a ball rolling left", "a ball rolling right", "direction"),
    ("a cat under the table", "a cat on top of the table", "direction"),
    ("a car crossing a bridge", "a car crossing a river", "subject"),
]


# Same words, different arrangement: the order check, after every set check has passed.
ORDER_SHOULD_REJECT = [
    ("a cat chasing a dog across a lawn", "a dog chasing a cat across a lawn", "order"),
    (
        "a woman walking from left to right across a street",
        "a woman walking from right to left across a street",
        "direction",
    ),
    ("a tall man next to a short woman", "a short man next to a tall woman", "order"),
    ("a small house on a large hill", "a large house on a small hill", "order"),
    ("a red ball and a blue cube", "a blue ball and a red cube", "order"),
    ("a river flowing north to south", "a river flowing south to north", "direction"),
    ("seasons changing from summer to winter", "seasons changing from winter to summer", "order"),
    (
        "a boat sailing from a harbor to the open sea",
        "a boat sailing from the open sea to a harbor",
        "order",
    ),
    ("a cup on a book", "a book on a cup", "order"),
    ("a cat under a table beside a chair", "a cat beside a table under a chair", "order"),
    (
        "a woman in a red dress dancing with a man in a black suit",
        "a woman in a black dress dancing with a man in a red suit",
        "attribute",  # who wears black, before the order check sees the colours swap
    ),
    ("a man on a horse and a woman on a camel", "a man on a camel and a woman on a horse", "order"),
    ("two dogs and three cats", "three dogs and two cats", "order"),
]

# Reordering paraphrases move whole phrases, which the order check lets through.
ORDER_SHOULD_PASS = [
    ("At sunset, a dog runs along the beach", "A dog runs along the beach at sunset"),
    ("A dog runs along the beach at sunset", "At sunset a dog runs along the beach"),
    (
        "Under a starry sky, a wolf howls on a hilltop",
        "On a hilltop, a wolf howls under a starry sky",
    ),
    ("a small house on a large hill", "on a large hill, a small house"),
    ("a red ball and a blue cube, aerial shot", "Aerial shot: a red ball and a blue cube"),
    ("a bird flying from a tree to a house", "a bird flying to a house from a tree"),
    ("A woman with red hair in a blue dress", "A woman in a blue dress with red hair"),
    ("A chef slicing vegetables quickly", "A chef quickly slicing vegetables"),
    (
        "Orbit shot of a small bus parked near a lighthouse at dawn, anime style.",
        "At dawn, a small bus parked near a lighthouse. anime style, orbit shot.",
    ),
    (
        "Tilt up shot of five rabbits walking on a rooftop in the afternoon under overcast skies",
        "In the afternoon, under overcast skies, five rabbits walking on a rooftop. tilt up shot",
    ),
    (
        "a woman walking from left to right, tracking shot",
        "tracking shot: a woman walks from left to right",
    ),
    ("a red and blue ball", "a blue and red ball"),
]


# A repeated word is compared at every occurrence, not only its first.
REPEATED_SHOULD_REJECT = [
    (
        "a cat and a dog: the cat sleeps, the dog barks",
        "a cat and a dog: the dog sleeps, the cat barks",
    ),
    (
        "a red car and a blue car: the red car stops, the blue car turns",
        "a red car and a blue car: the blue car stops, the red car turns",
    ),
    (
        "a boy and a girl on a beach, the boy chasing the girl",
        "a boy and a girl on a beach, the girl chasing the boy",
    ),
    (
        "two dogs and a cat in a garden, the cat watching the dogs",
        "two dogs and a cat in a garden, the dogs watching the cat",
    ),
]

# Clauses may not cross a sequence marker: the events would happen in the other order.
SEQUENCE_SHOULD_REJECT = [
    ("a man opens the door, then a dog runs out", "a dog runs out, then a man opens the door"),
    ("a man opens the door, then a dog runs out", "a dog runs out and a man opens the door"),
    (
        "a man opens the door, after that a dog runs out",
        "a dog runs out, afterwards a man opens the door",
    ),
    ("a storm followed by a rainbow", "a rainbow followed by a storm"),
    ("a man opens the door. Next, a dog runs out", "a dog runs out. Next, a man opens the door"),
    ("a dog barks, then the dog sleeps", "a dog sleeps, then the dog barks"),
    (
        "a bird lands on a branch, then sings, finally flies away",
        "a bird sings, then lands on a branch, finally flies away",
    ),
]

# Moving whole phrases still passes, with repeated words and within the events of a sequence.
REPEATED_AND_SEQUENCE_SHOULD_PASS = [
    ("In a red room, a man paints a red wall", "A man paints a red wall in a red room"),
    (
        "a cat and a dog: the cat sleeps, the dog barks",
        "the cat sleeps, the dog barks: a cat and a dog",
    ),
    (
        "A dog chases a ball on a beach, then the dog sleeps on a rug",
        "On a beach a dog chases a ball, then on a rug the dog sleeps",
    ),
    (
        "At night, a man opens the door, then a dog runs out",
        "A man opens the door at night, then a dog runs out",
    ),
    (
        "a man opens the door, then a dog runs into the garden at dusk",
        "a man opens the door, then at dusk a dog runs into the garden",
    ),
    ("a man opens the door, then a dog runs out", "a man opens the door and then a dog runs out"),
    (
        "a man opens the door, then a dog runs out",
        "a man opens the door, after that a dog runs out",
    ),
    (
        "Anime style: a man opens the door, then a dog runs out",
        "A man opens the door, then a dog runs out, anime style",
    ),
    ("a car parked next to the next car", "a car parked next to the next car."),
]


@pytest.mark.parametrize(("requested", "cached"), SHOULD_PASS)
def test_paraphrases_pass(requested: str, cached: str) -> None:
    verdict = check_near_miss(requested, cached)
    assert verdict.ok, verdict.reason
    assert check_near_miss(cached, requested).ok


@pytest.mark.parametrize(("requested", "cached", "kind"), SHOULD_REJECT)
def test_near_misses_are_rejected(requested: str, cached: str, kind: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok
        assert verdict.reason and kind.split()[0] in verdict.reason


@pytest.mark.parametrize(("requested", "cached", "kind"), ORDER_SHOULD_REJECT)
def test_rearranged_words_are_rejected(requested: str, cached: str, kind: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok
        assert verdict.reason and verdict.reason.startswith(f"{kind} differs: ")


def test_order_reason_quotes_both_arrangements() -> None:
    verdict = check_near_miss("a cat chasing a dog", "a dog chasing a cat")
    assert verdict.reason == "order differs: cat chasing a dog vs dog chasing a cat"
    verdict = check_near_miss("walking from left to right", "walking from right to left")
    assert verdict.reason == "direction differs: from left to right vs from right to left"


@pytest.mark.parametrize(("requested", "cached"), ORDER_SHOULD_PASS)
def test_reordering_paraphrases_pass(requested: str, cached: str) -> None:
    verdict = check_near_miss(requested, cached)
    assert verdict.ok, verdict.reason
    assert check_near_miss(cached, requested).ok


@pytest.mark.parametrize(("requested", "cached"), REPEATED_SHOULD_REJECT + SEQUENCE_SHOULD_REJECT)
def test_later_occurrences_and_sequence_markers_are_compared(requested: str, cached: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok
        assert verdict.reason and verdict.reason.startswith("order differs: ")


@pytest.mark.parametrize(("requested", "cached"), REPEATED_AND_SEQUENCE_SHOULD_PASS)
def test_moves_within_events_and_past_repeats_pass(requested: str, cached: str) -> None:
    verdict = check_near_miss(requested, cached)
    assert verdict.ok, verdict.reason
    assert check_near_miss(cached, requested).ok


def test_sequence_reason_quotes_both_orders() -> None:
    verdict = check_near_miss(
        "a man opens the door, then a dog runs out", "a dog runs out, then a man opens the door"
    )
    assert verdict.reason == (
        "order differs: man opens the door then a dog vs dog runs out then a man"
    )
    verdict = check_near_miss(
        "a cat and a dog: the cat sleeps, the dog barks",
        "a cat and a dog: the dog sleeps, the cat barks",
    )
    assert verdict.reason == "order differs: cat sleeps the dog vs dog sleeps the cat"


def test_set_differences_are_reported_before_order() -> None:
    # A colour change that also reorders still names the colour, as before the order check.
    verdict = check_near_miss("a red ball and a blue cube", "a blue ball and a green cube")
    assert verdict.reason and verdict.reason.startswith("colour differs")


def test_word_order_is_not_compared_past_the_cap() -> None:
    # The order check's cost grows with the cube of the words in the worst case, and it
    # runs for every candidate: one prompt of thousands of words must not stall the proxy.
    # (Its speed on ordinary prompts is measured by bench/eval_cache.py, not here.)
    words = [f"{a}{b}ox" for a in "bcdfghjklm" for b in "bcdfghjklmnpqrstvwz"][:150]
    third = len(words) // 3
    head, one, two = words[:third], words[third : 2 * third], words[2 * third :]
    requested, cached = " ".join(head + one + two), " ".join(head + two + one)
    verdict = check_near_miss(requested, cached)
    assert not verdict.ok and verdict.reason == f"order not compared: over {MAX_ORDER_WORDS} words"
    short = " ".join(words[: MAX_ORDER_WORDS // 2])
    assert check_near_miss(short, short + ".").ok  # the cap is on comparing, not on passing


# What the word analysis reads past (the guard's "surface" checks): each pair asks for a
# different video, and each reason names the kind of difference.
SURFACE_SHOULD_REJECT = [
    ("a snake in a boot", "a snake on a boot", "relation"),
    ("a soldier marching to the castle", "a soldier marching from the castle", "relation"),
    ("the camera zooms into his eye", "the camera zooms from his eye", "relation"),
    ("a teacher smiles as he walks", "a teacher smiles as she walks", "gender"),
    ("a nurse putting on his coat", "a nurse putting on her coat", "gender"),
    ("a dog on the beach", "dogs on the beach", "number"),
    ("a man and two women dancing", "two men and a woman dancing", "number"),
    ("a woman holding glasses", "a woman holding a glass", "number"),
    ("a dozen roses in a vase", "dozens of roses in a vase", "count"),
    ("a burning house at night", "a burned house at night", "tense"),
    ("a bear attacking a hunter", "a bear attacked by a hunter", "relation"),
    ("a dog drinking on a porch", "a dog with a drink on a porch", "action"),
    ("a man painting a wall", "a painting of a man and a wall", "action"),
    (
        "a father with a scarf and a son without a scarf",
        "a father without a scarf and a son with a scarf",
        "negation",
    ),
    (
        "a man not holding a cup, holding a book",
        "a man holding a cup, not holding a book",
        "negation",
    ),
    (
        "no cars in the left lane, cars in the right lane",
        "cars in the left lane, no cars in the right lane",
        "negation",
    ),
    ("a scoreboard reading 98-87", "a scoreboard reading 87-98", "text"),
    ("a thermometer reading -5°C", "a thermometer reading 5°C", "text"),
    ("a clock showing 5:12", "a clock showing 12:05", "text"),
    ("a price tag of $5 on an apple", "a price tag of $50 on an apple", "count"),
    ("a chalkboard showing 7 > 3", "a chalkboard showing 7 < 3", "text"),
    ('a sign that says "STOP"', 'a sign that says "stop"', "text"),
    ('a sign reading "DOG ON BOARD"', 'a sign reading "DOG IN BOARD"', "text"),
    ("a 🐶 on a beach", "a 🐱 on a beach", "text"),
    ("一只红色的猫在沙发上", "一只蓝色的猫在沙发上", "text"),
    ("a glass breaks on the floor", "a broken glass on the floor", "tense"),
    ("a house burns at night", "a burned house at night", "tense"),
    ("a building collapses in a city", "a collapsed building in a city", "tense"),
    # From a third review: what an earlier relaxation had let through.
    ("the burning of a house", "a burned house", "tense"),
    ("a painting of a house", "a painted house", "tense"),
    ("a person riding her bike", "a person riding a bike", "gender"),
    ("a king cobra in the grass", "a cobra king in the grass", "order"),
    ("a dog covered in mud next to a cat", "a dog next to a cat covered in mud", "attribute"),
    ("a counter showing 12345678901234567", "a counter showing 12345678901234568", "count"),
    ("a sign saying „STOP“", "a sign saying „stop“", "text"),
    ("a fallen tree across the road", "the tree fell across the road", "tense"),
    ("a collapsed bridge over a river", "the collapse of a bridge over a river", "tense"),
    ("a boy playing a drum", "a boy playing drums", "number"),
    ("a child drawing a dragon", "a child and this drawing of a dragon", "action"),
    ("a car covered in snow beside a truck", "a car beside a truck covered in snow", "attribute"),
    ("a woman reading a book next to a man", "a woman next to a man reading a book", "attribute"),
    ("a dog sled in the snow", "a sled dog in the snow", "order"),
    ("el papá saludando en la playa", "el papa saludando en la playa", "subject"),
    ("a child playing a video game", "a child playing a game", "subject"),
    ("a crime scene at night", "a crime at night", "subject"),
    ("a sculptor creating a statue", "a sculptor and a statue", "subject"),
    ("a dog house in a garden", "a house dog in a garden", "order"),
    ("a table lamp", "a lamp table", "order"),
    ("a tall tree beside a tiny house", "a tall house beside a tiny tree", "order"),
    ("a wooden boat near a stone bridge", "a stone boat near a wooden bridge", "order"),
    ("a black and white cow in a field", "black and white footage of a cow in a field", "colour"),
    ("a wood cabin", "a cabin in the woods", "subject"),
    # From a second, independent red team (its blind set; see the README).
    ("a diver about to jump off a cliff", "a diver jumping off a cliff", "subject"),
    ("the dog's owner walking in a park", "the owner's dog walking in a park", "attribute"),
    ("he holds her hand on a bridge", "she holds his hand on a bridge", "gender"),
    ("a yellow taxi next to a bus", "a taxi next to a yellow bus", "attribute"),
    ("a smiling woman holding a baby", "a woman holding a smiling baby", "attribute"),
    ("a broken vase next to a cup", "a vase next to a broken cup", "attribute"),
    (
        "the tortoise and the hare race, the tortoise wins",
        "the tortoise and the hare race, the hare wins",
        "subject",
    ),
    ("the letter A carved on a block", "the letter I carved on a block", "text"),
    (
        "a woman with an umbrella talks to a man",
        "a woman talks to a man with an umbrella",
        "attribute",
    ),
    (
        "an old woman carrying flowers greets a man",
        "an old woman greets a man carrying flowers",
        "attribute",
    ),
]

SURFACE_SHOULD_PASS = [
    ("a running dog on a beach", "a dog running on a beach"),
    ("the camera slowly zooms in on a rose", "a rose, the camera slowly zooms in"),
    ("a man walks his dog in the park", "a man walking his dog in the park"),
    ("a woman with no umbrella in the rain", "a woman without an umbrella in the rain"),
    ('a neon sign that says "OPEN" in a window', 'in a window, a neon sign that says "OPEN"'),
    ("a video of a horse galloping", "a horse galloping"),
    ("a cinematic shot of a lighthouse in a storm", "a lighthouse in a storm, cinematic"),
    ("black and white footage of a station", "a station, black and white"),
    ("a chef slicing vegetables quickly", "a chef quickly slicing vegetables"),
    ("at 5:30 pm, a man waits for a bus", "a man waits for a bus at 5:30 pm"),
    ("please make a video of a cat on a sofa", "a cat on a sofa"),
    ("a street without any cars", "a street with no cars"),
    ("a boy riding a motorbike", "a boy riding a motorcycle"),
    ("a woman lying on the grass", "a woman lies on the grass"),
    ("it's raining on a quiet street", "it is raining on a quiet street"),
    ("a man walking in the park with a dog", "a man with a dog walking in the park"),
    ("a man at the beach with a dog", "a man with a dog at the beach"),
    ("a man in a red shirt with a guitar", "a man with a guitar in a red shirt"),
    # Passed before the surface checks and must keep passing (a review of them).
    ("a dog that runs on the beach", "a dog running on the beach"),
    ("a mountain covered in snow", "a snow-covered mountain"),
    ("a car parked by the road", "a parked car by the road"),
    ("a man with a beard", "a bearded man"),
    ("a sign saying “STOP”", 'a sign saying "STOP"'),
    # A participle before or after the same thing; or after a thing named in a phrase of
    # its own ("with a dog walking"), which is too ambiguous to hold against a paraphrase.
    ("a sleeping baby in a crib", "a baby sleeping in a crib"),
    ("crashing waves on the rocks", "waves crashing on the rocks"),
    ("a dog that is sleeping on a rug", "a sleeping dog on a rug"),
    ("a big sleeping dog on a rug", "a big dog sleeping on a rug"),
    ("a girl reading quietly next to a cat", "a girl quietly reading next to a cat"),
    ("an old man smiling at a boy", "a smiling old man at a boy"),
    (
        "a woman with red hair in a blue dress walking through a market",
        "a woman in a blue dress with red hair walking through a market",
    ),
    # Single, double or curly quotes around the same text are one sign; apostrophes outside
    # quotes ("the dogs' bowl", "it's") open no quote.
    ("a door sign reading 'OPEN'", 'a door sign reading "OPEN"'),
    ("a shop sign reading ‘We’ll be back’", "a shop sign reading 'We'll be back'"),
    ("the dogs' bowl on the porch, it's sunny", "it is sunny, the dogs' bowl on the porch"),
]


@pytest.mark.parametrize(("requested", "cached", "kind"), SURFACE_SHOULD_REJECT)
def test_small_words_and_unread_text_are_compared(requested: str, cached: str, kind: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok, (a, b)
        assert verdict.reason is not None and verdict.reason.startswith(kind), verdict.reason


@pytest.mark.parametrize(("requested", "cached"), SURFACE_SHOULD_PASS)
def test_paraphrases_keep_passing_the_surface_checks(requested: str, cached: str) -> None:
    assert check_near_miss(requested, cached).ok, check_near_miss(requested, cached).reason
    assert check_near_miss(cached, requested).ok


# Round 4 (a blind red team): the same words, joined into another thing.
COMPOUND_SHOULD_REJECT = [
    ("a race car on a coastal track", "a car race on a coastal track", "order"),
    ("a horse race at dawn", "a race horse at dawn", "order"),
    ("a butterfly knife on a table", "a knife with a butterfly on it on a table", "subject"),
    ("a dog house in a yard", "a house with a dog in a yard", "subject"),
    ("a man-eating shark near a boat", "a man eating shark near a boat", "subject"),
    ("a man-eating plant in a greenhouse", "a man eating a plant in a greenhouse", "subject"),
    ("a cat-shaped balloon over a field", "a balloon-shaped cat over a field", "order"),
    ("a black-and-white cat on a rug", "a black cat and a white cat on a rug", "count"),
    ("a child thanking her teacher", "a child with her teacher", "subject"),
    # A participle moved from one thing to another (from an earlier red team's misses).
    ("a cat sleeping beside a dog", "a cat beside a sleeping dog", "attribute"),
    ("a vase broken beside a cup", "a vase beside a broken cup", "attribute"),
    ("a man holding a sleeping baby", "a sleeping man holding a baby", "attribute"),
    ("a cat sleeping beside a big dog", "a cat beside a sleeping big dog", "attribute"),
    ("twins playing in a garden", "a twin playing in a garden", "count"),
    ("a twin sister waving", "twin sisters waving", "count"),
]

# A review of the dressing rules: each of these was a wrong video after them.
DRESSING_LOOKALIKES_SHOULD_REJECT = [
    ("a man filming a video for me", "a man filming a video"),
    ("shot on a 35 mm lens", "shot on a 50mm lens"),
    ("a baseball cap with a big 'D' on the front", "a baseball cap with a big 'M' on the front"),
    ("a vintage 'RE' brand sign", "a vintage brand sign"),
    ("a thermometer showing –10°C", "a thermometer showing 10°C"),
    ("Hello Kitty plush toy on a shelf", "a kitty plush toy on a shelf"),
    ("Hey Arnold walking down the street", "Arnold walking down the street"),
    ("a toddler claps and cheers", "a toddler claps"),
    ("a child saying thank you", "a child saying"),
    ("a vintage AM radio", "a vintage radio"),
    ("a kindly old wizard", "an old wizard"),
    # Single-quoted sign text is text: its contractions are not expanded, its case counts.
    ("a neon sign reading 'We'll be back'", "a neon sign reading 'We be back'"),
    ("a door sign reading 'OPEN'", "a door sign reading 'open'"),
    ("a shop sign reading ‘Don’t stop’", "a shop sign reading 'Do not stop'"),
    # Quotes inside the quote, a symbol first, a line break: still one stretch of sign text.
    ("a banner reading 'CLASS OF '99' in a gym", "a banner reading 'Class of '99' in a gym"),
    ("a neon sign reading 'ROCK 'n' ROLL' in a diner", "a neon sign reading 'Rock 'n' Roll'"),
    ("a coffee mug that says '#1 DAD' on a desk", "a coffee mug that says '#1 Dad' on a desk"),
    (
        "a sign reading 'GRAND\nOPENING' above a store",
        "a sign reading 'grand opening' above a store",
    ),
]

# Politeness, contractions, spellings and punctuation that only dress a request.
DRESSING_SHOULD_PASS = [
    ("a yellow cab driving through Chicago. Thanks!", "a yellow cab driving through Chicago"),
    ("Hi! Prompt: a cat asleep on a windowsill", "a cat asleep on a windowsill"),
    ("Could you please make a kite over the dunes?", "a kite over the dunes"),
    (
        "Hi! Could you please make a video for me? A heron stands in a pond at dawn. Thanks!",
        "A heron stands in a pond at dawn.",
    ),
    ("make a clip for us of a heron in a pond", "a clip of a heron in a pond"),
    (
        "a street at night, shot on a 35 mm lens at 24 fps",
        "a street at night, shot on a 35mm lens at 24fps",
    ),
    ("I need a clip of a fox in the snow", "a fox in the snow"),
    ("I'd like a heron standing in a pond", "a heron standing in a pond"),
    ("they're dancing in the rain", "they are dancing in the rain"),
    ("a dog that can't swim", "a dog that cannot swim"),
    ("a knight in armour practising in the centre", "a knight in armor practicing in the center"),
    (
        "a doughnut on a plate in the neighbourhood cafe",
        "a donut on a plate in the neighborhood cafe",
    ),
    ("a 10 sec shot of waves on a pier", "a 10-second shot of waves on a pier"),
    ("24 fps footage of a skater", "24 frames per second footage of a skater"),
    ("an empty platform, no one on it", "an empty platform, nobody on it"),
    ("a street in NYC at night", "a street in New York City at night"),
    ("a dog w/ a red hat", "a dog with a red hat"),
    ("a grandpa fishing from a rowboat", "a grandfather fishing from a rowboat"),
    ("a man dancing tango — neon reflections", "neon reflections: a man dancing tango"),
    ("a moss-covered rock in a stream", "a moss covered rock in a stream"),
    ("a black and white cat on a rug", "a black-and-white cat on a rug"),
    ("a frozen lake in winter", "a lake that is frozen in winter"),
    ("a mouse hiding beneath a table", "a mouse hiding under a table"),
]


@pytest.mark.parametrize(("requested", "cached", "kind"), COMPOUND_SHOULD_REJECT)
def test_the_same_words_joined_differently_are_rejected(
    requested: str, cached: str, kind: str
) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok, (a, b)
        assert verdict.reason is not None and verdict.reason.startswith(kind), verdict.reason


@pytest.mark.parametrize(("requested", "cached"), DRESSING_LOOKALIKES_SHOULD_REJECT)
def test_what_only_looks_like_dressing_is_compared(requested: str, cached: str) -> None:
    assert not check_near_miss(requested, cached).ok
    assert not check_near_miss(cached, requested).ok


@pytest.mark.parametrize(("requested", "cached"), DRESSING_SHOULD_PASS)
def test_dressing_around_a_request_passes(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


def test_a_huge_prompt_is_refused_at_once() -> None:
    # Tens of thousands of characters (a 32,000-character prompt is within the API's limit)
    # must not hold the interpreter: before the cap and the linear patterns, 16,000 digits
    # took 21 s and froze the event loop.
    huge = "a sign showing " + "7" * 31_900
    verdict = check_near_miss(huge, huge[:-1] + "8")
    assert not verdict.ok and verdict.reason is not None
    assert verdict.reason.startswith("not compared")


# Differences the README listed as known misses, each closed by a general rule. Every list
# of misses has paraphrases of the same shape beside it that must keep passing.

# A modifier moved onto a noun that already had one: colours, styles, weather and times of
# day stack between a modifier and its noun ("a shiny red apple" is a shiny apple).
MOVED_MODIFIER_SHOULD_REJECT = [
    ("a red apple on a shiny table", "a shiny red apple on a table"),
    ("a tall man with a small dog", "a man with a tall small dog"),
    ("a big black dog next to a cat", "a black dog next to a big cat"),
    ("a rusty blue truck beside a car", "a blue truck beside a rusty car"),
    ("a tiny green frog on a leaf", "a green frog on a tiny leaf"),
    ("an old vintage car near a house", "a vintage car near an old house"),
    ("a quiet night street near a park", "a night street near a quiet park"),
]

MOVED_MODIFIER_SHOULD_PASS = [
    ("a shiny red apple on a table", "on a table, a shiny red apple"),
    ("a red apple on a shiny table", "on a shiny table, a red apple"),
    ("a big black dog next to a cat", "next to a cat, a big black dog"),
    ("a rusty blue truck beside a car", "beside a car, a rusty blue truck"),
    ("a small wooden boat on a calm blue lake", "on a calm blue lake, a small wooden boat"),
    ("a fluffy white cat on a wooden chair", "a fluffy cat, white, on a wooden chair"),
]


@pytest.mark.parametrize(("requested", "cached"), MOVED_MODIFIER_SHOULD_REJECT)
def test_a_modifier_moved_onto_another_noun_is_rejected(requested: str, cached: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok, (a, b)
        assert verdict.reason is not None and verdict.reason.startswith("attribute"), verdict.reason


@pytest.mark.parametrize(("requested", "cached"), MOVED_MODIFIER_SHOULD_PASS)
def test_a_modifier_staying_on_its_noun_passes(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


# A phrase or participle moved to a person or an animal named after a place word or "to":
# after "by", "at", "to", "near"... a being is someone of its own, whom what follows
# describes. After "with" or a carrier ("on a horse") it stays ambiguous, so paraphrases
# moving those phrases still pass.
MOVED_TO_A_BEING_SHOULD_REJECT = [
    ("a man dressed in black talking to a woman", "a man talking to a woman dressed in black"),
    ("a girl with a scarf walks by a boy", "a girl walks by a boy with a scarf"),
    (
        "a cat staring at a dog sleeping on the couch",
        "a cat sleeping on the couch staring at a dog",
    ),
    ("a dog covered in mud barking at a cat", "a dog barking at a cat covered in mud"),
    ("a man smiling at a baby sleeping in a crib", "a man sleeping in a crib smiling at a baby"),
    ("a boy with a kite running toward his father", "a boy running toward his father with a kite"),
    (
        "a man holding an umbrella waving to a child",
        "a man waving to a child holding an umbrella",
    ),
]

MOVED_TO_A_BEING_SHOULD_PASS = [
    ("a girl walks by a boy with a scarf", "by a boy with a scarf, a girl walks"),
    ("a girl with a scarf walks by a boy", "a girl with a scarf walking by a boy"),
    (
        "a cat staring at a dog sleeping on the couch",
        "a cat staring at a dog that is sleeping on the couch",
    ),
    ("a woman talking to a man dressed in black", "a woman talks to a man who is dressed in black"),
    ("a man dressed in black talking to a woman", "dressed in black, a man talking to a woman"),
    ("a man smiling at a baby sleeping in a crib", "a man smiling at a sleeping baby in a crib"),
    ("a man on a horse with a sword", "a man with a sword on a horse"),
    ("a boy on a horse wearing a hat", "a boy wearing a hat on a horse"),
    (
        "a knight riding on a dragon holding a sword",
        "a knight holding a sword riding on a dragon",
    ),
    ("a man in the rain with an umbrella", "a man with an umbrella in the rain"),
]


@pytest.mark.parametrize(("requested", "cached"), MOVED_TO_A_BEING_SHOULD_REJECT)
def test_a_phrase_moved_to_a_being_after_a_place_word_is_rejected(
    requested: str, cached: str
) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok, (a, b)
        assert verdict.reason is not None and verdict.reason.startswith("attribute"), verdict.reason


@pytest.mark.parametrize(("requested", "cached"), MOVED_TO_A_BEING_SHOULD_PASS)
def test_a_phrase_kept_on_its_being_passes(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


# A compound naming a person or an animal spelt out with a place word: a kind of being is
# not a being somewhere. Compounds naming things, and a season or a time of day before a
# being, keep passing when spelt out with a place (as "in" / "on" phrases do not: the
# relation check rejects those on one side only, "a mountain lake" / "a lake in the
# mountains" included).
BEING_COMPOUND_SHOULD_REJECT = [
    ("a snow man", "a man in the snow"),
    ("a sea lion", "a lion at sea"),
    ("a sea lion on the rocks", "a lion at sea on the rocks"),
    ("a sea horse near a reef", "a horse at sea near a reef"),
    ("a snow leopard on a rock", "a leopard in the snow on a rock"),
    ("a snowy owl on a branch", "an owl in the snow on a branch"),
]

BEING_COMPOUND_SHOULD_PASS = [
    ("a beach house", "a house at the beach"),
    ("a snowy mountain", "a mountain in the snow"),
    ("a rainy street", "a street in the rain"),
    ("a sunset surfer", "a surfer at sunset"),
    ("a winter swimmer", "a swimmer in winter"),
    ("a sea lion on a rock", "on a rock, a sea lion"),
    ("a man in the snow", "in the snow, a man"),
    ("in the snow a man builds a fort", "a man in the snow builds a fort"),
]


@pytest.mark.parametrize(("requested", "cached"), BEING_COMPOUND_SHOULD_REJECT)
def test_a_kind_of_being_spelt_out_with_a_place_is_rejected(requested: str, cached: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok, (a, b)
        assert verdict.reason is not None and verdict.reason.startswith("subject"), verdict.reason


@pytest.mark.parametrize(("requested", "cached"), BEING_COMPOUND_SHOULD_PASS)
def test_a_thing_spelt_out_with_a_place_passes(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


# A role moved through a picture or likeness: what follows "a photo of" is in the photo.
DEPICTION_SHOULD_REJECT = [
    ("a photo of a man holding a cat", "a man holding a photo of a cat"),
    ("a painting of a woman holding a dog", "a woman holding a painting of a dog"),
    ("a picture of a girl hugging a bear", "a girl hugging a picture of a bear"),
    ("a drawing of a boy feeding a horse", "a boy feeding a drawing of a horse"),
    ("a poster of a singer with a guitar", "a singer with a poster of a guitar"),
    ("a statue of a soldier beside a horse", "a soldier beside a statue of a horse"),
    ("a video of a man watching a dog", "a man watching a video of a dog"),
]

DEPICTION_SHOULD_PASS = [
    ("a photo of a man holding a cat", "a picture of a man who is holding a cat"),
    ("a man holding a photo of a cat", "a man holds a photo of a cat"),
    ("a statue of a lion in a park", "in a park, a statue of a lion"),
    ("a poster of a dog on a wall", "on a wall, a poster of a dog"),
    ("a video of a man and a woman dancing", "a video of a woman and a man dancing"),
    ("a slow motion video of a dog running", "a video of a dog running, slow motion"),
    ("a photo of a cup of coffee on a table", "on a table, a photo of a cup of coffee"),
    ("a cinematic video of a cat sleeping on a couch", "a video of a cat that sleeps on a sofa"),
    ("a video of a dog running on a beach", "a video of a dog on a beach running"),
    ("a video of a chef cooking in a kitchen", "a video of a chef in a kitchen cooking"),
    (
        "a video of a dog running and a cat sleeping",
        "a video of a cat sleeping and a dog running",
    ),
]


@pytest.mark.parametrize(("requested", "cached"), DEPICTION_SHOULD_REJECT)
def test_a_role_moved_through_a_picture_is_rejected(requested: str, cached: str) -> None:
    for a, b in ((requested, cached), (cached, requested)):
        verdict = check_near_miss(a, b)
        assert not verdict.ok, (a, b)
        assert verdict.reason is not None and verdict.reason.startswith("subject"), verdict.reason


@pytest.mark.parametrize(("requested", "cached"), DEPICTION_SHOULD_PASS)
def test_a_picture_showing_the_same_passes(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


# Long prompts name the same kind of detail several times. Changing one mention to a value
# named elsewhere keeps the set of values (round 5 of the red team: 59 of 116 such pairs
# passed), so colours, counts, times, directions... are compared as multisets.
_RAIN = (
    "A little girl in a yellow raincoat and red rubber boots stomps in puddles on a gray "
    "London street. A {bus} double-decker bus passes behind her, and a woman holding a "
    "{umbrella} umbrella waits at the bus stop. Low angle at the girl's height, 35mm."
)
_SHOTS = (
    "Shot 1: a {first} of a baker kneading dough at sunrise. Shot 2: a close-up of her "
    "hands shaping loaves. Shot 3: a wide shot of the bakery at {last}, lights glowing."
)
REPEATED_VALUE_SHOULD_REJECT = [
    (_RAIN.format(bus="red", umbrella="yellow"), _RAIN.format(bus="yellow", umbrella="yellow")),
    (_RAIN.format(bus="red", umbrella="yellow"), _RAIN.format(bus="red", umbrella="red")),
    (
        "Two kites fly over a beach where two kids and three dogs run along the water.",
        "Three kites fly over a beach where two kids and three dogs run along the water.",
    ),
    (
        _SHOTS.format(first="wide shot", last="sunrise"),
        _SHOTS.format(first="close-up", last="sunrise"),
    ),
    (
        _SHOTS.format(first="wide shot", last="sunrise"),
        _SHOTS.format(first="wide shot", last="noon"),
    ),
    (
        "The camera pans left over the crowd, then the drone turns right at the river.",
        "The camera pans right over the crowd, then the drone turns right at the river.",
    ),
    (
        "a red car and a blue car racing, the red car crashes",
        "a red car and a blue car racing, the blue car crashes",
    ),
]
REPEATED_VALUE_SHOULD_PASS = [
    (
        _RAIN.format(bus="red", umbrella="yellow"),
        "A yellow raincoat and red rubber boots: a little girl stomps in puddles on a gray "
        "London street. A red double-decker bus passes behind her, and a woman holding a "
        "yellow umbrella waits at the bus stop. Low angle at the girl's height, 35mm.",
    ),
    (
        "Two kites fly over a beach where two kids and three dogs run along the water.",
        "2 kites fly over a beach where 2 kids and 3 dogs run along the water.",
    ),
]


@pytest.mark.parametrize(("requested", "cached"), REPEATED_VALUE_SHOULD_REJECT)
def test_one_of_several_mentions_changed_is_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), REPEATED_VALUE_SHOULD_PASS)
def test_the_same_mentions_in_other_words_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


# Switched on or off: "on" as a particle is no relation, and "off" is often in a long prompt
# already ("a locked-off tripod").
_GARAGE = (
    "A rider stops her motorcycle in an empty garage at night. She sits with her helmet "
    "{helmet}, checking her phone. The headlight is still {light}. Locked-off tripod, 35mm."
)
SWITCH_SHOULD_REJECT = [
    (_GARAGE.format(helmet="on", light="off"), _GARAGE.format(helmet="off", light="off")),
    (_GARAGE.format(helmet="off", light="off"), _GARAGE.format(helmet="off", light="on")),
    (
        "Time-lapse of a city as day turns to night, streetlights blink on. Locked-off tripod.",
        "Time-lapse of a city as day turns to night, streetlights blink off. Locked-off tripod.",
    ),
    ("a desk lamp switched on in an empty office", "a desk lamp switched off in an empty office"),
]
SWITCH_SHOULD_PASS = [
    (
        "a cat in a desert with the lights on in the morning",
        "in the morning, a cat in a desert with the lights on",
    ),
    (
        "the porch light is on at night, a locked-off shot",
        "at night the porch light is on. Locked-off shot",
    ),
    ("a man turns off the radio", "a man turns the radio off"),
]


@pytest.mark.parametrize(("requested", "cached"), SWITCH_SHOULD_REJECT)
def test_a_thing_switched_the_other_way_is_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), SWITCH_SHOULD_PASS)
def test_the_same_switch_in_other_words_passes(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


def test_a_word_stemming_to_a_stopword_is_content() -> None:
    # "cane" stems to "can", a stopword: the cane was invisible to every check.
    assert not check_near_miss("an old man holding a cane", "an old man holding a can").ok
    assert not check_near_miss("a man holding cans", "a man holding a cane").ok
    assert check_near_miss("an old man walking with a cane", "with a cane, an old man walking").ok


def test_a_note_is_no_negation() -> None:
    # "note", "notes" and "noted" stem to "not": read as a negator, a heading such as
    # "Camera notes:" made every long prompt with one a "negation differs".
    assert check_near_miss("a sticky note on the fridge", "A sticky note on a fridge.").ok
    verdict = check_near_miss("a yellow sticky note on a fridge", "a blue sticky note on a fridge")
    assert verdict.reason is not None and verdict.reason.startswith("colour"), verdict.reason
    verdict = check_near_miss(
        "Camera notes: a slow push in on a red door", "a slow push in on a red door"
    )
    assert verdict.reason is not None and not verdict.reason.startswith("negation"), verdict.reason


# A participle right after a with/holding/wearing phrase describes the one who has it:
# moved to another person or animal, it is another video (a review's fuzzing found 44 such
# pairs let through once beings after a place word owned the phrases after them).
PARTICIPLE_AFTER_A_PHRASE_SHOULD_REJECT = [
    (
        "a dog with a ball covered in mud runs behind a boy holding a stick",
        "a dog with a ball runs behind a boy covered in mud holding a stick",
    ),
    (
        "a knight holding a sword sleeping near a girl wearing a hat",
        "a knight holding a sword near a sleeping girl wearing a hat",
    ),
    (
        "a chef sleeping on the couch stares at a girl wearing a hat",
        "a chef stares at a girl wearing a hat sleeping on the couch",
    ),
    (
        "a cat with a sword dressed in black walks behind a chef carrying an umbrella",
        "a cat with a sword walks behind a chef dressed in black carrying an umbrella",
    ),
]


@pytest.mark.parametrize(("requested", "cached"), PARTICIPLE_AFTER_A_PHRASE_SHOULD_REJECT)
def test_a_participle_after_a_phrase_moved_to_another_being_is_rejected(
    requested: str, cached: str
) -> None:
    assert_rejected_both_ways(requested, cached)


def test_a_participle_after_a_phrase_kept_on_its_owner_passes() -> None:
    assert check_near_miss(
        "a knight holding a sword sleeping near a girl",
        "near a girl, a knight holding a sword sleeping",
    ).ok


# Round 6 (a blind red team on 12-45-word prompts) found these let through; each is
# another video.
ROUND_6_SHOULD_REJECT = [
    # Clothes moved to another person: "in" before clothes is what someone wears.
    (
        "A man in a grey hoodie sits next to a woman in a white coat on a subway train.",
        "A man sits next to a woman in a grey hoodie and a white coat on a subway train.",
    ),
    ("a man in a red coat stands beside a woman", "a man stands beside a woman in a red coat"),
    ("a woman in black walks past a man", "a woman walks past a man in black"),
    (
        "a girl in a yellow raincoat walks with her grandfather",
        "a girl walks with her grandfather in a yellow raincoat",
    ),
    (
        "A boxer in red gloves knocks down an opponent in blue gloves.",
        "A boxer knocks down an opponent in red and blue gloves.",
    ),
    # What one has, said with a verb in a clause about the other.
    (
        "A girl with a yellow backpack walks with her brother, who carries a green lunchbox.",
        "A girl walks with her brother, who carries a yellow backpack and a green lunchbox.",
    ),
    # A colour in a list describes the list's noun.
    (
        "A red car is parked next to a blue truck outside a diner.",
        "A car is parked next to a red and blue truck outside a diner.",
    ),
    # Pronouns are who does what.
    (
        "A fire truck races down the avenue while cars pull over to let it pass.",
        "A fire truck races down the avenue while it pulls over to let cars pass.",
    ),
    (
        "The teacher claps as the students finish the race, and they run over to hug her.",
        "The teacher claps as the students finish the race, and she runs over to hug them.",
    ),
    (
        "A police car chases a motorbike until it crashes into a barrier.",
        "A police car chases a motorbike until the police car crashes into a barrier.",
    ),
    # "most" is how many; an extreme close-up is another shot.
    (
        "Most of the lanterns float up into the night sky, but a few stay caught in the trees.",
        "A few of the lanterns float up into the night sky, but most stay caught in the trees.",
    ),
    (
        "A chef tosses vegetables in a wok. Close-up.",
        "A chef tosses vegetables in a wok. Extreme close-up.",
    ),
    # A verb's word used as a noun is a thing that can trade roles.
    (
        "Waves lift the boat and drop it onto the rocks",
        "The boat lifts the waves and drops them onto the rocks",
    ),
    # A state after "with" someone describes that one.
    ("a woman dressed in red dancing with a man", "a woman dancing with a man dressed in red"),
    # Events told in the other order around "when".
    ("a dog barks when the doorbell rings", "the doorbell rings when the dog barks"),
    ("the lights go out when the girl screams", "the girl screams when the lights go out"),
]

ROUND_6_SHOULD_PASS = [
    (
        "a woman in a blue dress with red hair walks through a market",
        "a woman with red hair in a blue dress walks through a market",
    ),
    ("In a red coat, a man stands beside a woman", "a man in a red coat stands beside a woman"),
    ("a man in a park stands beside a woman", "a man stands beside a woman in a park"),
    ("a man on a horse in a red coat", "a man in a red coat on a horse"),
    ("a red and blue truck on a bridge", "a blue and red truck on a bridge"),
    ("When the sun sets, a wolf howls on the hill", "A wolf howls on the hill when the sun sets"),
    ("When the sun sets a wolf howls on the hill", "A wolf howls on the hill when the sun sets"),
    (
        "a dog barks when a man opens the door and a cat runs away",
        "When a man opens the door, a dog barks and a cat runs away",
    ),
    ("the most beautiful sunset over the sea", "a beautiful sunset over the sea"),
    ("Waves crash against the rocks at dawn", "At dawn, waves crash against the rocks"),
    (
        "A nurse in green scrubs walks beside a doctor, handheld",
        "Handheld: a nurse in green scrubs walks beside a doctor",
    ),
    ("He smiles as his dog runs along the beach", "His dog runs along the beach as he smiles"),
    ("A chef in a wok kitchen. Extreme close-up.", "A chef in a wok kitchen. Extreme closeup."),
]


@pytest.mark.parametrize(("requested", "cached"), ROUND_6_SHOULD_REJECT)
def test_round_6_wrong_videos_are_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), ROUND_6_SHOULD_PASS)
def test_round_6_paraphrases_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


def test_round_6_reasons_name_the_difference() -> None:
    verdict = check_near_miss(
        "a man stands beside a woman in a red coat", "a man in a red coat stands beside a woman"
    )
    assert verdict.reason == "attribute differs: woman in red vs man in red"
    verdict = check_near_miss(
        "the doorbell rings when the dog barks", "a dog barks when the doorbell rings"
    )
    assert verdict.reason == "order differs: when bark dog vs when doorbell ring"


# Review 8 of round 6: readings the round's changes relied on that failed in neighbours.
REVIEW_8_SHOULD_REJECT = [
    # Colours alone before a verb the action list lacks.
    ("a chef in black holds hands with a knight", "a chef holds hands with a knight in black"),
    ("a woman in black follows a man", "a woman follows a man in black"),
    # A person missing from the list of beings.
    (
        "a woman wearing a red coat walks with a host",
        "a woman walks with a host, who is wearing a red coat",
    ),
    (
        "a woman in a red coat dances with her partner",
        "a woman dances with her partner in a red coat",
    ),
    # "who" after the object of "with", and "wears".
    (
        "A girl with a yellow backpack walks with her brother, who carries a green lunchbox.",
        "A girl walks with her brother, who carries a yellow backpack and a green lunchbox.",
    ),
    (
        "a girl wearing a red coat walks with her brother",
        "a girl walks with her brother, who wears a red coat",
    ),
]

REVIEW_8_SHOULD_PASS = [
    # A scene phrase moving in or out of the clause "when" opens.
    (
        "kids cheer when the fireworks start at midnight",
        "at midnight, kids cheer when the fireworks start",
    ),
    (
        "a cat jumps when it sees a cucumber in the kitchen",
        "a cat in the kitchen jumps when it sees a cucumber",
    ),
]


@pytest.mark.parametrize(("requested", "cached"), REVIEW_8_SHOULD_REJECT)
def test_review_8_wrong_videos_are_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), REVIEW_8_SHOULD_PASS)
def test_review_8_paraphrases_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


# Two or more things named by the same noun, told apart by the words before it or by which
# one was named first: what one of them has, wears or does belongs to that one.
SAME_NOUN_SHOULD_REJECT = [
    (
        "an old man in a red coat walks with a man",
        "an old man walks with a man in a red coat",
    ),
    ("a man in a red coat pushes a man", "a man pushes a man in a red coat"),
    (
        "a young woman with a red umbrella talks to an old woman",
        "a young woman talks to an old woman with a red umbrella",
    ),
    (
        "a tall dog wearing a collar chases a small dog",
        "a tall dog chases a small dog wearing a collar",
    ),
    ("a girl with a kite runs past a girl", "a girl runs past a girl with a kite"),
    ("an old man sleeping next to a man", "an old man next to a man sleeping"),
    (
        "a big cat with a bell plays with a small cat",
        "a big cat plays with a small cat with a bell",
    ),
]

SAME_NOUN_SHOULD_PASS = [
    # The same things, named again with "the" or in another order.
    (
        "A man in a red coat meets a woman. The man smiles.",
        "A man in a red coat meets a woman, and the man smiles.",
    ),
    (
        "a tall man with a hat and a short man with a cane",
        "a short man with a cane and a tall man with a hat",
    ),
    (
        "A knight with a sword faces a knight. The knight with the sword attacks.",
        "A knight with a sword faces a knight, and the knight with the sword attacks.",
    ),
    # A prompt without articles tells no one apart, so dropping them loses no hit.
    (
        "Shot 1: A tennis ball is tossed high against a blue sky. Shot 2: The player's "
        "racket strikes the ball in a spray of chalk dust.",
        "Shot 1: tennis ball is tossed high against blue sky. Shot 2: player's racket "
        "strikes ball in spray of chalk dust.",
    ),
    # Sentences in another order name the same things.
    (
        "Close-up, macro lens, studio lighting. A silver smartwatch rotates slowly on a "
        "black pedestal, light sweeping across its screen.",
        "A silver smartwatch rotates slowly on a black pedestal, light sweeping across its "
        "screen. Close-up, macro lens, studio lighting.",
    ),
    ("two men, one in a red coat, shake hands", "two men shake hands, one in a red coat"),
]


@pytest.mark.parametrize(("requested", "cached"), SAME_NOUN_SHOULD_REJECT)
def test_a_phrase_moved_between_things_named_alike_is_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), SAME_NOUN_SHOULD_PASS)
def test_things_named_alike_and_named_again_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


def test_things_named_alike_are_named_in_the_reason() -> None:
    verdict = check_near_miss(
        "an old man in a red coat walks with a man", "an old man walks with a man in a red coat"
    )
    assert verdict.reason == "attribute differs: old man in red vs man#1 in red"
    verdict = check_near_miss(
        "a man in a red coat pushes a man", "a man pushes a man in a red coat"
    )
    assert verdict.reason == "attribute differs: man#1 in red vs man#2 in red"


def test_a_degree_is_part_of_the_picture() -> None:
    # "slightly low-angle" is not the low-angle shot; "a bit" and "somewhat" say the same.
    assert_rejected_both_ways(
        "Pigeons take off from a cobbled square. In slow motion, slightly low-angle shot.",
        "Pigeons take off from a cobbled square. In slow motion, low-angle shot.",
    )
    assert_rejected_both_ways("a slightly steep slope", "a steep slope")
    assert_passes_both_ways("Handheld, slightly shaky, daylight", "Handheld, a bit shaky, daylight")
    assert_passes_both_ways(
        "Handheld, slightly shaky, daylight", "Handheld, somewhat shaky, daylight"
    )
    assert_rejected_both_ways("a bit of snow on a roof", "snow on a roof")


def test_a_subject_left_out_is_not_the_one_spelt_out() -> None:
    # The subject left out after "and" is the one before; naming the other is another video.
    assert_rejected_both_ways(
        "A lifeguard pulls a swimmer out of the waves and carries him up the beach.",
        "A lifeguard pulls a swimmer out of the waves and the swimmer carries him up the beach.",
    )
    assert_rejected_both_ways(
        "a cat chases a dog and jumps onto the fence",
        "a cat chases a dog and the dog jumps onto the fence",
    )
    assert_passes_both_ways(
        "a cat chases a dog and jumps onto the fence",
        "a cat chases a dog, then jumps onto the fence",
    )


def test_wearing_clothes_says_what_in_clothes_does() -> None:
    assert_passes_both_ways(
        "a woman in a red coat walks a dog", "a woman wearing a red coat walks a dog"
    )
    assert_passes_both_ways("a knight in shining armour", "a knight wearing shining armour")
    # Still worn by the one named before it.
    assert_rejected_both_ways(
        "a woman in a red coat walks with a man",
        "a woman walks with a man wearing a red coat",
    )
    # Only clothes: "wearing a smile" is no place to be in.
    assert_rejected_both_ways("a woman wearing a smile", "a woman in a smile")


def test_things_named_alike_trading_places_are_rejected() -> None:
    # Round 7: one told apart by a colour, the other by another word, swapped around a verb.
    assert_rejected_both_ways(
        "A black dog chases an old dog in a snowy backyard",
        "An old dog chases a black dog in a snowy backyard",
    )
    # Told apart on one side only (no articles): compared as the noun, so no hit is lost.
    assert_passes_both_ways(
        "A kids' science show: a blue table with a green beaker, a red beaker and a yellow "
        "beaker. The host pours the green beaker into the yellow one.",
        "Kids' science show: blue table with green beaker, red beaker and yellow beaker. "
        "Host pours green beaker into yellow one.",
    )


ROUND_7A_SHOULD_REJECT = [
    # Two of a kind, one told apart by a colour and the other by another word, trading roles.
    (
        "A golden knight carries a wounded knight in a burning castle courtyard.",
        "A wounded knight carries a golden knight in a burning castle courtyard.",
    ),
    (
        "A black cat swats at a fat cat on a sunny windowsill, cozy.",
        "A fat cat swats at a black cat on a sunny windowsill, cozy.",
    ),
    (
        "Two cats on a windowsill, the ginger one asleep and the grey one watching the rain.",
        "Two cats on a windowsill, the grey one asleep and the ginger one watching the rain.",
    ),
    (
        "Two dogs in a snowy backyard: the black one digs in the snow while the old one barks.",
        "Two dogs in a snowy backyard: the old one digs in the snow while the black one barks.",
    ),
    # Lists paired up by "respectively".
    (
        "A knight and a dragon face each other, raising a shield and roaring respectively.",
        "A knight and a dragon face each other, roaring and raising a shield respectively.",
    ),
]


@pytest.mark.parametrize(("requested", "cached"), ROUND_7A_SHOULD_REJECT)
def test_round_7a_wrong_videos_are_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


ROUND_7B_SHOULD_REJECT = [
    # An item moved into or out of a labelled list of what not to show.
    (
        "Positive: a beach at dawn, surfers, seagulls, driftwood. Negative: boats.",
        "Positive: a beach at dawn, surfers, seagulls. Negative: driftwood, boats.",
    ),
    (
        "Scene: a beach at dawn | Details: surfers, seagulls, driftwood | Don't include: boats",
        "Scene: a beach at dawn | Details: surfers, seagulls | Don't include: driftwood, boats",
    ),
    (
        "a kitchen counter with a blender, strawberries, milk. Avoid: hands, logos",
        "a kitchen counter with a blender, milk. Avoid: strawberries, hands, logos",
    ),
    ("a street at night --no people", "a street at night with people"),
    # Tags and arrows.
    ("+people -cars a street at night", "-people +cars a street at night"),
    ("a city skyline, timelapse, day → night", "a city skyline, timelapse, night → day"),
    ("the sea, timelapse, calm -> stormy", "the sea, timelapse, stormy -> calm"),
    # A number moved to another thing.
    (
        "Subject: 3 cats on a bed | Background: dogs in the yard | Camera: static wide",
        "Subject: cats on a bed | Background: 3 dogs in the yard | Camera: static wide",
    ),
    ("3 small cats on a bed, dogs in the yard", "cats on a bed, 3 small dogs in the yard"),
]

ROUND_7B_SHOULD_PASS = [
    ("a sky free of clouds over a lake", "a sky without clouds over a lake"),
    ("a well-known 16-bit game", "a well-known 16-bit game, please"),
    ("3 cats on a bed, dogs in the yard", "dogs in the yard, 3 cats on a bed"),
]


@pytest.mark.parametrize(("requested", "cached"), ROUND_7B_SHOULD_REJECT)
def test_round_7b_wrong_videos_are_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), ROUND_7B_SHOULD_PASS)
def test_round_7b_paraphrases_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


FIELDS_SHOULD_REJECT = [
    # A detail moved to another shot, or added to a second one.
    (
        "Shot 1: the bride walks down the aisle, crying. Shot 2: the groom waits at the altar.",
        "Shot 1: the bride walks down the aisle. Shot 2: the groom waits at the altar, crying.",
    ),
    (
        "Shot 1 (4s): a boxer wraps his hands, in black and white. Shot 2 (4s): he walks in.",
        "Shot 1 (4s): a boxer wraps his hands. Shot 2 (4s): he walks in, in black and white.",
    ),
    (
        "SHOT 1: a child opens a gift, laughing\nSHOT 2: the parents watch",
        "SHOT 1: a child opens a gift, laughing\nSHOT 2: the parents watch, laughing",
    ),
    (
        "Scene 1 — a cat on the windowsill, sleeping | Scene 2 — a dog in the yard",
        "Scene 1 — a cat on the windowsill | Scene 2 — a dog in the yard, sleeping",
    ),
    (
        "1) the bride walks down the aisle, crying; 2) the groom waits at the altar; 8s, 16:9",
        "1) the bride walks down the aisle; 2) the groom waits at the altar, crying; 8s, 16:9",
    ),
    (
        "[0:00-0:04] a house on a hill, at night. [0:04-0:08] the kitchen inside.",
        "[0:00-0:04] a house on a hill. [0:04-0:08] the kitchen inside, at night.",
    ),
    # A detail or a number moved to another field.
    (
        "Subject: a horse, galloping | Rider: a cowboy | Setting: canyon",
        "Subject: a horse | Rider: a cowboy, galloping | Setting: canyon",
    ),
    (
        "Subject: 6 drones in formation | Background: fireworks over the bay | 8s",
        "Subject: drones in formation | Background: 6 fireworks over the bay | 8s",
    ),
    # Two fields trading contents, labels of small words included.
    (
        "Inside: an empty room. Outside: a furnished room. Camera: static, 8s",
        "Outside: an empty room. Inside: a furnished room. Camera: static, 8s",
    ),
    ("In: a cat. Out: a dog. Camera: static", "Out: a cat. In: a dog. Camera: static"),
    ("First: a cat. Then: a dog. Camera: static", "Then: a cat. First: a dog. Camera: static"),
    # Items of an ordered field in another order.
    (
        "Steps: crack the egg, whisk, pour into the pan | Camera: static | 8s",
        "Steps: whisk, crack the egg, pour into the pan | Camera: static | 8s",
    ),
    (
        "Sequence: laughs, cries, walks away | Camera: static",
        "Sequence: cries, laughs, walks away | Camera: static",
    ),
]

FIELDS_SHOULD_PASS = [
    # Whole fields in another order, shots listed in another order.
    (
        "Subject: a dancer, spinning | Camera: handheld | Lighting: stage spotlight",
        "Camera: handheld | Lighting: stage spotlight | Subject: a dancer, spinning",
    ),
    (
        "Shot 2: the groom waits. Shot 1: the bride walks.",
        "Shot 1: the bride walks. Shot 2: the groom waits.",
    ),
    # A sentence moving between the free text and a field's end.
    (
        "Shot 1: a bride walks in. Shot 2: the groom waits. Warm light, 35mm film.",
        "Warm light, 35mm film. Shot 1: a bride walks in. Shot 2: the groom waits.",
    ),
    (
        "Music: a soft guitar. A bride walks down the aisle. Camera: static.",
        "A bride walks down the aisle. Music: a soft guitar. Camera: static.",
    ),
    # Times and ratios are no labels; "no" and "without" in a field say the same.
    ("Aspect ratio: 16:9. Subject: a red car", "Subject: a red car. Aspect ratio: 16:9"),
    ("Audio: no music. Camera: static", "Audio: without music. Camera: static"),
]


@pytest.mark.parametrize(("requested", "cached"), FIELDS_SHOULD_REJECT)
def test_a_detail_moved_between_fields_is_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), FIELDS_SHOULD_PASS)
def test_fields_reordered_whole_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


def test_the_field_that_differs_is_named() -> None:
    verdict = check_near_miss(*FIELDS_SHOULD_REJECT[0])
    assert verdict.reason == "section differs: shot 1: cry vs -"
    verdict = check_near_miss(*FIELDS_SHOULD_REJECT[-2])
    assert verdict.reason == "section differs: step: the same items in another order"


ROUND_7_LEFTOVERS_SHOULD_REJECT = [
    # A crowd's size.
    ("dozens of drones forming a heart at night", "hundreds of drones forming a heart at night"),
    ("many birds on a power line", "thousands of birds on a power line"),
    # "free of" negates the things listed after it, not a phrase.
    (
        "an empty street at night, neon signs, free of people, fog",
        "an empty street at night, neon signs, fog, free of people",
    ),
    # A number before a word of the lists ("6 drones" reads as "6 aerial") still counts it.
    (
        "6 drones in formation, fireworks over the bay, cinematic",
        "drones in formation, 6 fireworks over the bay, cinematic",
    ),
    # What "is" says of two things named alike.
    (
        "Two dogs. The first dog is black and digging; the second dog is old and barking.",
        "Two dogs. The first dog is old and digging; the second dog is black and barking.",
    ),
]

ROUND_7_LEFTOVERS_SHOULD_PASS = [
    ("a beach free of people, at sunset", "a beach at sunset, free of people"),
    ("a dozen eggs on a table", "12 eggs on a table"),
    ("pairs of swans on a lake", "many swans on a lake"),
    # A comma left out does not run what "is" says into the next phrase.
    (
        "the door is navy blue the cabinets are white and the walls are sage green",
        "the door is navy blue, the cabinets are white and the walls are sage green",
    ),
    ("Unreal Engine 5 style hyper-detailed smoke", "Unreal Engine 5 style, hyper-detailed, smoke"),
    ("A nurse pushes a man. Both are smiling.", "A nurse pushes a man, both smiling."),
]


@pytest.mark.parametrize(("requested", "cached"), ROUND_7_LEFTOVERS_SHOULD_REJECT)
def test_round_7_leftovers_are_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), ROUND_7_LEFTOVERS_SHOULD_PASS)
def test_round_7_leftover_paraphrases_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


ROUND_8_SHOULD_REJECT = [
    # on / off / in / out said of another thing.
    (
        "A room where the lamp is on and the TV is off.",
        "A room where the lamp is off and the TV is on.",
    ),
    (
        "The kitchen light turns on and the hallway light stays off.",
        "The kitchen light stays off and the hallway light turns on.",
    ),
    ("He switches the TV on and the radio off.", "He switches the TV off and the radio on."),
    (
        "Bees fly in through the open window and butterflies fly out.",
        "Bees fly out through the open window and butterflies fly in.",
    ),
    (
        "The gate lights are on and the garage lights are off.",
        "The gate lights are off and the garage lights are on.",
    ),
    # What "is" says of each thing.
    (
        "The woman is in focus and the man is out of focus.",
        "The woman is out of focus and the man is in focus.",
    ),
    (
        "The flowers are sharp and the mountains behind are blurry.",
        "The flowers are blurry and the mountains behind are sharp.",
    ),
    # A drone or a crane doing something is a thing, not a camera move.
    ("A drone chases a dog across the beach.", "A dog chases a drone across the beach."),
    ("A crane lifts a helicopter onto the ship.", "A helicopter lifts a crane onto the ship."),
    # "falls" and "springs" are verbs, not seasons.
    ("A horse falls at the final jump.", "A horse at the final jump in autumn."),
    ("A cat springs onto the table.", "A cat on the table in spring."),
    # Moments told in the other order.
    (
        "A skydiver jumps out of the plane and opens his parachute.",
        "A skydiver opens his parachute and jumps out of the plane.",
    ),
    ("A boy throws a stone. The window breaks.", "The window breaks. A boy throws a stone."),
    (
        "A car crashes into a pole and the airbags deploy.",
        "The airbags deploy and a car crashes into a pole.",
    ),
    (
        "The referee blows the whistle and the players stop running.",
        "The players stop running and the referee blows the whistle.",
    ),
    (
        "The spaceship explodes and the hero walks away.",
        "The hero walks away and the spaceship explodes.",
    ),
]

ROUND_8_SHOULD_PASS = [
    # Ongoing actions, settings and styles may come in any order.
    ("A dog barks and a cat meows in the yard.", "A cat meows and a dog barks in the yard."),
    (
        "The kitchen light is on and the hallway light is off.",
        "The hallway light is off and the kitchen light is on.",
    ),
    ("He switches the TV on and the radio off.", "He switches the radio off and the TV on."),
    ("The horse is sharp and the rider is blurry.", "The rider is blurry and the horse is sharp."),
    # A clause opened by "when" or "while" gives its own order.
    (
        "A rainbow appears over the valley when the rain stops.",
        "When the rain stops, a rainbow appears over the valley.",
    ),
    # A block of setting and style moves past the events.
    (
        "Warm light, 35mm. A boy throws a stone. The window breaks.",
        "A boy throws a stone. The window breaks. Warm light, 35mm.",
    ),
    (
        "Bright arena lights. A gymnast flips on the beam and lands perfectly.",
        "A gymnast flips on the beam and lands perfectly. Bright arena lights.",
    ),
    # A drone that films, a crane shot, the season.
    ("a drone shot of a beach at sunset", "an aerial shot of a beach at sunset"),
    ("a beach at sunset, filmed from a drone", "an aerial shot of a beach at sunset"),
    ("fall leaves in a park", "autumn leaves in a park"),
    ("a park in the fall", "a park in autumn"),
]


@pytest.mark.parametrize(("requested", "cached"), ROUND_8_SHOULD_REJECT)
def test_round_8_wrong_videos_are_rejected(requested: str, cached: str) -> None:
    assert_rejected_both_ways(requested, cached)


@pytest.mark.parametrize(("requested", "cached"), ROUND_8_SHOULD_PASS)
def test_round_8_paraphrases_pass(requested: str, cached: str) -> None:
    assert_passes_both_ways(requested, cached)


def test_round_8_reasons_name_the_difference() -> None:
    reason = check_near_miss(*ROUND_8_SHOULD_REJECT[2]).reason
    assert reason == "particle differs: off said of radio vs television"
    reason = check_near_miss(*ROUND_8_SHOULD_REJECT[13]).reason
    assert reason == "event order differs: crash then deploy vs deploy then crash"
