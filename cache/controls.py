"""Per-request cache controls read from request headers.

Supported headers (names are case-insensitive; the Bifrost spelling `x-bf-cache-*` is
accepted for every `x-cache-*` header so Bifrost clients work unchanged):

- `Cache-Control: no-cache` skip the lookup but still store the result;
  `no-store` do not store the result; `max-age=N` only accept entries at most N seconds old.
- `x-cache-threshold` semantic similarity threshold in [0, 1].
- `x-cache-type` "direct" (exact lookup only) or "semantic" (semantic lookup only).
- `x-cache-ttl` lifetime of the entry this request creates: a whole number of seconds
  ("3600") or a Go duration string as Bifrost documents it ("30s", "5m", "1h30m", "1.5h";
  units h, m, s, ms, us, µs, ns). Entries live in whole seconds, so a duration is rounded
  DOWN to whole seconds (never kept longer than asked); anything under one second, zero or
  negative is rejected.
- `x-cache-no-store` "true" = do not store the result (same as `Cache-Control: no-store`),
  "false" = no effect; case-insensitive. Bifrost clients send `x-bf-cache-no-store: true`.
- `x-cache-namespace` 1-64 characters of [A-Za-z0-9._-]; narrows the scope.

Not handled: Bifrost's `x-bf-cache-key`. In Bifrost it switches caching ON for a request and
partitions entries; here caching is always on and partitioned by credential, so the header
is ignored (relayed like any other header) rather than guessed into a namespace.

A malformed value raises InvalidControl naming the header as the client spelt it, so the
proxy can answer 400 instead of silently ignoring what the client asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

CacheType = Literal["direct", "semantic"]

_NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
# Go's time.ParseDuration grammar, unsigned: one or more <number><unit>, the number having
# digits before or after an optional dot. Both micro signs (U+00B5, U+03BC) as Go accepts.
_GO_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_GO_PART = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)"
_GO_DURATION = re.compile(rf"(?:{_GO_PART})+")
_GO_PARTS = re.compile(_GO_PART)
# Far beyond any useful cache lifetime; bounds integers before they reach datetime maths.
_MAX_SECONDS = 10 * 365 * 24 * 3600


class InvalidControl(ValueError):
    """A cache control header has a malformed value."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(f"{header}: {message}")
        self.header = header
        self.message = message


@dataclass
class CacheControls:
    no_cache: bool = False
    no_store: bool = False
    max_age: int | None = None
    threshold: float | None = None
    cache_type: CacheType | None = None
    cache_type_header: str = ""  # the header it came in, as the client spelt it
    ttl: int | None = None
    namespace: str = ""


