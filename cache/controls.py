"""Per-request cache controls read from request headers.

Supported headers (names are case-insensitive; the Bifrost spelling `x-bf-cache-*` is
accepted for every `x-cache-*` header so Bifrost clients work unchanged):

- `Cache-Control: no-cache` skip the lookup but still store the result;
  `no-store` do not store the result; `max-age=N` only accept entries at most N seconds old.
- `x-cache-threshold` semantic similarity threshold in [0, 1].
- `x-cache-type` "direct" (exact lookup only) or "semantic" (semantic lookup only).
- `x-cache-ttl` lifetime in seconds (positive integer) of the entry this request creates.
- `x-cache-namespace` 1-64 characters of [A-Za-z0-9._-]; narrows the scope.

A malformed value raises InvalidControl naming the header as the client spelt it, so the
proxy can answer 400 instead of silently ignoring what the client asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

CacheType = Literal["direct", "semantic"]

_NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DIGITS = re.compile(r"[0-9]+")
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
    seconds = int(text)
    if seconds == 0 and not allow_zero:
        raise InvalidControl(header, "must be a positive number of seconds")
    return min(seconds, _MAX_SECONDS)


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
            controls.max_age = _parse_seconds(header, argument.strip().strip('"'), allow_zero=True)


def parse_controls(headers: Mapping[str, str]) -> CacheControls:
    """Read every cache control from request headers; see the module docstring."""
    controls = CacheControls()
    for key, value in headers.items():
        if key.lower() == "cache-control":
            _parse_cache_control(key, value, controls)

    if found := _lookup(headers, "threshold"):
        header, text = found
        try:
            threshold = float(text.strip())
        except ValueError:
            raise InvalidControl(header, f"expected a number in [0, 1], got {text!r}") from None
        if not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
            raise InvalidControl(header, f"expected a number in [0, 1], got {text!r}")
        controls.threshold = threshold

    if found := _lookup(headers, "type"):
        header, text = found
        kind = text.strip().lower()
        if kind not in ("direct", "semantic"):
            raise InvalidControl(header, f"expected 'direct' or 'semantic', got {text!r}")
        controls.cache_type = kind  # type: ignore[assignment]

    if found := _lookup(headers, "ttl"):
        header, text = found
        controls.ttl = _parse_seconds(header, text, allow_zero=False)

    if found := _lookup(headers, "namespace"):
        header, text = found
        namespace = text.strip()
        if not _NAMESPACE.fullmatch(namespace):
            raise InvalidControl(header, "expected 1-64 characters of A-Z a-z 0-9 . _ -")
        controls.namespace = namespace

    return controls
