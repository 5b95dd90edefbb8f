"""The proxy's minted ids by the credential (and scope) that got them, in creation order.

Why: a client lists its videos with GET /v1/videos, and the upstream's list knows only the
jobs it ran. The proxy's own ids (hits and joins) have to be merged into it page by page,
which needs "this credential's minted ids after (created_at, id), in either order, a page
at a time": a range query over a sorted index. diskcache (the job records) has none, so
this is a small SQLite table of its own beside them.

Rows only point at job records; the records stay the truth. A row whose record is gone
(expired, deleted, or a crash between the two writes) is dropped by whoever reads it.
Safe across threads (one connection behind a lock) and processes (SQLite in WAL mode).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Literal

Order = Literal["asc", "desc"]
# A position in one credential's minted ids: (created_at in whole seconds, as the Video
# shows it, minted id). Ids break ties, so the order is total and a cursor exact.
Key = tuple[int, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS minted (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    scope TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS minted_by_owner ON minted (owner, scope, created, id);
"""


class MintedIndex:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        # Autocommit: every statement is its own transaction, and none spans two calls.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # As diskcache runs the job records: no fsync per commit (a hit writes a row),
            # and a process killed mid-write loses nothing the OS had been handed.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")  # another process mid-write
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, job_id: str, owner: str, scope: str, created: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO minted (id, owner, scope, created) VALUES (?, ?, ?, ?)",
                (job_id, owner, scope, created),
            )

    def remove(self, job_ids: list[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM minted WHERE id = ?", [(i,) for i in job_ids])

    def has_any(self, owner: str, scope: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM minted WHERE owner = ? AND scope = ? LIMIT 1", (owner, scope)
            )
            return row.fetchone() is not None

    def after(self, owner: str, scope: str, order: Order, key: Key | None, limit: int) -> list[Key]:
        """Up to `limit` of `owner`'s ids in `scope` strictly after `key` in `order` (from
        the start when None): newest first for "desc", oldest first for "asc". (Ids of a
        scope the proxy no longer puts the owner in stay out of the way: retrieve answers
        them 404.)"""
        where = "SELECT created, id FROM minted WHERE owner = ? AND scope = ?{}"
        if order == "desc":
            sql = where + " ORDER BY created DESC, id DESC"
            beyond = " AND (created, id) < (?, ?)"
        else:
            sql = where + " ORDER BY created, id"
            beyond = " AND (created, id) > (?, ?)"
        params: tuple[object, ...] = (owner, scope) if key is None else (owner, scope, *key)
        with self._lock:
            rows = self._db.execute(
                sql.format("" if key is None else beyond) + " LIMIT ?", (*params, limit)
            )
            return [(int(created), str(job_id)) for created, job_id in rows.fetchall()]
