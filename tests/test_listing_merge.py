"""The merged list's paging (proxy/listing.py) against a model upstream: whatever the page
sizes, ties and cursors, the pages hold every video once, in created_at order."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cache.minted import Order
from cache.stores import JobRecord
from proxy.listing import Position, _merge
from tests.conftest import job_record


def minted(created: int, n: int) -> JobRecord:
    return job_record(
        id=f"video_{n:032x}", upstream_id="up", kind="hit", created_at=created + 0.5, owner="alice"
    )


def upstream_page(
    videos: list[dict[str, Any]], order: Order, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """What the simulator (and OpenAI) answer: created_at order, a stable order within a
    second, the page after the cursor's video."""
    ordered = sorted(videos, key=lambda v: v["created_at"], reverse=order == "desc")
    if after is not None:
        ordered = ordered[[v["id"] for v in ordered].index(after) + 1 :]
    return ordered[:limit], len(ordered) > limit


@pytest.mark.parametrize("seed", range(60))
def test_pages_hold_every_video_once_in_order(seed: int) -> None:
    rng = random.Random(seed)
    # Few distinct seconds: most videos tie with others of both sources.
    videos = [{"id": f"up{k}", "created_at": rng.randint(0, 4)} for k in range(rng.randint(0, 12))]
    jobs = [minted(rng.randint(0, 4), k) for k in range(rng.randint(0, 12))]
    order: Order = rng.choice(["asc", "desc"])
    desc = order == "desc"
    pending = sorted(jobs, key=lambda j: (int(j.created_at), j.id), reverse=desc)

    # Some gateways cap a page below the limit asked for, and still say has_more.
    cap = rng.choice([None, 1, 2, 3])
    position = Position(None, None)
    listed: list[str] = []
    created: list[int] = []
    for _ in range(100):
        limit = rng.randint(1, 5)
        items, more = upstream_page(
            videos, order, position.upstream_after, min(limit, cap or limit)
        )
        key = position.minted_after
        beyond = [
            j
            for j in pending
            if key is None
            or ((int(j.created_at), j.id) < key if desc else (int(j.created_at), j.id) > key)
        ]
        page, position = _merge(items, beyond[: limit + 1], order, limit, more, position)
        for item in page.items:
            if isinstance(item, dict):
                listed.append(item["id"])
                created.append(item["created_at"])
            else:
                listed.append(item.id)
                created.append(int(item.created_at))
        assert page.items or not page.has_more
        if not page.has_more:
            break
    assert sorted(listed) == sorted([v["id"] for v in videos] + [j.id for j in jobs])
    assert created == sorted(created, reverse=desc)
