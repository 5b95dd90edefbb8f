from dataclasses import replace

import pytest

from cache.keys import RequestFingerprint, bucket_key, canonical_params, exact_key
from cache.normalize import normalize_prompt
from cache.service import fingerprint

BASE = RequestFingerprint(
    scope="scope-a",
    namespace="",
    model="sora-2",
    seconds="4",
    size="720x1280",
    input_reference="",
    params=canonical_params({"quality": "high"}),
    prompt="A red car driving at night",
)


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "scope-b"},
        {"namespace": "team-1"},
        {"model": "sora-2-pro"},
        {"seconds": "8"},
        {"size": "1280x720"},
        {"input_reference": "sha256:abc"},
        {"params": canonical_params({"quality": "low"})},
        {"params": canonical_params({"quality": "high", "seed": 7})},
        {"params": ()},
    ],
)
def test_every_non_prompt_parameter_changes_both_keys(change: dict) -> None:
    other = replace(BASE, **change)
    assert exact_key(other) != exact_key(BASE)
    assert bucket_key(other) != bucket_key(BASE)


def test_prompt_changes_exact_key_but_not_bucket() -> None:
    other = replace(BASE, prompt="A blue car driving at night")
    assert exact_key(other) != exact_key(BASE)
    assert bucket_key(other) == bucket_key(BASE)


@pytest.mark.parametrize(
    "prompt",
    [
        "a red car driving at night",
        "A RED CAR DRIVING AT NIGHT",
        "  A red   car\tdriving\nat night  ",
        "A red car driving at night.",
        "A red car driving at night!! ",
        "Ａ ｒｅｄ ｃａｒ driving at night",  # fullwidth forms, NFKC
    ],
)
def test_normalisation_hits_the_same_exact_key(prompt: str) -> None:
    assert exact_key(replace(BASE, prompt=prompt)) == exact_key(BASE)


def test_normalize_prompt_keeps_inner_punctuation() -> None:
    assert normalize_prompt("  Close-up, 3:2  ratio... ") == "close-up, 3:2 ratio"
    assert normalize_prompt("Straße") == normalize_prompt("STRASSE")


def test_param_order_does_not_matter() -> None:
    a = canonical_params({"a": 1, "b": {"y": 2, "x": 1}})
    b = canonical_params({"b": {"x": 1, "y": 2}, "a": 1})
    assert exact_key(replace(BASE, params=a)) == exact_key(replace(BASE, params=b))


def test_keys_are_sha256_hex() -> None:
    for key in (exact_key(BASE), bucket_key(BASE)):
        assert len(key) == 64
        int(key, 16)


def test_normalize_prompt_keeps_the_case_of_quoted_text() -> None:
    # What a sign or caption says is written in the video as typed.
    assert normalize_prompt('A Sign says "STOP"') == 'a sign says "STOP"'
    assert normalize_prompt("A Banner: “Happy Birthday”!") == "a banner: “Happy Birthday”"
    assert normalize_prompt('A SIGN says "STOP"') == normalize_prompt('a sign SAYS "STOP"')
    assert normalize_prompt("A Sign says 'We'll Be Back'") == "a sign says 'We'll Be Back'"
    assert normalize_prompt("A sign says ‘STOP’") == "a sign says ‘STOP’"
    # An apostrophe is no quote: a possessive plural or a contraction keeps no case.
    assert normalize_prompt("The DOGS' Bowl, IT'S Sunny") == "the dogs' bowl, it's sunny"
    assert normalize_prompt("a '90S Room") == "a '90s room"
    # Apostrophes inside single quotes: the stretch runs to the last closing quote.
    assert (
        normalize_prompt("A Banner: 'CLASS OF '99' Over A Gym")
        == "a banner: 'CLASS OF '99' over a gym"
    )
    assert normalize_prompt("A Sign: '#1\nDAD'") == "a sign: '#1 DAD'"


def test_prompts_with_quotes_do_not_meet_keys_that_folded_their_case() -> None:
    from cache.keys import _bucket_fields, _digest  # what keys were made of before

    def old_key(prompt: str) -> str:
        fp = replace(BASE, prompt=prompt)
        return _digest({**_bucket_fields(fp), "prompt": prompt, "kind": "exact"})

    # A key made before quoted text kept its case (from "OPEN", folded) is never reached.
    quoted = 'a sign that says "open"'
    assert exact_key(replace(BASE, prompt=quoted)) != old_key(quoted)
    # Prompts without quotes keep the keys they had.
    plain = "a sign that says open"
    assert exact_key(replace(BASE, prompt=plain)) == old_key(plain)
    # The same for single quotes, and apostrophes are no quotes.
    single = "a sign that says 'open'"
    assert exact_key(replace(BASE, prompt=single)) != old_key(single)
    possessive = "the dogs' bowl, it's sunny"
    assert exact_key(replace(BASE, prompt=possessive)) == old_key(possessive)


def test_defaults_stand_only_for_omitted_fields() -> None:
    def key(**fields: object) -> str:
        fp = fingerprint(
            scope="s", namespace="", fields={"prompt": "a kite", **fields}, input_reference=""
        )
        return exact_key(fp)

    assert key() == key(model="sora-2", seconds="4", size="720x1280")
    # Present but not the default's string: another request, never the default's hit.
    for odd in ({"seconds": ""}, {"seconds": " 4"}, {"model": "sora-2 "}, {"size": "0"}):
        assert key(**odd) != key(), odd
    # Not a string at all: the proxy answers 400 before keying; keying it is a bug.
    for wrong in ({"seconds": 4}, {"seconds": None}, {"model": False}):
        with pytest.raises(TypeError, match="must be a string"):
            key(**wrong)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('a sign reading "AREA = 10² M"', 'a sign reading "AREA = 102 M"'),
        ("a beaker of H₂O", "a beaker of H2O"),
        ("a list marked ① to ③", "a list marked 1 to 3"),
        ("a 1½ litre bottle", "a 11/2 litre bottle"),
        ("a 1½ litre bottle", "a 11⁄2 litre bottle"),
    ],
)
def test_compatibility_forms_that_carry_meaning_are_kept(a: str, b: str) -> None:
    assert normalize_prompt(a) != normalize_prompt(b)


def test_presentation_forms_still_fold() -> None:
    assert (
        normalize_prompt("a ﬁeld of ＲＥＤ poppies\u00a0at dawn")
        == "a field of red poppies at dawn"
    )
    assert normalize_prompt("a beaker of H₂O") == normalize_prompt("A beaker of H₂O.")
