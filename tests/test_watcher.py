"""The watcher's own arithmetic and waiting, without an upstream."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from cache.stores import JobRecord
from proxy.watcher import MAX_BACKOFF, Watcher, backoff
from tests.conftest import job_record


def test_backoff_doubles_and_stays_capped_however_long_the_outage() -> None:
    assert [backoff(1.0, n) for n in range(1, 5)] == [2.0, 4.0, 8.0, 16.0]
    # A day of failures is thousands in a row: 2.0 ** 1024 would overflow.
    assert backoff(2.0, 5000) == MAX_BACKOFF
    assert backoff(1e-300, 5000) <= MAX_BACKOFF


def job(owner: str) -> JobRecord:
    return job_record(id="video_1", upstream_id="video_1", owner=owner)


async def test_a_job_waiting_for_its_credential_polls_when_it_arrives() -> None:
    state: Any = SimpleNamespace()
    watcher = Watcher(state)
    started = time.monotonic()
    waiting = asyncio.create_task(watcher._wait_for_credential(job("alice"), 30.0))
    await asyncio.sleep(0.05)
    watcher.credential_arrived("bob")  # someone else's: keeps waiting
    await asyncio.sleep(0.05)
    assert not waiting.done()
    watcher.credential_arrived("alice")
    await asyncio.wait_for(waiting, 1.0)
    assert time.monotonic() - started < 5.0
