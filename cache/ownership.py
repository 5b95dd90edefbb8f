"""One process per data dir: the cache's index, blob accounting and in-flight joins live in
memory, so a second process on the same directory would evict files the first one serves and
create jobs the first would have joined. The first to start holds an exclusive lock on
``videocache.lock``; any other fails to start, naming the directory.

The lock is an OS file lock (flock), so the kernel drops it when its holder dies, even by
``kill -9``: a restart never finds a stale lock.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

LOCK_FILE = "videocache.lock"


class DataDirInUse(RuntimeError):
    pass


def claim(data_dir: Path) -> FileLock:
    """Hold `data_dir` for this process until the returned lock is released."""
    path = Path(data_dir) / LOCK_FILE
    lock = FileLock(
        path,
        timeout=0,
        # Owned by the process, not the thread that happened to open the cache.
        thread_local=False,
        # A soft lock (a marker file) would outlive a kill -9 and block every restart.
        fallback_to_soft=False,
    )
    try:
        lock.acquire()
    except Timeout:
        raise DataDirInUse(
            f"data dir {data_dir} is in use by another videocache process"
            f" (it holds {path}); one process per data dir"
        ) from None
    return lock