def _lookup(headers: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """Find `x-cache-<name>` or `x-bf-cache-<name>`: (header as spelt, value) or None.

    Both spellings with different values is ambiguous, so it is rejected rather than guessed.
    """
    wanted = {f"x-cache-{name}", f"x-bf-cache-{name}"}
    found: tuple[str, str] | None = None
    for key, value in headers.items():
        if key.lower() not in wanted:
            continue
        if found is not None and found[1].strip() != value.strip():
            raise InvalidControl(key, f"conflicts with {found[0]}: {found[1]!r}")
        found = (key, value)
    return found


def _parse_seconds(header: str, text: str, *, allow_zero: bool) -> int:
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        raise InvalidControl(header, f"expected a whole number of seconds, got {text!r}")
    # Bounded before int(): Python refuses to convert more than 4300 digits (ValueError).
    digits = text.lstrip("0")
    seconds = _MAX_SECONDS + 1 if len(digits) > 12 else int(digits or "0")
    if seconds == 0 and not allow_zero:
        raise InvalidControl(header, "must be a positive number of seconds")
    return min(seconds, _MAX_SECONDS)


def _go_duration_seconds(text: str) -> Fraction | None:
    """Seconds in a Go duration string ("1h30m", "1.5s", "250ms"), exactly; None if not one.

    A leading "+" is allowed as in Go; a "-" is returned as a negative value.
    """
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if len(text) > 100 or not _GO_DURATION.fullmatch(text):
        return None
    nanos = Fraction(0)
    for number, unit in _GO_PARTS.findall(text):
        nanos += Fraction(number if number[0] != "." else "0" + number) * _GO_UNIT_NS[unit]
    return sign * nanos / 1_000_000_000


def _parse_ttl(header: str, text: str) -> int:
    """Whole seconds ("3600") or a Go duration ("30s", "5m", "1h30m"), as Bifrost reads it:
    time.ParseDuration first, else a plain number of seconds. Rounded down to whole seconds;
    below one second is rejected."""
    text = text.strip()
    if _DIGITS.fullmatch(text):
        return _parse_seconds(header, text, allow_zero=False)
    seconds = _go_duration_seconds(text)
    if seconds is None:
        raise InvalidControl(
            header,
            "expected whole seconds or a duration like 30s, 5m, 1h30m "
            f"(units h, m, s, ms, us, ns), got {text!r}",
        )
    if seconds < 1:
        raise InvalidControl(header, f"must be at least one second, got {text!r}")
    return min(math.floor(seconds), _MAX_SECONDS)


def _parse_flag(header: str, text: str) -> bool:
    flag = text.strip().lower()
    if flag not in ("true", "false"):
        raise InvalidControl(header, f"expected 'true' or 'false', got {text!r}")
    return flag == "true"


def _parse_cache_control(header: str, value: str, controls: CacheControls) -> None:
    # RFC 9111 section 5.2: directives are comma-separated, names case-insensitive;
    # "A cache MUST ignore unrecognized cache directives."
    for raw in value.split(","):
        directive = raw.strip()
        if not directive:
            continue
        name, sep, argument = directive.partition("=")
        name = name.strip().lower()
        if name == "no-cache":
            controls.no_cache = True
        elif name == "no-store":
            controls.no_store = True
        elif name == "max-age":
            if not sep:
                raise InvalidControl(header, "max-age needs a value")
            controls.max_age = _parse_seconds(header, _unquoted(header, argument), allow_zero=True)


def _unquoted(header: str, argument: str) -> str:
    """A directive's argument: a token, or a quoted string whose quotes balance."""
    text = argument.strip()
    if text.startswith('"') or text.endswith('"'):
        if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
            raise InvalidControl(header, f"unbalanced quotes in {argument.strip()!r}")
        return text[1:-1]
    return text


def parse_controls(headers: Mapping[str, str]) -> CacheControls:
    """Read every cache control from request headers; see the module docstring."""
    controls = CacheControls()
    for key, value in headers.items():
        if key.lower() == "cache-control":
            _parse_cache_control(key, value, controls)

    if found := _lookup(headers, "threshold"):
        header, text = found
        # ASCII decimals only: float() would also read "٠.٥", "０.９", "1_0" and "1e-1".
        if not _DECIMAL.fullmatch(text.strip()):
            raise InvalidControl(header, f"expected a number in [0, 1], got {text!r}")
        threshold = float(text.strip())
        if not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
            raise InvalidControl(header, f"expected a number in [0, 1], got {text!r}")
        controls.threshold = threshold

    if found := _lookup(headers, "type"):
        header, text = found
        kind = text.strip().lower()
        if kind not in ("direct", "semantic"):
            raise InvalidControl(header, f"expected 'direct' or 'semantic', got {text!r}")
        controls.cache_type = kind  # type: ignore[assignment]
        controls.cache_type_header = header

    if found := _lookup(headers, "ttl"):
        header, text = found
        controls.ttl = _parse_ttl(header, text)

    if found := _lookup(headers, "no-store"):
        header, text = found
        # "false" has no effect: it never cancels a `Cache-Control: no-store`.
        if _parse_flag(header, text):
            controls.no_store = True

    if found := _lookup(headers, "namespace"):
        header, text = found
        namespace = text.strip()
        if not _NAMESPACE.fullmatch(namespace):
            raise InvalidControl(header, "expected 1-64 characters of A-Z a-z 0-9 . _ -")
        controls.namespace = namespace

    return controls
