"""The application's state, passed explicitly: one object on the app, no module globals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from config.settings import Settings
from proxy.upstream import Upstream


@dataclass
class AppState:
    settings: Settings
    upstream: Upstream
    upstream_errors: Counter[str] = field(default_factory=Counter)

    def record_upstream_error(self, kind: str) -> None:
        self.upstream_errors[kind] += 1


STATE = web.AppKey("videocache_state", AppState)
