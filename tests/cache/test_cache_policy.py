from cache.policy import DEFAULT_THRESHOLD, decide_semantic

PROMPTS = {
    "blue": "A blue car driving at night",
    "red": "At night, a red automobile drives",
    "gone": "A red car driving at night",
}


def test_first_candidate_passing_threshold_and_guard_wins() -> None:
    d = decide_semantic(
        [("blue", 0.97), ("red", 0.93)], "A red car driving at night", PROMPTS.get, 0.9
    )
    assert d.hit and d.entry_id == "red"
    assert d.similarity == 0.97  # best seen, not the winner's
    assert d.threshold == 0.9


def test_guard_rejection_is_reported() -> None:
    d = decide_semantic([("blue", 0.97)], "A red car driving at night", PROMPTS.get, 0.9)
    assert not d.hit and d.entry_id is None
    assert d.reason and "colour" in d.reason


def test_below_threshold_and_empty() -> None:
    d = decide_semantic([("red", 0.5)], "A red car driving at night", PROMPTS.get, 0.9)
    assert not d.hit and d.reason == "below threshold" and d.similarity == 0.5
    d = decide_semantic([], "x", PROMPTS.get, DEFAULT_THRESHOLD)
    assert not d.hit and d.similarity is None and d.threshold == DEFAULT_THRESHOLD


def test_vanished_entries_are_skipped() -> None:
    d = decide_semantic(
        [("missing", 0.99), ("red", 0.95)], "A red car driving at night", PROMPTS.get, 0.9
    )
    assert d.hit and d.entry_id == "red"
