"""Identifiers the proxy mints. Upstream ids are opaque and never parsed or built here."""

from __future__ import annotations

import secrets


def new_entry_id() -> str:
    """A cache entry id: "ce_" + 32 hex."""
    return "ce_" + secrets.token_hex(16)


def new_video_id() -> str:
    """A video id for a cache hit, shaped like OpenAI's: "video_" + 32 hex."""
    return "video_" + secrets.token_hex(16)
