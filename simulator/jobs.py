"""Video jobs and their clock-driven lifecycle: state is computed from the creation time on
every read, so there are no background tasks and a given clock gives a given answer."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from simulator.settings import SimulatorSettings

QUEUED_FRACTION = 0.1
MODERATION_REASONS = ["sexual", "violence"]


@dataclass
class Outcome:
    """How a job ends, decided at creation so reads are stable."""

    status: str = "completed"
    error: dict[str, str] | None = None
    content_filter: dict[str, Any] | None = None


@dataclass
class Job:
    id: str  # the public id clients use (Bifrost: escaped raw id + ":provider")
    model: str
    prompt: str
    size: str
    seconds: str
    provider: str
    created: float  # clock() at creation
    duration: float
    outcome: Outcome
    remixed_from_video_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    owner: str = ""  # who may see it when SimulatorSettings.per_key is on
    per_key_id: bool = False  # its id is unique only among its owner's (ids_per_key)

    @property
    def key(self) -> tuple[str, str]:
        """Where the store keeps it: by id, and by owner too when ids are per key."""
        return (self.owner if self.per_key_id else "", self.id)

    @property
    def media_seed(self) -> str:
        """What its content is drawn from: two keys' jobs with one id differ."""
        return f"{self.owner}\n{self.id}" if self.per_key_id else self.id

    def phase(self, now: float) -> tuple[str, float]:
        """(status, progress 0..100) at time `now`."""
        fraction = (now - self.created) / self.duration if self.duration > 0 else 1.0
        if fraction >= 1.0:
            return self.outcome.status, 100.0
        if fraction < QUEUED_FRACTION:
            return "queued", 0.0
        progress = (fraction - QUEUED_FRACTION) / (1 - QUEUED_FRACTION) * 100
        return "in_progress", min(progress, 99.0)

    @property
    def completed_time(self) -> float:
        return self.created + self.duration

    def is_expired(self, now: float, asset_ttl: int) -> bool:
        return now >= self.completed_time + asset_ttl

    def to_dict(self, now: float, settings: SimulatorSettings) -> dict[str, Any]:
        status, progress = self.phase(now)
        done = status in ("completed", "failed")
        completed_at = int(self.completed_time) if done else None
        body: dict[str, Any] = {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": status,
            "progress": round(progress, 1) if settings.flavor == "bifrost" else int(progress),
            "created_at": int(self.created),
            "completed_at": completed_at,
            "expires_at": completed_at + settings.asset_ttl if completed_at is not None else None,
            "prompt": self.prompt,
            "size": self.size,
            "seconds": self.seconds,
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": self.outcome.error if done else None,
        }
        if done and self.outcome.content_filter is not None:
            body["content_filter"] = self.outcome.content_filter
        if settings.flavor == "bifrost":
            # Bifrost omits optional fields instead of sending null.
            body = {key: value for key, value in body.items() if value is not None}
        return body


class JobStore:
    def __init__(self, settings: SimulatorSettings) -> None:
        self._settings = settings
        self._rng = random.Random(settings.seed)
        # By (owner, id) when ids are per key, else ("", id); insertion order is creation order.
        self._jobs: dict[tuple[str, str], Job] = {}
        self._issued: dict[str, int] = {}  # ids_per_key: jobs created per owner

    def __len__(self) -> int:
        return len(self._jobs)

    def _scope(self, owner: str) -> str:
        return owner if self._settings.ids_per_key else ""

    def get(self, job_id: str, owner: str = "") -> Job | None:
        return self._jobs.get((self._scope(owner), job_id))

    def delete(self, job: Job) -> Job | None:
        return self._jobs.pop(job.key, None)

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def _new_id(self, provider: str, owner: str) -> str:
        if self._settings.ids_per_key:
            # Counted per key, as a backend with an id space per account: every key's
            # first video is video_000...1.
            self._issued[owner] = self._issued.get(owner, 0) + 1
            raw = f"video_{self._issued[owner]:032x}"
        else:
            raw = "video_" + secrets.token_hex(16)
        if self._settings.flavor == "bifrost":
            # Mimics Gemini-style operation names behind Bifrost: the raw id has a "/",
            # which Bifrost escapes before appending the provider.
            return quote("operations/" + raw, safe="") + ":" + provider
        return raw

    def _decide_outcome(self) -> Outcome:
        settings = self._settings
        if settings.fail_next > 0:
            settings.fail_next -= 1
            return _failed()
        if settings.filter_next > 0:
            settings.filter_next -= 1
            return Outcome(
                status="failed",
                error={
                    "code": "moderation_blocked",
                    "message": "Your request was blocked by our moderation system.",
                },
                content_filter={"filtered_count": 1, "reasons": list(MODERATION_REASONS)},
            )
        # Draw on every job (even at rate 0) so the sequence depends only on the seed.
        if self._rng.random() < settings.failure_rate:
            return _failed()
        return Outcome()

    def create(
        self,
        *,
        now: float,
        model: str,
        prompt: str,
        size: str,
        seconds: str,
        provider: str,
        remixed_from: str | None = None,
        extra: dict[str, Any] | None = None,
        owner: str = "",
    ) -> Job:
        job = Job(
            id=self._new_id(provider, owner),
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            provider=provider,
            created=now,
            duration=self._settings.job_duration,
            outcome=self._decide_outcome(),
            remixed_from_video_id=remixed_from,
            extra=extra or {},
            owner=owner,
            per_key_id=self._settings.ids_per_key,
        )
        self._jobs[job.key] = job
        return job


def _failed() -> Outcome:
    return Outcome(
        status="failed",
        error={
            "code": "video_generation_failed",
            "message": "Video generation failed (simulated failure).",
        },
    )
