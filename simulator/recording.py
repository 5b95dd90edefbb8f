"""What the simulator saw on the wire, so tests can assert what a proxy forwarded."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class RecordedRequest:
    method: str
    raw_path: str  # exactly request.raw_path, query string included
    headers: dict[str, str]  # lowercase names, last value wins
    body_len: int = 0
    body_sha256: str = EMPTY_SHA256
    content_type: str = ""
    # When it arrived (time.time()), so tests can check how a client paced its retries.
    at: float = field(default_factory=time.time)

    @classmethod
    def start(cls, request: web.Request) -> RecordedRequest:
        return cls(
            method=request.method,
            raw_path=request.raw_path,
            headers={name.lower(): value for name, value in request.headers.items()},
            content_type=request.headers.get("Content-Type", ""),
        )

    def set_body(self, length: int, sha256: str) -> None:
        self.body_len = length
        self.body_sha256 = sha256

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
