import pytest

from cache.controls import CacheControls, InvalidControl, parse_controls


def test_no_headers_gives_defaults() -> None:
    assert parse_controls({}) == CacheControls()


def test_cache_control_directives() -> None:
    c = parse_controls({"Cache-Control": "No-Cache, no-store, max-age=60, private"})
    assert (c.no_cache, c.no_store, c.max_age) == (True, True, 60)
    assert parse_controls({"cache-control": 'max-age="0"'}).max_age == 0


@pytest.mark.parametrize("prefix", ["x-cache-", "x-bf-cache-", "X-Cache-", "X-BF-Cache-"])
def test_each_header_in_both_spellings(prefix: str) -> None:
    c = parse_controls(
        {
            f"{prefix}threshold": "0.9",
            f"{prefix}type": "Semantic",
            f"{prefix}ttl": "3600",
            f"{prefix}namespace": "team.a-1_x",
        }
    )
    assert c.threshold == 0.9
    assert c.cache_type == "semantic"
    assert c.ttl == 3600
    assert c.namespace == "team.a-1_x"
    assert parse_controls({f"{prefix}type": "direct"}).cache_type == "direct"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-cache-threshold", "high"),
        ("x-cache-threshold", "1.5"),
        ("X-Cache-Threshold", "-0.1"),
        ("x-bf-cache-threshold", "nan"),
        ("x-cache-type", "fuzzy"),
        ("X-BF-Cache-Type", ""),
        ("x-cache-ttl", "0"),
        ("x-cache-ttl", "-5"),
        ("x-bf-cache-ttl", "1.5"),
        ("x-cache-ttl", "soon"),
        ("x-cache-namespace", ""),
        ("x-cache-namespace", "a/b"),
        ("X-Bf-Cache-Namespace", "x" * 65),
        ("Cache-Control", "max-age=abc"),
        ("Cache-Control", "max-age"),
        ("Cache-Control", 'max-age="10'),
        ("Cache-Control", 'max-age=10"'),
        ("Cache-Control", 'max-age="'),
        ("x-cache-threshold", "٠.٥"),  # Arabic-Indic digits: float() reads them
        ("x-cache-threshold", "０.９"),  # fullwidth digits
        ("x-cache-threshold", "0_9"),
        ("x-cache-threshold", "9e-1"),
    ],
)
def test_malformed_values_raise_naming_the_header(header: str, value: str) -> None:
    with pytest.raises(InvalidControl) as info:
        parse_controls({header: value})
    assert info.value.header == header
    assert isinstance(info.value, ValueError)


def test_conflicting_spellings_are_rejected() -> None:
    with pytest.raises(InvalidControl):
        parse_controls({"x-cache-ttl": "10", "x-bf-cache-ttl": "20"})
    assert parse_controls({"x-cache-ttl": "10", "x-bf-cache-ttl": "10"}).ttl == 10


@pytest.mark.parametrize("header", ["x-cache-ttl", "x-bf-cache-ttl", "X-BF-Cache-TTL"])
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1h0m0s", 3600),
        ("1.5h", 5400),
        (".5m", 30),
        ("+2m", 120),
        (" 10m ", 600),
        ("2000ms", 2),
        ("1000000us", 1),
        ("1000000\u00b5s", 1),
        ("1000000\u03bcs", 1),
        ("1000000000ns", 1),
        # Entries live in whole seconds: a fraction is rounded down, never kept longer.
        ("1500ms", 1),
        ("90.9s", 90),
    ],
)
def test_ttl_accepts_go_durations_like_bifrost(header: str, value: str, seconds: int) -> None:
    assert parse_controls({header: value}).ttl == seconds


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-bf-cache-ttl", "500ms"),  # rounds down to 0
        ("x-bf-cache-ttl", "0.9s"),
        ("x-bf-cache-ttl", "999999us"),
        ("x-cache-ttl", "0s"),
        ("x-cache-ttl", "0h0m"),
        ("x-bf-cache-ttl", "-5m"),
        ("x-bf-cache-ttl", "5M"),  # Go units are case-sensitive
        ("x-bf-cache-ttl", "1d"),
        ("x-bf-cache-ttl", "1h 30m"),
        ("x-bf-cache-ttl", "5 minutes"),
        ("x-bf-cache-ttl", "1e3s"),
        ("x-bf-cache-ttl", "h"),
        ("x-bf-cache-ttl", ".s"),
        ("x-bf-cache-ttl", "s30"),
        ("X-Cache-TTL", ""),
    ],
)
def test_ttl_rejects_what_is_not_a_positive_duration(header: str, value: str) -> None:
    with pytest.raises(InvalidControl) as info:
        parse_controls({header: value})
    assert info.value.header == header
    assert header in str(info.value)


def test_huge_ttls_are_capped_not_crashing() -> None:
    ten_years = 10 * 365 * 24 * 3600
    # More digits than Python's int() accepts from a string: capped, not a ValueError.
    assert parse_controls({"x-cache-ttl": "9" * 5000}).ttl == ten_years
    assert parse_controls({"x-cache-ttl": "0" * 5000 + "7"}).ttl == 7
    assert parse_controls({"x-bf-cache-ttl": "99999999999h"}).ttl == ten_years
    assert parse_controls({"cache-control": "max-age=" + "9" * 5000}).max_age == ten_years


@pytest.mark.parametrize(
    "header", ["x-bf-cache-no-store", "X-BF-Cache-No-Store", "x-cache-no-store"]
)
def test_no_store_header_in_both_spellings(header: str) -> None:
    assert parse_controls({header: "true"}).no_store is True
    assert parse_controls({header: " TRUE "}).no_store is True
    assert parse_controls({header: "false"}) == CacheControls()
    # "false" only means "no effect": it never cancels Cache-Control: no-store.
    both = parse_controls({header: "false", "Cache-Control": "no-store"})
    assert both.no_store is True


@pytest.mark.parametrize("value", ["yes", "1", "on", "", "truee", "true, false"])
def test_malformed_no_store_raises_naming_the_header(value: str) -> None:
    with pytest.raises(InvalidControl) as info:
        parse_controls({"X-BF-Cache-No-Store": value})
    assert info.value.header == "X-BF-Cache-No-Store"


def test_conflicting_no_store_spellings_are_rejected() -> None:
    with pytest.raises(InvalidControl):
        parse_controls({"x-cache-no-store": "true", "x-bf-cache-no-store": "false"})


def test_bifrost_cache_key_is_not_a_control() -> None:
    # Bifrost needs x-bf-cache-key to cache at all; here caching is always on and scoped by
    # credential, so the key is neither required nor turned into a namespace.
    assert parse_controls({"x-bf-cache-key": "session-123"}) == CacheControls()


@pytest.mark.parametrize(
    ("value", "threshold"), [("1", 1.0), ("0", 0.0), ("0.85", 0.85), (".9", 0.9), ("1.", 1.0)]
)
def test_plain_decimal_thresholds(value: str, threshold: float) -> None:
    assert parse_controls({"x-cache-threshold": f" {value} "}).threshold == threshold


def test_max_age_may_be_quoted() -> None:
    assert parse_controls({"Cache-Control": 'no-store, max-age="60"'}).max_age == 60
