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
