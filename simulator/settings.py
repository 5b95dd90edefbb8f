"""Knobs of the upstream simulator: behaviour, speed and injectable faults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Flavor = Literal["openai", "bifrost"]

# Fields POST /_sim/faults may change at runtime, with the type each must have. Kept beside
# the dataclass so a new knob is added in one place.
FAULT_FIELDS: dict[str, type] = {
    "failure_rate": float,
    "rate_limit_every": int,
    "slow_ms": int,
    "truncate_content": bool,
    "malformed_json": bool,
    "gzip_json": bool,
    "fail_next": int,
    "filter_next": int,
    "content_bytes": int,
    "content_rate": int,
    "asset_ttl": int,
    "unknown_cursor_404": bool,
    "content_disposition": bool,
    "html_content": bool,
    "json_content": bool,
    "empty_content": bool,
    "gzip_content": bool,
    "content_redirect": bool,
}


@dataclass
class SimulatorSettings:
    host: str = "127.0.0.1"
    port: int = 8081
    flavor: Flavor = "openai"
    # Bifrost: the provider reported when no job gives one (extra_fields.provider).
    provider: str = "openai"
    # Time compression: a job takes job_seconds / speed real seconds.
    speed: float = 1.0
    job_seconds: float = 20.0
    failure_rate: float = 0.0
    # Pad the MP4 (with a trailing `free` box) to at least this many bytes.
    content_bytes: int = 0
    # Throttle content downloads to this many bytes per second (0: as fast as possible),
    # so tests can act in the middle of a download.
    content_rate: int = 0
    # expires_at = completed_at + asset_ttl; content answers 404 afterwards.
    asset_ttl: int = 3600
    # Each video visible only to the Authorization and OpenAI-Project that created it (as
    # OpenAI keeps each key's and project's videos apart); others get 404.
    per_key: bool = False
    # Video ids unique only per key (a gateway over several accounts): every key's first
    # video has the same id. Implies per_key's visibility.
    ids_per_key: bool = False
    # A list cursor it does not know (a deleted video) answers 404, as a gateway that looks
    # the cursor up may, instead of OpenAI-style's empty page.
    unknown_cursor_404: bool = False
    # Content comes with `Content-Disposition: attachment; filename="<id>.<ext>"`, as a
    # LiteLLM upstream sends it (OpenAI sends none).
    content_disposition: bool = False
    # Content that is no media, with a 200: a gateway's sign-in page (text/html), a JSON error
    # envelope labelled video/mp4, or an empty body.
    html_content: bool = False
    json_content: bool = False
    empty_content: bool = False
    # Content gzip-encoded for a client that accepts it, as a CDN in front may send it.
    gzip_content: bool = False
    # Content answered with a 302 to where the bytes are (storage behind the gateway).
    content_redirect: bool = False
    # Every Nth request answers 429 (0 disables).
    rate_limit_every: int = 0
    slow_ms: int = 0
    truncate_content: bool = False
    malformed_json: bool = False
    gzip_json: bool = False
    fail_next: int = 0
    filter_next: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.ids_per_key:  # one key's video id names another's video too
            self.per_key = True

    @property
    def job_duration(self) -> float:
        """Real seconds a job takes from creation to its final state."""
        return self.job_seconds / self.speed

    @property
    def poll_after_ms(self) -> int:
        # About ten polls per job, never hammering faster than every 10 ms.
        return max(10, int(self.job_duration * 1000 / 10))


def apply_faults(settings: SimulatorSettings, changes: dict[str, object]) -> str | None:
    """Apply runtime fault changes in place. Returns an error message, or None when all
    changes were applied (nothing is applied when any change is invalid)."""
    checked: dict[str, object] = {}
    for name, value in changes.items():
        kind = FAULT_FIELDS.get(name)
        if kind is None:
            return f"unknown fault field {name!r}; known: {', '.join(sorted(FAULT_FIELDS))}"
        # bool is an int subclass: reject True for counters and 1 for flags.
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            return f"{name} must be {kind.__name__}"
        if kind is not bool and value < 0:  # type: ignore[operator]
            return f"{name} must be >= 0"
        if name == "failure_rate" and value > 1:  # type: ignore[operator]
            return "failure_rate must be between 0 and 1"
        checked[name] = kind(value)  # type: ignore[call-arg]
    for name, value in checked.items():
        setattr(settings, name, value)
    return None
