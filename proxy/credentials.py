"""The credentials the watcher polls with, kept in memory only and bounded.

Raw credentials are never written to disk, so a job created through the proxy is polled
with the headers its creator's last request carried. Every request with a credential
brings them; the map must not grow with every key a client invents (random keys, keys the
upstream refuses): it keeps the most recently seen `limit` of them, and never drops one a
job being watched still needs (`hold`).
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import islice

# Owners remembered beyond those with jobs being watched. A few KB each at most (the
# credential headers), so the bound is a few MB even for keys at aiohttp's header limit.
DEFAULT_LIMIT = 4096


class Credentials:
    """owner (an HMAC of a credential) -> the request headers that authenticate it."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._headers: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._held: dict[str, int] = {}  # owner -> jobs being watched that need it

    def __len__(self) -> int:
        return len(self._headers)

    def get(self, owner: str) -> dict[str, str] | None:
        return self._headers.get(owner)

    def remember(self, owner: str, headers: dict[str, str]) -> None:
        """The headers `owner`'s latest request carried; the least recently seen owners
        nobody holds go once there are more than `limit`."""
        self._headers[owner] = headers
        self._headers.move_to_end(owner)
        excess = len(self._headers) - self.limit
        if excess <= 0:
            return
        # Held owners among the oldest are skipped: look that much further.
        for old in list(islice(self._headers, excess + len(self._held))):
            if excess <= 0:
                break
            if old not in self._held:
                del self._headers[old]
                excess -= 1

    def hold(self, owner: str) -> None:
        """A job being watched needs `owner`'s credential: keep it until `release`."""
        self._held[owner] = self._held.get(owner, 0) + 1

    def release(self, owner: str) -> None:
        left = self._held.get(owner, 0) - 1
        if left > 0:
            self._held[owner] = left
        else:
            self._held.pop(owner, None)
