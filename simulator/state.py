"""The simulator's whole mutable state, stored on the app under SIM_STATE."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulator.jobs import JobStore
from simulator.media import RenderCache, pattern_block
from simulator.recording import RecordedRequest
from simulator.settings import SimulatorSettings


@dataclass
class SimulatorState:
    settings: SimulatorSettings
    clock: Callable[[], float] = time.time  # injectable so tests can move time
    requests: list[RecordedRequest] = field(default_factory=list)
    characters: dict[str, dict[str, Any]] = field(default_factory=dict)
    renders: RenderCache = field(default_factory=RenderCache)
    request_count: int = 0  # for rate_limit_every; /_sim routes are not counted
    jobs: JobStore = field(init=False)
    _blob_block: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.jobs = JobStore(self.settings)

    @property
    def blob_block(self) -> bytes:
        if self._blob_block is None:
            self._blob_block = pattern_block("blob")
        return self._blob_block

    def new_character(self, fields: dict[str, Any]) -> dict[str, Any]:
        character = {
            **fields,
            "id": "char_" + secrets.token_hex(16),
            "object": "character",
            "created_at": int(self.clock()),
        }
        self.characters[character["id"]] = character
        return character


SIM_STATE: web.AppKey[SimulatorState] = web.AppKey("sim_state", SimulatorState)
