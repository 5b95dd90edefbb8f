import time

import pytest

from cache.guard import check_near_miss

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


def test_guard_is_fast() -> None:
    started = time.perf_counter()
    for _ in range(1000):
        check_near_miss(SHOULD_REJECT[0][0], SHOULD_PASS[0][1])
    assert (time.perf_counter() - started) / 1000 < 0.001
